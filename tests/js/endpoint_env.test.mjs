// Endpoint by environment: @aws-sdk/client-sqs (v3) reaches Wharf with no
// endpoint in code, through AWS_ENDPOINT_URL_SQS alone, then AWS_ENDPOINT_URL
// alone, and AWS_ENDPOINT_URL_SQS wins when both are set (v3 reads them from
// 3.428.0 on, through @smithy's getEndpointUrlConfig). aws-sdk v2 (2.1490.0)
// reads neither: its endpoint stays AWS's.
//
// Each client runs in a child node process whose environment has no AWS_*
// variable but dummy credentials, the region, empty config files and the
// variables under test. The child refuses (a finalizeRequest middleware) to
// send anywhere but 127.0.0.1, so a client that ignored the variables fails
// instead of reaching out to AWS. Two servers run: which one answered shows
// in the queue URLs, whose host and port come from the request's Host header.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v3sdk from '@aws-sdk/client-sqs';

import { startServer, makeV3Client, REGION } from './harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const servers = {};

const V3_SCRIPT = `
import { SQSClient, ListQueuesCommand } from '@aws-sdk/client-sqs';
const client = new SQSClient({ maxAttempts: 1 }); // endpoint, region and credentials from the environment
client.middlewareStack.add((next) => async (args) => {
  if (args.request.hostname !== '127.0.0.1') throw new Error('not loopback: ' + args.request.hostname);
  return next(args);
}, { step: 'finalizeRequest', name: 'loopbackOnly' });
const out = await client.send(new ListQueuesCommand({}));
console.log(JSON.stringify({ urls: out.QueueUrls ?? [] }));
`;

const V2_SCRIPT = `
import AWS from 'aws-sdk';
console.log(JSON.stringify({ endpoint: new AWS.SQS({}).endpoint.href }));
`;

/** The test process's environment without AWS_* variables, plus `endpoints`. */
function environment(endpoints) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_')));
  return {
    ...env,
    AWS_ACCESS_KEY_ID: 'x',
    AWS_SECRET_ACCESS_KEY: 'x',
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_CONFIG_FILE: os.devnull,
    AWS_SHARED_CREDENTIALS_FILE: os.devnull,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
    ...endpoints,
  };
}

/** Runs `script` as an ES module in a child node (cwd here, for node_modules); answers its JSON output. */
function runChild(script, endpoints) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script],
      { cwd: here, env: environment(endpoints), timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      });
  });
}

function assertReached(name, urls) {
  const server = servers[name];
  assert.ok(urls.includes(server.queueUrl(`endpoint-env-${name}`)), `${JSON.stringify(urls)} from ${server.endpoint}`);
  for (const url of urls) assert.ok(url.startsWith(`${server.endpoint}/`), `${url} not from ${server.endpoint}`);
}

before(async () => {
  for (const name of ['a', 'b']) {
    servers[name] = await startServer();
    await makeV3Client(servers[name].endpoint).send(new v3sdk.CreateQueueCommand({ QueueName: `endpoint-env-${name}` }));
  }
});
after(async () => {
  for (const server of Object.values(servers)) await server.stop();
});

test('v3 reaches Wharf through AWS_ENDPOINT_URL_SQS alone', async () => {
  const { urls } = await runChild(V3_SCRIPT, { AWS_ENDPOINT_URL_SQS: servers.a.endpoint });
  assertReached('a', urls);
});

test('v3 reaches Wharf through AWS_ENDPOINT_URL alone', async () => {
  const { urls } = await runChild(V3_SCRIPT, { AWS_ENDPOINT_URL: servers.b.endpoint });
  assertReached('b', urls);
});

test('v3: AWS_ENDPOINT_URL_SQS wins over AWS_ENDPOINT_URL', async () => {
  const { urls } = await runChild(V3_SCRIPT, {
    AWS_ENDPOINT_URL_SQS: servers.a.endpoint,
    AWS_ENDPOINT_URL: servers.b.endpoint,
  });
  assertReached('a', urls);
});

test('v3 without the variables goes for AWS (stopped by the loopback guard)', async () => {
  await assert.rejects(runChild(V3_SCRIPT, {}), /not loopback: sqs\.us-east-1\.amazonaws\.com/);
});

test('aws-sdk v2 ignores both variables: its endpoint stays AWS\'s', async () => {
  const { endpoint } = await runChild(V2_SCRIPT, {
    AWS_ENDPOINT_URL_SQS: servers.a.endpoint,
    AWS_ENDPOINT_URL: servers.b.endpoint,
  });
  assert.equal(endpoint, `https://sqs.${REGION}.amazonaws.com/`);
});
