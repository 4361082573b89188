"""Test harness for Wharf's integration tests: start, stop, kill and restart the
server, make SDK clients that talk to it, and bounded wait helpers.

Only the Python standard library plus boto3/botocore (and the AWS CLI for
test_cli.py) are used.

Environment:
  WHARF_BIN        path of the server binary (default: <repo>/build/wharf)
  WHARF_COPY_BIN   "0" to run WHARF_BIN in place instead of a private copy
                   (the copy protects a run from the binary being rebuilt)
  WHARF_KEEP_LOGS  "1" to keep data dirs and server logs after the run
  WHARF_TEST_STORAGE  "postgresql": every server is two PostgreSQL nodes
                   and clients spread their requests over both (pg_spread.py)
"""

import atexit
import base64
import ctypes
import hashlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import boto3
import botocore.config
import botocore.session

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

ACCOUNT = "000000000000"
REGION = "us-east-1"
DUMMY_KEY = "x"
DUMMY_SECRET = "x"

START_TIMEOUT = 20.0     # seconds to wait for the "listening on" line
STOP_TIMEOUT = 10.0      # seconds to wait for a SIGTERM'd server to exit
LISTEN_RE = re.compile(r"listening on \S+:(\d+)")

# The query-era SQS model shipped by Debian's python3-botocore.
DEBIAN_QUERY_MODEL = "/usr/lib/python3/dist-packages/botocore/data/sqs/2012-11-05/service-2.json"

_private_tmp = None
_binary_copy = None
_live_servers = set()
_lock = threading.RLock()


def private_tmp():
    """One temp dir per test process for binary copies, data dirs, logs."""
    global _private_tmp
    with _lock:
        if _private_tmp is None:
            _private_tmp = tempfile.mkdtemp(prefix="wharf-it-")
        return _private_tmp


def server_binary():
    """The binary to run: WHARF_BIN or build/wharf, copied once per process so
    that a concurrent rebuild does not change it under a running test."""
    global _binary_copy
    with _lock:
        if _binary_copy is not None:
            return _binary_copy
    src = os.environ.get("WHARF_BIN") or os.path.join(REPO, "build", "wharf")
    if not (os.path.isfile(src) and os.access(src, os.X_OK)):
        raise RuntimeError(
            f"Wharf server binary not found or not executable: {src} "
            f"(build it, or set WHARF_BIN)")
    if os.environ.get("WHARF_COPY_BIN", "1") == "0":
        return src
    with _lock:
        if _binary_copy is None:
            dst = os.path.join(private_tmp(), "wharf-under-test")
            shutil.copy2(src, dst)
            os.chmod(dst, 0o755)
            _binary_copy = dst
        return _binary_copy


def _set_pdeathsig():
    """Runs in the child before exec: die with SIGKILL if the test process
    dies, so that a killed test run never leaves a server behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


class WharfServer:
    """One Wharf process on 127.0.0.1 with a data dir that outlives restarts."""

    def __init__(self, data_dir=None, extra_args=()):
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="data-", dir=private_tmp())
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.log_path = None
        self.starts = 0
        self.first_line = None

    # --- lifecycle -------------------------------------------------------
    def start(self):
        assert self.proc is None, "server already running"
        binary = server_binary()
        self.starts += 1
        self.log_path = os.path.join(
            private_tmp(), f"{os.path.basename(self.data_dir)}.start{self.starts}.log")
        log = open(self.log_path, "wb")
        storage, env = ["--data-dir", self.data_dir], None
        if _pg_spread().enabled():
            storage, env = _pg_spread().node_arguments(self.data_dir)
        args = [binary, "--port", "0", "--bind", "127.0.0.1"] + storage + self.extra_args
        try:
            self.proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                preexec_fn=_set_pdeathsig, close_fds=True, env=env)
        finally:
            log.close()
        _live_servers.add(self)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            line = self._read_first_line()
            if line is not None:
                m = LISTEN_RE.search(line)
                if not m:
                    self.kill()
                    raise RuntimeError(f"unexpected first line from wharf: {line!r}")
                self.first_line = line
                self.port = int(m.group(1))
                if _pg_spread().enabled():
                    _pg_spread().start_peer(self)
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                _live_servers.discard(self)
                raise RuntimeError(
                    f"wharf exited with {rc} before listening; log:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"wharf did not print 'listening on' within {START_TIMEOUT}s; "
                    f"log:\n{self.log_tail()}")
            time.sleep(0.02)

    def _read_first_line(self):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read(4096)
        except FileNotFoundError:
            return None
        if b"\n" not in data:
            return None
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then wait (bounded). Returns the exit code. Falls back to
        SIGKILL and raises if the server does not exit in time."""
        _pg_spread().stop_peer(self)
        if self.proc is None:
            return None
        proc = self.proc
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            self.proc = None
            _live_servers.discard(self)
            raise RuntimeError(f"wharf did not exit within {timeout}s of SIGTERM")
        self.proc = None
        _live_servers.discard(self)
        return rc

    def kill(self):
        """SIGKILL (a crash, as far as the server can tell) and reap."""
        _pg_spread().stop_peer(self, kill=True)
        if self.proc is None:
            return None
        proc = self.proc
        try:
            proc.kill()
        except ProcessLookupError:
            pass
        rc = proc.wait(timeout=10)
        self.proc = None
        _live_servers.discard(self)
        return rc

    def restart(self, hard=True):
        """Kill (SIGKILL if hard, else SIGTERM) and start again on the same data dir."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    # --- addresses and clients --------------------------------------------
    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def queue_url(self, name):
        return f"{self.endpoint}/{ACCOUNT}/{name}"

    def json_client(self):
        return make_json_client(self.endpoint)

    def query_client(self, post_to_queue_url=True):
        return make_query_client(self.endpoint, post_to_queue_url=post_to_queue_url)

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode("utf-8", "replace")
        except Exception:
            return "<no log>"


def _pg_spread():
    """pg_spread (imported late: it imports this module)."""
    import pg_spread
    return pg_spread


def _cleanup():
    for s in list(_live_servers):
        try:
            s.kill()
        except Exception:
            pass
    if _private_tmp and os.environ.get("WHARF_KEEP_LOGS") != "1":
        shutil.rmtree(_private_tmp, ignore_errors=True)
    elif _private_tmp:
        sys.stderr.write(f"wharf integration logs kept in {_private_tmp}\n")


atexit.register(_cleanup)


def _on_sigterm(signum, frame):
    # SIGTERM (e.g. from run.sh's `timeout`): stop the run like Ctrl-C, so
    # unittest stops and atexit kills the servers this process started
    raise KeyboardInterrupt(f"signal {signum}")


if threading.current_thread() is threading.main_thread():
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        pass


# --- clients -------------------------------------------------------------

def _client_config(region=REGION):
    return botocore.config.Config(
        region_name=region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,          # > the longest long poll used in tests
        parameter_validation=True,
    )


def _botocore_session(data_path=None):
    s = botocore.session.Session()
    # Isolate from any user/CI configuration.
    s.set_config_variable("config_file", os.devnull)
    s.set_config_variable("credentials_file", os.devnull)
    if data_path:
        s.set_config_variable("data_path", data_path)
    s.set_credentials(DUMMY_KEY, DUMMY_SECRET)
    return s


def start_with_credentials(credentials, extra_args=("--auth",)):
    """A started WharfServer that reads `credentials` ("KEY:SECRET[:ACCOUNT],...")
    from WHARF_CREDENTIALS, which is set only while it starts."""
    server = WharfServer(extra_args=list(extra_args))
    os.environ["WHARF_CREDENTIALS"] = credentials
    try:
        server.start()
    finally:
        del os.environ["WHARF_CREDENTIALS"]
    return server


def make_json_client(endpoint, region=REGION):
    """boto3 SQS client speaking AWS JSON 1.0 (current botocore's model),
    signing for `region`."""
    session = boto3.session.Session(botocore_session=_botocore_session(), region_name=region)
    client = session.client("sqs", endpoint_url=endpoint, region_name=region,
                            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET,
                            config=_client_config(region))
    assert client.meta.service_model.protocol == "json", client.meta.service_model.protocol
    _pg_spread().spread(client, endpoint)
    return client


_query_model_dir = None


def query_model_dir():
    """A data_path dir holding Debian's query-protocol SQS model."""
    global _query_model_dir
    with _lock:
        if _query_model_dir is None:
            if not os.path.isfile(DEBIAN_QUERY_MODEL):
                raise unittest.SkipTest(f"query-era SQS model not installed: {DEBIAN_QUERY_MODEL}")
            d = os.path.join(private_tmp(), "query-model")
            os.makedirs(os.path.join(d, "sqs", "2012-11-05"), exist_ok=True)
            shutil.copy(DEBIAN_QUERY_MODEL, os.path.join(d, "sqs", "2012-11-05", "service-2.json"))
            _query_model_dir = d
        return _query_model_dir


def make_query_client(endpoint, post_to_queue_url=True, region=REGION):
    """boto3 SQS client speaking the query protocol (form body, XML answers),
    built from Debian's query-era model.

    With post_to_queue_url, requests that carry a QueueUrl are POSTed to that
    queue's path on the endpoint (as older SDKs, e.g. AWS SDK for Java v1 and
    boto 2, do); otherwise they go to "/" with QueueUrl in the form."""
    session = boto3.session.Session(
        botocore_session=_botocore_session(query_model_dir()), region_name=region)
    client = session.client("sqs", endpoint_url=endpoint, region_name=region,
                            aws_access_key_id=DUMMY_KEY, aws_secret_access_key=DUMMY_SECRET,
                            config=_client_config(region))
    if client.meta.service_model.protocol != "query":
        raise RuntimeError("query client does not speak the query protocol: "
                           + client.meta.service_model.protocol)
    if post_to_queue_url:
        def to_queue_url(request, **kwargs):
            body = request.body
            if isinstance(body, bytes):
                body = body.decode("utf-8")
            if not isinstance(body, str):
                return None
            params = urllib.parse.parse_qs(body)
            if "QueueUrl" in params:
                path = urllib.parse.urlsplit(params["QueueUrl"][0]).path
                base = urllib.parse.urlsplit(request.url)
                request.url = urllib.parse.urlunsplit(
                    (base.scheme, base.netloc, path, base.query, ""))
            return None
        client.meta.events.register_first("before-send.sqs", to_queue_url)
    _pg_spread().spread(client, endpoint)
    return client


class RequestRecorder:
    """Records (method, url, headers, body) of every request a client sends."""

    def __init__(self, client):
        self.requests = []
        client.meta.events.register("before-send.sqs", self._record)

    def _record(self, request, **kwargs):
        body = request.body
        if hasattr(body, "read"):
            body = None
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        headers = {}
        for k, v in request.headers.items():
            headers[k.decode() if isinstance(k, bytes) else k] = v.decode() if isinstance(v, bytes) else v
        self.requests.append((request.method, request.url, headers, body))
        return None


# --- checksums -----------------------------------------------------------

def md5_hex(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.md5(data).hexdigest()


def md5_of_attributes(attrs):
    """MD5 of message (or system) attributes as AWS computes it."""
    buf = bytearray()
    for name in sorted(attrs, key=lambda n: n.encode("utf-8")):
        v = attrs[name]
        dt = v["DataType"]
        nb, db = name.encode("utf-8"), dt.encode("utf-8")
        buf += struct.pack(">I", len(nb)) + nb
        buf += struct.pack(">I", len(db)) + db
        if dt.startswith("Binary"):
            val = v["BinaryValue"]
            if isinstance(val, str):
                val = base64.b64decode(val)
            buf += b"\x02"
        else:
            val = v["StringValue"].encode("utf-8")
            buf += b"\x01"
        buf += struct.pack(">I", len(val)) + bytes(val)
    return hashlib.md5(bytes(buf)).hexdigest()


# --- waits ---------------------------------------------------------------

def wait_until(predicate, timeout, interval=0.05, what="condition"):
    """Call predicate until it returns a truthy value (returned) or timeout
    seconds pass (AssertionError). Bounded in time and in count."""
    deadline = time.monotonic() + timeout
    max_iter = int(timeout / max(interval, 0.001)) + 2
    last = None
    for _ in range(max_iter):
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def receive_all(client, queue_url, expected, timeout=5.0, **kwargs):
    """Receive until `expected` messages have been collected (by MessageId) or
    timeout. Returns the list of messages (first receipt of each id)."""
    got = {}
    deadline = time.monotonic() + timeout
    kwargs.setdefault("MaxNumberOfMessages", 10)
    for _ in range(1000):
        if len(got) >= expected or time.monotonic() >= deadline:
            break
        r = client.receive_message(QueueUrl=queue_url, **kwargs)
        msgs = r.get("Messages", [])
        for m in msgs:
            got.setdefault(m["MessageId"], m)
        if not msgs:
            time.sleep(0.05)
    return list(got.values())


def unique_name(prefix="q"):
    """A queue name unique within a run: [A-Za-z0-9_-], <= 80 chars."""
    t = time.time_ns() // 1000
    n = next(_counter)
    return f"{prefix}-{t % 10**10}-{n}"[:80]


def _count():
    i = 0
    while True:
        i += 1
        yield i


_counter = _count()


def error_code(exc):
    return exc.response.get("Error", {}).get("Code")


def http_status(exc):
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
