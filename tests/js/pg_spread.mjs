// The JavaScript suites in PostgreSQL mode (WHARF_TEST_STORAGE=postgresql,
// with WHARF_TEST_POSTGRES_URL naming a throwaway database, as
// tests/pg/run-suites.sh sets both):
//
// - every startServer() is two `wharf --storage postgresql` nodes on one
//   schema, named after the data dir (a restart on the same data dir finds
//   the same queues; a fresh data dir starts empty, as with RocksDB). The
//   returned server is node A (its endpoint and log); node B stops and dies
//   with it;
// - every client the harness makes for node A's endpoint alternates its
//   requests between A and B, one request each. A request keeps A's Host
//   header (what the signature covers and what queue URLs are built from);
//   only the TCP destination changes, after signing.

import crypto from 'node:crypto';
import path from 'node:path';

const peers = new Map(); // node A's endpoint -> node B's URL

export function enabled() {
  return process.env.WHARF_TEST_STORAGE === 'postgresql';
}

/** One schema per data dir (PostgreSQL names: lower case, < 64 bytes). */
function schemaFor(dataDir) {
  return `js_${crypto.createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 20)}`;
}

export async function startTwoNodes(startProcess, { dataDir, bin, startTimeoutMs, extraArgs, env }) {
  const url = process.env.WHARF_TEST_POSTGRES_URL;
  if (!url) throw new Error('WHARF_TEST_STORAGE=postgresql needs WHARF_TEST_POSTGRES_URL (tests/pg/run-suites.sh)');
  const args = ['--storage', 'postgresql', '--postgres-schema', schemaFor(dataDir), ...extraArgs];
  const nodeEnv = { ...env, WHARF_POSTGRES_URL: url };
  const a = await startProcess({ dataDir, bin, startTimeoutMs, args, env: nodeEnv });
  let b;
  try {
    b = await startProcess({ dataDir, bin, startTimeoutMs, args, env: nodeEnv });
  } catch (e) {
    await a.kill();
    throw e;
  }
  peers.set(a.endpoint, new URL(b.endpoint));
  a.peer = b;
  const stopA = a.stop.bind(a);
  const killA = a.kill.bind(a);
  a.stop = async (...rest) => {
    peers.delete(a.endpoint);
    await b.stop();
    return stopA(...rest);
  };
  a.kill = async (...rest) => {
    peers.delete(a.endpoint);
    await b.kill();
    return killA(...rest);
  };
  return a;
}

function alternator(endpoint) {
  const peer = peers.get(endpoint);
  if (!peer) return null;
  let turn = 0;
  // null: node A; else node B's URL (while the pair is up)
  return () => ((turn++ % 2 === 1 && peers.get(endpoint)) || null);
}

/** @aws-sdk/client-sqs: moves every other signed request to node B. */
export function spreadV3(client, endpoint) {
  const next = alternator(endpoint);
  if (!next) return client;
  client.middlewareStack.add(
    (handler) => async (args) => {
      const b = next();
      if (b && args.request?.hostname === '127.0.0.1') {
        args.request.headers.host ??= `127.0.0.1:${args.request.port}`;
        args.request.port = Number(b.port);
      }
      return handler(args);
    },
    { step: 'deserialize', priority: 'low', name: 'wharfSpreadOverNodes' },
  );
  return client;
}

/** aws-sdk v2: moves every other signed request to node B. */
export function spreadV2(AWS, sqs, endpoint) {
  const next = alternator(endpoint);
  if (!next) return sqs;
  sqs.customizeRequests((request) => {
    request.on('sign', (signed) => {
      const b = next();
      if (!b) return;
      const http = signed.httpRequest;
      http.headers.Host ??= http.endpoint.host;
      http.endpoint = new AWS.Endpoint(b.origin);
    });
  });
  return sqs;
}
