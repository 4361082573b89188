#!/usr/bin/env python3
"""Crash-safety test for Wharf: producers and consumers run against a real
`wharf` over HTTP while the server is killed with SIGKILL at random moments
(seeded) and restarted on the same data dir and port. At the end the queues are
drained, restarted once more, and the recorded history is checked:

  - no acknowledged send is lost;
  - no message is delivered again after a DeleteMessage of its current receipt
    handle was acknowledged;
  - no message is delivered while an earlier acknowledged delivery of it is
    still inside its visibility timeout;
  - FIFO: every group is delivered in order (also across restarts), a message
    is never delivered after a later one of its group unless it was not
    deleted, and a MessageDeduplicationId never yields two messages.

Only the standard library and boto3 are used. Every client is a boto3 JSON
client with short timeouts and no botocore retries: the test retries itself,
so it knows exactly which requests were acknowledged. Usage: see README.md
beside this file, or --help.
"""

import argparse
import bisect
import collections
import ctypes
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import boto3
import botocore.config
import botocore.session
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ACCOUNT = "000000000000"
REGION = "us-east-1"

STD_QUEUE = "crash-std"
FIFO_QUEUE = "crash-fifo.fifo"

# Client behaviour
CONNECT_TIMEOUT = 1.0
READ_TIMEOUT_EXTRA = 4.0     # read timeout = long poll wait + this
RETRY_LIMIT = 30.0           # seconds one logical operation is retried before giving up
MAX_ATTEMPTS = 2000          # ... and attempts (every retry loop is bounded by both)
MAX_LOOPS = 10_000_000       # iterations of a worker's main loop (besides the run's deadline)
BACKOFF_MIN, BACKOFF_MAX = 0.02, 0.3
CROSS_NODE_SHARE = 0.25      # with several nodes: requests a worker sends to a node not its own

# Server lifecycle
START_TIMEOUT = 20.0
BIND_RETRIES = 40            # restarts refused with exit code 3 (port busy) are retried
BIND_RETRY_SLEEP = 0.25
STOP_TIMEOUT = 10.0

T0 = time.monotonic()


def now():
    """Seconds since the test started (monotonic; all threads share it)."""
    return time.monotonic() - T0


def _set_pdeathsig():
    # in the child before exec: die with the test process
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Fatal(Exception):
    """The run cannot go on (server would not start, ...)."""


# ---------------------------------------------------------------------------
# the server


class Server:
    """One wharf process at a time on a fixed port and data dir (or, with
    `pg_url`, on a PostgreSQL database shared with other nodes)."""

    def __init__(self, binary, run_dir, port, extra_args, ledger, name="", pg_url=None):
        self.binary = binary
        self.run_dir = run_dir
        self.data_dir = os.path.join(run_dir, "data")
        self.port = port
        self.extra_args = list(extra_args)
        self.ledger = ledger
        self.name = name          # "" for the only node; else it names the logs and events
        self.pg_url = pg_url
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.start_times = []

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def label(self):
        return f"{self.name} " if self.name else ""

    def _listening(self):
        """The log's first lines say "listening on" (a PostgreSQL node may
        log a warning or two before it)."""
        try:
            with open(self.log_path, "rb") as f:
                data = f.read(8192)
        except FileNotFoundError:
            return False
        return any(b"listening on" in line for line in data.split(b"\n")[:-1])

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except Exception:
            return "<no log>"

    def start(self):
        assert self.proc is None
        t_begin = now()
        for attempt in range(BIND_RETRIES):
            self.starts += 1
            tag = f"{self.name}." if self.name else ""
            self.log_path = os.path.join(self.run_dir, f"wharf.{tag}start{self.starts:04d}.log")
            args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
            env = None
            if self.pg_url:
                args += ["--storage", "postgresql", "--postgres-schema", "wharf"]
                env = dict(os.environ, WHARF_POSTGRES_URL=self.pg_url)   # not on the command line
            else:
                args += ["--data-dir", self.data_dir]
            args += self.extra_args
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, preexec_fn=_set_pdeathsig,
                                             close_fds=True, env=env)
            deadline = time.monotonic() + START_TIMEOUT
            for _ in range(int(START_TIMEOUT / 0.005) + 1000):
                if self._listening():
                    took = now() - t_begin
                    self.start_times.append(took)
                    self.ledger.server_event("start", f"{self.label()}pid {self.proc.pid} listening "
                                             f"(start #{self.starts}, {took * 1000:.0f} ms)")
                    return
                rc = self.proc.poll()
                if rc is not None:
                    self.proc = None
                    if rc == 3:       # cannot bind the port yet: retry
                        self.ledger.server_event("start-retry", f"exit 3 (port busy), attempt {attempt + 1}")
                        time.sleep(BIND_RETRY_SLEEP)
                        break
                    raise Fatal(f"wharf exited with {rc} on start #{self.starts}; log:\n{self.log_tail()}")
                if time.monotonic() > deadline:
                    self.kill(reason="did not start")
                    raise Fatal(f"wharf did not print 'listening on' within {START_TIMEOUT}s; "
                                f"log:\n{self.log_tail()}")
                time.sleep(0.005)
            else:
                self.kill(reason="did not start")
                raise Fatal(f"wharf did not print 'listening on' in time; log:\n{self.log_tail()}")
        raise Fatal(f"port {self.port} could not be bound after {BIND_RETRIES} attempts")

    def kill(self, reason="chaos"):
        if self.proc is None:
            return
        pid = self.proc.pid
        try:
            self.proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        rc = self.proc.wait(timeout=10)
        self.proc = None
        self.ledger.server_event("kill", f"{self.label()}SIGKILL pid {pid} ({reason}), rc {rc}")

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if self.proc is None:
            return None
        pid = self.proc.pid
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
            raise Fatal(f"wharf pid {pid} did not exit within {STOP_TIMEOUT}s of SIGTERM")
        self.proc = None
        self.ledger.server_event("stop", f"{self.label()}SIGTERM pid {pid}, rc {rc}")
        return rc

    def running(self):
        return self.proc is not None and self.proc.poll() is None


# ---------------------------------------------------------------------------
# what happened: every request with its start (t0) and answer (t1) time


class Delivery:
    __slots__ = ("did", "queue", "msg_id", "key", "who", "t0", "t1", "vt", "handle", "count",
                 "pos", "rid", "body_ok", "group", "counter", "seq")


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.sends = {}                 # key -> dict(queue, body, group, counter, attempts=[...])
        self.deliveries = []
        self.by_msg = collections.defaultdict(list)
        self.by_handle = {}
        self.deletes = collections.defaultdict(list)    # handle -> [dict(t0, t1, outcome, how)]
        self.cmvs = collections.defaultdict(list)       # handle -> [dict(t0, t1, v, outcome, how)]
        self.recv_fail = []             # (queue, who, t0, t1, err)
        self.server_events = []         # (t, kind, text)
        self.errors = collections.Counter()     # (op, error) -> n
        self.anomalies = []             # strings: unexpected but not failing by themselves
        self.gave_up = []               # strings: operations retried past RETRY_LIMIT
        self.backlog = collections.Counter()    # queue -> acknowledged sends - acknowledged deletes
        self._rid = itertools.count(1)

    def server_event(self, kind, text):
        with self.lock:
            self.server_events.append((now(), kind, text))

    def new_send(self, queue, key, body, group=None, counter=None):
        with self.lock:
            self.sends[key] = dict(queue=queue, body=body, group=group, counter=counter, attempts=[])

    def send_attempt(self, key, t0, t1, outcome, msg_id=None, how="single"):
        with self.lock:
            self.sends[key]["attempts"].append(dict(t0=t0, t1=t1, outcome=outcome, msg_id=msg_id, how=how))
            if outcome == "ok":
                self.backlog[self.sends[key]["queue"]] += 1

    def error(self, op, err):
        with self.lock:
            self.errors[(op, err)] += 1

    def receive(self, queue, who, t0, t1, vt, messages):
        with self.lock:
            rid = next(self._rid)
            out = []
            for pos, m in enumerate(messages):
                d = Delivery()
                d.did = len(self.deliveries)
                d.queue, d.who, d.t0, d.t1, d.vt, d.pos, d.rid = queue, who, t0, t1, vt, pos, rid
                d.msg_id = m["MessageId"]
                d.handle = m["ReceiptHandle"]
                body = m.get("Body", "")
                d.key = body.split("|", 1)[0]
                sent = self.sends.get(d.key)
                d.body_ok = sent is not None and sent["body"] == body
                attrs = m.get("Attributes", {})
                d.count = int(attrs.get("ApproximateReceiveCount", "0") or 0)
                d.group = attrs.get("MessageGroupId")
                d.seq = attrs.get("SequenceNumber")
                d.counter = sent["counter"] if sent else None
                self.deliveries.append(d)
                self.by_msg[d.msg_id].append(d)
                if d.handle in self.by_handle:
                    self.anomalies.append(f"receipt handle returned twice: {d.handle[:40]}...")
                self.by_handle[d.handle] = d
                out.append(d)
            return out

    def receive_failed(self, queue, who, t0, t1, err):
        with self.lock:
            self.recv_fail.append((queue, who, t0, t1, err))

    def delete_attempt(self, handle, t0, t1, outcome, how):
        with self.lock:
            d = self.by_handle.get(handle)
            if d and outcome == "ok" and not any(a["outcome"] == "ok" for a in self.deletes[handle]):
                self.backlog[d.queue] -= 1
            self.deletes[handle].append(dict(t0=t0, t1=t1, outcome=outcome, how=how))

    def cmv_attempt(self, handle, v, t0, t1, outcome, how):
        with self.lock:
            self.cmvs[handle].append(dict(t0=t0, t1=t1, v=v, outcome=outcome, how=how))

    def dump(self, path):
        with self.lock, open(path, "w") as f:
            for t, kind, text in self.server_events:
                f.write(json.dumps(dict(t=round(t, 4), ev="server", kind=kind, text=text)) + "\n")
            for key, s in self.sends.items():
                f.write(json.dumps(dict(ev="send", key=key, queue=s["queue"], attempts=s["attempts"])) + "\n")
            for d in self.deliveries:
                f.write(json.dumps(dict(ev="delivery", did=d.did, queue=d.queue, msg_id=d.msg_id, key=d.key,
                                        who=d.who, t0=d.t0, t1=d.t1, vt=d.vt, count=d.count, rid=d.rid,
                                        group=d.group, body_ok=d.body_ok,
                                        pos=d.pos, seq=d.seq, handle=d.handle,
                                        deletes=self.deletes.get(d.handle, []),
                                        cmvs=self.cmvs.get(d.handle, []))) + "\n")
            for q, who, t0, t1, err in self.recv_fail:
                f.write(json.dumps(dict(ev="receive-failed", queue=q, who=who, t0=t0, t1=t1, err=err)) + "\n")


# ---------------------------------------------------------------------------
# clients


def make_client(endpoint, read_timeout):
    s = botocore.session.Session()
    s.set_config_variable("config_file", os.devnull)
    s.set_config_variable("credentials_file", os.devnull)
    s.set_credentials("x", "x")
    session = boto3.session.Session(botocore_session=s, region_name=REGION)
    cfg = botocore.config.Config(
        region_name=REGION,
        retries={"total_max_attempts": 1, "mode": "standard"},   # no botocore retries
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        max_pool_connections=2,
        tcp_keepalive=False,
    )
    c = session.client("sqs", endpoint_url=endpoint, region_name=REGION, config=cfg,
                       aws_access_key_id="x", aws_secret_access_key="x")
    if c.meta.service_model.protocol != "json":
        raise Fatal("boto3 does not speak the SQS JSON protocol: " + c.meta.service_model.protocol)
    return c


class NodeSpread:
    """A worker's clients of several nodes: each request goes to its home
    node, or (CROSS_NODE_SHARE) to another one, so a message received on one
    node is often deleted or changed through another. The choice comes from
    the worker's own seeded rng."""

    def __init__(self, clients, rng):
        self.clients = clients     # the home node's first
        self.rng = rng

    def __getattr__(self, name):
        c = self.clients[0]
        if self.rng.random() < CROSS_NODE_SHARE:
            c = self.rng.choice(self.clients[1:])
        return getattr(c, name)


# When set, called as CALL_OBSERVER(fn, ok, response, t0, t1, error) after
# every request (the patroni variant measures outages with it).
CALL_OBSERVER = None


def call(fn, **kw):
    """One request, no retry. Returns (ok, response, t0, t1, error). An error
    is 'Code/HTTP' for an answer from the server, else the exception's type
    (the request's fate is unknown)."""
    out = _call(fn, **kw)
    if CALL_OBSERVER is not None:
        CALL_OBSERVER(fn, *out)
    return out


def _call(fn, **kw):
    t0 = now()
    try:
        r = fn(**kw)
        return True, r, t0, now(), None
    except ClientError as e:
        err = e.response.get("Error", {}).get("Code", "?")
        st = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return False, None, t0, now(), f"{err}/{st}"
    except Exception as e:    # connection refused/reset, timeouts, ... : fate unknown
        return False, None, t0, now(), type(e).__name__


def answered(err):
    """True if `err` is an error answer from the server (a definite outcome)."""
    return err is not None and "/" in err


class Ctx:
    def __init__(self, args, ledger, servers):
        self.args = args
        self.ledger = ledger
        self.servers = servers    # one node, or (PostgreSQL) several on one database
        self.stop_producers = threading.Event()
        self.drain = threading.Event()
        self.stop_consumers = threading.Event()
        self.abort = threading.Event()
        self.failures = []        # fatal problems found while running
        self.lock = threading.Lock()
        self.std_url = None
        self.fifo_url = None
        self.hard_deadline = None

    def rng(self, role, idx):
        return random.Random(f"{self.args.seed}/{role}/{idx}")

    def fail(self, text):
        with self.lock:
            self.failures.append(text)
        print(f"[{now():8.3f}] FAILURE: {text}", flush=True)

    def alive(self):
        return not self.abort.is_set() and time.monotonic() < self.hard_deadline


def backoff_sleep(ctx, attempt, rng):
    d = min(BACKOFF_MAX, BACKOFF_MIN * (2 ** min(attempt, 6)))
    time.sleep(d * (0.5 + rng.random() / 2))


def body_for(key, rng):
    n = rng.choice([0, 8, 40, 200, 900])
    pad = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 é✓") for _ in range(n))
    return f"{key}|{pad}"


# ---------------------------------------------------------------------------
# producers


def send_entries(ctx, client, url, entries, rng, who, fifo):
    """Send entries (dicts: key, body, group, dedup, delay) as one request and
    retry with the same entries (and dedup ids) until every entry is
    acknowledged or RETRY_LIMIT passes. Returns True if all were acknowledged."""
    led = ctx.ledger
    pending = list(entries)
    give_up_at = time.monotonic() + RETRY_LIMIT
    single = len(entries) == 1 and rng.random() < 0.6
    if "lost-send" in ctx.args.inject and not fifo and single and rng.random() < 0.05:
        # self-check of the checker: claim an acknowledgement the server never gave
        t = now()
        led.send_attempt(pending[0]["key"], t, t, "ok", f"injected-{pending[0]['key']}", "single")
        return True
    for attempt in itertools.count():
        if single:
            e = pending[0]
            kw = dict(QueueUrl=url, MessageBody=e["body"])
            if fifo:
                kw.update(MessageGroupId=e["group"], MessageDeduplicationId=e["dedup"])
            elif e.get("delay"):
                kw["DelaySeconds"] = e["delay"]
            ok, r, t0, t1, err = call(client.send_message, **kw)
            if ok:
                led.send_attempt(e["key"], t0, t1, "ok", r["MessageId"], "single")
                pending = []
            else:
                led.send_attempt(e["key"], t0, t1, err, None, "single")
                led.error("SendMessage", err)
        else:
            batch = []
            for i, e in enumerate(pending):
                be = {"Id": f"e{i}", "MessageBody": e["body"]}
                if fifo:
                    be.update(MessageGroupId=e["group"], MessageDeduplicationId=e["dedup"])
                elif e.get("delay"):
                    be["DelaySeconds"] = e["delay"]
                batch.append(be)
            ok, r, t0, t1, err = call(client.send_message_batch, QueueUrl=url, Entries=batch)
            if ok:
                done = {}
                for s in r.get("Successful", []):
                    done[int(s["Id"][1:])] = s["MessageId"]
                failed = {int(f["Id"][1:]): f for f in r.get("Failed", [])}
                rest = []
                for i, e in enumerate(pending):
                    if i in done:
                        led.send_attempt(e["key"], t0, t1, "ok", done[i], "batch")
                    else:
                        f = failed.get(i, {})
                        code = f"entry-failed:{f.get('Code', 'missing')}"
                        led.send_attempt(e["key"], t0, t1, code, None, "batch")
                        led.error("SendMessageBatch-entry", code)
                        rest.append(e)
                if rest:
                    with led.lock:
                        led.anomalies.append(f"{who}: batch send with {len(rest)} failed entries "
                                             f"({', '.join(e['key'] for e in rest)}) at t={t1:.3f}")
                pending = rest
            else:
                for e in pending:
                    led.send_attempt(e["key"], t0, t1, err, None, "batch")
                led.error("SendMessageBatch", err)
        if not pending:
            return True
        if (time.monotonic() > give_up_at or attempt >= MAX_ATTEMPTS) or ctx.abort.is_set():
            with led.lock:
                led.gave_up.append(f"{who}: send of {[e['key'] for e in pending]} not acknowledged "
                                   f"after {RETRY_LIMIT}s")
            return False
        backoff_sleep(ctx, attempt, rng)


def wait_for_backlog(ctx, queue):
    """Producers pause while the consumers are far behind, so that the drain
    at the end stays short however long the run."""
    for _ in range(600):
        if ctx.ledger.backlog[queue] < ctx.args.max_backlog or ctx.stop_producers.is_set() or not ctx.alive():
            return
        time.sleep(0.05)


def std_producer(ctx, idx, client):
    rng = ctx.rng("std-producer", idx)
    n = 0
    for _ in range(MAX_LOOPS):
        if not (ctx.alive() and not ctx.stop_producers.is_set()):
            break
        wait_for_backlog(ctx, "std")
        k = 1 if rng.random() < 0.5 else rng.randint(1, 10)
        entries = []
        for _ in range(k):
            key = f"s{idx}-{n}"
            n += 1
            body = body_for(key, rng)
            delay = rng.choice([1, 2]) if rng.random() < 0.05 else 0
            ctx.ledger.new_send("std", key, body)
            entries.append(dict(key=key, body=body, delay=delay))
        if not send_entries(ctx, client, ctx.std_url, entries, rng, f"std-producer-{idx}", fifo=False):
            ctx.fail(f"std-producer-{idx}: could not get a send acknowledged within {RETRY_LIMIT}s")
            return
        time.sleep(rng.uniform(0, ctx.args.pace))


def fifo_producer(ctx, idx, client):
    rng = ctx.rng("fifo-producer", idx)
    groups = [f"g{idx}x{j}" for j in range(ctx.args.fifo_groups_per_producer)]
    nxt = {g: 0 for g in groups}
    for _ in range(MAX_LOOPS):
        if not (ctx.alive() and not ctx.stop_producers.is_set()):
            break
        wait_for_backlog(ctx, "fifo")
        entries = []
        if rng.random() < 0.5:
            chosen = [(rng.choice(groups), 1)]
        else:
            gs = rng.sample(groups, min(len(groups), rng.choice([1, 2])))
            total = rng.randint(1, 10)
            split = rng.randint(0, total) if len(gs) == 2 else total
            chosen = [(gs[0], split)] + ([(gs[1], total - split)] if len(gs) == 2 else [])
        for g, cnt in chosen:
            for _ in range(cnt):
                c = nxt[g]
                nxt[g] += 1
                key = f"{g}:{c}"
                body = body_for(key, rng)
                ctx.ledger.new_send("fifo", key, body, group=g, counter=c)
                entries.append(dict(key=key, body=body, group=g, dedup=f"{g}-{c}"))
        if not entries:
            continue
        # counters are only sent after all lower ones of the group were acknowledged
        if not send_entries(ctx, client, ctx.fifo_url, entries, rng, f"fifo-producer-{idx}", fifo=True):
            ctx.fail(f"fifo-producer-{idx}: could not get a send acknowledged within {RETRY_LIMIT}s")
            return
        time.sleep(rng.uniform(0, ctx.args.pace))


# ---------------------------------------------------------------------------
# consumers


def delete_all(ctx, client, url, deliveries, rng, who, stop_on_failure):
    """Delete deliveries in order, singly or in one batch, retrying each until
    it is acknowledged or answered with an error (bounded). Returns True if all
    were acknowledged."""
    led = ctx.ledger
    if not deliveries:
        return True
    give_up_at = time.monotonic() + RETRY_LIMIT
    if len(deliveries) > 1 and rng.random() < 0.5:
        pending = list(deliveries)
        all_ok = True
        for attempt in itertools.count():
            entries = [{"Id": f"d{i}", "ReceiptHandle": d.handle} for i, d in enumerate(pending)]
            ok, r, t0, t1, err = call(client.delete_message_batch, QueueUrl=url, Entries=entries)
            if ok:
                okids = {int(s["Id"][1:]) for s in r.get("Successful", [])}
                failed = {int(f["Id"][1:]): f for f in r.get("Failed", [])}
                for i, d in enumerate(pending):
                    if i in okids:
                        led.delete_attempt(d.handle, t0, t1, "ok", "batch")
                    else:
                        code = failed.get(i, {}).get("Code", "missing")
                        led.delete_attempt(d.handle, t0, t1, f"entry-failed:{code}", "batch")
                        led.error("DeleteMessageBatch-entry", code)
                        all_ok = False
                return all_ok
            for d in pending:
                led.delete_attempt(d.handle, t0, t1, err, "batch")
            led.error("DeleteMessageBatch", err)
            if answered(err):
                return False
            if (time.monotonic() > give_up_at or attempt >= MAX_ATTEMPTS) or not ctx.alive():
                with led.lock:
                    led.gave_up.append(f"{who}: batch delete not acknowledged after {RETRY_LIMIT}s")
                return False
            backoff_sleep(ctx, attempt, rng)
    all_ok = True
    for d in deliveries:
        if "fake-delete" in ctx.args.inject and not ctx.drain.is_set() and rng.random() < 0.02:
            # self-check of the checker: record a delete acknowledgement without sending it
            t = now()
            led.delete_attempt(d.handle, t, t, "ok", "single")
            if stop_on_failure:
                return all_ok
            continue
        for attempt in itertools.count():
            ok, r, t0, t1, err = call(client.delete_message, QueueUrl=url, ReceiptHandle=d.handle)
            led.delete_attempt(d.handle, t0, t1, "ok" if ok else err, "single")
            if ok:
                break
            led.error("DeleteMessage", err)
            if answered(err) or (time.monotonic() > give_up_at or attempt >= MAX_ATTEMPTS) or not ctx.alive():
                if not answered(err):
                    with led.lock:
                        led.gave_up.append(f"{who}: delete not acknowledged after {RETRY_LIMIT}s")
                all_ok = False
                break
            backoff_sleep(ctx, attempt, rng)
        if not all_ok and stop_on_failure:
            return False
    return all_ok


def change_visibility(ctx, client, url, items, rng, who):
    """items: [(delivery, seconds)]; singly or as one batch; each retried until
    acknowledged or answered with an error, but never past the message's
    original visibility timeout (after that the change is moot)."""
    led = ctx.ledger
    if not items:
        return
    give_up_at = time.monotonic() + min(RETRY_LIMIT, ctx.args.visibility)
    if len(items) > 1 and rng.random() < 0.5:
        pending = list(items)
        for attempt in itertools.count():
            entries = [{"Id": f"c{i}", "ReceiptHandle": d.handle, "VisibilityTimeout": v}
                       for i, (d, v) in enumerate(pending)]
            ok, r, t0, t1, err = call(client.change_message_visibility_batch, QueueUrl=url, Entries=entries)
            if ok:
                okids = {int(s["Id"][1:]) for s in r.get("Successful", [])}
                failed = {int(f["Id"][1:]): f for f in r.get("Failed", [])}
                for i, (d, v) in enumerate(pending):
                    if i in okids:
                        led.cmv_attempt(d.handle, v, t0, t1, "ok", "batch")
                    else:
                        code = failed.get(i, {}).get("Code", "missing")
                        led.cmv_attempt(d.handle, v, t0, t1, f"entry-failed:{code}", "batch")
                        led.error("ChangeMessageVisibilityBatch-entry", code)
                return
            for d, v in pending:
                led.cmv_attempt(d.handle, v, t0, t1, err, "batch")
            led.error("ChangeMessageVisibilityBatch", err)
            if answered(err) or (time.monotonic() > give_up_at or attempt >= MAX_ATTEMPTS) or not ctx.alive():
                return
            backoff_sleep(ctx, attempt, rng)
    for d, v in items:
        for attempt in itertools.count():
            ok, r, t0, t1, err = call(client.change_message_visibility, QueueUrl=url,
                                      ReceiptHandle=d.handle, VisibilityTimeout=v)
            led.cmv_attempt(d.handle, v, t0, t1, "ok" if ok else err, "single")
            if ok:
                break
            led.error("ChangeMessageVisibility", err)
            if answered(err) or (time.monotonic() > give_up_at or attempt >= MAX_ATTEMPTS) or not ctx.alive():
                break
            backoff_sleep(ctx, attempt, rng)


def receive(ctx, client, queue, url, who, rng, drain):
    vt = ctx.args.visibility
    wait = 1 if drain else rng.choice([0, 0, 1, 2])
    n = 10 if drain else rng.randint(1, 10)
    c = client
    ok, r, t0, t1, err = call(c.receive_message, QueueUrl=url, MaxNumberOfMessages=n,
                              VisibilityTimeout=vt, WaitTimeSeconds=wait,
                              MessageSystemAttributeNames=["All"])
    if not ok:
        ctx.ledger.receive_failed(queue, who, t0, t1, err)
        ctx.ledger.error("ReceiveMessage", err)
        return None
    if "long-visibility" in ctx.args.inject and rng.random() < 0.05:
        vt += 10      # self-check of the checker: record a longer timeout than was asked for
    return ctx.ledger.receive(queue, who, t0, t1, vt, r.get("Messages", []))


def std_consumer(ctx, idx, client):
    rng = ctx.rng("std-consumer", idx)
    who = f"std-consumer-{idx}"
    vt = ctx.args.visibility
    fails = 0
    for _ in range(MAX_LOOPS):
        if not (ctx.alive() and not ctx.stop_consumers.is_set()):
            break
        drain = ctx.drain.is_set()
        got = receive(ctx, client, "std", ctx.std_url, who, rng, drain)
        if got is None:
            fails += 1
            backoff_sleep(ctx, fails, rng)
            continue
        fails = 0
        to_delete, cmv = [], []
        for d in got:
            x = rng.random()
            if drain or x < 0.72:
                to_delete.append(d)
            elif x < 0.84:
                pass                               # not deleted: comes back after the timeout
            elif x < 0.90:
                cmv.append((d, 0))                 # released now
            elif x < 0.95:
                cmv.append((d, vt + rng.randint(1, 3)))   # extended, then deleted
                to_delete.append(d)
            else:
                cmv.append((d, 1))                 # shortened
        change_visibility(ctx, client, ctx.std_url, cmv, rng, who)
        delete_all(ctx, client, ctx.std_url, to_delete, rng, who, stop_on_failure=False)


def fifo_consumer(ctx, idx, client):
    rng = ctx.rng("fifo-consumer", idx)
    who = f"fifo-consumer-{idx}"
    vt = ctx.args.visibility
    fails = 0
    for _ in range(MAX_LOOPS):
        if not (ctx.alive() and not ctx.stop_consumers.is_set()):
            break
        drain = ctx.drain.is_set()
        got = receive(ctx, client, "fifo", ctx.fifo_url, who, rng, drain)
        if got is None:
            fails += 1
            backoff_sleep(ctx, fails, rng)
            continue
        fails = 0
        blocks = collections.OrderedDict()
        for d in got:
            blocks.setdefault(d.group, []).append(d)
        for g, block in blocks.items():
            # a FIFO consumer handles a group's messages in order and stops at
            # the first one it does not delete
            x = rng.random()
            if drain or x < 0.80:
                k = len(block)
            else:
                k = rng.randrange(0, len(block))
            if not drain and rng.random() < 0.08:
                change_visibility(ctx, client, ctx.fifo_url, [(d, vt + 2) for d in block[:k]], rng, who)
            delete_all(ctx, client, ctx.fifo_url, block[:k], rng, who, stop_on_failure=True)
            if not drain and k < len(block) and x >= 0.93:
                change_visibility(ctx, client, ctx.fifo_url, [(block[k], 0)], rng, who)


# ---------------------------------------------------------------------------
# the kills


def kill_schedule(args):
    """[(seconds of uptime before the kill, seconds of downtime after it)],
    from the seed, fitted into args.duration."""
    rng = random.Random(f"{args.seed}/chaos")
    plan = []
    for _ in range(args.kills):
        r = rng.random()
        if r < 0.15:
            up = rng.uniform(0.02, 0.3)      # soon after a start: recovery of a recovery
        else:
            up = rng.uniform(0.3, 2.0)
        r = rng.random()
        down = 0.0 if r < 0.4 else (rng.uniform(0.02, 0.5) if r < 0.8 else rng.uniform(0.5, 1.5))
        plan.append([up, down])
    # fit into the duration (a start takes ~0.15 s)
    budget = max(args.kills * 0.1, args.duration - 1.0 - args.kills * 0.15)
    total = sum(u + d for u, d in plan)
    scale = budget / total
    return [(u * scale, d * scale) for u, d in plan]


def kill_targets(args, servers):
    """Which nodes each kill of the plan takes down, from the seed: with
    several nodes, one of them (85%) or all at once (15%)."""
    if len(servers) == 1:
        return [servers] * args.kills
    rng = random.Random(f"{args.seed}/chaos-nodes")
    return [servers if rng.random() < 0.15 else [rng.choice(servers)] for _ in range(args.kills)]


def check_running(servers):
    for srv in servers:
        if not srv.running():
            raise Fatal(f"wharf {srv.label()}died on its own (not killed by the test); log:\n{srv.log_tail()}")


def chaos(ctx, plan):
    """Runs in the main thread: PR_SET_PDEATHSIG fires when the *thread* that
    started the server ends, so servers are only ever started by the main
    thread, which lives until the end of the run."""
    targets = kill_targets(ctx.args, ctx.servers)
    for i, (up, down) in enumerate(plan):
        until = time.monotonic() + up
        for _ in range(int(up / 0.001) + 100):
            if time.monotonic() >= until:
                break
            if not ctx.alive():
                return
            check_running(ctx.servers)
            time.sleep(min(0.01, max(0, until - time.monotonic())))
        for srv in targets[i]:
            srv.kill(reason=f"chaos kill {i + 1}/{len(plan)}")
        time.sleep(down)
        for srv in targets[i]:
            srv.start()


# ---------------------------------------------------------------------------
# admin helpers (retried, bounded)


def admin(ctx, fn, what, limit=RETRY_LIMIT, **kw):
    rng = random.Random(0)
    end = time.monotonic() + limit
    for attempt in itertools.count():
        ok, r, t0, t1, err = call(fn, **kw)
        if ok:
            return r
        if answered(err) or time.monotonic() > end or attempt >= MAX_ATTEMPTS or ctx.abort.is_set():
            raise Fatal(f"{what} failed: {err}")
        backoff_sleep(ctx, attempt, rng)


def queue_counts(ctx, client, url):
    r = admin(ctx, client.get_queue_attributes, "GetQueueAttributes", QueueUrl=url,
              AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                              "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return (int(r["ApproximateNumberOfMessages"]), int(r["ApproximateNumberOfMessagesNotVisible"]),
            int(r["ApproximateNumberOfMessagesDelayed"]))


# ---------------------------------------------------------------------------
# the checks


def earliest_expiry(led, d, before):
    """Earliest moment the visibility of delivery d can have ended, given every
    ChangeMessageVisibility attempted on its handle before `before` (applied or
    not: whichever applied, the deadline is no earlier than this)."""
    e = d.t0 + d.vt
    for c in led.cmvs.get(d.handle, ()):
        if c["t0"] < before:
            e = min(e, c["t0"] + c["v"])
    return e


def first_ack(attempts):
    ts = [a["t1"] for a in attempts if a["outcome"] == "ok"]
    return min(ts) if ts else None


class Analysis:
    def __init__(self, led, args):
        self.led = led
        self.args = args
        self.margin = args.margin
        self.violations = collections.defaultdict(list)   # kind -> [(msg_id or key, text)]
        self.info = collections.defaultdict(list)
        self.counts = {}

    def v(self, kind, ref, text):
        self.violations[kind].append((ref, text))

    def run(self):
        for queue in ("std", "fifo"):
            self.counts[queue] = self.check_queue(queue)
        self.check_fifo_order()
        return self

    def check_queue(self, queue):
        led = self.led
        m = self.margin
        sends = {k: s for k, s in led.sends.items() if s["queue"] == queue}
        dels = [d for d in led.deliveries if d.queue == queue]
        c = collections.OrderedDict()
        c["sent attempts (entries)"] = sum(len(s["attempts"]) for s in sends.values())
        c["send messages (logical)"] = len(sends)
        acked = {k: s for k, s in sends.items() if any(a["outcome"] == "ok" for a in s["attempts"])}
        c["acknowledged sends"] = len(acked)
        c["sends never acknowledged"] = len(sends) - len(acked)
        delivered_ids = {d.msg_id for d in dels}
        c["deliveries (total)"] = len(dels)
        c["delivered (distinct message ids)"] = len(delivered_ids)
        c["redeliveries (same message id again)"] = len(dels) - len(delivered_ids)
        ids_per_key = collections.defaultdict(set)
        for d in dels:
            ids_per_key[d.key].add(d.msg_id)
        for k, s in sends.items():
            for a in s["attempts"]:
                if a["msg_id"]:
                    ids_per_key[k].add(a["msg_id"])
        extra = sum(len(v) - 1 for k, v in ids_per_key.items() if len(v) > 1)
        c["duplicate messages (extra ids per sent body)"] = extra
        # coverage: how often the interesting crash windows were actually hit
        c["sends retried after a lost answer (coverage)"] = sum(
            1 for s in sends.values()
            if any(a["outcome"] not in ("ok", "EndpointConnectionError") and not answered(a["outcome"])
                   for a in s["attempts"][:-1]))
        kills = sorted(t for t, kind, _ in led.server_events if kind == "kill")
        inflight_at_kill = 0
        for d in dels:
            i = bisect.bisect_right(kills, d.t1)
            if i < len(kills):
                acks = [a["t1"] for a in led.deletes.get(d.handle, ()) if a["outcome"] == "ok"]
                end = min([earliest_expiry(led, d, kills[i])] + acks)
                if kills[i] < end:
                    inflight_at_kill += 1
        c["deliveries still in flight at a kill (coverage)"] = inflight_at_kill

        # every delivery must be a message somebody sent, with its body intact
        for d in dels:
            if d.key not in sends:
                self.v("phantom or corrupt", d.msg_id, f"delivered body of unknown origin (key {d.key!r})")
            elif not d.body_ok:
                self.v("phantom or corrupt", d.msg_id, f"body of {d.key} differs from what was sent")
        # lost: an acknowledged MessageId never delivered
        lost = 0
        for k, s in acked.items():
            for a in s["attempts"]:
                if a["outcome"] == "ok" and a["msg_id"] not in delivered_ids:
                    lost += 1
                    self.v("lost", a["msg_id"], f"{queue} {k}: send acknowledged at t={a['t1']:.3f} "
                           f"with MessageId {a['msg_id']}, never delivered")
        c["lost (acknowledged, never delivered)"] = lost
        if queue == "fifo":
            dup = 0
            for k, ids in ids_per_key.items():
                if len(ids) > 1:
                    dup += 1
                    self.v("fifo duplicate", k, f"dedup id {k.replace(':', '-')} produced {len(ids)} messages: "
                           + ", ".join(sorted(ids)))
            c["FIFO dedup ids with more than one message"] = dup

        # visibility overlap and redelivery after an acknowledged delete
        overlap = 0
        after_delete = 0
        ambiguous = 0
        count_back = 0
        for msg_id in delivered_ids:
            ds = sorted(led.by_msg[msg_id], key=lambda d: (d.t0, d.t1))
            for j in range(1, len(ds)):
                b = ds[j]
                for i in range(j):
                    a = ds[i]
                    if b.t0 > a.t1:        # a's receive surely came first
                        if b.t1 + m < earliest_expiry(led, a, b.t1):
                            overlap += 1
                            self.v("visibility overlap", msg_id,
                                   f"delivery #{b.did} ({b.who}, answered t={b.t1:.3f}) while delivery "
                                   f"#{a.did} ({a.who}) was invisible until at least "
                                   f"t={earliest_expiry(led, a, b.t1):.3f}")
                    elif (b.t1 + m < earliest_expiry(led, a, b.t1)
                          and a.t1 + m < earliest_expiry(led, b, a.t1)):
                        overlap += 1
                        self.v("visibility overlap", msg_id,
                               f"deliveries #{a.did} ({a.who}) and #{b.did} ({b.who}) by concurrent receives, "
                               f"both answered before either could have expired")
                    if a.count and b.count and b.t0 > a.t1 and b.count <= a.count:
                        count_back += 1
                        with led.lock:
                            led.anomalies.append(f"{msg_id}: ApproximateReceiveCount went from {a.count} "
                                                 f"(delivery #{a.did}) to {b.count} (delivery #{b.did})")
            for a in ds:
                t_ack = first_ack(led.deletes.get(a.handle, ()))
                if t_ack is None:
                    continue
                later = [b for b in ds if b.t0 > t_ack]
                if not later:
                    continue
                known_after = {b.count for b in later}
                for b in later:
                    reason = None
                    if t_ack + m < earliest_expiry(led, a, t_ack):
                        reason = (f"the delete was acknowledged at t={t_ack:.3f}, before the handle's "
                                  f"visibility could end (t={earliest_expiry(led, a, t_ack):.3f}), so the "
                                  f"handle was the current one")
                    elif a.count and b.count and b.count <= a.count:
                        reason = (f"receive count {b.count} <= {a.count}: the server forgot the "
                                  f"acknowledged receive")
                    elif a.count and b.count and all(x in known_after for x in range(a.count + 1, b.count)):
                        reason = (f"receive counts {a.count} -> {b.count}: every receive in between "
                                  f"started after the delete was acknowledged, so the handle was current")
                    if reason:
                        after_delete += 1
                        self.v("delivered after acknowledged delete", msg_id,
                               f"delivery #{b.did} ({b.who}, receive sent t={b.t0:.3f}) after delete of "
                               f"delivery #{a.did}'s handle was acknowledged at t={t_ack:.3f}; {reason}")
                    else:
                        ambiguous += 1
                        self.info["redelivered after a delete whose handle may have been stale"].append(
                            (msg_id, f"delivery #{b.did} after delete of #{a.did} acked t={t_ack:.3f}"))
                    break   # one finding per acknowledged delete
        # an error answer to a delete or visibility change of a handle that was
        # certainly still the message's current, in-flight handle
        inflight_err = 0
        for d in dels:
            acked_before = None
            for a in sorted(led.deletes.get(d.handle, ()), key=lambda a: a["t0"]):
                if answered(a["outcome"]) or a["outcome"].startswith("entry-failed"):
                    if (acked_before is None or acked_before > a["t0"]) and \
                            a["t1"] + m < earliest_expiry(led, d, a["t0"]):
                        inflight_err += 1
                        with led.lock:
                            led.anomalies.append(f"{d.msg_id}: delete of in-flight delivery #{d.did} "
                                                 f"answered {a['outcome']} at t={a['t1']:.3f}")
                if a["outcome"] == "ok" and acked_before is None:
                    acked_before = a["t1"]
            for a in led.cmvs.get(d.handle, ()):
                if (answered(a["outcome"]) or a["outcome"].startswith("entry-failed")) and \
                        a["t1"] + m < earliest_expiry(led, d, a["t0"]):
                    dacks = [x["t1"] for x in led.deletes.get(d.handle, ()) if x["outcome"] == "ok"]
                    if not dacks or min(dacks) > a["t0"]:
                        inflight_err += 1
                        with led.lock:
                            led.anomalies.append(f"{d.msg_id}: change visibility of in-flight delivery "
                                                 f"#{d.did} answered {a['outcome']} at t={a['t1']:.3f}")
        c["error answers for handles still in flight (anomaly)"] = inflight_err
        c["deleted-acknowledged-then-redelivered"] = after_delete
        c["  (redelivered after delete with possibly stale handle: allowed)"] = ambiguous
        c["overlapping visibility violations"] = overlap
        c["receive count went backwards (anomaly)"] = count_back
        return c

    def check_fifo_order(self):
        led = self.led
        dels = [d for d in led.deliveries if d.queue == "fifo" and d.counter is not None]
        groups = collections.defaultdict(list)
        for d in dels:
            g = led.sends[d.key]["group"]
            groups[g].append(d)
        violations = 0
        for g, ds in sorted(groups.items()):
            # the earliest moment each counter may have been deleted (a delete attempt started)
            first_del = {}
            for d in ds:
                for a in led.deletes.get(d.handle, ()):
                    if d.counter not in first_del or a["t0"] < first_del[d.counter]:
                        first_del[d.counter] = a["t0"]
            maxc = max(d.counter for d in ds)
            # prefix[f] = latest "first delete attempt" among counters < f (inf if one never had one)
            prefix = [0.0] * (maxc + 2)
            run, missing = 0.0, None
            for f in range(maxc + 1):
                prefix[f] = float("inf") if missing is not None else run
                if f in first_del:
                    run = max(run, first_del[f])
                elif missing is None:
                    missing = f
            blocks = collections.defaultdict(list)
            for d in ds:
                blocks[d.rid].append(d)
            seqs = {}
            for rid, blk in sorted(blocks.items(), key=lambda kv: (kv[1][0].t1, kv[0])):
                blk.sort(key=lambda d: d.pos)
                cs = [d.counter for d in blk]
                t1 = blk[0].t1
                if any(cs[i + 1] <= cs[i] for i in range(len(cs) - 1)):
                    violations += 1
                    self.v("fifo order", blk[0].msg_id,
                           f"group {g}: one receive ({blk[0].who}, t={t1:.3f}) returned counters {cs}")
                    continue
                # every counter below one delivered here, and not delivered here
                # itself, must have been deleted (at least a delete attempted)
                # before this answer: otherwise it was skipped
                f = cs[0]
                skipped = None
                if prefix[f] >= t1:
                    skipped = (next((k for k in range(f) if first_del.get(k, float("inf")) >= t1), None), f)
                for lo, hi in zip(cs, cs[1:]):
                    if skipped:
                        break
                    for k in range(lo + 1, hi):
                        if first_del.get(k, float("inf")) >= t1:
                            skipped = (k, hi)
                            break
                if skipped:
                    k, c = skipped
                    d = next(d for d in blk if d.counter == c)
                    violations += 1
                    self.v("fifo order", d.msg_id,
                           f"group {g}: counter {c} delivered (#{d.did}, {d.who}, receive answered "
                           f"t={t1:.3f}, counters {cs}) while counter {k} had not been deleted (no delete "
                           f"of it attempted before that answer)")
                for d in blk:
                    if d.seq:
                        seqs.setdefault(d.counter, d.seq)
            ordered = sorted(seqs.items())
            for (c1, s1), (c2, s2) in zip(ordered, ordered[1:]):
                if int(s2) <= int(s1):
                    violations += 1
                    self.v("fifo order", f"{g}:{c2}",
                           f"group {g}: SequenceNumber of counter {c2} ({s2}) not above counter {c1} ({s1})")
        self.counts["fifo"]["FIFO order violations"] = violations

    # --- reporting ---------------------------------------------------------
    def timeline(self, ref, limit=60):
        """Every recorded event about a message id (or FIFO key)."""
        led = self.led
        ids, keys = set(), set()
        if ref in led.by_msg:
            ids.add(ref)
            keys.update(d.key for d in led.by_msg[ref])
        if ref in led.sends:
            keys.add(ref)
        for k, s in led.sends.items():
            if any(a["msg_id"] == ref for a in s["attempts"]):
                keys.add(k)
                ids.add(ref)
        for k in list(keys):
            for a in led.sends.get(k, {}).get("attempts", []):
                if a["msg_id"]:
                    ids.add(a["msg_id"])
        for k, s in led.sends.items():
            if any(a["msg_id"] in ids for a in s["attempts"]):
                keys.add(k)
        ev = []
        for k in keys:
            for a in led.sends[k]["attempts"]:
                ev.append((a["t0"], f"send {k} ({a['how']}) sent"))
                ev.append((a["t1"], f"send {k} ({a['how']}) -> {a['outcome']}"
                           + (f" MessageId {a['msg_id']}" if a["msg_id"] else "")))
        for i in ids:
            for d in led.by_msg.get(i, ()):
                ev.append((d.t0, f"receive by {d.who} sent (vt {d.vt}s)"))
                ev.append((d.t1, f"delivery #{d.did} of {i} to {d.who}: count {d.count}, rid {d.rid} pos {d.pos}"
                           + (f", seq {d.seq}" if d.seq else "") + f", handle ..{d.handle[-12:]}"))
                for a in led.deletes.get(d.handle, ()):
                    ev.append((a["t0"], f"delete #{d.did} ({a['how']}) sent by handle ..{d.handle[-12:]}"))
                    ev.append((a["t1"], f"delete #{d.did} ({a['how']}) -> {a['outcome']}"))
                for a in led.cmvs.get(d.handle, ()):
                    ev.append((a["t0"], f"change visibility #{d.did} to {a['v']}s ({a['how']}) sent"))
                    ev.append((a["t1"], f"change visibility #{d.did} to {a['v']}s -> {a['outcome']}"))
        if ev:
            lo, hi = min(t for t, _ in ev) - 0.5, max(t for t, _ in ev) + 0.5
            for t, kind, text in led.server_events:
                if lo <= t <= hi:
                    ev.append((t, f"SERVER {kind}: {text}"))
        ev.sort(key=lambda e: e[0])
        if len(ev) > limit:
            ev = ev[:limit // 2] + [(ev[limit // 2][0], f"... {len(ev) - limit} events left out ...")] + ev[-limit // 2:]
        return "\n".join(f"      t={t:9.3f}  {text}" for t, text in ev)


def load_ledger(path):
    """A Ledger rebuilt from a kept run's events.jsonl (for --analyze)."""
    led = Ledger()
    for line in open(path):
        e = json.loads(line)
        if e["ev"] == "server":
            led.server_events.append((e["t"], e["kind"], e["text"]))
        elif e["ev"] == "send":
            key = e["key"]
            group, _, counter = key.rpartition(":") if e["queue"] == "fifo" else (None, None, None)
            led.sends[key] = dict(queue=e["queue"], body=None, group=group or None,
                                  counter=int(counter) if counter else None, attempts=e["attempts"])
        elif e["ev"] == "delivery":
            d = Delivery()
            for f in ("did", "queue", "msg_id", "key", "who", "t0", "t1", "vt", "handle", "count", "pos",
                      "rid", "seq"):
                setattr(d, f, e[f])
            d.group = e.get("group")
            d.body_ok = e.get("body_ok", True)
            sent = led.sends.get(d.key)
            d.counter = sent["counter"] if sent else None
            led.deliveries.append(d)
            led.by_msg[d.msg_id].append(d)
            led.by_handle[d.handle] = d
            led.deletes[d.handle] = e["deletes"]
            led.cmvs[d.handle] = e["cmvs"]
        elif e["ev"] == "receive-failed":
            led.recv_fail.append((e["queue"], e["who"], e["t0"], e["t1"], e["err"]))
    led.deliveries.sort(key=lambda d: d.did)
    return led


def analyze_file(args):
    led = load_ledger(args.analyze)
    an = Analysis(led, args).run()
    for q in ("std", "fifo"):
        print(f"  [{q} queue]")
        for k, val in an.counts[q].items():
            print(f"    {k:<60} {val}")
    for kind, items in an.violations.items():
        print(f"  {kind}: {len(items)}")
        for ref, text in items[:args.show]:
            print(f"    - {ref}: {text}")
            print("      timeline:")
            print(an.timeline(ref))
    print(f"  => {'FAIL' if an.violations else 'PASS'} ({args.analyze})")
    return 1 if an.violations else 0


# ---------------------------------------------------------------------------
# the checker's own test: synthetic histories with known verdicts


def self_test():
    """Each violation kind must be found in a history made to contain it, and
    the allowed patterns (stale handles, expiry, release by
    ChangeMessageVisibility 0, FIFO redelivery of an undeleted message) must
    not be reported. Returns a list of problems (empty: the checker works)."""
    problems = []
    ran = []

    def msg(mid, key, handle, count, group=None, seq=None):
        a = {"ApproximateReceiveCount": str(count)}
        if group:
            a["MessageGroupId"] = group
            a["SequenceNumber"] = seq or "1"
        return {"MessageId": mid, "ReceiptHandle": handle, "Body": key + "|", "Attributes": a}

    def case(name, build, expect):
        ran.append(name)
        led = Ledger()
        build(led)
        an = Analysis(led, argparse.Namespace(margin=0.2)).run()
        got = {k for k, v in an.violations.items() if v}
        if got != set(expect):
            problems.append(f"self-test {name}: expected {sorted(expect)}, found {sorted(got)} "
                            f"{dict(an.violations)}")

    def send(led, key, mid, t=0.0, queue="std", group=None, counter=None):
        led.new_send(queue, key, key + "|", group=group, counter=counter)
        led.send_attempt(key, t, t + 0.01, "ok", mid)

    def clean(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.delete_attempt("h1", 1.02, 1.03, "ok", "single")
    case("clean", clean, [])

    def lost(led):
        send(led, "k1", "m1")
        send(led, "k2", "m2")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
    case("lost", lost, ["lost"])

    def resurrected(led):
        clean(led)
        led.receive("std", "c2", 5.0, 5.01, 3, [msg("m1", "k1", "h2", 2)])
    case("delete acknowledged, then delivered", resurrected, ["delivered after acknowledged delete"])

    def stale(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.delete_attempt("h1", 4.5, 4.6, "ok", "single")      # after the timeout: maybe stale
        led.receive("std", "c2", 6.0, 6.01, 3, [msg("m1", "k1", "h3", 3)])   # count 2 unseen
    case("late delete, handle possibly stale", stale, [])

    def stale_but_counts(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.delete_attempt("h1", 4.5, 4.6, "ok", "single")
        led.receive("std", "c2", 6.0, 6.01, 3, [msg("m1", "k1", "h2", 2)])
    case("late delete, receive counts prove the handle current", stale_but_counts,
         ["delivered after acknowledged delete"])

    def overlap(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.receive("std", "c2", 2.0, 2.01, 3, [msg("m1", "k1", "h2", 2)])
        led.delete_attempt("h2", 2.02, 2.03, "ok", "single")
    case("overlapping visibility", overlap, ["visibility overlap"])

    def released(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.cmv_attempt("h1", 0, 1.5, 1.51, "ConnectionClosedError", "single")   # fate unknown
        led.receive("std", "c2", 1.6, 1.61, 3, [msg("m1", "k1", "h2", 2)])
        led.delete_attempt("h2", 1.62, 1.63, "ok", "single")
    case("released by ChangeMessageVisibility 0", released, [])

    def expired(led):
        send(led, "k1", "m1")
        led.receive("std", "c1", 1.0, 1.01, 3, [msg("m1", "k1", "h1", 1)])
        led.receive("std", "c2", 4.0, 4.01, 3, [msg("m1", "k1", "h2", 2)])   # within the margin
        led.delete_attempt("h2", 4.02, 4.03, "ok", "single")
    case("redelivered after expiry", expired, [])

    def fifo_sends(led, n, g="g"):
        for c in range(n):
            send(led, f"{g}:{c}", f"f{c}", queue="fifo", group=g, counter=c)

    def fifo_recv(led, t, counters, counts=None, g="g"):
        ms = [msg(f"f{c}", f"{g}:{c}", f"fh{c}-{t}", (counts or {}).get(c, 1), group=g, seq=str(100 + c))
              for c in counters]
        return led.receive("fifo", "fc", t, t + 0.01, 3, ms)

    def fifo_good(led):
        fifo_sends(led, 3)
        fifo_recv(led, 1.0, [0, 1, 2])
        led.delete_attempt("fh0-1.0", 1.02, 1.03, "ok", "single")      # 1 and 2 not deleted
        fifo_recv(led, 4.1, [1, 2], {1: 2, 2: 2})
        led.delete_attempt("fh1-4.1", 4.12, 4.13, "ok", "single")
        led.delete_attempt("fh2-4.1", 4.14, 4.15, "ok", "single")
    case("FIFO in order, undeleted tail delivered again", fifo_good, [])

    def fifo_skip(led):
        fifo_sends(led, 3)
        fifo_recv(led, 1.0, [0])
        led.delete_attempt("fh0-1.0", 1.02, 1.03, "ok", "single")
        fifo_recv(led, 1.1, [2])
        fifo_recv(led, 1.2, [1])
        for h in ("fh2-1.1", "fh1-1.2"):
            led.delete_attempt(h, 1.3, 1.31, "ok", "single")
    case("FIFO group out of order", fifo_skip, ["fifo order"])

    def fifo_gap(led):
        fifo_sends(led, 3)
        fifo_recv(led, 1.0, [0, 2, 1])
        for c in range(3):
            led.delete_attempt(f"fh{c}-1.0", 1.02, 1.03, "ok", "single")
    case("FIFO receive not consecutive", fifo_gap, ["fifo order"])

    def fifo_gap_deleted(led):
        # a late consumer deletes 2 and 3 with handles still current while 0 and 1 come back
        fifo_sends(led, 5)
        fifo_recv(led, 1.0, [0, 1, 2, 3])
        for c in (2, 3):
            led.delete_attempt(f"fh{c}-1.0", 4.2, 4.21, "ok", "single")
        fifo_recv(led, 4.5, [0, 1, 4], {0: 2, 1: 2})
        for c in (0, 1, 4):
            led.delete_attempt(f"fh{c}-4.5", 4.6, 4.61, "ok", "single")
    case("FIFO receive skips counters deleted before it", fifo_gap_deleted, [])

    def fifo_gap_skipped(led):
        fifo_sends(led, 4)
        fifo_recv(led, 1.0, [0, 1])
        led.delete_attempt("fh0-1.0", 1.1, 1.11, "ok", "single")
        fifo_recv(led, 4.5, [1, 3], {1: 2})
        for c in (1, 3):
            led.delete_attempt(f"fh{c}-4.5", 4.6, 4.61, "ok", "single")
    case("FIFO receive skips an undeleted counter", fifo_gap_skipped, ["fifo order", "lost"])

    def fifo_dup(led):
        fifo_sends(led, 1)
        led.send_attempt("g:0", 0.5, 0.51, "ok", "other-id")
        fifo_recv(led, 1.0, [0])
        led.delete_attempt("fh0-1.0", 1.02, 1.03, "ok", "single")
    case("FIFO dedup broken", fifo_dup, ["fifo duplicate", "lost"])

    def fifo_twice(led):
        fifo_sends(led, 1)
        fifo_recv(led, 1.0, [0])
        led.delete_attempt("fh0-1.0", 1.02, 1.03, "ok", "single")
        fifo_recv(led, 5.0, [0], {0: 2})
    case("FIFO delivered after acknowledged delete", fifo_twice, ["delivered after acknowledged delete"])
    return len(ran), problems


# ---------------------------------------------------------------------------
# one run


PG_CLUSTER_SH = os.path.join(REPO, "tests", "pg", "cluster.sh")


class PgCluster:
    """A throwaway PostgreSQL (tests/pg/cluster.sh) in its own directory. Only
    wharf nodes are killed, never the database, so the cluster runs with
    fsync=off: a write it acknowledged survives every kill of this test."""

    def __init__(self):
        # short: the Unix socket's path must fit in 107 bytes
        self.dir = tempfile.mkdtemp(prefix="pgc-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.url = None

    def start(self):
        """The database's URL; None and why when PostgreSQL is not installed."""
        env = dict(os.environ, WHARF_TEST_POSTGRES_SETTINGS="fsync=off")
        out = subprocess.run([PG_CLUSTER_SH, "start", self.dir], capture_output=True, text=True,
                             timeout=120, env=env)
        if out.returncode == 3:
            return None, out.stderr.strip() or "PostgreSQL is not installed"
        if out.returncode != 0:
            raise Fatal(f"tests/pg/cluster.sh start failed ({out.returncode}): {out.stderr}")
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("WHARF_TEST_POSTGRES_URL=")]
        self.url = lines[-1].split("=", 1)[1]
        return self.url, None

    def stop(self):
        if self.url:
            subprocess.run([PG_CLUSTER_SH, "stop", self.dir], capture_output=True, timeout=120)
            self.url = None
        shutil.rmtree(self.dir, ignore_errors=True)


def run_postgresql_variant(args, binary):
    """Two (--pg-nodes) wharf nodes on one throwaway PostgreSQL; None when
    PostgreSQL or the PostgreSQL build of wharf is missing (skipped)."""
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    except Exception:
        out = ""
    if "--postgres-url" not in out:
        print("\n=== variant postgresql: SKIPPED: this wharf has no --storage postgresql "
              "(build with -DWHARF_POSTGRESQL=ON) ===", flush=True)
        return None
    cluster = PgCluster()
    try:
        try:
            url, why = cluster.start()
        except (Fatal, subprocess.TimeoutExpired) as e:
            print(f"\n=== variant postgresql: FAIL: no database: {e} ===", flush=True)
            return False
        if url is None:
            print(f"\n=== variant postgresql: SKIPPED: {why} ===", flush=True)
            return None
        return run_variant(args, binary, "postgresql", [], pg_url=url, nodes=args.pg_nodes)
    finally:
        cluster.stop()


def supports_durability(binary):
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    except Exception:
        return False
    return "--durability" in out


def run_variant(args, binary, variant, extra_args, pg_url=None, nodes=1, disrupt=None, fifo=None,
                report=None):
    """One run. With pg_url: `nodes` wharf nodes on that PostgreSQL database,
    clients spread over them, and the standard queue only (unless --pg-fifo
    or `fifo`). `disrupt(ctx)`, when given, replaces the kills of wharf nodes:
    it runs in the main thread during the load, returns (seconds it may take,
    a function doing it that returns how many disruptions it made), and
    `report(ctx)` then prints its own results and returns failures."""
    what = f"{args.kills} kills in ~{args.duration:.0f}s" if disrupt is None else "database failovers"
    print(f"\n=== variant {variant}: seed {args.seed}, {what}, "
          f"wharf {' '.join(extra_args) or '(default options)'}"
          f"{f', {nodes} nodes on PostgreSQL' if pg_url else ''} ===", flush=True)
    run_dir = tempfile.mkdtemp(prefix=f"wharf-crash-{variant}-")
    led = Ledger()
    servers = [Server(binary, run_dir, free_port(), extra_args, led,
                      name=f"node{k}" if nodes > 1 else "", pg_url=pg_url) for k in range(nodes)]
    srv = servers[0]
    with_fifo = pg_url is None or args.pg_fifo if fifo is None else fifo
    ctx = Ctx(args, led, servers)
    load_seconds, disrupt_run = disrupt(ctx) if disrupt else (args.duration, None)
    ctx.hard_deadline = time.monotonic() + load_seconds + 2 * RETRY_LIMIT + args.drain_timeout + 60
    t_start = now()
    threads = []
    ok = False
    try:
        for s_ in servers:
            s_.start()
            print(f"[{now():8.3f}] wharf {s_.label()}on {s_.endpoint}, "
                  f"{'PostgreSQL ' + pg_url if pg_url else 'data dir ' + s_.data_dir}", flush=True)
        admin_client = make_client(srv.endpoint, READ_TIMEOUT_EXTRA + 2)
        vt = str(args.visibility)
        ctx.std_url = admin(ctx, admin_client.create_queue, "CreateQueue", QueueName=STD_QUEUE,
                            Attributes={"VisibilityTimeout": vt})["QueueUrl"]
        if with_fifo:
            ctx.fifo_url = admin(ctx, admin_client.create_queue, "CreateQueue", QueueName=FIFO_QUEUE,
                                 Attributes={"VisibilityTimeout": vt, "FifoQueue": "true"})["QueueUrl"]
        urls = [("std", ctx.std_url)] + ([("fifo", ctx.fifo_url)] if with_fifo else [])
        rt = 2 + READ_TIMEOUT_EXTRA
        roles = ([(std_producer, i) for i in range(args.std_producers)]
                 + [(fifo_producer, i) for i in range(args.fifo_producers if with_fifo else 0)])
        consumers = ([(std_consumer, i) for i in range(args.std_consumers)]
                     + [(fifo_consumer, i) for i in range(args.fifo_consumers if with_fifo else 0)])
        # clients are made here: botocore's loaders are not meant to be shared while creating;
        # with several nodes, the producers and the consumers each go round the nodes (a queue
        # URL names a queue, not a node: every node serves every queue of the database)
        prod_threads, cons_threads = [], []
        for k, (fn, i) in enumerate(roles + consumers):
            j = k if k < len(roles) else k - len(roles)
            if len(servers) == 1:
                cl = make_client(srv.endpoint, rt)
            else:
                home = j % len(servers)
                cl = NodeSpread([make_client(s_.endpoint, rt) for s_ in servers[home:] + servers[:home]],
                                ctx.rng("node-spread", k))

            def body(fn=fn, i=i, cl=cl):
                try:
                    fn(ctx, i, cl)
                except Exception:
                    ctx.fail(f"{fn.__name__}-{i} crashed:\n{traceback.format_exc()}")
                    ctx.abort.set()
            t = threading.Thread(target=body, name=f"{fn.__name__}-{i}", daemon=True)
            (prod_threads if (fn, i) in roles else cons_threads).append(t)
        plan = kill_schedule(args)
        threads = prod_threads + cons_threads
        for t in threads:
            t.start()
        if disrupt_run:
            kills = disrupt_run()
        else:
            chaos(ctx, plan)
            kills = sum(1 for e in led.server_events if e[1] == "kill")
        print(f"[{now():8.3f}] {kills} {'kills' if disrupt_run is None else 'disruptions'} done; "
              "stopping producers", flush=True)
        for s_ in servers:
            if not s_.running() and not ctx.abort.is_set():
                s_.start()

        # producers finish their current (retried) send and stop
        ctx.stop_producers.set()
        for t in prod_threads:
            t.join(timeout=RETRY_LIMIT + 15)
            if t.is_alive():
                ctx.fail(f"{t.name} did not stop")
        # consumers delete everything until both queues stay empty
        ctx.drain.set()
        print(f"[{now():8.3f}] draining", flush=True)
        drain_end = time.monotonic() + args.drain_timeout
        empty_since = None
        last = None
        for _ in range(int(args.drain_timeout / 0.3) + 100):
            if ctx.abort.is_set():
                break
            check_running(servers)
            last = tuple(queue_counts(ctx, admin_client, url) for _, url in urls)
            if all(x == 0 for q in last for x in q):
                if empty_since is None:
                    empty_since = time.monotonic()
                elif time.monotonic() - empty_since >= 1.5:
                    break
            else:
                empty_since = None
            if time.monotonic() > drain_end:
                ctx.fail(f"queues not empty after {args.drain_timeout}s of draining: "
                         "(visible, in flight, delayed) = "
                         + ", ".join(f"{q} {c}" for (q, _), c in zip(urls, last)))
                break
            time.sleep(0.3)
        ctx.stop_consumers.set()
        for t in cons_threads:
            t.join(timeout=RETRY_LIMIT + 15)
            if t.is_alive():
                ctx.fail(f"{t.name} did not stop")
        print(f"[{now():8.3f}] drained ({', '.join(q for q, _ in urls)} counts {last}); "
              f"final kill -9 and restart", flush=True)

        # the queues stay empty across one more crash (of every node)
        if not ctx.abort.is_set():
            for s_ in servers:
                s_.kill(reason="final")
            for s_ in servers:
                s_.start()
            checkers = [make_client(s_.endpoint, READ_TIMEOUT_EXTRA + 2) for s_ in servers]
            admin_client = checkers[0]
            after = tuple(queue_counts(ctx, admin_client, url) for _, url in urls)
            end = time.monotonic() + args.visibility + 2.5
            seen = 0
            for n_ in range(200):
                if time.monotonic() > end:
                    break
                checker = checkers[n_ % len(checkers)]
                for q, url in urls:
                    ok_, r, t0, t1, err = call(checker.receive_message, QueueUrl=url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=1, VisibilityTimeout=args.visibility,
                                               MessageSystemAttributeNames=["All"])
                    if ok_ and r.get("Messages"):
                        got = led.receive(q, "final-check", t0, t1, args.visibility, r["Messages"])
                        seen += len(got)
            after2 = tuple(queue_counts(ctx, admin_client, url) for _, url in urls)
            if seen or any(x for q in after + after2 for x in q):
                ctx.fail(f"queues not empty after the final restart: counts {after} then {after2}, "
                         f"{seen} messages received")
            for s_ in servers:
                rc = s_.stop()
                if rc != 0:
                    ctx.fail(f"wharf {s_.label()}exited with {rc} on SIGTERM; log:\n{s_.log_tail()}")
        ok = True
    except Fatal as e:
        ctx.fail(str(e))
        ctx.abort.set()
    finally:
        if not ok:
            ctx.abort.set()
        ctx.stop_producers.set()
        ctx.stop_consumers.set()
        for t in threads:
            t.join(timeout=5)
        for s_ in servers:
            if s_.running():
                s_.kill(reason="cleanup")

    elapsed = now() - t_start
    an = Analysis(led, args).run()
    kills = sum(1 for e in led.server_events if e[1] == "kill" and "chaos" in e[2])
    print(f"\n--- results: variant {variant}, seed {args.seed}, {elapsed:.1f}s ---")
    starts = sum(s_.starts for s_ in servers)
    longest = max([t for s_ in servers for t in s_.start_times] or [0])
    print(f"  {'kills (SIGKILL during load)' if disrupt is None else 'wharf kills'}: {kills}   "
          f"restarts: {starts - len(servers)}   "
          f"longest start: {longest * 1000:.0f} ms   "
          f"starts refused (port busy, retried): {sum(1 for e in led.server_events if e[1] == 'start-retry')}")
    nrecv = sum(1 for _ in {d.rid for d in led.deliveries})
    print(f"  receives answered with messages: {nrecv}   receives failed: {len(led.recv_fail)}")
    nd = sum(len(v) for v in led.deletes.values())
    nda = sum(1 for v in led.deletes.values() for a in v if a["outcome"] == "ok")
    nc = sum(len(v) for v in led.cmvs.values())
    print(f"  delete attempts: {nd} (acknowledged {nda})   change-visibility attempts: {nc}")
    for q in ("std", "fifo") if with_fifo else ("std",):
        print(f"  [{q} queue]")
        for k, val in an.counts[q].items():
            print(f"    {k:<60} {val}")
    errs = collections.Counter()
    for (op, err), n in led.errors.items():
        if answered(err) or err.startswith("entry-failed") or op.endswith("-entry"):
            errs[(op, err)] += n
    if errs:
        print("  error answers from the server (not transport errors):")
        for (op, err), n in sorted(errs.items()):
            print(f"    {op}: {err} x{n}")
    transport = collections.Counter()
    for (op, err), n in led.errors.items():
        if not (answered(err) or err.startswith("entry-failed") or op.endswith("-entry")):
            transport[err] += n
    print("  transport errors (server down/killed): "
          + (", ".join(f"{k} x{v}" for k, v in transport.most_common()) or "none"))
    for a in led.anomalies[:10]:
        print(f"  anomaly: {a}")
    if len(led.anomalies) > 10:
        print(f"  ... {len(led.anomalies) - 10} more anomalies")
    for g in led.gave_up[:10]:
        print(f"  gave up: {g}")

    if report:
        for f in report(ctx):
            ctx.failures.append(f)
    failed = bool(ctx.failures) or bool(an.violations) or bool(led.gave_up)
    if an.violations:
        print("\n  VIOLATIONS:")
        for kind, items in an.violations.items():
            print(f"  {kind}: {len(items)}")
            for ref, text in items[:args.show]:
                print(f"    - {ref}: {text}")
                print("      timeline:")
                print(an.timeline(ref))
            if len(items) > args.show:
                print(f"    ... {len(items) - args.show} more")
    for f in ctx.failures:
        print(f"  FAILURE: {f}")
    if failed or args.keep:
        led.dump(os.path.join(run_dir, "events.jsonl"))
        print(f"  run dir kept: {run_dir} (events.jsonl, wharf.start*.log, data/)")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    if disrupt is None and kills < args.kills and not failed:
        print(f"  FAILURE: only {kills} of {args.kills} kills happened")
        failed = True
    print(f"  => {'FAIL' if failed else 'PASS'} (variant {variant}, seed {args.seed})", flush=True)
    return not failed


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1, help="seed of the kill schedule and client choices (default 1)")
    p.add_argument("--kills", type=int, default=20, help="SIGKILLs during the load phase (default 20)")
    p.add_argument("--duration", type=float, default=25.0, help="seconds of the load phase (default 25)")
    p.add_argument("--variants", default="wal,fsync,postgresql,patroni",
                   help="comma list: 'wal' runs wharf with its default options, 'fsync' adds "
                        "--durability fsync (skipped if wharf --help does not list --durability), "
                        "'postgresql' runs --pg-nodes nodes with --storage postgresql on one throwaway "
                        "PostgreSQL, standard queue only (skipped if PostgreSQL is not installed), "
                        "'patroni' runs --pg-nodes nodes on a Patroni group (deploy/patroni-group.sh) "
                        "whose primary is killed --failovers times (skipped if Patroni is not installed)")
    p.add_argument("--pg-nodes", type=int, default=2, help="wharf nodes of the postgresql variant (default 2)")
    p.add_argument("--pg-fifo", action="store_true",
                   help="the postgresql variant also runs the FIFO queue (off: FIFO on PostgreSQL is new)")
    p.add_argument("--failovers", type=int, default=3,
                   help="patroni variant: primaries killed, each after a Sync Standby is back (default 3)")
    p.add_argument("--max-outage", type=float, default=15.0,
                   help="patroni variant: fail when the clients see an outage longer than this (s)")
    p.add_argument("--visibility", type=int, default=3, help="visibility timeout of every receive (s)")
    p.add_argument("--margin", type=float, default=0.2, help="clock margin of the timing checks (s)")
    p.add_argument("--pace", type=float, default=0.06, help="max pause between a producer's sends (s)")
    p.add_argument("--std-producers", type=int, default=3)
    p.add_argument("--std-consumers", type=int, default=3)
    p.add_argument("--fifo-producers", type=int, default=2)
    p.add_argument("--fifo-consumers", type=int, default=2)
    p.add_argument("--fifo-groups-per-producer", type=int, default=3)
    p.add_argument("--drain-timeout", type=float, default=90.0,
                   help="seconds the final drain may take (default 90)")
    p.add_argument("--max-backlog", type=int, default=1500,
                   help="producers pause while a queue holds more unacknowledged-deleted messages (default 1500)")
    p.add_argument("--show", type=int, default=3, help="violations shown with a timeline, per kind")
    p.add_argument("--keep", action="store_true", help="keep the run dir (data, logs, events.jsonl)")
    p.add_argument("--inject", default="",
                   help="check the checker end to end: comma list of lost-send (claim acks never given), "
                        "fake-delete (claim delete acks never given), long-visibility (record longer "
                        "timeouts than asked); the run must then FAIL")
    p.add_argument("--self-test", action="store_true", help="only run the checker's self-test")
    p.add_argument("--analyze", metavar="EVENTS_JSONL",
                   help="only judge a kept run's events.jsonl again (after the self-test)")
    p.add_argument("--binary", default=os.environ.get("WHARF_BIN") or os.path.join(REPO, "build", "wharf"))
    args = p.parse_args()

    for flag in ("kills", "failovers", "pg_nodes", "std_producers", "std_consumers", "fifo_producers", "fifo_consumers",
                 "fifo_groups_per_producer"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1")
    args.inject = {x.strip() for x in args.inject.split(",") if x.strip()}
    bad = args.inject - {"lost-send", "fake-delete", "long-visibility"}
    if bad:
        p.error(f"unknown --inject {sorted(bad)}")
    ncases, problems = self_test()
    for pr in problems:
        print(pr)
    if problems:
        print("FAIL: the checker's self-test failed")
        return 1
    print(f"checker self-test: {ncases} synthetic histories judged as expected")
    if args.self_test:
        return 0
    if args.analyze:
        return analyze_file(args)
    if not (os.path.isfile(args.binary) and os.access(args.binary, os.X_OK)):
        print(f"wharf binary not found: {args.binary} (build it or set WHARF_BIN)", file=sys.stderr)
        return 2
    # run a private copy: the binary may be rebuilt while the test runs
    bin_dir = tempfile.mkdtemp(prefix="wharf-crash-bin-")
    binary = os.path.join(bin_dir, "wharf")
    shutil.copy2(args.binary, binary)
    os.chmod(binary, 0o755)

    def on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)

    print(f"wharf crash test: seed {args.seed} (rerun with --seed {args.seed}), kills {args.kills}, "
          f"duration {args.duration}s, binary {args.binary}", flush=True)
    results = {}
    try:
        for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
            if variant == "wal":
                results[variant] = run_variant(args, binary, variant, [])
            elif variant == "fsync":
                if not supports_durability(binary):
                    print("\n=== variant fsync: SKIPPED: `wharf --help` does not list --durability ===",
                          flush=True)
                    results[variant] = None
                    continue
                results[variant] = run_variant(args, binary, variant, ["--durability", "fsync"])
            elif variant == "postgresql":
                results[variant] = run_postgresql_variant(args, binary)
            elif variant == "patroni":
                import patroni_group   # beside this file
                results[variant] = patroni_group.run_patroni_variant(args, binary, sys.modules[__name__])
            else:
                p.error(f"unknown variant {variant!r}")
    except KeyboardInterrupt as e:
        print(f"\ninterrupted ({e}); FAIL", flush=True)
        return 1
    finally:
        shutil.rmtree(bin_dir, ignore_errors=True)
    summary = ", ".join(f"{k}: {'skipped' if v is None else ('PASS' if v else 'FAIL')}" for k, v in results.items())
    print(f"\nsummary (seed {args.seed}): {summary}")
    return 0 if all(v is not False for v in results.values()) and any(v for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
