// Preloaded (NODE_OPTIONS=--import) by tests/pg/run-suites.sh in PostgreSQL
// mode: the tests and suites named in WHARF_TEST_SKIP_FILE (tests/pg/skip-js.txt)
// are reported as skipped, with the reason the list gives, instead of run.
// Node 20 has no --test-skip-pattern, so describe/it/test of node:test are
// wrapped here (syncBuiltinESMExports makes the suites' imports see them).
//
// A list line is `NAME  # why`: NAME is a test's or a suite's whole name, or
// a prefix of it ending in `*`.

import fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';

const file = process.env.WHARF_TEST_SKIP_FILE;
if (file) {
  const entries = [];
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const at = line.indexOf('#');
    const name = (at < 0 ? line : line.slice(0, at)).trim();
    const why = at < 0 ? `listed in ${file}` : line.slice(at + 1).trim();
    entries.push({ name, why });
  }
  const reasonFor = (name) => {
    if (typeof name !== 'string') return undefined;
    const hit = entries.find((e) => (e.name.endsWith('*') ? name.startsWith(e.name.slice(0, -1)) : name === e.name));
    return hit?.why;
  };
  // (name, options, fn) with options and fn each optional, as node:test takes them
  const skipping = (original) => {
    const wrapped = function (name, ...rest) {
      const why = reasonFor(name);
      if (!why) return original.call(this, name, ...rest);
      const fn = rest.find((r) => typeof r === 'function');
      const options = rest.find((r) => r && typeof r === 'object') ?? {};
      return original.call(this, name, { ...options, skip: `PostgreSQL: ${why}` }, fn);
    };
    Object.assign(wrapped, original);
    return wrapped;
  };
  const nodeTest = createRequire(import.meta.url)('node:test');
  for (const key of ['describe', 'suite', 'it', 'test']) {
    if (typeof nodeTest[key] === 'function') nodeTest[key] = skipping(nodeTest[key]);
  }
  syncBuiltinESMExports();
}
