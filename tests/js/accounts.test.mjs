// Per-key accounts and queue Policy enforcement (--auth) through both
// JavaScript SDKs: a key with an account id acts as that account; another
// account's queue is AccessDenied until its Policy allows the action.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as v3sdk from '@aws-sdk/client-sqs';

import { startServer, makeV3Client, makeV2Client, v3Error, v2Error } from './harness.mjs';

const OWNER = { accessKeyId: 'AKIDJSOWNER', secretAccessKey: 'owner-secret' };  // 000000000000
const TEAM = { accessKeyId: 'AKIDJSTEAM', secretAccessKey: 'team-secret' };
const TEAM_ACCOUNT = '222233334444';
let server;

before(async () => {
  server = await startServer({
    extraArgs: ['--auth'],
    env: { WHARF_CREDENTIALS: `${OWNER.accessKeyId}:${OWNER.secretAccessKey},${TEAM.accessKeyId}:${TEAM.secretAccessKey}:${TEAM_ACCOUNT}` },
  });
});
after(async () => server?.stop());

const v3 = (credentials) => makeV3Client(server.endpoint, { credentials });
const v2 = async (credentials) => {
  const { default: AWS } = await import('aws-sdk');
  return makeV2Client(server.endpoint, { credentials: new AWS.Credentials(credentials) });
};


test('v3 (JSON): accounts are apart; AddPermission lets the other account send, nothing more', async () => {
  const owner = v3(OWNER);
  const team = v3(TEAM);
  const name = `acct-js-v3-${Date.now()}`;
  const { QueueUrl: ownerUrl } = await owner.send(new v3sdk.CreateQueueCommand({ QueueName: name }));
  const { QueueUrl: teamUrl } = await team.send(new v3sdk.CreateQueueCommand({ QueueName: name }));
  assert.match(ownerUrl, new RegExp(`/000000000000/${name}$`));
  assert.match(teamUrl, new RegExp(`/${TEAM_ACCOUNT}/${name}$`));
  const { Attributes } = await team.send(new v3sdk.GetQueueAttributesCommand({ QueueUrl: teamUrl, AttributeNames: ['QueueArn'] }));
  assert.equal(Attributes.QueueArn, `arn:aws:sqs:us-east-1:${TEAM_ACCOUNT}:${name}`);

  assert.deepEqual(await v3Error(team.send(new v3sdk.SendMessageCommand({ QueueUrl: ownerUrl, MessageBody: 'x' }))),
    { code: 'AccessDenied', status: 403 });
  await owner.send(new v3sdk.AddPermissionCommand({ QueueUrl: ownerUrl, Label: 'team', AWSAccountIds: [TEAM_ACCOUNT], Actions: ['SendMessage'] }));
  await team.send(new v3sdk.SendMessageCommand({ QueueUrl: ownerUrl, MessageBody: 'from the team' }));
  assert.deepEqual(await v3Error(team.send(new v3sdk.ReceiveMessageCommand({ QueueUrl: ownerUrl }))),
    { code: 'AccessDenied', status: 403 });
  const got = await owner.send(new v3sdk.ReceiveMessageCommand({ QueueUrl: ownerUrl, WaitTimeSeconds: 1 }));
  assert.deepEqual(got.Messages.map((m) => m.Body), ['from the team']);
  // the team's own queue of the same name is untouched
  const own = await team.send(new v3sdk.ReceiveMessageCommand({ QueueUrl: teamUrl }));
  assert.equal(own.Messages, undefined);
});

test('v2 (query): a Policy allowing the account every action; only the owner changes permissions', async () => {
  const owner = await v2(OWNER);
  const team = await v2(TEAM);
  const name = `acct-js-v2-${Date.now()}`;
  const { QueueUrl } = await owner.createQueue({ QueueName: name }).promise();
  assert.deepEqual(await v2Error(team.getQueueAttributes({ QueueUrl, AttributeNames: ['All'] })), { code: 'AccessDenied', status: 403 });
  const policy = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${TEAM_ACCOUNT}:root` }, Action: 'sqs:*', Resource: `arn:aws:sqs:us-east-1:000000000000:${name}` }],
  };
  await owner.setQueueAttributes({ QueueUrl, Attributes: { Policy: JSON.stringify(policy) } }).promise();
  await team.sendMessage({ QueueUrl, MessageBody: 'allowed' }).promise();
  const got = await team.receiveMessage({ QueueUrl, WaitTimeSeconds: 1 }).promise();
  assert.equal(got.Messages[0].Body, 'allowed');
  await team.deleteMessage({ QueueUrl, ReceiptHandle: got.Messages[0].ReceiptHandle }).promise();
  const { QueueUrl: found } = await team.getQueueUrl({ QueueName: name, QueueOwnerAWSAccountId: '000000000000' }).promise();
  assert.equal(found, QueueUrl);
  assert.deepEqual(await v2Error(team.addPermission({ QueueUrl, Label: 'mine', AWSAccountIds: [TEAM_ACCOUNT], Actions: ['SendMessage'] })),
    { code: 'AccessDenied', status: 403 });
});
