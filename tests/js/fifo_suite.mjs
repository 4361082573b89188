// Test bodies shared by fifo_v3.test.mjs (AWS JSON protocol) and
// fifo_v2.test.mjs (query protocol) for FIFO queues and fair queues:
// creation and attributes, send rules, per-group order and locking, system
// attributes, deduplication (explicit, content-based, scopes, window, across
// kill -9), batches, ReceiveRequestAttemptId, FIFO redrive and move tasks,
// fair queues (standard queue + MessageGroupId) and long polls.
//
// AWS's behaviour is the spec: every expected value below is what Amazon SQS
// answers (sources are named beside the less obvious ones), not what some
// server happens to answer. The main sources are the SQS API Reference
// (CreateQueue, SendMessage, ReceiveMessage pages) and the SQS Developer
// Guide's FIFO chapters (message ordering, exactly-once processing, high
// throughput, dead-letter queues).
//
// run.sh bounds every test FILE to 60 s, so the tests of one SDK run
// concurrently against one server (dedup window 300 s, as AWS), plus a second
// server started with --dedup-window-seconds 2 for the window test (harness.mjs
// has no extra-args option: a tiny wrapper script execs wharf with the flag, so
// the child's PID is wharf's own), plus a third one for the kill -9 test.
//
// defineFifoSuite(label, makeApi) registers the tests; makeApi(endpoint) gives
// the adapter of harness.mjs (v3Api or v2Api).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { WHARF_BIN, crashAndRestart, sleep, startServer, uniqueName, withTimeout } from './harness.mjs';
import { ERR as API_ERR } from './api_suite.mjs';

// Errors as AWS answers them: v3 exception name, query-protocol code and HTTP
// status. MissingParameter is not modeled in AWS's Smithy model, so SDK v3
// names the exception after the x-amzn-query-error code.
const ERR = {
  ...API_ERR,
  MissingParameter: { v3: 'MissingParameter', query: 'MissingParameter', status: 400 },
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGITS = /^\d+$/;
const SHORT_WINDOW_SECONDS = 2;

// ---------------------------------------------------------------------------
// helpers

function describeCall(op, params) {
  const json = JSON.stringify(params, (_k, v) => {
    if (v instanceof Uint8Array) return `<${v.length} bytes>`;
    if (Array.isArray(v) && v.length > 12) return `[${v.length} items, first ${JSON.stringify(v[0])}]`;
    if (typeof v === 'string' && v.length > 100) return `${v.slice(0, 60)}...(${v.length} chars)`;
    return v;
  });
  return `${op} ${json}`;
}

function show(x) {
  const s = JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
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

/** Runs every check and fails with all their messages (one run tells every difference). */
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

async function queueAttributes(api, url, names = ['All']) {
  const res = await api.call('GetQueueAttributes', { QueueUrl: url, AttributeNames: names });
  return res.Attributes ?? {};
}

async function createStandard(api, prefix, Attributes) {
  const QueueName = uniqueName(`${api.sdk}-${prefix}`);
  const params = { QueueName };
  if (Attributes) params.Attributes = Attributes;
  const res = await api.call('CreateQueue', params);
  const arn = (await queueAttributes(api, res.QueueUrl, ['QueueArn'])).QueueArn;
  return { name: QueueName, url: res.QueueUrl, arn };
}

async function createFifo(api, prefix, Attributes = {}) {
  const QueueName = `${uniqueName(`${api.sdk}-${prefix}`)}.fifo`;
  const res = await api.call('CreateQueue', { QueueName, Attributes: { FifoQueue: 'true', ...Attributes } });
  const arn = (await queueAttributes(api, res.QueueUrl, ['QueueArn'])).QueueArn;
  return { name: QueueName, url: res.QueueUrl, arn };
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

/** SendMessage to a FIFO queue: group and dedup id given, or omitted with null. */
async function sendFifo(api, url, body, group, dedup, extra = {}) {
  const params = { QueueUrl: url, MessageBody: body, ...extra };
  if (group !== null) params.MessageGroupId = group;
  if (dedup !== null && dedup !== undefined) params.MessageDeduplicationId = dedup;
  return api.call('SendMessage', params);
}

async function receive(api, url, params = {}) {
  const res = await api.call('ReceiveMessage', { QueueUrl: url, ...params });
  return res.Messages ?? [];
}

const ALL_SYS = { MessageSystemAttributeNames: ['All'] };

/** Receives (VisibilityTimeout 600) until the queue answers empty twice; bounded. */
async function drain(api, url, params = {}) {
  const got = [];
  let empties = 0;
  for (let i = 0; i < 60 && empties < 2; i++) {
    const batch = await receive(api, url, { MaxNumberOfMessages: 10, VisibilityTimeout: 600, WaitTimeSeconds: 0, ...params });
    if (batch.length === 0) empties++;
    got.push(...batch);
  }
  return got;
}

/** Receives until `n` messages arrived (bounded in calls and time); fails if more or fewer. */
async function receiveExactly(api, url, n, params = {}, timeoutMs = 6_000) {
  const got = [];
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 40 && got.length < n && Date.now() < deadline; i++) {
    const batch = await receive(api, url, { MaxNumberOfMessages: 10, VisibilityTimeout: 600, WaitTimeSeconds: 1, ...params });
    got.push(...batch);
  }
  assert.equal(got.length, n, `expected ${n} messages from ${url}, got ${got.length}: ${show(got.map((m) => m.Body))}`);
  return got;
}

/** Polls fn (bounded) until it answers something truthy; returns that. */
async function waitFor(fn, what, { timeoutMs = 8_000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await fn();
    if (last) return last;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

function assertSequenceNumber(value, what) {
  assert.equal(typeof value, 'string', `${what}: SequenceNumber is a string (got ${show(value)})`);
  assert.match(value, DIGITS, `${what}: SequenceNumber is a string of digits`);
  assert.ok(BigInt(value) < 2n ** 128n, `${what}: SequenceNumber fits 128 bits (${value})`);
}

/** Per group, the bodies received (in receive order) equal the bodies sent (in send order). */
function assertGroupOrder(received, sentByGroup, what) {
  const groupOf = new Map();
  for (const [g, bodies] of Object.entries(sentByGroup)) for (const b of bodies) groupOf.set(b, g);
  const got = Object.fromEntries(Object.keys(sentByGroup).map((g) => [g, []]));
  for (const body of received) {
    assert.ok(groupOf.has(body), `${what}: unexpected body ${body}`);
    got[groupOf.get(body)].push(body);
  }
  for (const [g, bodies] of Object.entries(sentByGroup)) {
    assert.deepEqual(got[g], bodies, `${what}: group ${g} in send order, each once (all received in order: ${show(received)})`);
  }
}

const redrivePolicy = (arn, maxReceiveCount = 1) => JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount });

async function listTasks(api, SourceArn) {
  const res = await api.call('ListMessageMoveTasks', { SourceArn });
  return res.Results ?? [];
}

/**
 * A script that execs wharf with the extra arguments (after the harness's
 * own), so that startServer({bin}) runs it and the child's PID is wharf's.
 */
function writeWrapper(dir, extraArgs) {
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const file = path.join(dir, 'wharf-wrapped.sh');
  fs.writeFileSync(file, `#!/bin/sh\nexec ${q(WHARF_BIN)} "$@" ${extraArgs.map(q).join(' ')}\n`, { mode: 0o755 });
  return file;
}

// ---------------------------------------------------------------------------
// the suite

export function defineFifoSuite(label, makeApi) {
  describe(`Wharf FIFO and fair queues through ${label}`, { concurrency: true, timeout: 55_000 }, () => {
    let server; // dedup window 300 s (AWS)
    let api;
    let shortServer; // --dedup-window-seconds 2
    let shortApi;
    let wrapperDir;

    before(async () => {
      wrapperDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-fifo-wrap-'));
      const wrapped = writeWrapper(wrapperDir, ['--dedup-window-seconds', String(SHORT_WINDOW_SECONDS)]);
      [server, shortServer] = await Promise.all([startServer(), startServer({ bin: wrapped })]);
      api = await makeApi(server.endpoint);
      shortApi = await makeApi(shortServer.endpoint);
    });

    after(async () => {
      api?.destroy();
      shortApi?.destroy();
      const exits = await Promise.all([server?.stop(), shortServer?.stop()]);
      if (wrapperDir) fs.rmSync(wrapperDir, { recursive: true, force: true });
      for (const exit of exits) if (exit) assert.ok(exit.graceful, `wharf stops on SIGTERM within 10 s (exit ${show(exit)})`);
    });

    // === creation ==========================================================

    test('CreateQueue NAME.fifo with FifoQueue true; GetQueueAttributes All shows the FIFO defaults', async () => {
      const q = await createFifo(api, 'create');
      assert.ok(q.url.endsWith(`/${q.name}`), `the URL names the .fifo queue: ${q.url}`);
      const all = await queueAttributes(api, q.url);
      const fifo = Object.fromEntries(
        ['FifoQueue', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'].map((k) => [k, all[k]]),
      );
      assert.deepEqual(
        fifo,
        { FifoQueue: 'true', ContentBasedDeduplication: 'false', DeduplicationScope: 'queue', FifoThroughputLimit: 'perQueue' },
        `GetQueueAttributes All: ${show(all)}`,
      );
      assert.equal(all.QueueArn.endsWith(`:${q.name}`), true, 'the ARN names the .fifo queue');
      assert.deepEqual(await queueAttributes(api, q.url, ['FifoQueue']), { FifoQueue: 'true' }, 'FifoQueue by name');
      // the same CreateQueue again is idempotent and answers the same URL
      const again = await api.call('CreateQueue', { QueueName: q.name, Attributes: { FifoQueue: 'true' } });
      assert.equal(again.QueueUrl, q.url);
    });

    test('FIFO attributes: ContentBasedDeduplication and high throughput (messageGroup + perMessageGroupId) are stored and settable', async () => {
      const q = await createFifo(api, 'hithru', {
        ContentBasedDeduplication: 'true',
        DeduplicationScope: 'messageGroup',
        FifoThroughputLimit: 'perMessageGroupId',
      });
      const a = await queueAttributes(api, q.url, ['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);
      assert.deepEqual(a, { ContentBasedDeduplication: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
      const p = await createFifo(api, 'setfifo');
      await api.call('SetQueueAttributes', {
        QueueUrl: p.url,
        Attributes: { ContentBasedDeduplication: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' },
      });
      const b = await queueAttributes(api, p.url, ['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']);
      assert.deepEqual(b, { ContentBasedDeduplication: 'true', DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' });
    });

    test('FIFO creation and attribute errors (InvalidParameterValue, InvalidAttributeName, InvalidAttributeValue); nothing is created', async () => {
      const fifo = await createFifo(api, 'attrerr');
      const std = await createStandard(api, 'attrerr-std');
      const noFifoSuffix = uniqueName(`${api.sdk}-nosuffix`);
      const fifoWithoutAttr = `${uniqueName(`${api.sdk}-noattr`)}.fifo`;
      await allOf([
        // "FifoQueue ... If you don't specify this attribute, Amazon SQS creates a
        // standard queue"; a FIFO queue's name must end with .fifo (CreateQueue).
        () => expectError(api, 'CreateQueue', { QueueName: noFifoSuffix, Attributes: { FifoQueue: 'true' } }, ERR.InvalidParameterValue),
        () => expectError(api, 'CreateQueue', { QueueName: fifoWithoutAttr }, ERR.InvalidParameterValue),
        () => expectError(api, 'GetQueueUrl', { QueueName: noFifoSuffix }, ERR.QueueDoesNotExist),
        () => expectError(api, 'GetQueueUrl', { QueueName: fifoWithoutAttr }, ERR.QueueDoesNotExist),
        // FifoQueue=true again is a no-op on a FIFO queue; a standard queue
        // knows no FifoQueue ("Unknown Attribute FifoQueue.")
        () => api.call('SetQueueAttributes', { QueueUrl: fifo.url, Attributes: { FifoQueue: 'true' } }),
        () => expectError(api, 'SetQueueAttributes', { QueueUrl: std.url, Attributes: { FifoQueue: 'true' } }, ERR.InvalidAttributeName),
        // FIFO-only attributes on a standard queue
        ...['ContentBasedDeduplication:true', 'DeduplicationScope:queue', 'FifoThroughputLimit:perQueue'].flatMap((kv) => {
          const [k, v] = kv.split(':');
          return [
            () => expectError(api, 'CreateQueue', { QueueName: uniqueName(`${api.sdk}-stdfifoattr`), Attributes: { [k]: v } }, ERR.InvalidAttributeName),
            () => expectError(api, 'SetQueueAttributes', { QueueUrl: std.url, Attributes: { [k]: v } }, ERR.InvalidAttributeName),
          ];
        }),
        // "The perMessageGroupId value is allowed only when the value for
        // DeduplicationScope is messageGroup" (CreateQueue / SetQueueAttributes)
        () =>
          expectError(
            api,
            'CreateQueue',
            {
              QueueName: `${uniqueName(`${api.sdk}-pergroupq`)}.fifo`,
              Attributes: { FifoQueue: 'true', DeduplicationScope: 'queue', FifoThroughputLimit: 'perMessageGroupId' },
            },
            ERR.InvalidAttributeValue,
          ),
        () =>
          expectError(
            api,
            'SetQueueAttributes',
            { QueueUrl: fifo.url, Attributes: { DeduplicationScope: 'queue', FifoThroughputLimit: 'perMessageGroupId' } },
            ERR.InvalidAttributeValue,
          ),
      ]);
      const a = await queueAttributes(api, fifo.url);
      assert.equal(a.FifoQueue, 'true', 'the FIFO queue is still FIFO');
      assert.equal(a.FifoThroughputLimit, 'perQueue', 'the rejected SetQueueAttributes changed nothing');
      const s = await queueAttributes(api, std.url);
      for (const k of ['FifoQueue', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']) {
        assert.equal(s[k], undefined, `the standard queue has no ${k}: ${show(s)}`);
      }
    });

    // === send ==============================================================

    test('SendMessage errors: no MessageGroupId, DelaySeconds, no dedup id, bad group ids; MessageDeduplicationId on a standard queue', async () => {
      const q = await createFifo(api, 'senderr');
      const std = await createStandard(api, 'senderr-std');
      await allOf([
        // "MessageGroupId ... This parameter is required for FIFO queues."
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageDeduplicationId: 'd1' }, ERR.MissingParameter),
        // "DelaySeconds ... FIFO queues don't support per-message delays, only per-queue delays."
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd2', DelaySeconds: 5 }, ERR.InvalidParameterValue),
        // "You must ... provide a MessageDeduplicationId or enable ContentBasedDeduplication"
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageGroupId: 'g' }, ERR.InvalidParameterValue),
        // "The length of MessageGroupId is 128 characters. Valid values: alphanumeric characters and punctuation"
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageGroupId: 'has space', MessageDeduplicationId: 'd3' }, ERR.InvalidParameterValue),
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageGroupId: 'g'.repeat(129), MessageDeduplicationId: 'd4' }, ERR.InvalidParameterValue),
        () => expectError(api, 'SendMessage', { QueueUrl: q.url, MessageBody: 'x', MessageGroupId: 'g', MessageDeduplicationId: 'd'.repeat(129) }, ERR.InvalidParameterValue),
        // "MessageDeduplicationId ... applies only to FIFO queues"
        () => expectError(api, 'SendMessage', { QueueUrl: std.url, MessageBody: 'x', MessageDeduplicationId: 'd5' }, ERR.InvalidParameterValue),
      ]);
      assert.deepEqual(await counts(api, q.url), EMPTY, 'nothing was enqueued in the FIFO queue');
      assert.deepEqual(await counts(api, std.url), EMPTY, 'nothing was enqueued in the standard queue');
      // the limits themselves are fine: 128 chars of alphanumerics and punctuation
      const punct = `!"#$%&'()*+,-./:;<=>?@[\\]^_\`{|}~`;
      const okGroup = (`Az09${punct}`.repeat(4)).slice(0, 128);
      assert.equal(okGroup.length, 128);
      const r = await sendFifo(api, q.url, 'edge ids', okGroup, 'D'.repeat(128));
      assert.match(r.MessageId, UUID);
      const [m] = await receiveExactly(api, q.url, 1, ALL_SYS);
      assert.equal(m.Attributes.MessageGroupId, okGroup);
      assert.equal(m.Attributes.MessageDeduplicationId, 'D'.repeat(128));
    });

    test('SendMessage answers a SequenceNumber (digits, 128-bit) that increases within a group; the received message carries it', async () => {
      const q = await createFifo(api, 'seqno');
      const sent = [];
      for (let i = 0; i < 6; i++) {
        const group = i % 2 ? 'odd' : 'even';
        const r = await sendFifo(api, q.url, `s${i}`, group, `dedup-${i}`);
        assertSequenceNumber(r.SequenceNumber, `send ${i}`);
        assert.match(r.MessageId, UUID);
        sent.push({ body: `s${i}`, group, seq: r.SequenceNumber, id: r.MessageId });
      }
      for (const group of ['even', 'odd']) {
        const seqs = sent.filter((s) => s.group === group).map((s) => BigInt(s.seq));
        for (let i = 1; i < seqs.length; i++) {
          assert.ok(seqs[i] > seqs[i - 1], `SequenceNumber increases within group ${group}: ${seqs.join(', ')}`);
        }
      }
      // AWS documents the increase per message group only; across the queue,
      // numbers are at least distinct.
      assert.equal(new Set(sent.map((s) => s.seq)).size, sent.length, 'distinct SequenceNumbers');
      const got = await receiveExactly(api, q.url, 6, ALL_SYS);
      for (const m of got) {
        const s = sent.find((x) => x.id === m.MessageId);
        assert.ok(s, `received a sent message: ${m.MessageId}`);
        assert.equal(m.Attributes.SequenceNumber, s.seq, `the received SequenceNumber of ${s.body} is the sent one`);
      }
    });

    // === order and locking =================================================

    test('two interleaved groups: every message once, each group in send order', async () => {
      const q = await createFifo(api, 'order');
      const sentByGroup = { a: [], b: [] };
      for (let i = 1; i <= 5; i++) {
        for (const g of ['a', 'b']) {
          await sendFifo(api, q.url, `${g}${i}`, g, `${g}${i}`);
          sentByGroup[g].push(`${g}${i}`);
        }
      }
      const first = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      assert.ok(first.length > 0, 'the first receive of 10 answers messages');
      const rest = first.length < 10 ? await receiveExactly(api, q.url, 10 - first.length, { VisibilityTimeout: 60 }) : [];
      assertGroupOrder([...first, ...rest].map((m) => m.Body), sentByGroup, 'receive');
    });

    test('a group is locked while its head is in flight; after the visibility timeout the same message comes back first (ApproximateReceiveCount 2)', async () => {
      const q = await createFifo(api, 'lockvt');
      for (const b of ['a1', 'a2', 'a3']) await sendFifo(api, q.url, b, 'a', b);
      const [head] = await receive(api, q.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 2, ...ALL_SYS });
      assert.equal(head?.Body, 'a1', 'the first receive answers the head of group a');
      assert.equal(head.Attributes.ApproximateReceiveCount, '1');
      await sendFifo(api, q.url, 'b1', 'b', 'b1');
      const others = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      assert.deepEqual(others.map((m) => m.Body), ['b1'], 'while a1 is in flight only the other group is delivered');
      const none = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      assert.deepEqual(none.map((m) => m.Body), [], 'nothing of group a while a1 is in flight');
      // a1's visibility timeout ends ~2 s after it was received
      let back = [];
      const deadline = Date.now() + 6_000;
      while (back.length === 0 && Date.now() < deadline) {
        back = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 2, ...ALL_SYS });
      }
      assert.ok(back.length > 0, 'group a is delivered again after the visibility timeout');
      assert.equal(back[0].Body, 'a1', `the same head comes back first, not a later message: ${show(back.map((m) => m.Body))}`);
      assert.equal(back[0].MessageId, head.MessageId);
      assert.equal(back[0].Attributes.ApproximateReceiveCount, '2');
      assert.deepEqual(back.map((m) => m.Body), ['a1', 'a2', 'a3'].slice(0, back.length), 'the rest of the group follows in order');
    });

    test('ChangeMessageVisibility 0 on the in-flight head makes it (not a later message) deliverable again', async () => {
      const q = await createFifo(api, 'lockcmv');
      for (const b of ['c1', 'c2', 'c3']) await sendFifo(api, q.url, b, 'c', b);
      const [head] = await receive(api, q.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
      assert.equal(head?.Body, 'c1');
      assert.deepEqual((await receive(api, q.url, { MaxNumberOfMessages: 10 })).map((m) => m.Body), [], 'group c is locked');
      await api.call('ChangeMessageVisibility', { QueueUrl: q.url, ReceiptHandle: head.ReceiptHandle, VisibilityTimeout: 0 });
      const again = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60, ...ALL_SYS });
      assert.ok(again.length > 0, 'the group is deliverable after ChangeMessageVisibility 0');
      assert.equal(again[0].Body, 'c1', `c1 comes back first: ${show(again.map((m) => m.Body))}`);
      assert.equal(again[0].Attributes.ApproximateReceiveCount, '2');
      assert.deepEqual(again.map((m) => m.Body), ['c1', 'c2', 'c3'].slice(0, again.length), 'in order');
    });

    test('DeleteMessage of the in-flight head unlocks the group: the next message comes', async () => {
      const q = await createFifo(api, 'lockdel');
      for (const b of ['d1', 'd2', 'd3']) await sendFifo(api, q.url, b, 'd', b);
      const [m1] = await receive(api, q.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
      assert.equal(m1?.Body, 'd1');
      assert.deepEqual((await receive(api, q.url, { MaxNumberOfMessages: 10 })).map((m) => m.Body), [], 'group d is locked');
      await api.call('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: m1.ReceiptHandle });
      const [m2] = await receive(api, q.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
      assert.equal(m2?.Body, 'd2', 'the next message of the group comes after the delete');
      await api.call('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: m2.ReceiptHandle });
      const [m3] = await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      assert.equal(m3?.Body, 'd3');
    });

    test('4 concurrent consumers over 3 groups x 20 messages: every message exactly once, each group in send order', async () => {
      const q = await createFifo(api, 'consumers');
      const groups = ['g1', 'g2', 'g3'];
      const sentByGroup = Object.fromEntries(groups.map((g) => [g, []]));
      const entries = [];
      for (let i = 0; i < 20; i++) {
        for (const g of groups) {
          const body = `${g}-${String(i).padStart(2, '0')}`;
          sentByGroup[g].push(body);
          entries.push({ Id: `e${entries.length % 10}`, MessageBody: body, MessageGroupId: g, MessageDeduplicationId: body });
        }
      }
      for (let i = 0; i < entries.length; i += 10) {
        const r = await api.call('SendMessageBatch', { QueueUrl: q.url, Entries: entries.slice(i, i + 10) });
        assert.equal(r.Successful?.length, 10, `batch ${i / 10}: ${show(r.Failed)}`);
      }
      const received = []; // bodies in the order receives answered them
      const deadline = Date.now() + 20_000;
      const consumer = async (k) => {
        while (received.length < 60 && Date.now() < deadline) {
          const max = 1 + ((k + received.length) % 3);
          const batch = await receive(api, q.url, { MaxNumberOfMessages: max, VisibilityTimeout: 30, WaitTimeSeconds: 1 });
          assert.ok(batch.length <= max, `at most ${max} messages`);
          received.push(...batch.map((m) => m.Body));
          if (batch.length) {
            const r = await api.call('DeleteMessageBatch', {
              QueueUrl: q.url,
              Entries: batch.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })),
            });
            assert.equal(r.Failed?.length ?? 0, 0, `deletes succeed: ${show(r.Failed)}`);
          }
        }
      };
      await Promise.all([0, 1, 2, 3].map(consumer));
      assert.equal(received.length, 60, `60 deliveries in 20 s, got ${received.length}`);
      assertGroupOrder(received, sentByGroup, 'concurrent consumers');
      assert.deepEqual(await counts(api, q.url), EMPTY, 'the queue is empty');
    });

    // === system attributes =================================================

    test('receive with All: MessageGroupId, MessageDeduplicationId, SequenceNumber, SenderId, SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp', async () => {
      const q = await createFifo(api, 'sysattrs');
      const t0 = Date.now();
      const sent = await sendFifo(api, q.url, 'with system attributes', 'group-7', 'dedup-7');
      const [m] = await receiveExactly(api, q.url, 1, ALL_SYS);
      const t1 = Date.now();
      const a = m.Attributes ?? {};
      assert.equal(a.MessageGroupId, 'group-7', show(a));
      assert.equal(a.MessageDeduplicationId, 'dedup-7', show(a));
      assert.equal(a.SequenceNumber, sent.SequenceNumber, show(a));
      assert.ok(typeof a.SenderId === 'string' && a.SenderId.length > 0, `SenderId: ${show(a)}`);
      for (const k of ['SentTimestamp', 'ApproximateFirstReceiveTimestamp']) {
        assert.match(String(a[k]), DIGITS, `${k} is epoch ms: ${show(a)}`);
        assert.ok(Number(a[k]) >= t0 - 2_000 && Number(a[k]) <= t1 + 2_000, `${k}=${a[k]} within [${t0}, ${t1}]`);
      }
      assert.equal(a.ApproximateReceiveCount, '1');
      // only the named ones when named
      const q2 = await createFifo(api, 'sysattrs2');
      await sendFifo(api, q2.url, 'named', 'gg', 'dd');
      const [n] = await receiveExactly(api, q2.url, 1, { MessageSystemAttributeNames: ['MessageGroupId', 'SequenceNumber'] });
      assert.deepEqual(Object.keys(n.Attributes ?? {}).sort(), ['MessageGroupId', 'SequenceNumber'], show(n.Attributes));
    });

    // === deduplication =====================================================

    test('explicit MessageDeduplicationId twice: the second send answers the same MessageId and SequenceNumber, one message; also after it was deleted', async () => {
      const q = await createFifo(api, 'dedup');
      const r1 = await sendFifo(api, q.url, 'first copy', 'g', 'same-id');
      const r2 = await sendFifo(api, q.url, 'second copy', 'g', 'same-id');
      assert.equal(r2.MessageId, r1.MessageId, 'the duplicate answers the original MessageId');
      assert.equal(r2.SequenceNumber, r1.SequenceNumber, 'the duplicate answers the original SequenceNumber');
      const got = await drain(api, q.url, { VisibilityTimeout: 60 });
      assert.deepEqual(got.map((m) => m.Body), ['first copy'], 'only the first copy is receivable');
      await api.call('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: got[0].ReceiptHandle });
      // "any messages sent with the same message deduplication ID are accepted
      // successfully but aren't delivered during the 5-minute deduplication interval"
      const r3 = await sendFifo(api, q.url, 'third copy, after the delete', 'g', 'same-id');
      assert.equal(r3.MessageId, r1.MessageId, 'still deduplicated after the original was deleted');
      const after = await receive(api, q.url, { MaxNumberOfMessages: 10, WaitTimeSeconds: 1 });
      assert.deepEqual(after.map((m) => m.Body), [], 'nothing new is receivable');
      assert.deepEqual(await counts(api, q.url), EMPTY);
    });

    test(`after the dedup window (server with --dedup-window-seconds ${SHORT_WINDOW_SECONDS}) the same id enqueues again with a new SequenceNumber`, async () => {
      const q = await createFifo(shortApi, 'window');
      const r1 = await sendFifo(shortApi, q.url, 'w1', 'g', 'window-id');
      const r2 = await sendFifo(shortApi, q.url, 'w1 again', 'g', 'window-id');
      assert.equal(r2.MessageId, r1.MessageId, 'within the window: deduplicated');
      await sleep(SHORT_WINDOW_SECONDS * 1000 + 600);
      const r3 = await sendFifo(shortApi, q.url, 'w1 after the window', 'g', 'window-id');
      assert.notEqual(r3.MessageId, r1.MessageId, 'after the window: a new message');
      assertSequenceNumber(r3.SequenceNumber, 'after the window');
      assert.ok(BigInt(r3.SequenceNumber) > BigInt(r1.SequenceNumber), `a new, larger SequenceNumber: ${r1.SequenceNumber} -> ${r3.SequenceNumber}`);
      const got = await drain(shortApi, q.url);
      assert.deepEqual(got.map((m) => m.Body), ['w1', 'w1 after the window']);
    });

    test('ContentBasedDeduplication: same body -> one message (also in another group, scope queue); other body -> two; explicit id overrides', async () => {
      const q = await createFifo(api, 'cbd', { ContentBasedDeduplication: 'true' });
      const r1 = await sendFifo(api, q.url, 'same body', 'g1', null);
      const r2 = await sendFifo(api, q.url, 'same body', 'g1', null);
      assert.equal(r2.MessageId, r1.MessageId, 'same body: deduplicated');
      const r3 = await sendFifo(api, q.url, 'same body', 'g2', null);
      assert.equal(r3.MessageId, r1.MessageId, 'same body in another group, DeduplicationScope queue: deduplicated');
      const r4 = await sendFifo(api, q.url, 'other body', 'g1', null);
      assert.notEqual(r4.MessageId, r1.MessageId, 'different body: a new message');
      // "If a MessageDeduplicationId is provided explicitly, it overrides the generated one"
      const r5 = await sendFifo(api, q.url, 'same body', 'g1', 'explicit');
      assert.notEqual(r5.MessageId, r1.MessageId, 'explicit id overrides the content hash');
      const got = await drain(api, q.url, ALL_SYS);
      assert.deepEqual(got.map((m) => m.Body).sort(), ['other body', 'same body', 'same body'].sort());
      const first = got.find((m) => m.MessageId === r1.MessageId);
      const sha = crypto.createHash('sha256').update('same body', 'utf8').digest('hex');
      // AWS puts the generated id (SHA-256 of the body) in MessageDeduplicationId
      assert.equal(first.Attributes.MessageDeduplicationId, sha, `generated MessageDeduplicationId: ${show(first.Attributes)}`);
    });

    test('DeduplicationScope messageGroup: same id in two groups -> two messages, in one group -> one; scope queue -> one', async () => {
      const g = await createFifo(api, 'scopegrp', { DeduplicationScope: 'messageGroup' });
      const a1 = await sendFifo(api, g.url, 'x in g1', 'g1', 'shared');
      const b1 = await sendFifo(api, g.url, 'x in g2', 'g2', 'shared');
      const a2 = await sendFifo(api, g.url, 'x in g1 again', 'g1', 'shared');
      assert.notEqual(b1.MessageId, a1.MessageId, 'messageGroup scope: another group is not a duplicate');
      assert.equal(a2.MessageId, a1.MessageId, 'messageGroup scope: the same group is a duplicate');
      assert.deepEqual((await drain(api, g.url)).map((m) => m.Body).sort(), ['x in g1', 'x in g2']);

      const qq = await createFifo(api, 'scopeq', { DeduplicationScope: 'queue' });
      const c1 = await sendFifo(api, qq.url, 'y in g1', 'g1', 'shared');
      const c2 = await sendFifo(api, qq.url, 'y in g2', 'g2', 'shared');
      assert.equal(c2.MessageId, c1.MessageId, 'queue scope: another group is a duplicate too');
      assert.deepEqual((await drain(api, qq.url)).map((m) => m.Body), ['y in g1']);
    });

    test('kill -9: a resend after the restart (within the window) is still deduplicated; an in-flight head still locks its group', { timeout: 40_000 }, async () => {
      let own = await startServer();
      let oapi;
      try {
        oapi = await makeApi(own.endpoint);
        const q = await createFifo(oapi, 'dedupkill');
        const cbd = await createFifo(oapi, 'dedupkill-cbd', { ContentBasedDeduplication: 'true' });
        const r1 = await sendFifo(oapi, q.url, 'before the crash', 'g', 'kill-id');
        const c1 = await sendFifo(oapi, cbd.url, 'content before the crash', 'g', null);
        const lock = await createFifo(oapi, 'lockkill');
        for (const b of ['k1', 'k2', 'k3']) await sendFifo(oapi, lock.url, b, 'k', b);
        const [k1] = await receive(oapi, lock.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
        assert.equal(k1?.Body, 'k1');
        oapi.destroy();
        own = await crashAndRestart(own);
        oapi = await makeApi(own.endpoint);
        const url = (await oapi.call('GetQueueUrl', { QueueName: q.name })).QueueUrl;
        const cbdUrl = (await oapi.call('GetQueueUrl', { QueueName: cbd.name })).QueueUrl;
        const r2 = await sendFifo(oapi, url, 'resent after the crash', 'g', 'kill-id');
        assert.equal(r2.MessageId, r1.MessageId, 'the resend is deduplicated (same MessageId)');
        assert.equal(r2.SequenceNumber, r1.SequenceNumber, 'and the same SequenceNumber');
        const c2 = await sendFifo(oapi, cbdUrl, 'content before the crash', 'g', null);
        assert.equal(c2.MessageId, c1.MessageId, 'content-based: the resend is deduplicated');
        const r3 = await sendFifo(oapi, url, 'new after the crash', 'g', 'kill-id-2');
        assert.ok(BigInt(r3.SequenceNumber) > BigInt(r1.SequenceNumber), `SequenceNumber keeps increasing across the restart: ${r1.SequenceNumber} -> ${r3.SequenceNumber}`);
        assert.deepEqual((await drain(oapi, url)).map((m) => m.Body), ['before the crash', 'new after the crash']);
        assert.deepEqual((await drain(oapi, cbdUrl)).map((m) => m.Body), ['content before the crash']);
        // the in-flight head still locks its group after the restart; deleting it unlocks the group
        const lockUrl = (await oapi.call('GetQueueUrl', { QueueName: lock.name })).QueueUrl;
        assert.deepEqual((await receive(oapi, lockUrl, { MaxNumberOfMessages: 10 })).map((m) => m.Body), [], 'group k is still locked after the restart');
        await oapi.call('DeleteMessage', { QueueUrl: lockUrl, ReceiptHandle: k1.ReceiptHandle });
        assert.deepEqual((await drain(oapi, lockUrl)).map((m) => m.Body), ['k2', 'k3'], 'after the delete the group continues in order');
      } finally {
        oapi?.destroy();
        await own.stop();
      }
    });

    // === batches ===========================================================

    test('SendMessageBatch on FIFO: order kept within a group, SequenceNumbers, a duplicate entry answers the same MessageId and enqueues once', async () => {
      const q = await createFifo(api, 'batch');
      const Entries = [
        { Id: 'e1', MessageBody: 'a-1', MessageGroupId: 'a', MessageDeduplicationId: 'da1' },
        { Id: 'e2', MessageBody: 'b-1', MessageGroupId: 'b', MessageDeduplicationId: 'db1' },
        { Id: 'e3', MessageBody: 'a-2', MessageGroupId: 'a', MessageDeduplicationId: 'da2' },
        { Id: 'e4', MessageBody: 'a-1 duplicate', MessageGroupId: 'a', MessageDeduplicationId: 'da1' },
        { Id: 'e5', MessageBody: 'b-2', MessageGroupId: 'b', MessageDeduplicationId: 'db2' },
        { Id: 'e6', MessageBody: 'a-3', MessageGroupId: 'a', MessageDeduplicationId: 'da3' },
      ];
      const r = await api.call('SendMessageBatch', { QueueUrl: q.url, Entries });
      assert.equal(r.Failed?.length ?? 0, 0, `no failures: ${show(r.Failed)}`);
      const byId = Object.fromEntries((r.Successful ?? []).map((s) => [s.Id, s]));
      assert.deepEqual(Object.keys(byId).sort(), ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
      for (const s of r.Successful) {
        assertSequenceNumber(s.SequenceNumber, `entry ${s.Id}`);
        assert.match(s.MessageId, UUID);
      }
      assert.equal(byId.e4.MessageId, byId.e1.MessageId, 'the duplicate entry answers the first entry\'s MessageId');
      for (const [x, y] of [['e1', 'e3'], ['e3', 'e6'], ['e2', 'e5']]) {
        assert.ok(BigInt(byId[y].SequenceNumber) > BigInt(byId[x].SequenceNumber), `SequenceNumber of ${y} > ${x}`);
      }
      const got = await drain(api, q.url);
      assertGroupOrder(got.map((m) => m.Body), { a: ['a-1', 'a-2', 'a-3'], b: ['b-1', 'b-2'] }, 'batch');
    });

    // === ReceiveRequestAttemptId ===========================================

    test('ReceiveRequestAttemptId: a retry answers the same messages and receipt handles; after a delete the retry is a fresh receive', async (t) => {
      const q = await createFifo(api, 'attempt');
      for (const b of ['r1', 'r2', 'r3']) await sendFifo(api, q.url, b, 'r', b);
      await sendFifo(api, q.url, 's1', 's', 's1');
      const attempt = `attempt-${crypto.randomBytes(4).toString('hex')}`;
      const params = { MaxNumberOfMessages: 10, VisibilityTimeout: 60, ReceiveRequestAttemptId: attempt };
      const first = await receive(api, q.url, params);
      assert.ok(first.length > 0, 'the first attempt answers messages');
      const retry = await receive(api, q.url, params);
      assert.deepEqual(
        retry.map((m) => [m.MessageId, m.ReceiptHandle]),
        first.map((m) => [m.MessageId, m.ReceiptHandle]),
        'the retry answers the same MessageIds and the same ReceiptHandles',
      );
      for (const m of retry) {
        await api.call('ChangeMessageVisibility', { QueueUrl: q.url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 60 }); // the handles work
      }
      t.diagnostic(`first attempt answered ${show(first.map((m) => m.Body))}`);
      const deleted = first[0];
      await api.call('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: deleted.ReceiptHandle });
      const afterDelete = await receive(api, q.url, params);
      assert.ok(
        !afterDelete.some((m) => m.MessageId === deleted.MessageId),
        `a retry after the delete does not answer the deleted message: ${show(afterDelete.map((m) => m.Body))}`,
      );
      // a fresh receive: the other messages of the first attempt are still in
      // flight (VisibilityTimeout 60), so it cannot answer them either
      const firstIds = new Set(first.map((m) => m.MessageId));
      assert.deepEqual(
        afterDelete.filter((m) => firstIds.has(m.MessageId)).map((m) => m.Body),
        [],
        'a retry after the delete is a fresh receive: messages still in flight are not answered again',
      );
    });

    test(`ReceiveRequestAttemptId expires with the dedup window (server with --dedup-window-seconds ${SHORT_WINDOW_SECONDS}): a later retry is a fresh receive`, async () => {
      const q = await createFifo(shortApi, 'attemptwin');
      for (const b of ['p1', 'p2']) await sendFifo(shortApi, q.url, b, 'p', b);
      const params = { MaxNumberOfMessages: 10, VisibilityTimeout: 60, ReceiveRequestAttemptId: 'attempt-window' };
      const first = await receive(shortApi, q.url, params);
      assert.deepEqual(first.map((m) => m.Body), ['p1', 'p2']);
      const retry = await receive(shortApi, q.url, params);
      assert.deepEqual(retry.map((m) => m.ReceiptHandle), first.map((m) => m.ReceiptHandle), 'within the window: the same receipt handles');
      // "You can use ReceiveRequestAttemptId only for 5 minutes after a ReceiveMessage action."
      await sleep(SHORT_WINDOW_SECONDS * 1000 + 600);
      const late = await receive(shortApi, q.url, params);
      assert.deepEqual(late.map((m) => m.Body), [], 'after the window: a fresh receive, and the group is still in flight');
    });

    // === FIFO redrive and move tasks =======================================

    test('RedrivePolicy: a standard DLQ for a FIFO source, or a FIFO DLQ for a standard source -> InvalidParameterValue', async () => {
      const stdDlq = await createStandard(api, 'mix-stddlq');
      const fifoDlq = await createFifo(api, 'mix-fifodlq');
      const fifoSrc = await createFifo(api, 'mix-fifosrc');
      const stdSrc = await createStandard(api, 'mix-stdsrc');
      // "The dead-letter queue of a FIFO queue must also be a FIFO queue.
      // Similarly, the dead-letter queue of a standard queue must also be a
      // standard queue." (SQS Developer Guide, dead-letter queues)
      await allOf([
        () =>
          expectError(
            api,
            'CreateQueue',
            { QueueName: `${uniqueName(`${api.sdk}-mixc`)}.fifo`, Attributes: { FifoQueue: 'true', RedrivePolicy: redrivePolicy(stdDlq.arn) } },
            ERR.InvalidParameterValue,
          ),
        () => expectError(api, 'SetQueueAttributes', { QueueUrl: fifoSrc.url, Attributes: { RedrivePolicy: redrivePolicy(stdDlq.arn) } }, ERR.InvalidParameterValue),
        () => expectError(api, 'SetQueueAttributes', { QueueUrl: stdSrc.url, Attributes: { RedrivePolicy: redrivePolicy(fifoDlq.arn) } }, ERR.InvalidParameterValue),
      ]);
      assert.equal((await queueAttributes(api, fifoSrc.url, ['All'])).RedrivePolicy, undefined, 'no RedrivePolicy was stored');
    });

    test('FIFO redrive: the head moves to the FIFO DLQ keeping MessageGroupId, its dedup id replaced by its MessageId; the next message of the group follows in order', async () => {
      const dlq = await createFifo(api, 'fdlq');
      const src = await createFifo(api, 'fdlq-src', { RedrivePolicy: redrivePolicy(dlq.arn, 1) });
      const sent = [];
      for (const b of ['m1', 'm2', 'm3']) sent.push(await sendFifo(api, src.url, b, 'grp', `dedup-${b}`));
      const [first] = await receive(api, src.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 1 });
      assert.equal(first?.Body, 'm1');
      // m1 returns after 1 s; the receive that would count it a second time moves it
      let next = [];
      const deadline = Date.now() + 8_000;
      while (next.length === 0 && Date.now() < deadline) {
        next = await receive(api, src.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60, WaitTimeSeconds: 2, ...ALL_SYS });
      }
      assert.equal(next[0]?.Body, 'm2', `after m1 is dead-lettered, m2 is the next of the group: ${show(next.map((m) => m.Body))}`);
      assert.equal(next[0].Attributes.ApproximateReceiveCount, '1');
      const [dead] = await receiveExactly(api, dlq.url, 1, ALL_SYS, 4_000);
      assert.equal(dead.Body, 'm1');
      assert.equal(dead.MessageId, sent[0].MessageId, 'same MessageId in the DLQ');
      assert.equal(dead.Attributes.MessageGroupId, 'grp', `MessageGroupId kept: ${show(dead.Attributes)}`);
      // AWS's DLQ redrive guide: "When a message is moved from a FIFO queue to a FIFO DLQ, the original
      // message's deduplication ID will be replaced with the original message's ID."
      assert.equal(dead.Attributes.MessageDeduplicationId, sent[0].MessageId, `MessageDeduplicationId: ${show(dead.Attributes)}`);
      await api.call('DeleteMessage', { QueueUrl: src.url, ReceiptHandle: next[0].ReceiptHandle });
      const [third] = await receive(api, src.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 });
      assert.equal(third?.Body, 'm3');
    });

    test('StartMessageMoveTask from a FIFO DLQ back to its FIFO source keeps each group in order', async () => {
      const dlq = await createFifo(api, 'fmove-dlq');
      const src = await createFifo(api, 'fmove-src', { RedrivePolicy: redrivePolicy(dlq.arn, 1) });
      const sentByGroup = { x: ['x1', 'x2', 'x3'], y: ['y1', 'y2', 'y3'] };
      for (let i = 0; i < 3; i++) {
        for (const g of ['x', 'y']) await sendFifo(api, src.url, sentByGroup[g][i], g, sentByGroup[g][i]);
      }
      // every message received once (VisibilityTimeout 0), then moved by the next receive
      await waitFor(
        async () => {
          await receive(api, src.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 0 });
          return (await counts(api, dlq.url)).visible === '6';
        },
        'the 6 messages reach the FIFO dead-letter queue',
        { timeoutMs: 8_000, intervalMs: 20 },
      );
      assert.deepEqual(await counts(api, src.url), EMPTY, 'the source is empty');
      await api.call('StartMessageMoveTask', { SourceArn: dlq.arn });
      const task = await waitFor(
        async () => {
          const [t] = await listTasks(api, dlq.arn);
          return t && !['RUNNING', 'CANCELLING'].includes(t.Status) ? t : null;
        },
        'the move task ends',
      );
      assert.equal(task.Status, 'COMPLETED', show(task));
      assert.deepEqual(await counts(api, dlq.url), EMPTY, 'the DLQ is empty');
      const got = await drain(api, src.url, ALL_SYS);
      assertGroupOrder(got.map((m) => m.Body), sentByGroup, 'moved back to the source');
      for (const m of got) assert.equal(m.Attributes.MessageGroupId, m.Body[0], `group kept: ${show(m.Attributes)}`);
    });

    // === fair queues (standard queue + MessageGroupId) =====================

    test('fair queue: a standard queue accepts MessageGroupId (send and batch) and returns it as a system attribute', async () => {
      const q = await createStandard(api, 'fair-attr');
      const r = await api.call('SendMessage', { QueueUrl: q.url, MessageBody: 'tenant message', MessageGroupId: 'tenant-1' });
      assert.match(r.MessageId, UUID);
      assert.equal(r.SequenceNumber, undefined, 'no SequenceNumber on a standard queue');
      const b = await api.call('SendMessageBatch', {
        QueueUrl: q.url,
        Entries: [{ Id: 'one', MessageBody: 'tenant batch', MessageGroupId: 'tenant-2' }],
      });
      assert.equal(b.Successful?.length, 1, show(b));
      const got = await receiveExactly(api, q.url, 2, ALL_SYS);
      const groups = Object.fromEntries(got.map((m) => [m.Body, m.Attributes.MessageGroupId]));
      assert.deepEqual(groups, { 'tenant message': 'tenant-1', 'tenant batch': 'tenant-2' });
      for (const m of got) {
        assert.equal(m.Attributes.SequenceNumber, undefined, 'no SequenceNumber');
        assert.equal(m.Attributes.MessageDeduplicationId, undefined, 'no MessageDeduplicationId');
      }
    });

    test('fair queue: with 200 messages of group "noisy" queued first, the 6 messages of t1, t2, t3 come within the first 3 receives of 10', async (t) => {
      const q = await createStandard(api, 'fair-noisy');
      for (let i = 0; i < 200; i += 10) {
        const Entries = Array.from({ length: 10 }, (_, j) => ({ Id: `n${j}`, MessageBody: `noisy-${i + j}`, MessageGroupId: 'noisy' }));
        const r = await api.call('SendMessageBatch', { QueueUrl: q.url, Entries });
        assert.equal(r.Successful?.length, 10, show(r.Failed));
      }
      const quiet = [];
      for (const t of ['t1', 't2', 't3']) {
        for (const i of [1, 2]) {
          await api.call('SendMessage', { QueueUrl: q.url, MessageBody: `${t}-${i}`, MessageGroupId: t });
          quiet.push(`${t}-${i}`);
        }
      }
      const got = [];
      for (let i = 0; i < 3; i++) {
        got.push(...(await receive(api, q.url, { MaxNumberOfMessages: 10, VisibilityTimeout: 60 })).map((m) => m.Body));
      }
      t.diagnostic(`first 3 receives: ${show(got)}`);
      const quietGot = got.filter((b) => b.startsWith('t'));
      assert.deepEqual(quietGot.sort(), [...quiet].sort(), `all quiet-tenant messages within 3 receives (got ${got.length}: ${show(got)})`);
    });

    // === long polls ========================================================

    test('a long poll on a FIFO queue wakes within 1 s of a send', async () => {
      const q = await createFifo(api, 'lpsend');
      const poll = receive(api, q.url, { WaitTimeSeconds: 5, MaxNumberOfMessages: 10 });
      await sleep(500);
      const sentAt = Date.now();
      await sendFifo(api, q.url, 'wake up', 'g', 'wake');
      const got = await withTimeout(poll, 6_000, 'the long poll');
      const woke = Date.now() - sentAt;
      assert.deepEqual(got.map((m) => m.Body), ['wake up']);
      assert.ok(woke < 1_000, `the long poll answered ${woke} ms after the send`);
    });

    test('a long poll waiting on a locked group gets the next message of the group within 1 s of the delete', async () => {
      const q = await createFifo(api, 'lpunlock');
      for (const b of ['l1', 'l2']) await sendFifo(api, q.url, b, 'g', b);
      const [head] = await receive(api, q.url, { MaxNumberOfMessages: 1, VisibilityTimeout: 60 });
      assert.equal(head?.Body, 'l1');
      let answeredAt = 0;
      const poll = receive(api, q.url, { WaitTimeSeconds: 6, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }).then((msgs) => {
        answeredAt = Date.now();
        return msgs;
      });
      await sleep(700);
      assert.equal(answeredAt, 0, 'the long poll waits while the group is locked');
      const deletedAt = Date.now();
      await api.call('DeleteMessage', { QueueUrl: q.url, ReceiptHandle: head.ReceiptHandle });
      const got = await withTimeout(poll, 8_000, 'the long poll');
      assert.deepEqual(got.map((m) => m.Body), ['l2'], 'the waiting long poll gets the next message of the group');
      assert.ok(answeredAt - deletedAt < 1_000, `answered ${answeredAt - deletedAt} ms after the delete`);
    });
  });
}
