// The web console in a real browser (Debian's chromium via playwright-core)
// against the real wharf: what the page does is checked with the AWS SDK for
// JavaScript v3, and every page must log no errors. Started by run.sh, which
// sets WHARF_URL (no auth), WHARF_AUTH_URL (--auth), WHARF_AUTH_KEY/SECRET and
// WHARF_SCREENSHOT_DIR.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const {
  SQSClient, CreateQueueCommand, GetQueueUrlCommand, GetQueueAttributesCommand, SendMessageCommand,
  ReceiveMessageCommand, ListQueueTagsCommand,
} = require('../js/node_modules/@aws-sdk/client-sqs');

const BASE = process.env.WHARF_URL;
const AUTH_BASE = process.env.WHARF_AUTH_URL;
const SHOTS = process.env.WHARF_SCREENSHOT_DIR;
const WAIT = 15000;  // every single wait in a page

const sqs = new SQSClient({ endpoint: BASE, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
const authSqs = new SQSClient({ endpoint: AUTH_BASE, region: 'us-east-1',
  credentials: { accessKeyId: process.env.WHARF_AUTH_KEY, secretAccessKey: process.env.WHARF_AUTH_SECRET } });

let browser;
let counter = 0;
const unique = (prefix) => `${prefix}-${process.pid}-${Date.now()}-${++counter}`;

before(async () => {
  assert.ok(BASE && AUTH_BASE, 'run through tests/browser/run.sh (WHARF_URL, WHARF_AUTH_URL)');
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless'], timeout: 30000 });
});
after(async () => { await browser?.close(); });

// A page that records console errors and uncaught exceptions.
async function openConsole(base, hash = '#/', viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.setDefaultNavigationTimeout(WAIT);
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  await page.goto(`${base}/console/${hash}`);
  return { page, problems, close: () => context.close() };
}

// Chromium itself logs "Failed to load resource: ... 4xx" for every answer
// that is an HTTP error, also for a fetch the page handles. A test that
// provokes such errors on purpose says how many; anything else fails.
function assertNoErrors(problems, expectedFailedRequests = 0) {
  const failed = problems.filter((p) => /^Failed to load resource: the server responded with a status of 4\d\d/.test(p));
  const others = problems.filter((p) => !failed.includes(p));
  assert.deepEqual(others, [], 'errors in the browser console');
  assert.ok(failed.length <= expectedFailedRequests, `unexpected failed requests: ${failed.join('; ')}`);
}

async function createQueue(name, attributes) {
  return (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
}
async function counts(url, client = sqs) {
  const a = (await client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes;
  return { visible: Number(a.ApproximateNumberOfMessages), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible), arn: a.QueueArn };
}
async function eventually(predicate, what, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('create a queue in the console; the SDK sees it; the filter narrows the list', async () => {
  const other = unique('other');
  await createQueue(other);
  const { page, problems, close } = await openConsole(BASE);
  try {
    const name = unique('made-in-console');
    await page.fill('#new-queue-name', name);
    await page.click('button:has-text("Create queue")');
    await page.waitForSelector(`tr[data-queue="${name}"]`);
    const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    assert.ok(url.endsWith(`/${name}`));

    await page.fill('#queue-filter', 'made-in-console');
    await page.waitForSelector(`tr[data-queue="${other}"]`, { state: 'detached' });
    assert.equal(await page.locator(`tr[data-queue="${name}"]`).count(), 1);
    await page.fill('#queue-filter', '');
    await page.waitForSelector(`tr[data-queue="${other}"]`);
    await page.screenshot({ path: path.join(SHOTS, 'queue-list.png'), fullPage: true });
    assertNoErrors(problems);
  } finally { await close(); }
});

test('a message sent in the console is received with the SDK', async () => {
  const name = unique('send');
  const url = await createQueue(name);
  const { page, problems, close } = await openConsole(BASE, `#/queue/${name}`);
  try {
    await page.fill('#send-body', 'hello from the console');
    await page.click('button:has-text("Add message attribute")');
    await page.fill('.send-attribute .attr-name', 'origin');
    await page.fill('.send-attribute .attr-value', 'browser');
    await page.click('#send-button');
    await page.waitForSelector('#send-ok:has-text("Sent")');
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 2, MessageAttributeNames: ['All'] }));
    assert.equal(r.Messages?.length, 1);
    assert.equal(r.Messages[0].Body, 'hello from the console');
    assert.equal(r.Messages[0].MessageAttributes.origin.StringValue, 'browser');
    assertNoErrors(problems);
  } finally { await close(); }
});

test('a message sent with the SDK shows in the console; peeking changes no visibility or receive count', async () => {
  const name = unique('peek');
  const url = await createQueue(name);
  await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from the sdk',
    MessageAttributes: { colour: { DataType: 'String', StringValue: 'green' } } }));
  const { page, problems, close } = await openConsole(BASE, `#/queue/${name}`);
  try {
    const message = page.locator('#messages .message').first();
    await message.locator('.body:has-text("from the sdk")').waitFor();
    assert.match(await message.textContent(), /colour \(String\)green/);
    assert.match(await message.textContent(), /visible/);
    await page.click('#peek-button');
    await page.click('#peek-button');
    await page.waitForSelector('#rate-chart svg polyline.line-sent', { state: 'attached' });
    await page.screenshot({ path: path.join(SHOTS, 'queue-page.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(SHOTS, 'queue-page-phone.png'), fullPage: true });
    // Readable at phone width: nothing wider than the screen (wide tables scroll inside their box).
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'the page scrolls sideways at 390 px');

    const c = await counts(url);
    assert.deepEqual([c.visible, c.inFlight], [1, 0]);
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, AttributeNames: ['All'], VisibilityTimeout: 30 }));
    assert.equal(r.Messages?.length, 1);
    assert.equal(r.Messages[0].Attributes.ApproximateReceiveCount, '1');
    await page.click('#peek-button');
    await message.locator('.badge:has-text("in flight")').waitFor();
    assertNoErrors(problems);
  } finally { await close(); }
});

test('a dead-letter queue is redriven from the console back to its source', async () => {
  const dlqName = unique('dlq');
  const dlqUrl = await createQueue(dlqName);
  const dlqArn = (await counts(dlqUrl)).arn;
  const sourceName = unique('source');
  const sourceUrl = await createQueue(sourceName, {
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 }) });
  for (const body of ['one', 'two']) await sqs.send(new SendMessageCommand({ QueueUrl: sourceUrl, MessageBody: body }));
  // Each receive with visibility 0 counts one; the second moves them to the DLQ.
  await eventually(async () => {
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: sourceUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    return (await counts(dlqUrl)).visible === 2;
  }, 'both messages in the dead-letter queue');

  const { page, problems, close } = await openConsole(BASE, `#/queue/${dlqName}`);
  try {
    await page.waitForSelector(`#redrive a:has-text("${sourceName}")`);
    await page.click('#start-move');
    await page.waitForSelector('.move-task .task-status:has-text("COMPLETED")', { timeout: 30000 });
    await eventually(async () => (await counts(sourceUrl)).visible === 2, 'both messages back in the source');
    assert.equal((await counts(dlqUrl)).visible, 0);
    // The source's page links to its dead-letter queue.
    await page.goto(`${BASE}/console/#/queue/${sourceName}`);
    await page.waitForSelector(`#redrive a[href="#/queue/${dlqName}"]`);
    assertNoErrors(problems);
  } finally { await close(); }
});

test('a bad attribute value shows the server\'s error; a good one and a tag are saved', async () => {
  const name = unique('attrs');
  const url = await createQueue(name);
  const { page, problems, close } = await openConsole(BASE, `#/queue/${name}`);
  try {
    await page.fill('#attr-VisibilityTimeout', '999999');
    await page.click('#save-VisibilityTimeout');
    const error = page.locator('#attr-error-VisibilityTimeout');
    await error.locator('text=/InvalidAttributeValue/').waitFor();
    assert.match(await error.textContent(), /VisibilityTimeout/);

    await page.fill('#attr-VisibilityTimeout', '45');
    await page.click('#save-VisibilityTimeout');
    await eventually(async () => (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url,
      AttributeNames: ['VisibilityTimeout'] }))).Attributes.VisibilityTimeout === '45', 'VisibilityTimeout 45');
    assert.equal(await error.textContent(), '');

    await page.fill('#tag-key', 'team');
    await page.fill('#tag-value', 'console');
    await page.click('button:has-text("Add tag")');
    await page.waitForSelector('#tags td:has-text("console")');
    assert.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl: url }))).Tags, { team: 'console' });
    assertNoErrors(problems, 1);  // the refused SetQueueAttributes
  } finally { await close(); }
});

test('purge and delete a queue from the console, each after a confirmation', async () => {
  const name = unique('purge');
  const url = await createQueue(name);
  for (let i = 0; i < 3; i++) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: `m${i}` }));
  const { page, problems, close } = await openConsole(BASE, `#/queue/${name}`);
  try {
    await page.waitForSelector('#messages .message');
    await page.click('#purge-button');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.click('#confirm-dialog button[value="cancel"]');
    assert.equal((await counts(url)).visible, 3, 'cancel purges nothing');
    await page.click('#purge-button');
    await page.click('#confirm-ok');
    await eventually(async () => (await counts(url)).visible === 0, 'the purge');
    await page.click('#delete-queue-button');
    await page.click('#confirm-ok');
    await page.waitForURL(/#\/$/);
    await assert.rejects(sqs.send(new GetQueueUrlCommand({ QueueName: name })), /QueueDoesNotExist|does not exist/);
    // A refresh of the queue page already on its way when the queue went may fail once.
    assertNoErrors(problems, 1);
  } finally { await close(); }
});

test('delete one peeked message from the console, after a confirmation, in flight or not', async () => {
  const name = unique('delone');
  const url = await createQueue(name);
  for (const body of ['stays', 'goes', 'taken']) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
  const { page, problems, close } = await openConsole(BASE, `#/queue/${name}`);
  try {
    const card = (body) => page.locator('#messages .message', { has: page.locator(`.body:text-is("${body}")`) });
    await card('goes').waitFor();
    await card('goes').locator('.delete-message').click();
    await page.waitForSelector('#confirm-dialog[open]');
    await page.click('#confirm-dialog button[value="cancel"]');
    assert.equal((await counts(url)).visible, 3, 'cancel deletes nothing');
    await card('goes').locator('.delete-message').click();
    await page.click('#confirm-ok');
    await card('goes').waitFor({ state: 'detached' });
    assert.equal((await counts(url)).visible, 2);
    // An in-flight message (received with the SDK) is deleted too.
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 1, VisibilityTimeout: 60 }));
    assert.equal(r.Messages[0].Body, 'stays');
    await page.click('#peek-button');
    await card('stays').locator('.badge:has-text("in flight")').waitFor();
    await card('stays').locator('.delete-message').click();
    await page.click('#confirm-ok');
    await card('stays').waitFor({ state: 'detached' });
    const left = await counts(url);
    assert.deepEqual([left.visible, left.inFlight], [1, 0]);
    const rest = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    assert.deepEqual(rest.Messages.map((m) => m.Body), ['taken']);
    assertNoErrors(problems);
  } finally { await close(); }
});

test('with --auth: the console asks for a key, signs with it, and shows a wrong secret\'s error', async () => {
  const name = unique('signed');
  await authSqs.send(new CreateQueueCommand({ QueueName: name }));
  const { page, problems, close } = await openConsole(AUTH_BASE);
  try {
    await page.fill('#access-key', process.env.WHARF_AUTH_KEY);
    await page.fill('#secret-key', 'not-the-secret');
    await page.click('button:has-text("Sign in")');
    await page.locator('#login-error').locator('text=/signature/i').waitFor();

    await page.fill('#secret-key', process.env.WHARF_AUTH_SECRET);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector(`tr[data-queue="${name}"]`);
    // Signed peek and send work too.
    await page.click(`tr[data-queue="${name}"] a`);
    await page.fill('#send-body', 'signed in the browser');
    await page.click('#send-button');
    await page.waitForSelector('#messages .body:has-text("signed in the browser")');
    const url = (await authSqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    assert.equal((await counts(url, authSqs)).visible, 1);
    assertNoErrors(problems, 1);  // the wrong secret's 403
  } finally { await close(); }
});
