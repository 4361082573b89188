// Wharf web console: plain modules, no framework, no build step.
// Every queue operation goes through Wharf's SQS JSON API (signed with SigV4
// when the server has authentication on); the one extra endpoint is the
// read-only peek (POST /console/api/peek). Rates come from /metrics.
import { signRequest, signingAvailable } from './sigv4.js';

const app = document.getElementById('app');
const who = document.getElementById('who');
const LIST_REFRESH_MS = 5000;
const QUEUE_REFRESH_MS = 3000;
const CHART_WINDOW_MS = 5 * 60 * 1000;

let config = { region: 'us-east-1', auth: false, accountId: '' };
let stopView = () => {};  // clears the current view's timers

// ---------- small DOM helper (text only: nothing is parsed as HTML) ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k in el && k !== 'list' && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svgNs = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// ---------- credentials (sessionStorage) ----------
function credentials() {
  try { return JSON.parse(sessionStorage.getItem('wharf-credentials') || 'null'); } catch { return null; }
}
function setCredentials(c) {
  if (c) sessionStorage.setItem('wharf-credentials', JSON.stringify(c));
  else sessionStorage.removeItem('wharf-credentials');
  showWho();
}
function showWho() {
  who.replaceChildren();
  const c = credentials();
  if (config.auth && c) {
    who.append(`Key ${c.accessKeyId} · ${config.region}`,
      h('button', { type: 'button', onclick: () => { setCredentials(null); route(); } }, 'Sign out'));
  } else {
    who.append(config.auth ? `Signing in · ${config.region}` : `No authentication · ${config.region}`);
  }
}

// ---------- API ----------
class ApiError extends Error {
  constructor(code, message, status) { super(message); this.code = code; this.status = status; }
  toString() { return `${this.code}: ${this.message}`; }
}

async function post(path, headers, params) {
  const body = JSON.stringify(params || {});
  const all = { ...headers };
  if (config.auth) {
    const c = credentials();
    if (!c) throw new ApiError('NotSignedIn', 'Sign in with an access key first.', 0);
    if (!signingAvailable()) {
      throw new ApiError('NoWebCrypto', 'This page is not a secure context (https or localhost), so it cannot sign requests.', 0);
    }
    Object.assign(all, await signRequest({ method: 'POST', path, host: location.host, headers, body,
      accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, region: config.region }));
  }
  let response;
  try {
    response = await fetch(path, { method: 'POST', headers: all, body });
  } catch (e) {
    throw new ApiError('NetworkError', `Wharf did not answer (${e.message}).`, 0);
  }
  const text = await response.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch { data = { message: text }; }
  if (!response.ok) {
    const code = String(data.__type || `HTTP ${response.status}`).split('#').pop();
    throw new ApiError(code, data.message || data.Message || text || response.statusText, response.status);
  }
  return data;
}

function sqs(action, params) {
  return post('/', { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': `AmazonSQS.${action}` }, params);
}

function peek(queueUrl, max) {
  return post('/console/api/peek', { 'Content-Type': 'application/json' }, { QueueUrl: queueUrl, MaxNumberOfMessages: max });
}

function deletePeeked(queueUrl, message) {
  return post('/console/api/delete', { 'Content-Type': 'application/json' },
    { QueueUrl: queueUrl, MessageId: message.MessageId, Position: message.Position });
}

async function listAllQueues() {
  const urls = [];
  let token;
  do {
    const page = await sqs('ListQueues', { MaxResults: 1000, ...(token ? { NextToken: token } : {}) });
    urls.push(...(page.QueueUrls || []));
    token = page.NextToken;
  } while (token);
  return urls;
}

// /metrics (Prometheus text): per-queue samples, keyed "account/queue".
async function scrapeMetrics() {
  try {
    const response = await fetch('/metrics');
    if (!response.ok) return null;
    const text = await response.text();
    const out = new Map();
    for (const line of text.split('\n')) {
      const m = /^(wharf_queue_[a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
      if (!m) continue;
      const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
      const key = `${labels.account}/${labels.queue}`;
      if (!out.has(key)) out.set(key, {});
      const name = labels.state ? `${m[1]}:${labels.state}` : m[1];
      out.get(key)[name] = Number(m[3]);
    }
    return out;
  } catch {
    return null;
  }
}

// ---------- formatting ----------
const queueName = (url) => decodeURIComponent(url.split('/').pop());
const queueAccount = (url) => url.split('/').slice(-2)[0];
const nameFromArn = (arn) => (arn || '').split(':').pop();
const queueLink = (name) => h('a', { href: `#/queue/${encodeURIComponent(name)}` }, name);
function formatAge(seconds) {
  if (seconds === undefined || seconds === null || Number.isNaN(seconds)) return '—';
  if (seconds <= 0) return '—';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}
const formatTime = (ms) => (ms ? new Date(Number(ms)).toLocaleString() : '—');
function errorBox(id) { return h('p', { class: 'error', role: 'alert', id, 'aria-live': 'assertive' }); }
function showError(box, e) { box.textContent = e ? (e instanceof ApiError ? e.toString() : String(e)) : ''; }

function confirmDialog(title, text, okLabel) {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

// Runs `task` now and every `ms` until the view changes; never overlaps.
function every(ms, task, timers) {
  let stopped = false;
  let handle;
  const tick = async () => {
    if (stopped) return;
    try { await task(); } finally { if (!stopped) handle = setTimeout(tick, ms); }
  };
  timers.push(() => { stopped = true; clearTimeout(handle); });
  tick();
}

// ---------- views ----------
function loginView() {
  const box = errorBox('login-error');
  const key = h('input', { id: 'access-key', name: 'access-key', autocomplete: 'username', required: true });
  const secret = h('input', { id: 'secret-key', name: 'secret-key', type: 'password', autocomplete: 'current-password', required: true });
  const form = h('form', { class: 'panel', onsubmit: async (ev) => {
    ev.preventDefault();
    showError(box, null);
    setCredentials({ accessKeyId: key.value.trim(), secretAccessKey: secret.value });
    try {
      await sqs('ListQueues', { MaxResults: 1 });
      route();
    } catch (e) {
      setCredentials(null);
      showError(box, e);
    }
  } },
  h('p', {}, `This Wharf checks AWS Signature Version 4. Enter an access key and its secret; the console signs its requests in this browser (region ${config.region}) and keeps the key in this tab's session storage only.`),
  h('div', { class: 'row' },
    h('label', {}, 'Access key ID', key),
    h('label', {}, 'Secret access key', secret),
    h('button', { class: 'primary', type: 'submit' }, 'Sign in')),
  box);
  app.replaceChildren(h('h1', {}, 'Sign in'), form);
  key.focus();
  return () => {};
}

function queueListView() {
  const timers = [];
  const filter = h('input', { type: 'search', id: 'queue-filter', placeholder: 'part of a name', 'aria-controls': 'queue-table' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite', id: 'list-status' }, 'Loading…');
  const listError = errorBox('list-error');
  const tbody = h('tbody');
  let rows = [];

  const render = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = rows.filter((r) => r.name.toLowerCase().includes(needle));
    tbody.replaceChildren(...shown.map((r) => h('tr', { 'data-queue': r.name },
      h('td', {}, queueLink(r.name)),
      h('td', {}, h('span', { class: r.fifo ? 'badge fifo' : 'badge' }, r.fifo ? 'FIFO' : 'standard')),
      h('td', { class: 'num' }, r.visible), h('td', { class: 'num' }, r.inFlight), h('td', { class: 'num' }, r.delayed),
      h('td', { class: 'num hide-narrow' }, formatAge(r.age)),
      h('td', {}, r.dlq ? ['→ ', queueLink(r.dlq)] : r.sources ? h('span', { class: 'muted' }, `DLQ of ${r.sources}`) : ''))));
    if (!shown.length) {
      tbody.append(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, rows.length ? 'No queue matches the filter.' : 'No queues yet.')));
    }
  };
  filter.addEventListener('input', render);

  const refresh = async () => {
    try {
      const [urls, metrics] = await Promise.all([listAllQueues(), scrapeMetrics()]);
      const next = await Promise.all(urls.map(async (url) => {
        const name = queueName(url);
        try {
          const { Attributes: a = {} } = await sqs('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] });
          let dlq = '';
          if (a.RedrivePolicy) { try { dlq = nameFromArn(JSON.parse(a.RedrivePolicy).deadLetterTargetArn); } catch { /* shown on the queue page */ } }
          const m = metrics ? metrics.get(`${queueAccount(url)}/${name}`) : null;
          return { name, url, fifo: a.FifoQueue === 'true', visible: a.ApproximateNumberOfMessages,
            inFlight: a.ApproximateNumberOfMessagesNotVisible, delayed: a.ApproximateNumberOfMessagesDelayed,
            age: m ? m.wharf_queue_oldest_message_age_seconds : undefined, dlq };
        } catch {
          return null;  // deleted meanwhile
        }
      }));
      rows = next.filter(Boolean).sort((a, b) => a.name.localeCompare(b.name));
      const sources = new Map();
      for (const r of rows) if (r.dlq) sources.set(r.dlq, [...(sources.get(r.dlq) || []), r.name]);
      for (const r of rows) r.sources = (sources.get(r.name) || []).join(', ');
      render();
      showError(listError, null);
      status.textContent = `${rows.length} queue${rows.length === 1 ? '' : 's'} · updated ${new Date().toLocaleTimeString()} · refreshes every ${LIST_REFRESH_MS / 1000} s`;
    } catch (e) {
      showError(listError, e);
      if (e.status === 403 && config.auth) status.textContent = 'Not authorised.';
    }
  };

  // Create queue.
  const createError = errorBox('create-error');
  const nameInput = h('input', { id: 'new-queue-name', required: true, maxlength: 80, pattern: '[A-Za-z0-9_\\-]+(\\.fifo)?' });
  const fifoBox = h('input', { type: 'checkbox', id: 'new-queue-fifo' });
  const createForm = h('form', { class: 'panel', 'aria-labelledby': 'create-title', onsubmit: async (ev) => {
    ev.preventDefault();
    showError(createError, null);
    let name = nameInput.value.trim();
    const fifo = fifoBox.checked || name.endsWith('.fifo');
    if (fifo && !name.endsWith('.fifo')) name += '.fifo';
    try {
      await sqs('CreateQueue', { QueueName: name, ...(fifo ? { Attributes: { FifoQueue: 'true' } } : {}) });
      nameInput.value = '';
      fifoBox.checked = false;
      await refresh();
    } catch (e) {
      showError(createError, e);
    }
  } },
  h('h2', { id: 'create-title' }, 'Create a queue'),
  h('div', { class: 'row' },
    h('label', {}, 'Name', nameInput),
    h('label', { class: 'inline' }, fifoBox, 'FIFO (adds .fifo)'),
    h('button', { class: 'primary', type: 'submit' }, 'Create queue')),
  createError);

  app.replaceChildren(
    h('h1', {}, 'Queues'),
    h('div', { class: 'row' }, h('label', {}, 'Filter by name', filter)),
    status, listError,
    h('div', { class: 'table-wrap' }, h('table', { id: 'queue-table' },
      h('caption', { class: 'muted caption' }, 'Age of the oldest message: from /metrics (wharf_queue_oldest_message_age_seconds).'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Type'),
        h('th', { scope: 'col', class: 'num' }, 'Visible'), h('th', { scope: 'col', class: 'num' }, 'In flight'),
        h('th', { scope: 'col', class: 'num' }, 'Delayed'), h('th', { scope: 'col', class: 'num hide-narrow' }, 'Oldest'),
        h('th', { scope: 'col' }, 'Dead-letter queue'))),
      tbody)),
    createForm);
  every(LIST_REFRESH_MS, refresh, timers);
  return () => timers.forEach((stop) => stop());
}

// Attributes SetQueueAttributes accepts, by queue type.
const EDITABLE = ['DelaySeconds', 'MaximumMessageSize', 'MessageRetentionPeriod', 'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout', 'RedrivePolicy', 'RedriveAllowPolicy', 'Policy', 'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds', 'SqsManagedSseEnabled'];
const EDITABLE_FIFO = ['ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit'];

function queueView(name) {
  const timers = [];
  const pageError = errorBox('page-error');
  app.replaceChildren(h('h1', {}, name), h('p', {}, h('a', { href: '#/' }, '← All queues')), pageError);
  let url = '';
  let attrs = {};
  const samples = [];  // {t, sent, received, deleted} from /metrics

  const counts = h('p', { id: 'counts', 'aria-live': 'polite' });
  const chart = h('div', { class: 'chart', id: 'rate-chart' });
  const attrBody = h('tbody');
  const redrive = h('div', { id: 'redrive' });
  const tagsBody = h('tbody');
  const messages = h('div', { id: 'messages', 'aria-live': 'polite' });
  const tasks = h('div', { id: 'move-tasks' });

  const loadAttributes = async () => {
    const r = await sqs('GetQueueAttributes', { QueueUrl: url, AttributeNames: ['All'] });
    attrs = r.Attributes || {};
    counts.textContent = `Visible ${attrs.ApproximateNumberOfMessages} · in flight ${attrs.ApproximateNumberOfMessagesNotVisible} · delayed ${attrs.ApproximateNumberOfMessagesDelayed}`;
  };

  const renderAttributes = () => {
    const fifo = attrs.FifoQueue === 'true';
    const editable = new Set([...EDITABLE, ...(fifo ? EDITABLE_FIFO : [])]);
    const names = [...new Set([...Object.keys(attrs), ...editable])].sort();
    attrBody.replaceChildren(...names.map((n) => {
      const value = attrs[n] ?? '';
      if (!editable.has(n)) return h('tr', {}, h('th', { scope: 'row' }, n), h('td', {}, h('code', {}, value)), h('td'));
      const long = ['RedrivePolicy', 'RedriveAllowPolicy', 'Policy'].includes(n);
      const input = long
        ? h('textarea', { class: 'attr-input', id: `attr-${n}`, 'aria-label': n, rows: 2 }, value)
        : h('input', { class: 'attr-input', id: `attr-${n}`, 'aria-label': n, value });
      const err = h('p', { class: 'error', role: 'alert', id: `attr-error-${n}` });
      const save = h('button', { type: 'button', id: `save-${n}`, onclick: async () => {
        err.textContent = '';
        save.disabled = true;
        try {
          await sqs('SetQueueAttributes', { QueueUrl: url, Attributes: { [n]: input.value } });
          await loadAttributes();
          renderAttributes();
          loadRedrive();
        } catch (e) {
          err.textContent = e.toString();
        } finally {
          save.disabled = false;
        }
      } }, 'Save');
      return h('tr', {}, h('th', { scope: 'row' }, h('label', { for: `attr-${n}` }, n)), h('td', {}, input, err), h('td', {}, save));
    }));
  };

  const loadTags = async () => {
    const r = await sqs('ListQueueTags', { QueueUrl: url });
    const tags = Object.entries(r.Tags || {}).sort();
    tagsBody.replaceChildren(...tags.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v), h('td', {},
      h('button', { type: 'button', 'aria-label': `Remove tag ${k}`, onclick: async () => {
        try { await sqs('UntagQueue', { QueueUrl: url, TagKeys: [k] }); await loadTags(); } catch (e) { showError(tagError, e); }
      } }, 'Remove')))));
    if (!tags.length) tagsBody.append(h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No tags.')));
  };
  const tagError = errorBox('tag-error');
  const tagKey = h('input', { id: 'tag-key', required: true });
  const tagValue = h('input', { id: 'tag-value' });
  const tagForm = h('form', { class: 'row', onsubmit: async (ev) => {
    ev.preventDefault();
    showError(tagError, null);
    try {
      await sqs('TagQueue', { QueueUrl: url, Tags: { [tagKey.value]: tagValue.value } });
      tagKey.value = ''; tagValue.value = '';
      await loadTags();
    } catch (e) { showError(tagError, e); }
  } }, h('label', {}, 'Key', tagKey), h('label', {}, 'Value', tagValue), h('button', { type: 'submit' }, 'Add tag'));

  // Redrive: where this queue's failures go, and which queues send here.
  let sources = [];
  const loadRedrive = async () => {
    const parts = [];
    if (attrs.RedrivePolicy) {
      try {
        const p = JSON.parse(attrs.RedrivePolicy);
        parts.push(h('p', {}, 'Dead-letter queue: ', queueLink(nameFromArn(p.deadLetterTargetArn)),
          ` after ${p.maxReceiveCount} receives.`));
      } catch { parts.push(h('p', {}, `RedrivePolicy: ${attrs.RedrivePolicy}`)); }
    } else {
      parts.push(h('p', { class: 'muted' }, 'No dead-letter queue (set RedrivePolicy below).'));
    }
    const r = await sqs('ListDeadLetterSourceQueues', { QueueUrl: url, MaxResults: 1000 });
    sources = (r.queueUrls || r.QueueUrls || []).map(queueName);
    if (sources.length) {
      parts.push(h('p', {}, 'Dead-letter queue of: ', ...sources.flatMap((n, i) => [i ? ', ' : '', queueLink(n)])));
    }
    redrive.replaceChildren(...parts);
    renderMoveForm();
  };

  // Message move tasks (only for a dead-letter queue).
  const moveError = errorBox('move-error');
  const moveForm = h('div');
  const renderMoveForm = () => {
    if (!sources.length) { moveForm.replaceChildren(h('p', { class: 'muted' }, 'This queue is nobody\'s dead-letter queue, so it has no messages to move back.')); return; }
    const dest = h('select', { id: 'move-destination' },
      h('option', { value: '' }, 'each message\'s source queue'),
      ...sources.map((n) => h('option', { value: n }, n)),
      h('option', { value: '*arn' }, 'another queue ARN…'));
    const arn = h('input', { id: 'move-arn', placeholder: 'arn:aws:sqs:…', hidden: true, 'aria-label': 'Destination ARN' });
    dest.addEventListener('change', () => { arn.hidden = dest.value !== '*arn'; });
    const rate = h('input', { id: 'move-rate', type: 'number', min: 1, max: 500, placeholder: '500', 'aria-label': 'Messages per second' });
    moveForm.replaceChildren(h('form', { class: 'row', onsubmit: async (ev) => {
      ev.preventDefault();
      showError(moveError, null);
      const arnBase = (attrs.QueueArn || '').split(':').slice(0, -1).join(':');
      const params = { SourceArn: attrs.QueueArn };
      if (dest.value === '*arn') params.DestinationArn = arn.value.trim();
      else if (dest.value) params.DestinationArn = `${arnBase}:${dest.value}`;
      if (rate.value) params.MaxNumberOfMessagesPerSecond = Number(rate.value);
      try { await sqs('StartMessageMoveTask', params); await loadTasks(); } catch (e) { showError(moveError, e); }
    } }, h('label', {}, 'Move messages to', dest), arn, h('label', {}, 'Per second (optional)', rate),
    h('button', { class: 'primary', type: 'submit', id: 'start-move' }, 'Start moving messages')));
  };
  const loadTasks = async () => {
    if (!sources.length || !attrs.QueueArn) { tasks.replaceChildren(); return; }
    const r = await sqs('ListMessageMoveTasks', { SourceArn: attrs.QueueArn, MaxResults: 10 });
    const list = r.Results || [];
    if (!list.length) { tasks.replaceChildren(h('p', { class: 'muted' }, 'No move tasks yet.')); return; }
    tasks.replaceChildren(h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, h('th', {}, 'Status'), h('th', { class: 'num' }, 'Moved'), h('th', { class: 'num' }, 'To move'),
        h('th', {}, 'Destination'), h('th', { class: 'hide-narrow' }, 'Started'), h('th'))),
      h('tbody', {}, ...list.map((t) => h('tr', { class: 'move-task' },
        h('td', { class: 'task-status' }, t.Status, t.FailureReason ? ` (${t.FailureReason})` : ''),
        h('td', { class: 'num task-moved' }, t.ApproximateNumberOfMessagesMoved ?? 0),
        h('td', { class: 'num' }, t.ApproximateNumberOfMessagesToMove ?? '—'),
        h('td', {}, t.DestinationArn ? nameFromArn(t.DestinationArn) : 'sources'),
        h('td', { class: 'hide-narrow' }, formatTime(t.StartedTimestamp)),
        h('td', {}, t.Status === 'RUNNING' && t.TaskHandle ? h('button', { type: 'button', onclick: async () => {
          try { await sqs('CancelMessageMoveTask', { TaskHandle: t.TaskHandle }); await loadTasks(); } catch (e) { showError(moveError, e); }
        } }, 'Cancel') : '')))))));
  };

  // Peek.
  const peekCount = h('input', { id: 'peek-count', type: 'number', min: 1, max: 100, value: 10, 'aria-label': 'How many messages' });
  const peekError = errorBox('peek-error');
  const doPeek = async () => {
    showError(peekError, null);
    try {
      const r = await peek(url, Math.min(100, Math.max(1, Number(peekCount.value) || 10)));
      const list = r.Messages || [];
      messages.replaceChildren(...(list.length ? list.map((m) => h('article', { class: 'message', 'data-message-id': m.MessageId },
        h('div', { class: 'row' }, h('span', { class: 'badge' }, m.State.replace('_', ' ')), h('code', {}, m.MessageId),
          h('button', { type: 'button', class: 'danger delete-message', 'aria-label': `Delete message ${m.MessageId}`, onclick: async () => {
            if (!await confirmDialog('Delete message?', `Delete message ${m.MessageId}? This cannot be undone.`, 'Delete')) return;
            try { await deletePeeked(url, m); await Promise.all([loadAttributes(), doPeek()]); } catch (e) { showError(peekError, e); }
          } }, 'Delete')),
        h('pre', { class: 'body' }, m.Body),
        h('dl', {},
          ...Object.entries(m.Attributes || {}).flatMap(([k, v]) => [h('dt', {}, k),
            h('dd', {}, /Timestamp$/.test(k) ? formatTime(v) : v)]),
          m.VisibleAtTimestamp ? [h('dt', {}, 'Visible at'), h('dd', {}, formatTime(m.VisibleAtTimestamp))] : [],
          ...Object.entries(m.MessageAttributes || {}).flatMap(([k, v]) => [h('dt', {}, `${k} (${v.DataType})`),
            h('dd', {}, v.StringValue ?? v.BinaryValue ?? '')])))) : [h('p', { class: 'muted' }, 'The queue is empty.')]));
    } catch (e) { showError(peekError, e); }
  };

  // Send.
  const sendError = errorBox('send-error');
  const sendOk = h('p', { class: 'ok', role: 'status', id: 'send-ok' });
  const sendBody = h('textarea', { id: 'send-body', required: true });
  const groupId = h('input', { id: 'send-group' });
  const dedupId = h('input', { id: 'send-dedup' });
  const delay = h('input', { id: 'send-delay', type: 'number', min: 0, max: 900 });
  const attrRows = h('div', { id: 'send-attributes' });
  const addAttrRow = () => {
    const row = h('div', { class: 'row send-attribute' },
      h('label', {}, 'Attribute name', h('input', { class: 'attr-name' })),
      h('label', {}, 'Type', h('select', { class: 'attr-type' }, h('option', {}, 'String'), h('option', {}, 'Number'), h('option', {}, 'Binary'))),
      h('label', {}, 'Value', h('input', { class: 'attr-value' })));
    row.append(h('button', { type: 'button', onclick: () => row.remove() }, 'Remove'));
    attrRows.append(row);
  };
  const sendForm = h('form', { class: 'panel', onsubmit: async (ev) => {
    ev.preventDefault();
    showError(sendError, null);
    sendOk.textContent = '';
    const params = { QueueUrl: url, MessageBody: sendBody.value };
    if (groupId.value) params.MessageGroupId = groupId.value;
    if (dedupId.value) params.MessageDeduplicationId = dedupId.value;
    if (delay.value !== '') params.DelaySeconds = Number(delay.value);
    const ma = {};
    for (const row of attrRows.querySelectorAll('.send-attribute')) {
      const n = row.querySelector('.attr-name').value.trim();
      if (!n) continue;
      const type = row.querySelector('.attr-type').value;
      const v = row.querySelector('.attr-value').value;
      ma[n] = type === 'Binary' ? { DataType: type, BinaryValue: btoa(v) } : { DataType: type, StringValue: v };
    }
    if (Object.keys(ma).length) params.MessageAttributes = ma;
    try {
      const r = await sqs('SendMessage', params);
      sendOk.textContent = `Sent ${r.MessageId}.`;
      sendBody.value = '';
      await Promise.all([loadAttributes(), doPeek()]);
    } catch (e) { showError(sendError, e); }
  } });

  // Purge and delete.
  const actionError = errorBox('action-error');
  const purge = async () => {
    if (!await confirmDialog('Purge queue?', `Delete every message in ${name}? This cannot be undone.`, 'Purge')) return;
    try { await sqs('PurgeQueue', { QueueUrl: url }); await Promise.all([loadAttributes(), doPeek()]); } catch (e) { showError(actionError, e); }
  };
  const remove = async () => {
    if (!await confirmDialog('Delete queue?', `Delete the queue ${name} and all its messages?`, 'Delete queue')) return;
    try { await sqs('DeleteQueue', { QueueUrl: url }); location.hash = '#/'; } catch (e) { showError(actionError, e); }
  };

  // Rates from /metrics' per-queue counters, differenced between polls.
  const sampleRates = async () => {
    const metrics = await scrapeMetrics();
    const m = metrics && metrics.get(`${queueAccount(url)}/${name}`);
    if (!m) return;
    const now = Date.now();
    samples.push({ t: now, sent: m.wharf_queue_messages_sent_total ?? 0, received: m.wharf_queue_messages_received_total ?? 0,
      deleted: m.wharf_queue_messages_deleted_total ?? 0 });
    while (samples.length && samples[0].t < now - CHART_WINDOW_MS) samples.shift();
    drawChart();
  };
  const drawChart = () => {
    const W = 600, H = 180, pad = 30;
    const series = { sent: [], received: [], deleted: [] };
    for (let i = 1; i < samples.length; i++) {
      const a = samples[i - 1], b = samples[i];
      const dt = (b.t - a.t) / 1000;
      for (const k of Object.keys(series)) series[k].push({ t: b.t, v: Math.max(0, (b[k] - a[k]) / dt) });
    }
    const max = Math.max(1, ...Object.values(series).flat().map((p) => p.v));
    const now = Date.now();
    const x = (t) => pad + ((t - (now - CHART_WINDOW_MS)) / CHART_WINDOW_MS) * (W - pad - 5);
    const y = (v) => H - pad + 10 - (v / max) * (H - pad - 10);
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title' });
    const title = s('title', { id: 'chart-title' });
    const last = series.sent.at(-1);
    title.textContent = last ? `Messages per second over the last 5 minutes: sent ${last.v.toFixed(1)}, received ${series.received.at(-1).v.toFixed(1)}, deleted ${series.deleted.at(-1).v.toFixed(1)}` : 'Messages per second: collecting samples';
    svg.append(title);
    svg.append(s('line', { x1: pad, y1: y(0), x2: W - 5, y2: y(0), stroke: '#999' }));
    svg.append(s('line', { x1: pad, y1: y(max), x2: W - 5, y2: y(max), stroke: '#ddd' }));
    const label = (text, lx, ly, anchor = 'end') => { const t = s('text', { x: lx, y: ly, 'font-size': 11, fill: '#57606a', 'text-anchor': anchor }); t.textContent = text; return t; };
    svg.append(label(max.toFixed(max < 10 ? 1 : 0), pad - 4, y(max) + 4), label('0', pad - 4, y(0) + 4),
      label('−5 min', pad, H - 4, 'start'), label('now', W - 5, H - 4));
    const colors = { sent: '#0b5cad', received: '#b35c00', deleted: '#1a7f37' };
    for (const [k, points] of Object.entries(series)) {
      if (!points.length) continue;
      svg.append(s('polyline', { fill: 'none', stroke: colors[k], 'stroke-width': 2, class: `line-${k}`,
        points: points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ') }));
    }
    chart.replaceChildren(svg, h('div', { class: 'legend' }, h('span', { class: 'sent' }, 'sent/s'),
      h('span', { class: 'received' }, 'received/s'), h('span', { class: 'deleted' }, 'deleted/s')),
    h('p', { class: 'muted' }, 'Rates are differences of /metrics\' per-queue counters (wharf_queue_messages_{sent,received,deleted}_total) between polls every 3 s, kept while this page is open.'));
  };

  (async () => {
    try {
      url = (await sqs('GetQueueUrl', { QueueName: name })).QueueUrl;
      await loadAttributes();
    } catch (e) {
      showError(pageError, e);
      return;
    }
    const fifo = attrs.FifoQueue === 'true';
    sendForm.append(h('h2', { id: 'send-title' }, 'Send a message'),
      h('label', { class: 'block' }, 'Body', sendBody),
      h('div', { class: 'row' },
        h('label', {}, fifo ? 'Message group ID (required)' : 'Message group ID (optional, fair queues)', groupId),
        fifo ? h('label', {}, 'Deduplication ID', dedupId) : '',
        fifo ? '' : h('label', {}, 'Delay seconds', delay)),
      attrRows,
      h('div', { class: 'row' }, h('button', { type: 'button', onclick: addAttrRow }, 'Add message attribute'),
        h('button', { class: 'primary', type: 'submit', id: 'send-button' }, 'Send message')),
      sendError, sendOk);
    app.replaceChildren(
      h('p', {}, h('a', { href: '#/' }, '← All queues')),
      h('h1', {}, name, ' ', h('span', { class: fifo ? 'badge fifo' : 'badge' }, fifo ? 'FIFO' : 'standard')),
      h('p', { class: 'muted' }, h('code', {}, url), h('br'), h('code', {}, attrs.QueueArn || '')),
      pageError,
      counts,
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'purge-button', onclick: purge }, 'Purge queue…'),
        h('button', { type: 'button', class: 'danger', id: 'delete-queue-button', onclick: remove }, 'Delete queue…')),
      actionError,
      h('section', { 'aria-labelledby': 'rates-title' }, h('h2', { id: 'rates-title' }, 'Rates'), chart),
      h('section', { 'aria-labelledby': 'messages-title' }, h('h2', { id: 'messages-title' }, 'Messages'),
        h('p', { class: 'muted' }, 'Peeking shows the first messages in send order with their state; it changes no visibility and no receive count. Delete removes one message whatever its state (an in-flight FIFO message unlocks its group).'),
        h('div', { class: 'row' }, h('label', {}, 'How many (1–100)', peekCount),
          h('button', { type: 'button', id: 'peek-button', onclick: doPeek }, 'Peek')),
        peekError, messages),
      h('section', { 'aria-labelledby': 'send-title' }, sendForm),
      h('section', { 'aria-labelledby': 'redrive-title' }, h('h2', { id: 'redrive-title' }, 'Dead-letter relations'), redrive,
        h('h3', {}, 'Move messages back'), moveForm, moveError, tasks),
      h('section', { 'aria-labelledby': 'attributes-title' }, h('h2', { id: 'attributes-title' }, 'Attributes'),
        h('div', { class: 'table-wrap' }, h('table', { id: 'attributes' }, attrBody))),
      h('section', { 'aria-labelledby': 'tags-title' }, h('h2', { id: 'tags-title' }, 'Tags'),
        h('div', { class: 'table-wrap' }, h('table', { id: 'tags' }, h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Value'), h('th'))), tagsBody)),
        tagForm, tagError));
    renderAttributes();
    try { await Promise.all([loadTags(), loadRedrive(), doPeek()]); } catch (e) { showError(pageError, e); }
    every(QUEUE_REFRESH_MS, async () => {
      try {
        await Promise.all([loadAttributes(), sampleRates(), loadTasks()]);
        showError(pageError, null);
      } catch (e) { showError(pageError, e); }
    }, timers);
  })();
  return () => timers.forEach((stop) => stop());
}

// ---------- routing ----------
function route() {
  stopView();
  showWho();
  if (config.auth && !credentials()) { stopView = loginView(); return; }
  const hash = location.hash || '#/';
  const m = /^#\/queue\/(.+)$/.exec(hash);
  stopView = m ? queueView(decodeURIComponent(m[1])) : queueListView();
}

async function start() {
  try {
    const response = await fetch('/console/config.json');
    if (response.ok) config = { ...config, ...(await response.json()) };
  } catch { /* defaults */ }
  window.addEventListener('hashchange', route);
  route();
}

start();
