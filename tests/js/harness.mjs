// Test harness for Wharf's JavaScript integration tests.
//
// - starts and stops the wharf binary (only processes started here, always by
//   their PID), with a bounded wait for each step;
// - builds the two SDK clients the suites drive: @aws-sdk/client-sqs (v3, AWS
//   JSON 1.0 protocol) and aws-sdk 2.1490.0 (v2, query protocol with XML
//   answers), both with their MD5 checks left on;
// - wraps each client in one small adapter, so that a single suite of test
//   bodies (suite.mjs) runs against both protocols;
// - computes AWS's MD5 digests of message attributes, which neither SDK
//   verifies by itself (both check only the body's MD5).

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as v3sdk from '@aws-sdk/client-sqs';
import * as pgSpread from './pg_spread.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const ACCOUNT_ID = '000000000000';
export const REGION = 'us-east-1';
export const WHARF_BIN = process.env.WHARF_BIN
  ? path.resolve(process.env.WHARF_BIN)
  : path.resolve(here, '../../build/wharf');

// ---------------------------------------------------------------------------
// Small helpers

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A queue name unique within this run: `<prefix>-<6 hex>`, at most 80 chars. */
export function uniqueName(prefix) {
  const name = `${prefix}-${crypto.randomBytes(3).toString('hex')}`;
  if (name.length > 80) throw new Error(`queue name too long: ${name}`);
  return name;
}

/** Races a promise against a timer; the timer never keeps the process alive. */
export async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// MD5 digests, as AWS computes them (see shared/SQS-FACTS.md, "Checksums")

export function md5Hex(data) {
  return crypto.createHash('md5').update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).digest('hex');
}

function lengthPrefixed(buf) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length, 0);
  return Buffer.concat([len, buf]);
}

/**
 * MD5OfMessageAttributes (and MD5OfMessageSystemAttributes) over a map
 * name -> {DataType, StringValue | BinaryValue}: attributes sorted by name,
 * each as len+name, len+DataType, transport byte (1 string/number, 2 binary),
 * len+value. Returns undefined for an empty map: AWS sends no digest then.
 */
export function md5OfAttributes(attrs) {
  const names = Object.keys(attrs ?? {}).sort();
  if (names.length === 0) return undefined;
  const parts = [];
  for (const name of names) {
    const { DataType, StringValue, BinaryValue } = attrs[name];
    parts.push(lengthPrefixed(Buffer.from(name, 'utf8')));
    parts.push(lengthPrefixed(Buffer.from(DataType, 'utf8')));
    if (DataType.startsWith('Binary')) {
      parts.push(Buffer.from([2]));
      parts.push(lengthPrefixed(Buffer.from(BinaryValue)));
    } else {
      parts.push(Buffer.from([1]));
      parts.push(lengthPrefixed(Buffer.from(StringValue, 'utf8')));
    }
  }
  return md5Hex(Buffer.concat(parts));
}

// ---------------------------------------------------------------------------
// The server process

const liveChildren = new Set();
const createdDataDirs = new Set();

function removeCreatedDataDirs() {
  for (const dir of createdDataDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  createdDataDirs.clear();
}

function killAllChildrenNow() {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

// Never leave a wharf behind, whatever way this test process ends.
process.on('exit', () => {
  killAllChildrenNow();
  if (!process.env.WHARF_KEEP_DATA) removeCreatedDataDirs();
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    killAllChildrenNow();
    process.exit(128 + (os.constants.signals[sig] ?? 15));
  });
}

const LISTENING = /listening on \S+:(\d+)/;

export class WharfServer {
  constructor({ child, port, dataDir, log, exited }) {
    this.child = child;
    this.pid = child.pid;
    this.port = port;
    this.dataDir = dataDir;
    this.endpoint = `http://127.0.0.1:${port}`;
    this._log = log;
    this.exited = exited; // resolves to {code, signal}
    this.exitInfo = null;
    exited.then((info) => {
      this.exitInfo = info;
    });
  }

  /** The queue URL wharf should hand out for `name` to a client of this endpoint. */
  queueUrl(name) {
    return `${this.endpoint}/${ACCOUNT_ID}/${name}`;
  }

  get alive() {
    return this.exitInfo === null;
  }

  logTail(lines = 40) {
    return this._log.slice(-lines).join('\n');
  }

  async _signalAndWait(signal, timeoutMs) {
    if (!this.alive) return this.exitInfo;
    try {
      process.kill(this.pid, signal);
    } catch {
      // exited in between
    }
    return withTimeout(this.exited, timeoutMs, `wharf pid ${this.pid} exit after ${signal}`);
  }

  /** Graceful stop: SIGTERM, then (bounded wait) SIGKILL. Returns {code, signal, graceful}. */
  async stop(timeoutMs = 10_000) {
    if (!this.alive) return { ...this.exitInfo, graceful: true };
    try {
      const info = await this._signalAndWait('SIGTERM', timeoutMs);
      return { ...info, graceful: true };
    } catch {
      const info = await this._signalAndWait('SIGKILL', 5_000);
      return { ...info, graceful: false };
    }
  }

  /** Crash: SIGKILL and wait for the exit. */
  async kill(timeoutMs = 5_000) {
    return this._signalAndWait('SIGKILL', timeoutMs);
  }
}

/**
 * Starts `wharf --port 0 --bind 127.0.0.1 --data-dir DIR` and waits (bounded)
 * for its "listening on HOST:PORT" line. A fresh temp data dir unless given.
 * With WHARF_TEST_STORAGE=postgresql: two nodes instead (pg_spread.mjs).
 */
export async function startServer({ dataDir, bin = WHARF_BIN, startTimeoutMs = 15_000, extraArgs = [], env = {} } = {}) {
  if (!fs.existsSync(bin)) {
    throw new Error(`wharf binary not found at ${bin} (build it first, or point WHARF_BIN at it)`);
  }
  if (!dataDir) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wharf-js-'));
    createdDataDirs.add(dataDir); // removed when this test process exits
  }
  if (pgSpread.enabled()) return pgSpread.startTwoNodes(startProcess, { dataDir, bin, startTimeoutMs, extraArgs, env });
  return startProcess({ dataDir, bin, startTimeoutMs, args: ['--data-dir', dataDir, ...extraArgs], env });
}

/** One wharf process with `args` after its port and bind address. */
async function startProcess({ dataDir, bin, startTimeoutMs, args: storageAndExtra, env }) {
  const args = ['--port', '0', '--bind', '127.0.0.1', ...storageAndExtra];
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  liveChildren.add(child);

  const log = [];
  const remember = (stream) => (line) => {
    log.push(`[${stream}] ${line}`);
    if (log.length > 500) log.splice(0, log.length - 500);
  };
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });

  const port = await new Promise((resolve, reject) => {
    let settled = false;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      finish(reject, new Error(`wharf did not print "listening on" within ${startTimeoutMs} ms; output:\n${log.join('\n')}`));
    }, startTimeoutMs);

    const lineReader = (stream, onLine) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          onLine(line);
        }
      });
    };
    const onStdout = remember('stdout');
    lineReader(child.stdout, (line) => {
      onStdout(line);
      const m = LISTENING.exec(line);
      if (m) finish(resolve, Number(m[1]));
    });
    lineReader(child.stderr, remember('stderr'));
    child.once('error', (err) => finish(reject, new Error(`cannot start ${bin}: ${err.message}`)));
    exited.then(({ code, signal }) =>
      finish(reject, new Error(`wharf exited (code ${code}, signal ${signal}) before listening; output:\n${log.join('\n')}`)),
    );
  });

  return new WharfServer({ child, port, dataDir, log, exited });
}

/** SIGKILL the server, start a new one on the same data dir. */
export async function crashAndRestart(server) {
  await server.kill();
  return startServer({ dataDir: server.dataDir });
}

// ---------------------------------------------------------------------------
// Clients

const DUMMY_CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };

/** @aws-sdk/client-sqs with its md5 middleware on (the default), no retries. */
export function makeV3Client(endpoint, extra = {}) {
  return pgSpread.spreadV3(new v3sdk.SQSClient({
    endpoint,
    region: REGION,
    credentials: DUMMY_CREDENTIALS,
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 25_000 },
    ...extra,
  }), endpoint);
}

/** aws-sdk 2.1490.0 (query protocol) with computeChecksums on, no retries. */
export async function makeV2Client(endpoint, extra = {}) {
  process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1';
  const { default: AWS } = await import('aws-sdk');
  return pgSpread.spreadV2(AWS, new AWS.SQS({
    endpoint,
    region: REGION,
    credentials: new AWS.Credentials(DUMMY_CREDENTIALS),
    computeChecksums: true,
    maxRetries: 0,
    sslEnabled: false,
    httpOptions: { connectTimeout: 5_000, timeout: 25_000 },
    ...extra,
  }), endpoint);
}

// ---------------------------------------------------------------------------
// One adapter per SDK, so one suite drives both.
//
// api.call(Operation, params) -> the SDK's result object
// api.errorOf(err) -> { name, code, status, message } where `code` is the
//   query-protocol error code (v2: <Code>; v3: taken from the
//   x-amzn-query-error header) and `name` the v3 exception name.
// api.binary(bytes) -> the SDK's natural binary type (Uint8Array / Buffer)

export function v3Api(endpoint) {
  const client = makeV3Client(endpoint);
  return {
    sdk: 'v3',
    protocol: 'JSON',
    client,
    endpoint,
    async call(op, params = {}) {
      const Command = v3sdk[`${op}Command`];
      if (!Command) throw new Error(`no such v3 command: ${op}`);
      return client.send(new Command(params));
    },
    errorOf(err) {
      return {
        name: err?.name,
        code: err?.Code,
        status: err?.$metadata?.httpStatusCode,
        message: err?.message,
      };
    },
    binary(bytes) {
      return new Uint8Array(bytes);
    },
    checksumsOn() {
      return typeof client.config.md5 === 'function';
    },
    destroy() {
      client.destroy();
    },
  };
}

export async function v2Api(endpoint) {
  const sqs = await makeV2Client(endpoint);
  return {
    sdk: 'v2',
    protocol: 'query',
    client: sqs,
    endpoint,
    async call(op, params = {}) {
      const method = op[0].toLowerCase() + op.slice(1);
      if (typeof sqs[method] !== 'function') throw new Error(`no such v2 operation: ${op}`);
      let p = params;
      if (op === 'ReceiveMessage' && p.MessageSystemAttributeNames) {
        // aws-sdk 2.1490.0 predates MessageSystemAttributeNames: the query
        // protocol carries system attribute names as AttributeName.N.
        const { MessageSystemAttributeNames, ...rest } = p;
        p = { ...rest, AttributeNames: [...(rest.AttributeNames ?? []), ...MessageSystemAttributeNames] };
      }
      return sqs[method](p).promise();
    },
    errorOf(err) {
      return {
        name: err?.name,
        code: err?.code,
        status: err?.statusCode,
        message: err?.message,
      };
    },
    binary(bytes) {
      return Buffer.from(bytes);
    },
    checksumsOn() {
      return sqs.config.computeChecksums === true;
    },
    destroy() {},
  };
}

// The code and HTTP status of a failed call: v3 reads the query-compatible
// error header (the JSON __type names differ), v2 its own fields; null when
// the call succeeded.
export async function v3Error(promise) {
  try {
    await promise;
  } catch (e) {
    return { code: e.$response?.headers?.['x-amzn-query-error']?.split(';')[0] ?? e.name, status: e.$metadata?.httpStatusCode };
  }
  return null;
}

export async function v2Error(request) {
  try {
    await request.promise();
  } catch (e) {
    return { code: e.code, status: e.statusCode };
  }
  return null;
}
