// TLS on the second port through both JavaScript SDKs, verifying a
// self-signed certificate through its CA (and refusing it without).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import * as v3sdk from '@aws-sdk/client-sqs';

import { startServer, makeV3Client, makeV2Client } from './harness.mjs';

let server;
let dir;
let ca;
let endpoint;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-js-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
  ca = fs.readFileSync(cert);
  server = await startServer({ extraArgs: ['--tls-port', '0', '--tls-cert', cert, '--tls-key', key] });
  const line = server._log.find((l) => l.includes('tls on'));
  const port = Number(/tls on \S+:(\d+)/.exec(line)[1]);
  endpoint = `https://127.0.0.1:${port}`;
});
after(async () => {
  await server?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('v3 (JSON) over TLS with the CA; refused without it', async () => {
  const agent = new https.Agent({ ca });
  const client = makeV3Client(endpoint, { requestHandler: { httpsAgent: agent } });
  const { QueueUrl } = await client.send(new v3sdk.CreateQueueCommand({ QueueName: 'tls-js-v3' }));
  assert.match(QueueUrl, /^https:\/\/127\.0\.0\.1:\d+\/000000000000\/tls-js-v3$/);
  await client.send(new v3sdk.SendMessageCommand({ QueueUrl, MessageBody: 'over tls' }));
  const got = await client.send(new v3sdk.ReceiveMessageCommand({ QueueUrl }));
  assert.equal(got.Messages[0].Body, 'over tls');
  const untrusting = makeV3Client(endpoint);
  await assert.rejects(untrusting.send(new v3sdk.ListQueuesCommand({})), /self.signed|certificate/i);
});

test('v2 (query) over TLS with the CA', async () => {
  const client = await makeV2Client(endpoint, { sslEnabled: true, httpOptions: { agent: new https.Agent({ ca }) } });
  const { QueueUrl } = await client.createQueue({ QueueName: 'tls-js-v2' }).promise();
  await client.sendMessage({ QueueUrl, MessageBody: 'over tls' }).promise();
  const got = await client.receiveMessage({ QueueUrl }).promise();
  assert.equal(got.Messages[0].Body, 'over tls');
});
