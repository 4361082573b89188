"""Several wharf nodes on one throwaway PostgreSQL, for the multi-node tests
of the PostgreSQL backend (docs/design/postgresql.md, slice S9).

PgDatabase starts a cluster with tests/pg/cluster.sh in a private directory
(and can stop it and start it again on the same port, to play a database
outage); PgNode starts one `wharf --storage postgresql` on a free port and
stops it by its PID. Every process started here is stopped by PID, never by
name.

available() says why PostgreSQL cannot be used here (tests skip then), or
None.
"""

import atexit
import glob
import os
import signal
import subprocess
import tempfile
import time

from harness import (LISTEN_RE, REPO, START_TIMEOUT, STOP_TIMEOUT, _live_servers, _set_pdeathsig,
                     make_json_client, make_query_client, private_tmp, server_binary)

CLUSTER_SH = os.path.join(REPO, "tests", "pg", "cluster.sh")
_live_databases = set()


def _pg_bin():
    newest = ""
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin")):
        if os.access(os.path.join(d, "initdb"), os.X_OK):
            newest = d
    return os.environ.get("WHARF_PG_BIN") or newest


def available():
    """None when a throwaway PostgreSQL can be started, else why not."""
    if not _pg_bin():
        return "PostgreSQL (initdb) is not installed"
    if os.getuid() == 0:
        try:
            import pwd
            pwd.getpwnam("postgres")
        except KeyError:
            return "no postgres user"
    return None


def _as_postgres(args):
    if os.getuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + args
    return args


class PgDatabase:
    """A throwaway PostgreSQL cluster in its own directory."""

    def __init__(self):
        # Short: the Unix socket's path must fit in 107 bytes.
        self.dir = tempfile.mkdtemp(prefix="pg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.url = None
        self.port = None

    def start(self):
        out = subprocess.run([CLUSTER_SH, "start", self.dir], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"cluster.sh start failed ({out.returncode}): {out.stderr}")
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("WHARF_TEST_POSTGRES_URL=")][-1]
        self.url = line.split("=", 1)[1]
        with open(os.path.join(self.dir, "port")) as f:
            self.port = int(f.read().strip())
        _live_databases.add(self)
        return self

    def stop(self):
        """Fast shutdown (cluster.sh stop: bounded, our postmaster only)."""
        subprocess.run([CLUSTER_SH, "stop", self.dir], capture_output=True, timeout=120)

    def start_again(self):
        """The stopped cluster again, on the same port (the nodes' URL)."""
        data = os.path.join(self.dir, "data")
        args = [os.path.join(_pg_bin(), "pg_ctl"), "-D", data, "-l", os.path.join(self.dir, "pg.log"), "-w",
                "-t", "30", "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start"]
        subprocess.run(_as_postgres(args), check=True, capture_output=True, timeout=60)

    def psql(self, sql):
        """Runs SQL as the superuser (over TCP, trust)."""
        psql = os.path.join(_pg_bin(), "psql")
        out = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-c", sql],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr}")
        return out.stdout

    def add_password_user(self, user, password):
        """A role that must give its password (scram), ahead of the trust rules."""
        self.psql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
        hba = os.path.join(self.dir, "data", "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write(f"host all {user} 127.0.0.1/32 scram-sha-256\n" + rules)
        self.psql("SELECT pg_reload_conf()")

    def url_for(self, user, password):
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/postgres"


def _stop_databases():
    for database in list(_live_databases):
        try:
            database.stop()
        except Exception:
            pass


atexit.register(_stop_databases)


class PgNode:
    """One wharf node with --storage postgresql, on a free port."""

    def __init__(self, url, schema="wharf", extra_args=()):
        self.url = url
        self.schema = schema
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.log_path = None

    def command(self):
        return [server_binary(), "--storage", "postgresql", "--postgres-schema", self.schema, "--port", "0",
                "--bind", "127.0.0.1"] + self.extra_args

    def start(self):
        """Starts it and waits for its "listening on" line; RuntimeError (with
        the log) when it exits first."""
        self.log_path = tempfile.mktemp(prefix="pg-node-", suffix=".log", dir=private_tmp())
        env = dict(os.environ, WHARF_POSTGRES_URL=self.url)  # not on the command line
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env, preexec_fn=_set_pdeathsig,
                                         close_fds=True)
        _live_servers.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            m = LISTEN_RE.search(self.log())
            if m:
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                _live_servers.discard(self)
                raise RuntimeError(f"wharf exited with {rc} before listening; log:\n{self.log()}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"wharf did not listen within {START_TIMEOUT}s; log:\n{self.log()}")

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        """SIGTERM to its PID, bounded wait, then SIGKILL."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        _live_servers.discard(self)
        try:
            proc.send_signal(signal.SIGTERM)
            return proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise RuntimeError("wharf did not exit within its stop timeout")

    def kill(self):
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        _live_servers.discard(self)
        proc.kill()
        return proc.wait(timeout=10)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def json_client(self):
        return make_json_client(self.endpoint)

    def query_client(self):
        return make_query_client(self.endpoint)


def run_node_once(url, extra_args=(), timeout=30):
    """Runs a node that is expected to fail at start: (exit code, output)."""
    node = PgNode(url, extra_args=extra_args)
    env = dict(os.environ, WHARF_POSTGRES_URL=url)
    out = subprocess.run(node.command(), capture_output=True, text=True, env=env, timeout=timeout,
                         preexec_fn=_set_pdeathsig)
    return out.returncode, out.stdout + out.stderr
