// Test bodies shared by api_v3.test.mjs (AWS JSON protocol) and
// api_v2.test.mjs (query protocol) for the SQS actions beyond the core ones:
// batches, dead-letter queues and redrive, message move tasks, tags,
// permissions, and the remaining limits (QueueDeletedRecently,
// PurgeQueueInProgress, message attribute count).
//
// AWS's behaviour is the spec: every expected value below is what Amazon SQS
// answers (sources are named beside the less obvious ones), not what some
// server happens to answer.
//
// run.sh bounds every test FILE to 60 s (node --test-timeout applies to each
// file as a whole), so the tests of one SDK run concurrently against one
// server; the kill -9 test starts a server of its own. Queue names are unique
// per test.
//
// defineApiSuite(label, makeApi) registers the tests; makeApi(endpoint) gives
// the adapter of harness.mjs (v3Api or v2Api).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { md5Hex, md5OfAttributes, sleep, startServer, crashAndRestart, uniqueName } from './harness.mjs';
import { ERR as CORE_ERR } from './suite.mjs';

// Errors as AWS answers them: v3 exception name, query-protocol code (the
// x-amzn-query-error header under JSON, <Code> under query) and HTTP status.
// The codes and statuses of the modeled errors are the @awsQueryError traits
// of AWS's SQS Smithy model (as shipped in @aws-sdk/client-sqs).
const batchError = (name) => ({ v3: name, query: `AWS.SimpleQueueService.${name}`, status: 400 });
export const ERR = {
  ...CORE_ERR,
  EmptyBatchRequest: batchError('EmptyBatchRequest'),
  TooManyEntriesInBatchRequest: batchError('TooManyEntriesInBatchRequest'),
  BatchEntryIdsNotDistinct: batchError('BatchEntryIdsNotDistinct'),
  InvalidBatchEntryId: batchError('InvalidBatchEntryId'),
  BatchRequestTooLong: batchError('BatchRequestTooLong'),
  QueueDeletedRecently: batchError('QueueDeletedRecently'),
  PurgeQueueInProgress: { v3: 'PurgeQueueInProgress', query: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 },
  OverLimit: { v3: 'OverLimit', query: 'OverLimit', status: 403 },
  ResourceNotFoundException: { v3: 'ResourceNotFoundException', query: 'ResourceNotFoundException', status: 404 },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------
// helpers

function describeCall(op, params) {
  const json = JSON.stringify(params, (_k, v) => {
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `<${v.data.length} bytes>`;
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    if (Array.isArray(v) && v.length > 12) return `[${v.length} items, first ${JSON.stringify(v[0])}]`;
    if (typeof v === 'string' && v.length > 100) return `${v.slice(0, 60)}...(${v.length} chars)`;
    return v;
  });
  return `${op} ${json}`;
}

function show(x) {
  const s = JSON.stringify(x, (_k, v) => {
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    if (v && v.type === 'Buffer' && Array.isArray(v.data)) return `<${v.data.length} bytes>`;
    return v;
  });
  return s && s.length > 700 ? `${s.slice(0, 700)}...` : s;
}

/** Runs op and asserts it fails exactly as AWS fails. Returns the error info. */
async function expectError(api, op, params, exp) {
  let result;
  try {
    result = await api.call(op, params);
  } catch (err) {
    const got = api.errorOf(err);
    const want =
      api.sdk === 'v3'
        ? { name: exp.v3, code: exp.query, status: exp.status }
        : { code: exp.query, status: exp.status };
    const actual = Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]));
    assert.deepEqual(
      actual,
      want,
      `${describeCall(op, params)}: AWS answers ${show(want)}; server answered ${show(got)}`,
    );
    assert.ok(got.message && got.message.length > 0, `${op}: the error carries a message`);
    return got;
  }
  assert.fail(`${describeCall(op, params)}: AWS answers ${exp.query}; the call succeeded: ${show(result)}`);
}

/**
 * Runs every check (one after the other) and fails with all their messages,
 * so that one run tells every case that differs from AWS.
 */
async function allOf(checks) {
  const failures = [];
  for (const check of checks) {
    try {
      await check();
    } catch (err) {
      failures.push(err.message.split('\n')[0]);
    }
  }
  if (failures.length) assert.fail(`${failures.length} of ${checks.length} cases differ:\n  ${failures.join('\n  ')}`);
}

async function createQueue(api, prefix, Attributes, extra = {}) {
  const QueueName = uniqueName(`${api.sdk}-${prefix}`);
  const params = { QueueName, ...extra };
  if (Attributes) params.Attributes = Attributes;
  const res = await api.call('CreateQueue', params);
  const arn = (await queueAttributes(api, res.QueueUrl, ['QueueArn'])).QueueArn;
  return { name: QueueName, url: res.QueueUrl, arn };
}

async function queueAttributes(api, url, names = ['All']) {
  const res = await api.call('GetQueueAttributes', { QueueUrl: url, AttributeNames: names });
  return res.Attributes ?? {};
}

async function counts(api, url) {
  const a = await queueAttributes(api, url, [
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
    'ApproximateNumberOfMessagesDelayed',
  ]);
  return {
    visible: a.ApproximateNumberOfMessages,
    notVisible: a.ApproximateNumberOfMessagesNotVisible,
    delayed: a.ApproximateNumberOfMessagesDelayed,
  };
}

const EMPTY = { visible: '0', notVisible: '0', delayed: '0' };

async function send(api, url, body, extra = {}) {
  return api.call('SendMessage', { QueueUrl: url, MessageBody: body, ...extra });
}

async function receive(api, url, params = {}) {
  const res = await api.call('ReceiveMessage', { QueueUrl: url, ...params });
  return res.Messages ?? [];
}

/** Receives until `n` messages arrived (bounded); fails if more or fewer arrive. */
async function receiveExactly(api, url, n, params = {}, timeoutMs = 6_000) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 30 && got.length < n && Date.now() < deadline; i++) {
    const batch = await receive(api, url, {
      MaxNumberOfMessages: Math.min(10, n - got.length),
      WaitTimeSeconds: 1,
      ...params,
    });
    got.push(...batch);
  }
  assert.equal(got.length, n, `expected ${n} messages from ${url}, got ${got.length}: ${show(got.map((m) => m.Body))}`);
  return got;
}

/** Receives (VisibilityTimeout 600) until the queue answers empty twice; every message once. */
async function drain(api, url, params = {}) {
  const got = [];
  let empties = 0;
  for (let i = 0; i < 40 && empties < 2; i++) {
    const batch = await receive(api, url, { MaxNumberOfMessages: 10, VisibilityTimeout: 600, WaitTimeSeconds: 0, ...params });
    if (batch.length === 0) empties++;
    got.push(...batch);
  }
  return got;
}

/** Polls fn (bounded) until it answers something truthy; returns that. */
async function waitFor(fn, what, { timeoutMs = 8_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function bytesOf(v) {
  return Buffer.from(v);
}

/** Compares received message attributes with the sent ones, byte-exact. */
function assertSameMessageAttributes(got, sent, context) {
  assert.deepEqual(Object.keys(got ?? {}).sort(), Object.keys(sent).sort(), `${context}: attribute names`);
  for (const [name, s] of Object.entries(sent)) {
    const g = got[name];
    assert.equal(g.DataType, s.DataType, `${context}: DataType of ${name}`);
    if (s.DataType.startsWith('Binary')) {
      assert.ok(g.BinaryValue !== undefined, `${context}: ${name} has a BinaryValue`);
      assert.ok(
        bytesOf(g.BinaryValue).equals(bytesOf(s.BinaryValue)),
        `${context}: bytes of ${name}: sent ${bytesOf(s.BinaryValue).toString('hex')}, got ${bytesOf(g.BinaryValue).toString('hex')}`,
      );
      assert.equal(g.StringValue, undefined, `${context}: ${name} has no StringValue`);
    } else {
      assert.equal(g.StringValue, s.StringValue, `${context}: StringValue of ${name}`);
      assert.equal(g.BinaryValue, undefined, `${context}: ${name} has no BinaryValue`);
    }
  }
}

function parseJsonAttribute(value, what) {
  assert.equal(typeof value, 'string', `${what} is a JSON text`);
  try {
    return JSON.parse(value);
  } catch (err) {
    assert.fail(`${what} is not JSON: ${value}`);
  }
}

const redrivePolicy = (arn, maxReceiveCount = 2) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount });

/**
 * A dead-letter queue holding `bodies` (one message each), pushed there by
 * redrive from a source queue with maxReceiveCount 1. Returns the queues and
 * the sent messages (MessageId -> {body, attrs}).
 */
async function deadLetters(api, prefix, bodies, { attrsOf = () => undefined, dlq, src } = {}) {
  dlq ??= await createQueue(api, `${prefix}-dlq`);
  src ??= await createQueue(api, `${prefix}-src`, { RedrivePolicy: redrivePolicy(dlq.arn, 1) });
  const sent = new Map();
  for (const [i, body] of bodies.entries()) {
    const attrs = attrsOf(i);
    const r = await send(api, src.url, body, attrs ? { MessageAttributes: attrs } : {});
    sent.set(r.MessageId, { body, attrs });
  }
  // Receive count 1, then the next receive attempt moves each message on.
  const before = Number((await counts(api, dlq.url)).visible);
  await waitFor(
    async () => {
      await receive(api, src.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
      return Number((await counts(api, dlq.url)).visible) >= before + bodies.length;
    },
    `the ${bodies.length} messages reach the dead-letter queue ${dlq.name}`,
    { timeoutMs: 6_000, intervalMs: 20 },
  );
  assert.deepEqual(await counts(api, src.url), EMPTY, 'the source queue is empty after redrive');
  return { dlq, src, sent };
}

async function listTasks(api, SourceArn, MaxResults) {
  const params = { SourceArn };
  if (MaxResults !== undefined) params.MaxResults = MaxResults;
  const res = await api.call('ListMessageMoveTasks', params);
  return res.Results ?? [];
}

/** Polls ListMessageMoveTasks until the latest task is no longer RUNNING/CANCELLING. */
async function waitForTaskEnd(api, sourceArn, timeoutMs = 8_000) {
  return waitFor(
    async () => {
      const [t] = await listTasks(api, sourceArn);
      return t && !['RUNNING', 'CANCELLING'].includes(t.Status) ? t : null;
    },
    `the move task on ${sourceArn} ends`,
    { timeoutMs, intervalMs: 100 },
  );
}

/** A task handle in AWS's format (base64 of {"taskId","sourceArn"}) naming no task. */
function unknownTaskHandle(sourceArn) {
  return Buffer.from(JSON.stringify({ taskId: crypto.randomUUID(), sourceArn })).toString('base64');
}

function asList(x) {
  return x === undefined ? [] : [].concat(x);
}

// ---------------------------------------------------------------------------
// the suite

export function defineApiSuite(label, makeApi) {
  const sdk = label.includes('v3') ? 'v3' : 'v2';

  describe(`Wharf SQS API through ${label}`, { concurrency: true, timeout: 55_000 }, () => {
    let server;
    let api;

    before(async () => {
      server = await startServer();
      api = await makeApi(server.endpoint);
    });

    after(async () => {
      api?.destroy();
      if (server) {
        const exit = await server.stop();
        assert.ok(exit.graceful, `wharf stops on SIGTERM within 10 s (exit ${show(exit)})`);
      }
    });

    // === batches ==========================================================

    test('SendMessageBatch: good entries succeed, a body with U+0000 fails alone (InvalidMessageContents, SenderFault)', async () => {
      const { url } = await createQueue(api, 'smb');
      const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const attrs = {
        s: { DataType: 'String', StringValue: 'batch ✓ 世界' },
        n: { DataType: 'Number', StringValue: '3.14' },
        b: { DataType: 'Binary', BinaryValue: api.binary(allBytes) },
        g: { DataType: 'Binary.gif', BinaryValue: api.binary([0x47, 0x49, 0x46, 0x00, 0xff, 0x0a, 0x0d]) },
      };
      const entries = [
        { Id: 'plain', MessageBody: 'batch plain' },
        { Id: 'with_attrs', MessageBody: 'batch with attributes 🎉', MessageAttributes: attrs },
        { Id: 'bad', MessageBody: 'bad\u0000body' },
        { Id: 'delayed-1', MessageBody: 'batch delayed', DelaySeconds: 2 },
      ];
      const t0 = Date.now();
      const res = await api.call('SendMessageBatch', { QueueUrl: url, Entries: entries });
      const ok = [...(res.Successful ?? [])].sort((a, b) => a.Id.localeCompare(b.Id));
      assert.deepEqual(ok.map((e) => e.Id), ['delayed-1', 'plain', 'with_attrs'], `Successful: ${show(res)}`);
      const byId = Object.fromEntries(entries.map((e) => [e.Id, e]));
      for (const e of ok) {
        assert.match(e.MessageId, UUID, `MessageId of ${e.Id}`);
        assert.equal(e.MD5OfMessageBody, md5Hex(byId[e.Id].MessageBody), `MD5OfMessageBody of ${e.Id}`);
        assert.equal(
          e.MD5OfMessageAttributes,
          md5OfAttributes(byId[e.Id].MessageAttributes),
          `MD5OfMessageAttributes of ${e.Id} (absent without attributes)`,
        );
      }
      const failed = res.Failed ?? [];
      assert.equal(failed.length, 1, `one Failed entry: ${show(failed)}`);
      assert.equal(failed[0].Id, 'bad');
      assert.equal(failed[0].SenderFault, true, 'SenderFault');
      assert.equal(failed[0].Code, 'InvalidMessageContents', `Code of the failed entry: ${show(failed[0])}`);
      assert.ok(failed[0].Message && failed[0].Message.length > 0, 'the failed entry has a Message');

      // the good ones are really stored; the delayed one only after its delay
      assert.deepEqual(await counts(api, url), { visible: '2', notVisible: '0', delayed: '1' });
      const ids = Object.fromEntries(ok.map((e) => [e.Id, e.MessageId]));
      const now = await receiveExactly(api, url, 2, {
        WaitTimeSeconds: 0,
        MessageAttributeNames: ['All'],
      });
      for (const m of now) {
        const id = Object.keys(ids).find((k) => ids[k] === m.MessageId);
        assert.ok(id === 'plain' || id === 'with_attrs', `received ${m.MessageId} (${m.Body}) is one of the batch`);
        assert.equal(m.Body, byId[id].MessageBody);
        if (id === 'with_attrs') {
          assertSameMessageAttributes(m.MessageAttributes, attrs, 'batch entry attributes');
          assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(attrs));
        } else {
          assert.equal(Object.keys(m.MessageAttributes ?? {}).length, 0);
        }
      }
      assert.deepEqual(await receive(api, url), [], 'the delayed entry is not visible yet');
      await sleep(Math.max(0, t0 + 2_100 - Date.now()));
      const [late] = await receiveExactly(api, url, 1, {}, 3_000);
      assert.equal(late.MessageId, ids['delayed-1']);
      assert.equal(late.Body, 'batch delayed');
    });

    test('DeleteMessageBatch: good handles delete, a garbage handle fails alone (ReceiptHandleIsInvalid)', async () => {
      const { url } = await createQueue(api, 'dmb');
      for (const b of ['d1', 'd2', 'keep']) await send(api, url, b);
      const got = await receiveExactly(api, url, 3, { VisibilityTimeout: 600, WaitTimeSeconds: 0 });
      const byBody = Object.fromEntries(got.map((m) => [m.Body, m]));
      const res = await api.call('DeleteMessageBatch', {
        QueueUrl: url,
        Entries: [
          { Id: 'one', ReceiptHandle: byBody.d1.ReceiptHandle },
          { Id: 'bad', ReceiptHandle: 'garbage' },
          { Id: 'two', ReceiptHandle: byBody.d2.ReceiptHandle },
        ],
      });
      assert.deepEqual((res.Successful ?? []).map((e) => e.Id).sort(), ['one', 'two'], `Successful: ${show(res)}`);
      const failed = res.Failed ?? [];
      assert.equal(failed.length, 1, `one Failed entry: ${show(failed)}`);
      assert.equal(failed[0].Id, 'bad');
      assert.equal(failed[0].SenderFault, true, 'SenderFault');
      assert.equal(failed[0].Code, 'ReceiptHandleIsInvalid', `Code: ${show(failed[0])}`);
      assert.ok(failed[0].Message && failed[0].Message.length > 0, 'the failed entry has a Message');
      assert.deepEqual(await counts(api, url), { visible: '0', notVisible: '1', delayed: '0' }, 'two deleted, one in flight');
      await api.call('ChangeMessageVisibility', { QueueUrl: url, ReceiptHandle: byBody.keep.ReceiptHandle, VisibilityTimeout: 0 });
      const back = await receive(api, url, { MaxNumberOfMessages: 10 });
      assert.deepEqual(back.map((m) => m.Body), ['keep'], 'only the undeleted message remains');
    });

    test('ChangeMessageVisibilityBatch: good handles change, a garbage handle fails alone (ReceiptHandleIsInvalid)', async () => {
      const { url } = await createQueue(api, 'cmvb');
      for (const b of ['v1', 'v2', 'stays']) await send(api, url, b);
      const got = await receiveExactly(api, url, 3, { VisibilityTimeout: 600, WaitTimeSeconds: 0 });
      const byBody = Object.fromEntries(got.map((m) => [m.Body, m]));
      const res = await api.call('ChangeMessageVisibilityBatch', {
        QueueUrl: url,
        Entries: [
          { Id: 'a', ReceiptHandle: byBody.v1.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'b', ReceiptHandle: byBody.v2.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'bad', ReceiptHandle: 'AQEB' + 'x'.repeat(100), VisibilityTimeout: 0 },
        ],
      });
      assert.deepEqual((res.Successful ?? []).map((e) => e.Id).sort(), ['a', 'b'], `Successful: ${show(res)}`);
      const failed = res.Failed ?? [];
      assert.equal(failed.length, 1, `one Failed entry: ${show(failed)}`);
      assert.equal(failed[0].Id, 'bad');
      assert.equal(failed[0].SenderFault, true, 'SenderFault');
      assert.equal(failed[0].Code, 'ReceiptHandleIsInvalid', `Code: ${show(failed[0])}`);
      assert.ok(failed[0].Message && failed[0].Message.length > 0, 'the failed entry has a Message');
      const back = await receive(api, url, { MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['ApproximateReceiveCount'] });
      assert.deepEqual(back.map((m) => m.Body).sort(), ['v1', 'v2'], 'the two changed messages are visible at once');
      for (const m of back) assert.equal(m.Attributes.ApproximateReceiveCount, '2');
      assert.equal((await counts(api, url)).notVisible, '3', 'the third is still in flight (plus the two just received)');
    });

    test('batch whole-request errors: empty, 11 entries, duplicate Ids, invalid Ids (all three batch actions)', async () => {
      const { url } = await createQueue(api, 'batcherr');
      const entry = {
        SendMessageBatch: (Id) => ({ Id, MessageBody: `body-${Id}` }),
        DeleteMessageBatch: (Id) => ({ Id, ReceiptHandle: `garbage-${Id}` }),
        ChangeMessageVisibilityBatch: (Id) => ({ Id, ReceiptHandle: `garbage-${Id}`, VisibilityTimeout: 0 }),
      };
      const checks = [];
      for (const [op, mk] of Object.entries(entry)) {
        const call = (Entries, exp) => () => expectError(api, op, { QueueUrl: url, Entries }, exp);
        checks.push(call([], ERR.EmptyBatchRequest));
        checks.push(call(Array.from({ length: 11 }, (_, i) => mk(`e${i}`)), ERR.TooManyEntriesInBatchRequest));
        checks.push(call([mk('same'), mk('other'), mk('same')], ERR.BatchEntryIdsNotDistinct));
        checks.push(call([mk('ok'), mk('has space')], ERR.InvalidBatchEntryId));
        checks.push(call([mk('x'.repeat(81))], ERR.InvalidBatchEntryId));
        checks.push(call([mk('dot.ted')], ERR.InvalidBatchEntryId));
      }
      for (const [op, mk] of Object.entries(entry)) {
        checks.push(() => expectError(api, op, { QueueUrl: `${url}-missing`, Entries: [mk('a')] }, ERR.QueueDoesNotExist));
      }
      await allOf(checks);
      assert.deepEqual(await counts(api, url), EMPTY, 'no failed batch stored anything');
      // the edges that are fine: 10 entries, an 80-char Id of [A-Za-z0-9_-]
      const ten = Array.from({ length: 10 }, (_, i) => ({ Id: i === 0 ? `A-z_0${'9'.repeat(75)}` : `e${i}`, MessageBody: `m${i}` }));
      const res = await api.call('SendMessageBatch', { QueueUrl: url, Entries: ten });
      assert.equal((res.Successful ?? []).length, 10, `10 entries with an 80-char Id succeed: ${show(res)}`);
      assert.equal((res.Failed ?? []).length, 0);
    });

    test('SendMessageBatch over 1,048,576 bytes in total (whatever MaximumMessageSize) -> BatchRequestTooLong, nothing stored', async () => {
      const { url } = await createQueue(api, 'toolong', { MaximumMessageSize: '1024' });
      await expectError(
        api,
        'SendMessageBatch',
        {
          QueueUrl: url,
          Entries: Array.from({ length: 4 }, (_, i) => ({
            Id: `e${i}`,
            MessageBody: 'a'.repeat(262000),
            MessageAttributes: { k: { DataType: 'String', StringValue: 'v'.repeat(200) } },
          })),
        },
        ERR.BatchRequestTooLong,
      );
      assert.deepEqual(await counts(api, url), EMPTY, 'nothing stored');
      const res = await api.call('SendMessageBatch', {
        QueueUrl: url,
        Entries: [
          { Id: 'a', MessageBody: 'a'.repeat(600) },
          { Id: 'b', MessageBody: 'b'.repeat(600) },
        ],
      });
      assert.equal((res.Successful ?? []).length, 2, `2 x 600 bytes on a 1024-byte queue: each fits: ${show(res)}`);
    });

    test('SendMessageBatch: message attributes of each entry round-trip (binary byte for byte), DelaySeconds per entry', async () => {
      const { url } = await createQueue(api, 'smbattr', { DelaySeconds: '2' });
      const entries = Array.from({ length: 4 }, (_, i) => ({
        Id: `m${i}`,
        MessageBody: `entry ${i}`,
        DelaySeconds: i < 3 ? 0 : undefined, // the last one keeps the queue's 2 s
        MessageAttributes: {
          idx: { DataType: 'Number', StringValue: String(i) },
          raw: { DataType: 'Binary', BinaryValue: api.binary(crypto.randomBytes(32 + i)) },
          [`only${i}`]: { DataType: 'String.tag', StringValue: `v${i}` },
        },
      }));
      for (const e of entries) if (e.DelaySeconds === undefined) delete e.DelaySeconds;
      const t0 = Date.now();
      const res = await api.call('SendMessageBatch', { QueueUrl: url, Entries: entries });
      assert.equal((res.Failed ?? []).length, 0, `no failures: ${show(res.Failed)}`);
      const idOf = Object.fromEntries((res.Successful ?? []).map((e) => [e.Id, e]));
      for (const e of entries) {
        assert.equal(idOf[e.Id]?.MD5OfMessageAttributes, md5OfAttributes(e.MessageAttributes), `MD5OfMessageAttributes of ${e.Id}`);
      }
      assert.deepEqual(await counts(api, url), { visible: '3', notVisible: '0', delayed: '1' }, 'DelaySeconds 0 overrides the queue delay');
      const got = await receiveExactly(api, url, 3, { WaitTimeSeconds: 0, MessageAttributeNames: ['All'] });
      await sleep(Math.max(0, t0 + 2_100 - Date.now()));
      got.push(...(await receiveExactly(api, url, 1, { MessageAttributeNames: ['All'] }, 3_000)));
      for (const m of got) {
        const e = entries.find((x) => idOf[x.Id].MessageId === m.MessageId);
        assert.ok(e, `message ${m.MessageId} came from the batch`);
        assert.equal(m.Body, e.MessageBody);
        assertSameMessageAttributes(m.MessageAttributes, e.MessageAttributes, `attributes of ${e.Id}`);
        assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(e.MessageAttributes));
      }
      assert.equal(
        entries.find((x) => idOf[x.Id].MessageId === got[3].MessageId).Id,
        'm3',
        "the entry without DelaySeconds kept the queue's 2 s delay",
      );
    });

    // === dead-letter queues ===============================================

    test('RedrivePolicy on CreateQueue and SetQueueAttributes reads back as JSON; "" removes it', async () => {
      const dlq = await createQueue(api, 'rp-dlq');
      const dlq2 = await createQueue(api, 'rp-dlq2');
      const src = await createQueue(api, 'rp-src', { RedrivePolicy: redrivePolicy(dlq.arn, 2) });
      const a = await queueAttributes(api, src.url, ['RedrivePolicy']);
      assert.deepEqual(parseJsonAttribute(a.RedrivePolicy, 'RedrivePolicy'), { deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 });
      // in GetQueueAttributes All too
      const all = await queueAttributes(api, src.url, ['All']);
      assert.deepEqual(parseJsonAttribute(all.RedrivePolicy, 'RedrivePolicy (All)'), { deadLetterTargetArn: dlq.arn, maxReceiveCount: 2 });

      // AWS's own CLI examples send maxReceiveCount as a string; it reads back as a number
      await api.call('SetQueueAttributes', {
        QueueUrl: src.url,
        Attributes: { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq2.arn, maxReceiveCount: '5' }) },
      });
      const b = await queueAttributes(api, src.url, ['RedrivePolicy']);
      assert.deepEqual(parseJsonAttribute(b.RedrivePolicy, 'RedrivePolicy after set'), { deadLetterTargetArn: dlq2.arn, maxReceiveCount: 5 });

      const plain = await createQueue(api, 'rp-plain');
      await api.call('SetQueueAttributes', { QueueUrl: plain.url, Attributes: { RedrivePolicy: redrivePolicy(dlq.arn, 1000) } });
      const c = await queueAttributes(api, plain.url, ['RedrivePolicy']);
      assert.deepEqual(parseJsonAttribute(c.RedrivePolicy, 'RedrivePolicy set later'), { deadLetterTargetArn: dlq.arn, maxReceiveCount: 1000 });

      await api.call('SetQueueAttributes', { QueueUrl: src.url, Attributes: { RedrivePolicy: '' } });
      const d = await queueAttributes(api, src.url, ['All']);
      assert.equal(d.RedrivePolicy, undefined, `RedrivePolicy "" removes it: ${show(d.RedrivePolicy)}`);
      const listed = await api.call('ListDeadLetterSourceQueues', { QueueUrl: dlq2.url });
      assert.deepEqual(listed.queueUrls ?? [], [], 'the queue no longer lists as a source of its old dead-letter queue');
    });

    test('invalid RedrivePolicy -> InvalidParameterValue (CreateQueue and SetQueueAttributes), nothing changes', async () => {
      const dlq = await createQueue(api, 'rpbad-dlq');
      const src = await createQueue(api, 'rpbad-src', { RedrivePolicy: redrivePolicy(dlq.arn, 3) });
      const missingArn = `${dlq.arn.slice(0, dlq.arn.lastIndexOf(':'))}:${uniqueName(`${sdk}-nosuchdlq`)}`;
      const bad = {
        'maxReceiveCount 0': redrivePolicy(dlq.arn, 0),
        'maxReceiveCount 1001': redrivePolicy(dlq.arn, 1001),
        'a target that does not exist': redrivePolicy(missingArn, 2),
        'not JSON': 'deadLetterTargetArn=' + dlq.arn,
      };
      const checks = [];
      for (const [what, RedrivePolicy] of Object.entries(bad)) {
        const QueueName = uniqueName(`${sdk}-rpbad-new`);
        checks.push(async () => {
          try {
            await expectError(api, 'CreateQueue', { QueueName, Attributes: { RedrivePolicy } }, ERR.InvalidParameterValue);
          } catch (err) {
            err.message = `CreateQueue, ${what}: ${err.message}`;
            throw err;
          }
          await expectError(api, 'GetQueueUrl', { QueueName }, ERR.QueueDoesNotExist);
        });
        checks.push(async () => {
          try {
            await expectError(api, 'SetQueueAttributes', { QueueUrl: src.url, Attributes: { RedrivePolicy } }, ERR.InvalidParameterValue);
          } catch (err) {
            err.message = `SetQueueAttributes, ${what}: ${err.message}`;
            throw err;
          }
        });
      }
      await allOf(checks);
      const a = await queueAttributes(api, src.url, ['RedrivePolicy']);
      assert.deepEqual(parseJsonAttribute(a.RedrivePolicy, 'RedrivePolicy'), { deadLetterTargetArn: dlq.arn, maxReceiveCount: 3 }, 'unchanged');
    });

    test('redrive: the receive after maxReceiveCount moves the message to the DLQ, same id, body, attributes, SentTimestamp, with DeadLetterQueueSourceArn', async () => {
      const dlq = await createQueue(api, 'redrive-dlq');
      const src = await createQueue(api, 'redrive-src', { RedrivePolicy: redrivePolicy(dlq.arn, 2) });
      const attrs = {
        s: { DataType: 'String', StringValue: 'to the DLQ ✓' },
        b: { DataType: 'Binary', BinaryValue: api.binary([0, 1, 2, 0xfe, 0xff]) },
      };
      const body = 'poison message 🧪';
      const sent = await send(api, src.url, body, { MessageAttributes: attrs });
      const all = { MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] };
      const r1 = await receive(api, src.url, { VisibilityTimeout: 0, ...all });
      assert.equal(r1.length, 1, 'first receive');
      assert.equal(r1[0].Attributes.ApproximateReceiveCount, '1');
      const r2 = await receive(api, src.url, { VisibilityTimeout: 0, ...all });
      assert.equal(r2.length, 1, 'second receive');
      assert.equal(r2[0].Attributes.ApproximateReceiveCount, '2');
      const r3 = await receive(api, src.url, { VisibilityTimeout: 0, MaxNumberOfMessages: 10, ...all });
      assert.deepEqual(r3.map((m) => m.Body), [], 'the third receive attempt gets nothing from the source');
      assert.deepEqual(await counts(api, src.url), EMPTY, 'the source queue is empty');
      const [m] = await receiveExactly(api, dlq.url, 1, all, 4_000);
      assert.equal(m.MessageId, sent.MessageId, 'same MessageId');
      assert.equal(m.Body, body);
      assert.equal(m.MD5OfBody, md5Hex(body));
      assertSameMessageAttributes(m.MessageAttributes, attrs, 'attributes in the DLQ');
      assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(attrs));
      assert.equal(m.Attributes.SentTimestamp, r1[0].Attributes.SentTimestamp, 'SentTimestamp unchanged');
      assert.equal(m.Attributes.DeadLetterQueueSourceArn, src.arn, `DeadLetterQueueSourceArn: ${show(m.Attributes)}`);
    });

    test('redrive through the visibility timeout: a long poll on the source moves the returning message and answers nothing', async () => {
      const dlq = await createQueue(api, 'redrivevt-dlq');
      const src = await createQueue(api, 'redrivevt-src', { VisibilityTimeout: '1', RedrivePolicy: redrivePolicy(dlq.arn, 1) });
      const sent = await send(api, src.url, 'times out once');
      assert.equal((await receive(api, src.url)).length, 1, 'first (and only allowed) receive');
      const t0 = Date.now();
      const again = await receive(api, src.url, { WaitTimeSeconds: 3 });
      assert.deepEqual(again.map((m) => m.Body), [], 'the message does not come back from the source');
      assert.ok(Date.now() - t0 >= 2_500, 'the long poll ran its full time');
      const [m] = await receiveExactly(api, dlq.url, 1, { MessageSystemAttributeNames: ['All'] }, 3_000);
      assert.equal(m.MessageId, sent.MessageId);
      assert.equal(m.Attributes.DeadLetterQueueSourceArn, src.arn);
    });

    test('RedriveAllowPolicy: denyAll refuses, byQueue allows only the listed sources, allowAll allows', async () => {
      const deny = await createQueue(api, 'rap-deny', { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'denyAll' }) });
      const srcA = await createQueue(api, 'rap-srcA');
      const srcB = await createQueue(api, 'rap-srcB');
      const byQueuePolicy = { redrivePermission: 'byQueue', sourceQueueArns: [srcA.arn] };
      const byQ = await createQueue(api, 'rap-byq', { RedriveAllowPolicy: JSON.stringify(byQueuePolicy) });
      const allow = await createQueue(api, 'rap-all');
      await api.call('SetQueueAttributes', {
        QueueUrl: allow.url,
        Attributes: { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'allowAll' }) },
      });

      const g = await queueAttributes(api, byQ.url, ['RedriveAllowPolicy']);
      assert.deepEqual(parseJsonAttribute(g.RedriveAllowPolicy, 'RedriveAllowPolicy'), byQueuePolicy);
      const g2 = await queueAttributes(api, allow.url, ['All']);
      assert.deepEqual(parseJsonAttribute(g2.RedriveAllowPolicy, 'RedriveAllowPolicy (All)'), { redrivePermission: 'allowAll' });

      await allOf([
        () => expectError(api, 'SetQueueAttributes', { QueueUrl: srcA.url, Attributes: { RedrivePolicy: redrivePolicy(deny.arn) } }, ERR.InvalidParameterValue),
        async () => {
          const QueueName = uniqueName(`${sdk}-rap-new`);
          await expectError(api, 'CreateQueue', { QueueName, Attributes: { RedrivePolicy: redrivePolicy(deny.arn) } }, ERR.InvalidParameterValue);
          await expectError(api, 'GetQueueUrl', { QueueName }, ERR.QueueDoesNotExist);
        },
        () => expectError(api, 'SetQueueAttributes', { QueueUrl: srcB.url, Attributes: { RedrivePolicy: redrivePolicy(byQ.arn) } }, ERR.InvalidParameterValue),
        () => api.call('SetQueueAttributes', { QueueUrl: srcA.url, Attributes: { RedrivePolicy: redrivePolicy(byQ.arn) } }),
        () => api.call('SetQueueAttributes', { QueueUrl: srcB.url, Attributes: { RedrivePolicy: redrivePolicy(allow.arn) } }),
      ]);
      assert.deepEqual(
        parseJsonAttribute((await queueAttributes(api, srcA.url, ['RedrivePolicy'])).RedrivePolicy, 'srcA RedrivePolicy'),
        { deadLetterTargetArn: byQ.arn, maxReceiveCount: 2 },
      );
      assert.deepEqual(
        parseJsonAttribute((await queueAttributes(api, srcB.url, ['RedrivePolicy'])).RedrivePolicy, 'srcB RedrivePolicy'),
        { deadLetterTargetArn: allow.arn, maxReceiveCount: 2 },
      );
    });

    test('invalid RedriveAllowPolicy -> InvalidParameterValue (byQueue without arns, 11 arns, unknown permission, not JSON)', async () => {
      const q = await createQueue(api, 'rapbad');
      const arns = Array.from({ length: 11 }, (_, i) => `${q.arn}-${i}`);
      const bad = [
        JSON.stringify({ redrivePermission: 'byQueue' }),
        JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: arns }),
        JSON.stringify({ redrivePermission: 'sometimes' }),
        'redrivePermission=allowAll',
      ];
      await allOf(
        bad.flatMap((RedriveAllowPolicy) => [
          () => expectError(api, 'SetQueueAttributes', { QueueUrl: q.url, Attributes: { RedriveAllowPolicy } }, ERR.InvalidParameterValue),
          () =>
            expectError(
              api,
              'CreateQueue',
              { QueueName: uniqueName(`${sdk}-rapbad-new`), Attributes: { RedriveAllowPolicy } },
              ERR.InvalidParameterValue,
            ),
        ]),
      );
      assert.equal((await queueAttributes(api, q.url, ['All'])).RedriveAllowPolicy, undefined, 'nothing was stored');
      // 10 arns are fine
      await api.call('SetQueueAttributes', {
        QueueUrl: q.url,
        Attributes: { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: arns.slice(0, 10) }) },
      });
    });

    test('ListDeadLetterSourceQueues lists the sources (queueUrls), pages with MaxResults and NextToken', async () => {
      const dlq = await createQueue(api, 'ldl-dlq');
      const other = await createQueue(api, 'ldl-other');
      const srcs = [];
      for (let i = 0; i < 3; i++) srcs.push(await createQueue(api, `ldl-src${i}`, { RedrivePolicy: redrivePolicy(dlq.arn) }));
      const late = await createQueue(api, 'ldl-late');
      await api.call('SetQueueAttributes', { QueueUrl: late.url, Attributes: { RedrivePolicy: redrivePolicy(dlq.arn) } });
      srcs.push(late);
      const expected = srcs.map((s) => s.url).sort();

      const all = await api.call('ListDeadLetterSourceQueues', { QueueUrl: dlq.url });
      assert.deepEqual([...(all.queueUrls ?? [])].sort(), expected, `queueUrls: ${show(all)}`);
      assert.equal(all.NextToken, undefined, 'no NextToken without MaxResults');

      const pages = [];
      let NextToken;
      for (let i = 0; i < 6; i++) {
        const params = { QueueUrl: dlq.url, MaxResults: 3 };
        if (NextToken) params.NextToken = NextToken;
        const res = await api.call('ListDeadLetterSourceQueues', params);
        pages.push({ urls: res.queueUrls ?? [], next: res.NextToken });
        NextToken = res.NextToken;
        if (!NextToken) break;
      }
      assert.deepEqual(pages.map((p) => p.urls.length), [3, 1], `pages of 3 and 1: ${show(pages)}`);
      assert.deepEqual(pages.flatMap((p) => p.urls).sort(), expected, 'every source exactly once');

      const none = await api.call('ListDeadLetterSourceQueues', { QueueUrl: other.url });
      assert.deepEqual(none.queueUrls ?? [], [], 'a queue that is nobody\'s DLQ has no sources');
      await expectError(api, 'ListDeadLetterSourceQueues', { QueueUrl: `${other.url}-missing` }, ERR.QueueDoesNotExist);
    });

    // === message move tasks ===============================================

    test('StartMessageMoveTask without DestinationArn moves each message back to its own source; ListMessageMoveTasks reports COMPLETED', async () => {
      const dlq = await createQueue(api, 'mvback-dlq');
      const attrs = {
        s: { DataType: 'String', StringValue: 'moved back ✓' },
        b: { DataType: 'Binary', BinaryValue: api.binary([9, 8, 7, 0, 255]) },
      };
      const a = await deadLetters(api, 'mvbackA', ['from A 1', 'from A 2'], { dlq, attrsOf: (i) => (i === 0 ? attrs : undefined) });
      const b = await deadLetters(api, 'mvbackB', ['from B'], { dlq });
      const t0 = Date.now();
      const started = await api.call('StartMessageMoveTask', { SourceArn: dlq.arn });
      const t1 = Date.now();
      assert.ok(typeof started.TaskHandle === 'string' && started.TaskHandle.length > 0, `a TaskHandle: ${show(started)}`);

      const task = await waitForTaskEnd(api, dlq.arn);
      assert.equal(task.Status, 'COMPLETED', `task: ${show(task)}`);
      assert.equal(task.SourceArn, dlq.arn);
      assert.equal(task.DestinationArn, undefined, 'no DestinationArn when none was given');
      assert.equal(task.MaxNumberOfMessagesPerSecond, undefined, 'no MaxNumberOfMessagesPerSecond when none was given');
      assert.equal(task.TaskHandle, undefined, 'no TaskHandle once the task is not running');
      assert.equal(Number(task.ApproximateNumberOfMessagesMoved), 3);
      assert.equal(Number(task.ApproximateNumberOfMessagesToMove), 3);
      assert.ok(
        Number(task.StartedTimestamp) >= t0 - 2_000 && Number(task.StartedTimestamp) <= t1 + 2_000,
        `StartedTimestamp ${task.StartedTimestamp} is epoch milliseconds within [${t0}, ${t1}]`,
      );

      assert.deepEqual(await counts(api, dlq.url), EMPTY, 'the DLQ is empty');
      const all = { MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] };
      for (const [q, n] of [[a, 2], [b, 1]]) {
        const got = await receiveExactly(api, q.src.url, n, all, 3_000);
        const bodies = [...q.sent.values()];
        for (const m of got) {
          const exp = bodies.find((x) => x.body === m.Body);
          assert.ok(exp, `${m.Body} went back to its own source ${q.src.name}`);
          assert.equal(m.MD5OfBody, md5Hex(m.Body));
          if (exp.attrs) {
            assertSameMessageAttributes(m.MessageAttributes, exp.attrs, 'attributes after the move');
            assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(exp.attrs));
          } else {
            assert.equal(Object.keys(m.MessageAttributes ?? {}).length, 0);
          }
          assert.equal(m.Attributes.DeadLetterQueueSourceArn, undefined, 'no DeadLetterQueueSourceArn after the move');
        }
      }
    });

    test('StartMessageMoveTask to a DestinationArn at MaxNumberOfMessagesPerSecond 1: RUNNING with TaskHandle, then COMPLETED after ~2-3 s', async () => {
      const { dlq, sent } = await deadLetters(api, 'mvrate', ['r1', 'r2', 'r3'], {
        attrsOf: (i) => ({ i: { DataType: 'Number', StringValue: String(i) } }),
      });
      const dest = await createQueue(api, 'mvrate-dest');
      const t0 = Date.now();
      const { TaskHandle } = await api.call('StartMessageMoveTask', {
        SourceArn: dlq.arn,
        DestinationArn: dest.arn,
        MaxNumberOfMessagesPerSecond: 1,
      });
      const seen = [];
      let end;
      for (let i = 0; i < 80; i++) {
        const [t] = await listTasks(api, dlq.arn);
        const elapsed = Date.now() - t0;
        seen.push({ elapsed, status: t?.Status, moved: t?.ApproximateNumberOfMessagesMoved, handle: t?.TaskHandle });
        if (t && t.Status !== 'RUNNING') {
          end = { t, elapsed };
          break;
        }
        if (t?.Status === 'RUNNING') {
          assert.equal(t.TaskHandle, TaskHandle, 'a RUNNING task shows its TaskHandle');
          assert.equal(t.SourceArn, dlq.arn);
          assert.equal(t.DestinationArn, dest.arn);
          assert.equal(t.MaxNumberOfMessagesPerSecond, 1);
          assert.equal(Number(t.ApproximateNumberOfMessagesToMove), 3);
        }
        await sleep(150);
      }
      const trace = show(seen.map((s) => `${s.elapsed}ms:${s.status}/${s.moved}`));
      assert.ok(end, `the task ends within 12 s: ${trace}`);
      assert.equal(seen[0].status, 'RUNNING', `RUNNING right after the start: ${trace}`);
      for (const s of seen) {
        assert.ok(Number(s.moved ?? 0) <= 2 + Math.floor(s.elapsed / 1000), `at most ~1 message per second: ${trace}`);
      }
      assert.equal(end.t.Status, 'COMPLETED', `final: ${show(end.t)}`);
      assert.ok(end.elapsed >= 1_800 && end.elapsed <= 5_500, `3 messages at 1/s took ${end.elapsed} ms (expected ~2-3 s): ${trace}`);
      assert.equal(end.t.TaskHandle, undefined, 'no TaskHandle once COMPLETED');
      assert.equal(Number(end.t.ApproximateNumberOfMessagesMoved), 3);
      assert.equal(end.t.DestinationArn, dest.arn);
      assert.equal(end.t.MaxNumberOfMessagesPerSecond, 1);

      assert.deepEqual(await counts(api, dlq.url), EMPTY, 'the DLQ is empty');
      const got = await receiveExactly(api, dest.url, 3, { MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }, 3_000);
      const exp = [...sent.values()];
      for (const m of got) {
        const e = exp.find((x) => x.body === m.Body);
        assert.ok(e, `${m.Body} is one of the moved messages`);
        assertSameMessageAttributes(m.MessageAttributes, e.attrs, 'attributes after the move');
        assert.equal(m.MD5OfMessageAttributes, md5OfAttributes(e.attrs));
        assert.equal(m.Attributes.DeadLetterQueueSourceArn, undefined, 'no DeadLetterQueueSourceArn in the destination');
      }
    });

    test('CancelMessageMoveTask on a running task: CANCELLED, the moved count, the rest stays in the DLQ', async () => {
      const bodies = Array.from({ length: 6 }, (_, i) => `c${i}`);
      const { dlq } = await deadLetters(api, 'mvcancel', bodies);
      const dest = await createQueue(api, 'mvcancel-dest');
      const { TaskHandle } = await api.call('StartMessageMoveTask', {
        SourceArn: dlq.arn,
        DestinationArn: dest.arn,
        MaxNumberOfMessagesPerSecond: 1,
      });
      await waitFor(
        async () => Number((await counts(api, dest.url)).visible) >= 1,
        'the first message reaches the destination',
        { timeoutMs: 4_000 },
      );
      const cancelled = await api.call('CancelMessageMoveTask', { TaskHandle });
      const movedAtCancel = Number(cancelled.ApproximateNumberOfMessagesMoved);
      assert.ok(
        Number.isInteger(movedAtCancel) && movedAtCancel >= 1 && movedAtCancel < 6,
        `CancelMessageMoveTask answers ApproximateNumberOfMessagesMoved: ${show(cancelled)}`,
      );
      const task = await waitForTaskEnd(api, dlq.arn, 5_000);
      assert.equal(task.Status, 'CANCELLED', `task: ${show(task)}`);
      assert.equal(task.TaskHandle, undefined, 'no TaskHandle once cancelled');
      const moved = Number(task.ApproximateNumberOfMessagesMoved);
      assert.ok(moved >= movedAtCancel && moved < 6, `moved ${moved} (at cancel ${movedAtCancel}) of 6`);
      await sleep(1_500);
      const d = await counts(api, dest.url);
      const s = await counts(api, dlq.url);
      assert.equal(Number(d.visible), moved, `the destination holds the moved messages, and no more arrive: ${show(d)}`);
      assert.equal(Number(s.visible), 6 - moved, `the rest stays in the DLQ: ${show(s)}`);
    });

    test('CancelMessageMoveTask: unknown task -> ResourceNotFoundException; malformed handle -> InvalidParameterValue', async () => {
      const dlq = await createQueue(api, 'mvunknown-dlq');
      await createQueue(api, 'mvunknown-src', { RedrivePolicy: redrivePolicy(dlq.arn) });
      await allOf([
        // both recorded against AWS (localstack tests/aws/services/sqs/test_sqs_move_task.snapshot.json)
        () => expectError(api, 'CancelMessageMoveTask', { TaskHandle: unknownTaskHandle(dlq.arn) }, ERR.ResourceNotFoundException),
        () => expectError(api, 'CancelMessageMoveTask', { TaskHandle: 'foobared' }, ERR.InvalidParameterValue),
      ]);
    });

    test('StartMessageMoveTask errors: not a DLQ, missing queues (also ListMessageMoveTasks), rate 0 or 501', async () => {
      const plain = await createQueue(api, 'mverr-plain');
      const dlq = await createQueue(api, 'mverr-dlq');
      await createQueue(api, 'mverr-src', { RedrivePolicy: redrivePolicy(dlq.arn) });
      const missingArn = `${dlq.arn.slice(0, dlq.arn.lastIndexOf(':'))}:${uniqueName(`${sdk}-nosuchq`)}`;
      await allOf([
        // recorded against AWS: "Source queue must be configured as a Dead Letter Queue."
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: plain.arn }, ERR.InvalidParameterValue),
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: plain.arn, DestinationArn: dlq.arn }, ERR.InvalidParameterValue),
        // recorded against AWS for DestinationArn; the same answer for SourceArn
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: dlq.arn, DestinationArn: missingArn }, ERR.ResourceNotFoundException),
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: missingArn }, ERR.ResourceNotFoundException),
        () => expectError(api, 'ListMessageMoveTasks', { SourceArn: missingArn }, ERR.ResourceNotFoundException),
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: dlq.arn, MaxNumberOfMessagesPerSecond: 501 }, ERR.InvalidParameterValue),
        () => expectError(api, 'StartMessageMoveTask', { SourceArn: dlq.arn, MaxNumberOfMessagesPerSecond: 0 }, ERR.InvalidParameterValue),
      ]);
      assert.deepEqual(await listTasks(api, dlq.arn, 10), [], 'no task was started');
      assert.deepEqual(await listTasks(api, plain.arn, 10), [], 'no task was started');
    });

    test('a second StartMessageMoveTask on the same source while one runs -> InvalidParameterValue', async () => {
      const { dlq } = await deadLetters(api, 'mvtwice', ['t1', 't2', 't3']);
      const dest = await createQueue(api, 'mvtwice-dest');
      const { TaskHandle } = await api.call('StartMessageMoveTask', {
        SourceArn: dlq.arn,
        DestinationArn: dest.arn,
        MaxNumberOfMessagesPerSecond: 1,
      });
      try {
        // recorded against AWS: "There is already a task running. Only one active task is allowed for a source queue arn at a given time."
        await expectError(api, 'StartMessageMoveTask', { SourceArn: dlq.arn, DestinationArn: dest.arn }, ERR.InvalidParameterValue);
        await expectError(api, 'StartMessageMoveTask', { SourceArn: dlq.arn }, ERR.InvalidParameterValue);
        const tasks = await listTasks(api, dlq.arn, 10);
        assert.equal(tasks.length, 1, `one task: ${show(tasks)}`);
      } finally {
        await api.call('CancelMessageMoveTask', { TaskHandle }).catch(() => {});
      }
    });

    test('ListMessageMoveTasks: most recent first, MaxResults default 1 and up to 10; none for a queue without tasks', async () => {
      const src = await createQueue(api, 'mvlist-src0');
      const dlq = await createQueue(api, 'mvlist-dlq');
      await api.call('SetQueueAttributes', { QueueUrl: src.url, Attributes: { RedrivePolicy: redrivePolicy(dlq.arn, 1) } });
      assert.deepEqual(await listTasks(api, dlq.arn), [], 'no tasks yet');
      const destA = await createQueue(api, 'mvlist-destA');
      const destB = await createQueue(api, 'mvlist-destB');

      await deadLetters(api, 'mvlist', ['first'], { dlq, src });
      const first = await api.call('StartMessageMoveTask', { SourceArn: dlq.arn, DestinationArn: destA.arn });
      const done = await waitForTaskEnd(api, dlq.arn);
      assert.equal(done.Status, 'COMPLETED');

      await deadLetters(api, 'mvlist', ['second-1', 'second-2', 'second-3'], { dlq, src });
      const second = await api.call('StartMessageMoveTask', {
        SourceArn: dlq.arn,
        DestinationArn: destB.arn,
        MaxNumberOfMessagesPerSecond: 1,
      });
      assert.notEqual(second.TaskHandle, first.TaskHandle, 'each task has its own handle');
      try {
        const one = await listTasks(api, dlq.arn);
        assert.equal(one.length, 1, `MaxResults defaults to 1: ${show(one)}`);
        assert.equal(one[0].DestinationArn, destB.arn, 'the most recent task');
        assert.equal(one[0].Status, 'RUNNING');
        assert.equal(one[0].TaskHandle, second.TaskHandle);
        const two = await listTasks(api, dlq.arn, 10);
        assert.deepEqual(
          two.map((t) => [t.DestinationArn, t.Status]),
          [
            [destB.arn, 'RUNNING'],
            [destA.arn, 'COMPLETED'],
          ],
          `most recent first: ${show(two)}`,
        );
        assert.ok(Number(two[0].StartedTimestamp) >= Number(two[1].StartedTimestamp), 'StartedTimestamp order');
        assert.equal(two[1].TaskHandle, undefined, 'the completed task has no TaskHandle');
        await allOf([
          () => expectError(api, 'ListMessageMoveTasks', { SourceArn: dlq.arn, MaxResults: 11 }, ERR.InvalidParameterValue),
          () => expectError(api, 'ListMessageMoveTasks', { SourceArn: dlq.arn, MaxResults: 0 }, ERR.InvalidParameterValue),
        ]);
      } finally {
        await api.call('CancelMessageMoveTask', { TaskHandle: second.TaskHandle }).catch(() => {});
      }
    });

    test('a move task interrupted by kill -9 resumes or is reported FAILED after restart; every message ends in exactly one queue; tags, policies survive', { timeout: 50_000 }, async (t) => {
      let own = await startServer();
      let oapi;
      try {
        oapi = await makeApi(own.endpoint);
        const bodies = Array.from({ length: 6 }, (_, i) => `kill-${i}`);
        const { dlq, src } = await deadLetters(oapi, 'mvkill', bodies);
        const dest = await createQueue(oapi, 'mvkill-dest', undefined, { tags: { kept: 'yes' } });
        // more acknowledged state that must survive the crash
        await oapi.call('TagQueue', { QueueUrl: dest.url, Tags: { added: 'later' } });
        await oapi.call('AddPermission', { QueueUrl: dest.url, Label: 'durable', AWSAccountIds: ['111122223333'], Actions: ['SendMessage'] });
        await oapi.call('SetQueueAttributes', {
          QueueUrl: dlq.url,
          Attributes: { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [src.arn] }) },
        });
        const { TaskHandle } = await oapi.call('StartMessageMoveTask', {
          SourceArn: dlq.arn,
          DestinationArn: dest.arn,
          MaxNumberOfMessagesPerSecond: 2,
        });
        assert.ok(TaskHandle);
        const movedBefore = await waitFor(
          async () => {
            const n = Number((await counts(oapi, dest.url)).visible);
            return n >= 1 ? n : 0;
          },
          'the task moves a first message',
          { timeoutMs: 4_000, intervalMs: 50 },
        );
        const [running] = await listTasks(oapi, dlq.arn);
        assert.equal(running.Status, 'RUNNING', `the kill lands while the task runs: ${show(running)}`);
        assert.ok(movedBefore < 6, `the kill lands mid-task (moved ${movedBefore} of 6)`);

        oapi.destroy();
        own = await crashAndRestart(own);
        oapi = await makeApi(own.endpoint);

        const after = await waitFor(
          async () => {
            const tasks = await listTasks(oapi, dlq.arn, 10);
            assert.ok(tasks.length >= 1, 'the task is still listed after the restart (never vanishes)');
            return ['RUNNING', 'CANCELLING'].includes(tasks[0].Status) ? null : tasks[0];
          },
          'the interrupted task ends after the restart',
          { timeoutMs: 12_000, intervalMs: 200 },
        );
        assert.ok(['COMPLETED', 'FAILED'].includes(after.Status), `resumed to COMPLETED or reported FAILED: ${show(after)}`);
        if (after.Status === 'FAILED') assert.ok(after.FailureReason, 'a FAILED task says why');

        // the restarted server listens on another port: ask for the URLs again
        const destUrl = (await oapi.call('GetQueueUrl', { QueueName: dest.name })).QueueUrl;
        const dlqUrl = (await oapi.call('GetQueueUrl', { QueueName: dlq.name })).QueueUrl;
        const inDest = await drain(oapi, destUrl);
        const inDlq = await drain(oapi, dlqUrl);
        const srcUrl = (await oapi.call('GetQueueUrl', { QueueName: src.name })).QueueUrl;
        assert.deepEqual((await oapi.call('ListQueueTags', { QueueUrl: destUrl })).Tags, { kept: 'yes', added: 'later' }, 'tags survive');
        const policy = parseJsonAttribute((await queueAttributes(oapi, destUrl, ['Policy'])).Policy, 'Policy after restart');
        assert.deepEqual(policy.Statement.map((st) => st.Sid), ['durable'], 'the permission survives');
        assert.deepEqual(
          parseJsonAttribute((await queueAttributes(oapi, srcUrl, ['RedrivePolicy'])).RedrivePolicy, 'RedrivePolicy after restart'),
          { deadLetterTargetArn: dlq.arn, maxReceiveCount: 1 },
        );
        assert.deepEqual(
          parseJsonAttribute((await queueAttributes(oapi, dlqUrl, ['RedriveAllowPolicy'])).RedriveAllowPolicy, 'RedriveAllowPolicy after restart'),
          { redrivePermission: 'byQueue', sourceQueueArns: [src.arn] },
        );
        assert.deepEqual((await oapi.call('ListDeadLetterSourceQueues', { QueueUrl: dlqUrl })).queueUrls, [srcUrl], 'the DLQ still knows its source');
        t.diagnostic(
          `moved before the kill: ${movedBefore}; after the restart: ${after.Status}, moved ${after.ApproximateNumberOfMessagesMoved}; ` +
            `destination ${inDest.length}, DLQ ${inDlq.length}`,
        );
        const seen = [...inDest, ...inDlq].map((m) => m.Body).sort();
        assert.deepEqual(
          seen,
          [...bodies].sort(),
          `every message exactly once across DLQ (${inDlq.length}) and destination (${inDest.length}): ${show(seen)}`,
        );
        const ids = [...inDest, ...inDlq].map((m) => m.MessageId);
        assert.equal(new Set(ids).size, ids.length, 'no MessageId twice');
        assert.ok(inDest.length >= movedBefore, `messages moved before the kill stay moved (${movedBefore} before, ${inDest.length} after)`);
        if (after.Status === 'COMPLETED') {
          assert.equal(inDest.length, 6, 'a completed task moved everything');
        }
      } finally {
        oapi?.destroy();
        await own.stop();
      }
    });

    // === tags =============================================================

    test('tags: CreateQueue tags, TagQueue overwrites and adds, UntagQueue (a missing key is fine), ListQueueTags', async () => {
      const { url } = await createQueue(api, 'tags', undefined, { tags: { team: 'core', env: 'test' } });
      const tagsOf = async () => (await api.call('ListQueueTags', { QueueUrl: url })).Tags ?? {};
      assert.deepEqual(await tagsOf(), { team: 'core', env: 'test' }, 'tags given on CreateQueue');
      await api.call('TagQueue', { QueueUrl: url, Tags: { env: 'prod', 'cost-center': '42' } });
      assert.deepEqual(await tagsOf(), { team: 'core', env: 'prod', 'cost-center': '42' }, 'TagQueue overwrites and adds');
      await api.call('UntagQueue', { QueueUrl: url, TagKeys: ['team', 'no-such-key'] });
      assert.deepEqual(await tagsOf(), { env: 'prod', 'cost-center': '42' }, 'UntagQueue removes; a missing key is fine');
      await api.call('UntagQueue', { QueueUrl: url, TagKeys: ['env', 'cost-center'] });
      assert.deepEqual(await tagsOf(), {}, 'no tags left');
      const missing = `${url}-missing`;
      await allOf([
        () => expectError(api, 'ListQueueTags', { QueueUrl: missing }, ERR.QueueDoesNotExist),
        () => expectError(api, 'TagQueue', { QueueUrl: missing, Tags: { a: 'b' } }, ERR.QueueDoesNotExist),
        () => expectError(api, 'UntagQueue', { QueueUrl: missing, TagKeys: ['a'] }, ERR.QueueDoesNotExist),
      ]);
    });

    test('tags: 51 tags or a key starting with "aws:" -> InvalidParameterValue; 50 are fine', async () => {
      const { url } = await createQueue(api, 'tagbad');
      const many = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, `v${i}`]));
      await allOf([
        () => expectError(api, 'TagQueue', { QueueUrl: url, Tags: many(51) }, ERR.InvalidParameterValue),
        () => expectError(api, 'TagQueue', { QueueUrl: url, Tags: { 'aws:x': 'v' } }, ERR.InvalidParameterValue),
        () => expectError(api, 'CreateQueue', { QueueName: uniqueName(`${sdk}-tagbad-new`), tags: { 'aws:x': 'v' } }, ERR.InvalidParameterValue),
      ]);
      assert.deepEqual((await api.call('ListQueueTags', { QueueUrl: url })).Tags ?? {}, {}, 'nothing was tagged');
      await api.call('TagQueue', { QueueUrl: url, Tags: many(50) });
      assert.equal(Object.keys((await api.call('ListQueueTags', { QueueUrl: url })).Tags ?? {}).length, 50);
    });

    // === permissions ======================================================

    test('AddPermission writes a Policy statement; the same label again -> InvalidParameterValue; RemovePermission removes it', async () => {
      const q = await createQueue(api, 'perm');
      await api.call('AddPermission', {
        QueueUrl: q.url,
        Label: 'send-receive',
        AWSAccountIds: ['111122223333'],
        Actions: ['SendMessage', 'ReceiveMessage'],
      });
      const policy = parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy');
      assert.ok(Array.isArray(policy.Statement), `Statement is a list: ${show(policy)}`);
      assert.equal(policy.Statement.length, 1);
      const [st] = policy.Statement;
      assert.equal(st.Sid, 'send-receive');
      assert.equal(st.Effect, 'Allow');
      assert.deepEqual(asList(st.Principal?.AWS), ['arn:aws:iam::111122223333:root'], `Principal: ${show(st.Principal)}`);
      assert.deepEqual(asList(st.Action), ['SQS:SendMessage', 'SQS:ReceiveMessage'], `Action: ${show(st.Action)}`);
      assert.equal(st.Resource, q.arn);
      const all = await queueAttributes(api, q.url, ['All']);
      assert.ok(all.Policy, 'Policy is in GetQueueAttributes All');

      await api.call('AddPermission', { QueueUrl: q.url, Label: 'deleter', AWSAccountIds: ['444455556666'], Actions: ['DeleteMessage'] });
      const two = parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy');
      assert.deepEqual(two.Statement.map((s) => s.Sid).sort(), ['deleter', 'send-receive']);

      await allOf([
        () =>
          expectError(
            api,
            'AddPermission',
            { QueueUrl: q.url, Label: 'send-receive', AWSAccountIds: ['111122223333'], Actions: ['DeleteMessage'] },
            ERR.InvalidParameterValue,
          ),
        () => expectError(api, 'RemovePermission', { QueueUrl: q.url, Label: 'no-such-label' }, ERR.InvalidParameterValue),
      ]);

      await api.call('RemovePermission', { QueueUrl: q.url, Label: 'send-receive' });
      const one = parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy');
      assert.deepEqual(one.Statement.map((s) => s.Sid), ['deleter'], 'the removed statement is gone');
      await api.call('RemovePermission', { QueueUrl: q.url, Label: 'deleter' });
      const none = await queueAttributes(api, q.url, ['All']);
      assert.equal(none.Policy, undefined, `no Policy once its last statement is removed: ${show(none.Policy)}`);
    });

    test('AddPermission with 8 actions -> OverLimit (7 are fine); Policy that is not JSON -> InvalidAttributeValue', async () => {
      const q = await createQueue(api, 'permlimit');
      const actions = [
        'SendMessage',
        'ReceiveMessage',
        'DeleteMessage',
        'ChangeMessageVisibility',
        'GetQueueAttributes',
        'GetQueueUrl',
        'ListDeadLetterSourceQueues',
        'PurgeQueue',
      ];
      await expectError(
        api,
        'AddPermission',
        { QueueUrl: q.url, Label: 'eight', AWSAccountIds: ['111122223333'], Actions: actions },
        ERR.OverLimit,
      );
      await api.call('AddPermission', { QueueUrl: q.url, Label: 'seven', AWSAccountIds: ['111122223333'], Actions: actions.slice(0, 7) });
      const policy = parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy');
      assert.deepEqual(policy.Statement.map((s) => s.Sid), ['seven']);

      await expectError(api, 'SetQueueAttributes', { QueueUrl: q.url, Attributes: { Policy: '{"Statement": [' } }, ERR.InvalidAttributeValue);
      const unchanged = parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy');
      assert.deepEqual(unchanged, policy, 'the failed set changed nothing');

      const own = {
        Version: '2012-10-17',
        Statement: [{ Sid: 'mine', Effect: 'Allow', Principal: '*', Action: 'sqs:SendMessage', Resource: q.arn }],
      };
      await api.call('SetQueueAttributes', { QueueUrl: q.url, Attributes: { Policy: JSON.stringify(own) } });
      assert.deepEqual(parseJsonAttribute((await queueAttributes(api, q.url, ['Policy'])).Policy, 'Policy'), own, 'a set Policy reads back');
    });

    // === the rest =========================================================

    test('more than 10 message attributes -> InvalidParameterValue; 10 are fine', async () => {
      const { url } = await createQueue(api, 'attrcount');
      const attrs = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: `v${i}` }]));
      await expectError(api, 'SendMessage', { QueueUrl: url, MessageBody: 'x', MessageAttributes: attrs(11) }, ERR.InvalidParameterValue);
      assert.deepEqual(await counts(api, url), EMPTY);
      const ok = await send(api, url, 'x', { MessageAttributes: attrs(10) });
      assert.equal(ok.MD5OfMessageAttributes, md5OfAttributes(attrs(10)));
    });

    test('a queue name reused within 60 s of DeleteQueue -> QueueDeletedRecently', async () => {
      const { name, url } = await createQueue(api, 'reuse');
      await api.call('DeleteQueue', { QueueUrl: url });
      await expectError(api, 'CreateQueue', { QueueName: name }, ERR.QueueDeletedRecently);
      await expectError(api, 'GetQueueUrl', { QueueName: name }, ERR.QueueDoesNotExist);
    });

    test('a second PurgeQueue within 60 s -> PurgeQueueInProgress', async () => {
      const { url } = await createQueue(api, 'purge2');
      await send(api, url, 'p');
      await api.call('PurgeQueue', { QueueUrl: url });
      await expectError(api, 'PurgeQueue', { QueueUrl: url }, ERR.PurgeQueueInProgress);
      const other = await createQueue(api, 'purge2-other');
      await api.call('PurgeQueue', { QueueUrl: other.url }); // the limit is per queue
    });

    test(
      'MessageRetentionPeriod 60: a message older than 60 s is gone',
      {
        skip:
          'needs a wait of >60 s, but run.sh bounds each test file to 60 s in total (node --test-timeout applies per file); ' +
          'not testable here without a fourth test file',
      },
      () => {},
    );
  });
}
