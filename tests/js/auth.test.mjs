// SigV4 verification (--auth) through both JavaScript SDKs: the right keys
// pass; a wrong secret, an unknown key and a clock 20 minutes off fail with
// AWS's errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as v3sdk from '@aws-sdk/client-sqs';

import { startServer, makeV3Client, makeV2Client, v3Error, v2Error } from './harness.mjs';

const KEY = 'AKIDJSTEST';
const SECRET = 'js-test-secret';
let server;

before(async () => {
  server = await startServer({ extraArgs: ['--auth'], env: { WHARF_CREDENTIALS: `${KEY}:${SECRET}` } });
});
after(async () => server?.stop());

const v3 = (credentials, extra = {}) => makeV3Client(server.endpoint, { credentials, ...extra });
const v2 = async (credentials, extra = {}) => {
  const { default: AWS } = await import('aws-sdk');
  return makeV2Client(server.endpoint, { credentials: new AWS.Credentials(credentials), ...extra });
};


test('v3 (JSON): right keys pass; wrong secret, unknown key, old clock fail', async () => {
  const good = v3({ accessKeyId: KEY, secretAccessKey: SECRET });
  const { QueueUrl } = await good.send(new v3sdk.CreateQueueCommand({ QueueName: 'auth-js-v3' }));
  await good.send(new v3sdk.SendMessageCommand({ QueueUrl, MessageBody: 'signed' }));
  const got = await good.send(new v3sdk.ReceiveMessageCommand({ QueueUrl }));
  assert.equal(got.Messages[0].Body, 'signed');

  const wrongSecret = v3({ accessKeyId: KEY, secretAccessKey: 'nope' });
  assert.deepEqual(await v3Error(wrongSecret.send(new v3sdk.ListQueuesCommand({}))), { code: 'SignatureDoesNotMatch', status: 403 });
  const unknownKey = v3({ accessKeyId: 'AKIDNOBODY', secretAccessKey: SECRET });
  assert.deepEqual(await v3Error(unknownKey.send(new v3sdk.ListQueuesCommand({}))), { code: 'InvalidClientTokenId', status: 403 });
  const late = v3({ accessKeyId: KEY, secretAccessKey: SECRET }, { systemClockOffset: -20 * 60 * 1000 });
  assert.deepEqual(await v3Error(late.send(new v3sdk.ListQueuesCommand({}))), { code: 'RequestExpired', status: 400 });
});

test('v2 (query): right keys pass; wrong secret, unknown key, old clock fail', async () => {
  const good = await v2({ accessKeyId: KEY, secretAccessKey: SECRET });
  const { QueueUrl } = await good.createQueue({ QueueName: 'auth-js-v2' }).promise();
  await good.sendMessage({ QueueUrl, MessageBody: 'signed' }).promise();
  const got = await good.receiveMessage({ QueueUrl }).promise();
  assert.equal(got.Messages[0].Body, 'signed');

  const wrongSecret = await v2({ accessKeyId: KEY, secretAccessKey: 'nope' });
  assert.deepEqual(await v2Error(wrongSecret.listQueues({})), { code: 'SignatureDoesNotMatch', status: 403 });
  const unknownKey = await v2({ accessKeyId: 'AKIDNOBODY', secretAccessKey: SECRET });
  assert.deepEqual(await v2Error(unknownKey.listQueues({})), { code: 'InvalidClientTokenId', status: 403 });
  const late = await v2({ accessKeyId: KEY, secretAccessKey: SECRET }, { systemClockOffset: -20 * 60 * 1000 });
  assert.deepEqual(await v2Error(late.listQueues({})), { code: 'RequestExpired', status: 400 });
});
