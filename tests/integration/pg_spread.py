"""The integration suite in PostgreSQL mode (WHARF_TEST_STORAGE=postgresql):
every WharfServer is two `wharf --storage postgresql` nodes on one schema of
one throwaway database, and every boto3 client made by the harness spreads
its requests over both nodes.

- The database: WHARF_TEST_POSTGRES_URL (tests/pg/run-suites.sh starts one),
  else one started here (pg_nodes.PgDatabase) for the whole process.
- A server's data dir names its schema, so a restart on the same data dir
  finds the same queues, and every fresh data dir starts empty, as with
  RocksDB.
- Node A is the WharfServer's own process (its log, port and first line are
  what the tests read); node B is a pg_nodes.PgNode started with the same
  arguments, stopped and killed with A.
- Spreading: a client's requests alternate between A and B, one request
  each (so a send on A is received on B, deleted on A, ...). The request
  keeps A's Host header, which is what the signature covers and what the
  server builds queue URLs from; only the TCP destination changes.
- main() (`python3 pg_spread.py tests/pg/skip-python.txt`, as
  tests/pg/run-suites.sh does) runs the whole suite in this mode, reporting
  the tests the skip list names (cannot run on PostgreSQL yet, and why) as
  skipped.
"""

import hashlib
import itertools
import os
import threading
import unittest
import urllib.parse

import pg_nodes

_lock = threading.Lock()
_database = None
_peers = {}  # node A's "127.0.0.1:PORT" -> node B's


def enabled():
    return os.environ.get("WHARF_TEST_STORAGE", "rocksdb") == "postgresql"


def database_url():
    global _database
    url = os.environ.get("WHARF_TEST_POSTGRES_URL")
    if url:
        return url
    with _lock:
        if _database is None:
            why = pg_nodes.available()
            if why:
                raise unittest.SkipTest(why)
            _database = pg_nodes.PgDatabase().start()
        return _database.url


def schema_for(data_dir):
    """One schema per data dir (PostgreSQL names: lower case, < 64 bytes)."""
    return "it_" + hashlib.sha1(os.path.abspath(data_dir).encode()).hexdigest()[:20]


def node_arguments(data_dir):
    """What replaces `--data-dir DIR` on a node's command line, and its environment."""
    args = ["--storage", "postgresql", "--postgres-schema", schema_for(data_dir)]
    return args, dict(os.environ, WHARF_POSTGRES_URL=database_url())


def start_peer(server):
    """Node B for a started WharfServer (node A)."""
    peer = pg_nodes.PgNode(database_url(), schema=schema_for(server.data_dir), extra_args=server.extra_args)
    try:
        peer.start()
    except Exception:
        server.kill()
        raise
    server.pg_peer = peer
    with _lock:
        _peers[server.host] = peer.endpoint.split("//", 1)[1]


def stop_peer(server, kill=False):
    peer = getattr(server, "pg_peer", None)
    if peer is None:
        return
    server.pg_peer = None
    with _lock:
        _peers.pop(server.host, None)
    if kill:
        peer.kill()
    else:
        peer.stop()


def spread(client, endpoint):
    """Makes `client` alternate its requests between node A (endpoint) and
    its node B; does nothing for an endpoint that is not node A of a pair."""
    host_a = urllib.parse.urlsplit(endpoint).netloc
    if host_a not in _peers:
        return
    turns = itertools.cycle((False, True))

    def to_a_or_b(request, **kwargs):
        with _lock:
            host_b = _peers.get(host_a)
            use_b = next(turns)
        url = urllib.parse.urlsplit(request.url)
        if host_b is None or url.netloc != host_a:
            return None
        if "Host" not in request.headers:
            request.headers["Host"] = host_a
        if use_b:
            request.url = urllib.parse.urlunsplit(url._replace(netloc=host_b))
        return None

    client.meta.events.register("before-send.sqs", to_a_or_b)


def read_skip_list(path):
    """{name: why} from lines `name  # why` (module, module.Class or
    module.Class.test); blank lines and lines starting with # are comments."""
    skips = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, _, why = line.partition("#")
            skips[name.strip()] = why.strip() or "listed in " + os.path.basename(path)
    return skips


def _tests_of(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _tests_of(item)
        else:
            yield item


def _skipped(test, why):
    """`test` turned into one that reports a skip (setUpClass never runs)."""

    @unittest.skip(why)
    def skipped(self):
        pass

    case = type(test.__class__.__name__, (unittest.TestCase,), {test._testMethodName: skipped})
    # Not the real module's name: its setUpModule must not run for skips.
    case.__module__ = "skipped:" + test.__class__.__module__
    return case(test._testMethodName)


def main(argv):
    """pg_spread.py SKIP_FILE [unittest discover pattern]: the whole suite in
    PostgreSQL mode, minus the listed tests (reported as skips)."""
    os.environ["WHARF_TEST_STORAGE"] = "postgresql"
    here = os.path.dirname(os.path.abspath(__file__))
    skips = read_skip_list(argv[1])
    print(f"PostgreSQL mode: {len(skips)} entries of {argv[1]} are skipped:", flush=True)
    for name, why in skips.items():
        print(f"  {name}: {why}", flush=True)
    pattern = argv[2] if len(argv) > 2 else "test_*.py"
    loaded = unittest.defaultTestLoader.discover(here, pattern=pattern, top_level_dir=here)
    kept = []
    for test in _tests_of(loaded):
        name = test.id()
        why = next((w for n, w in skips.items() if name == n or name.startswith(n + ".")), None)
        kept.append(_skipped(test, why) if why and hasattr(test, "_testMethodName") else test)
    result = unittest.TextTestRunner(verbosity=2).run(unittest.TestSuite(kept))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv))
