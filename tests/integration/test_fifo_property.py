"""Property-style test of FIFO queues: random interleavings of sends (single
and batch, with occasional duplicates) across 1-6 message groups, receives of
1-10 messages with random visibility timeouts (0-2 s), deletes and
ChangeMessageVisibility, checked against a model as it goes and at the end:

- the messages of a group a receive returns are the group's oldest undeleted
  ones, in send order (so first deliveries follow send order), and none of
  them is in flight: a group is receivable from its first message, up to the
  first one in flight (as AWS answers; issue 17);
- a duplicate send (same dedup id, or same body with content-based dedup,
  within the 5-minute window; per group with DeduplicationScope messageGroup)
  is answered with the original MessageId and SequenceNumber and never
  enqueued; a non-duplicate gets a new MessageId and a SequenceNumber above
  every earlier one of its group;
- nothing is delivered after its delete; ApproximateReceiveCount counts the
  deliveries; body, MessageGroupId, MessageDeduplicationId and SequenceNumber
  are the ones sent;
- every acknowledged non-duplicate send is delivered (final drain).

In-flight state is tracked with bounds: a receive issued at ts and answered at
te with visibility V has its deadline in [ts+V, te+V]; a message counts as
"in flight" for a check only if its earliest deadline is after the checked
request was answered, and a delete or visibility change is expected to succeed
only if it was answered before the earliest deadline.

Seeds run in parallel threads (each ≤ ~8 s), half over JSON, half over query.
Replay one:  WHARF_FIFO_SEEDS=43:query tests/integration/run.sh test_fifo_property
(WHARF_FIFO_SERIAL=1 runs the seeds one after another.)
"""

import hashlib
import os
import random
import sys
import threading
import time
import traceback
import unittest

from botocore.exceptions import ClientError

from harness import WharfServer, error_code, make_json_client, make_query_client, unique_name

# (seed, protocol); the seeds give modes messageGroup/5 groups, queue/3, content/5,
# messageGroup/3, queue/5, queue/1
SEEDS = [(11, "json"), (43, "query"), (37, "json"), (41, "query"), (3, "json"), (59, "query")]
OPS = 220                 # operations per seed before the final drain
EPS = 0.015               # ms rounding of the server's clock, both sides
SEED_TIMEOUT = 40         # a seed thread that takes longer is reported as hung


def seeds_from_env():
    spec = os.environ.get("WHARF_FIFO_SEEDS")
    if not spec:
        return SEEDS
    out = []
    for part in spec.split(","):
        seed, _, proto = part.strip().partition(":")
        out.append((int(seed), proto or "json"))
    return out


class Violation(AssertionError):
    pass


class Msg:
    __slots__ = ("mid", "group", "body", "dedup", "seq", "deliveries", "deleted",
                 "handle", "lo", "hi")

    def __init__(self, mid, group, body, dedup, seq):
        self.mid, self.group, self.body, self.dedup, self.seq = mid, group, body, dedup, seq
        self.deliveries = 0
        self.deleted = False
        self.handle = None
        self.lo = self.hi = float("-inf")   # visibility deadline bounds (monotonic)

    def __repr__(self):
        return f"{self.body}"


class Run:
    """One seed: its own queue, client, random choices and model."""

    def __init__(self, seed, protocol, server):
        self.seed, self.protocol = seed, protocol
        self.rng = random.Random(seed)
        self.client = (make_json_client(server.endpoint) if protocol == "json"
                       else make_query_client(server.endpoint))
        self.mode = self.rng.choice(["queue", "messageGroup", "content"])
        self.groups = [f"g{i}" for i in range(self.rng.randint(1, 6))]
        self.msgs = {}                     # MessageId -> Msg
        self.by_group = {g: [] for g in self.groups}
        self.dedup = {}                    # dedup key -> MessageId
        self.last_seq = {g: -1 for g in self.groups}
        self.counter = 0
        self.log = []
        self.stats = {"sends": 0, "dups": 0, "receives": 0, "delivered": 0, "deletes": 0, "cmv": 0}

    # --- helpers ---------------------------------------------------------
    def note(self, text):
        self.log.append(f"{time.monotonic() - self.t_start:7.3f} {text}")

    def fail(self, text):
        raise Violation(text)

    def key(self, group, dedup, body):
        d = dedup if dedup is not None else hashlib.sha256(body.encode()).hexdigest()
        return (group if self.mode == "messageGroup" else "", d)

    def live(self, group):
        return [m for m in self.by_group[group] if not m.deleted]

    # --- operations ------------------------------------------------------
    def plan_entry(self, pending):
        rng = self.rng
        group = rng.choice(self.groups)
        r = rng.random()
        if r < 0.12 and (self.msgs or pending):
            # a duplicate of an earlier send, possibly of this very batch
            pool = list(self.msgs.values())
            if pending and (not pool or rng.random() < 0.4):
                e = rng.choice(pending)
                orig_group, orig_body, orig_dedup = e["MessageGroupId"], e["MessageBody"], e.get("MessageDeduplicationId")
            else:
                o = rng.choice(pool)
                orig_group, orig_body, orig_dedup = o.group, o.body, o.dedup
            if rng.random() < 0.7:
                group = orig_group
            self.counter += 1
            if self.mode == "content":
                return {"MessageGroupId": group, "MessageBody": orig_body}
            return {"MessageGroupId": group, "MessageBody": f"dup{self.counter}-of-{orig_body}",
                    "MessageDeduplicationId": orig_dedup}
        self.counter += 1
        body = f"s{self.seed}-{group}-{self.counter}"
        e = {"MessageGroupId": group, "MessageBody": body}
        if self.mode != "content":
            e["MessageDeduplicationId"] = f"d{self.counter}"
        return e

    def apply_send(self, e, mid, seqnum):
        group, body, dedup = e["MessageGroupId"], e["MessageBody"], e.get("MessageDeduplicationId")
        k = self.key(group, dedup, body)
        self.stats["sends"] += 1
        if k in self.dedup:
            o = self.msgs[self.dedup[k]]
            self.stats["dups"] += 1
            if mid != o.mid:
                self.fail(f"duplicate send {e} (dedup key {k}) was answered with MessageId {mid}, "
                          f"not the original {o.mid} ({o.body}): enqueued twice")
            if seqnum != o.seq:
                self.fail(f"duplicate send {e} answered SequenceNumber {seqnum}, original {o.seq}")
            self.note(f"send {body} [{group}] dup of {o.body}")
            return
        if mid in self.msgs:
            self.fail(f"non-duplicate send {e} answered with the MessageId {mid} of {self.msgs[mid].body}")
        if seqnum <= self.last_seq[group]:
            self.fail(f"SequenceNumber {seqnum} of {body} not above {self.last_seq[group]} of an earlier "
                      f"message of group {group}")
        self.last_seq[group] = seqnum
        m = Msg(mid, group, body, dedup if dedup is not None else k[1], seqnum)
        self.msgs[mid] = m
        self.by_group[group].append(m)
        self.dedup[k] = mid
        self.note(f"send {body} [{group}] -> {mid[:8]} seq {seqnum}")

    def op_send(self):
        e = self.plan_entry([])
        r = self.client.send_message(QueueUrl=self.url, **e)
        self.apply_send(e, r["MessageId"], int(r["SequenceNumber"]))

    def op_batch(self):
        entries = []
        for i in range(self.rng.randint(2, 10)):
            e = self.plan_entry(entries)
            e["Id"] = f"e{i}"
            entries.append(e)
        r = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)
        if r.get("Failed"):
            self.fail(f"SendMessageBatch {entries} failed entries: {r['Failed']}")
        ok = {x["Id"]: x for x in r["Successful"]}
        if set(ok) != {e["Id"] for e in entries}:
            self.fail(f"SendMessageBatch answered ids {sorted(ok)} for {[e['Id'] for e in entries]}")
        self.note(f"batch of {len(entries)}")
        for e in entries:   # entries take effect in entry order
            x = ok[e["Id"]]
            fields = {k: v for k, v in e.items() if k != "Id"}
            self.apply_send(fields, x["MessageId"], int(x["SequenceNumber"]))

    def receive(self, n, vt):
        ts = time.monotonic()
        r = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=n, VisibilityTimeout=vt,
                                        AttributeNames=["All"])
        te = time.monotonic()
        got = r.get("Messages", [])
        self.stats["receives"] += 1
        self.stats["delivered"] += len(got)
        self.note(f"receive n={n} vt={vt} -> {[m['Body'] for m in got]}")
        if len(got) > n:
            self.fail(f"receive of at most {n} returned {len(got)}")
        seen = set()
        per_group = {}
        for m in got:
            mid = m["MessageId"]
            if mid in seen:
                self.fail(f"one receive returned {mid} twice")
            seen.add(mid)
            x = self.msgs.get(mid)
            if x is None:
                self.fail(f"received unknown MessageId {mid} body {m['Body']!r}: enqueued by a duplicate send?")
            if x.deleted:
                self.fail(f"{x.body} ({mid}) delivered after its delete")
            a = m.get("Attributes", {})
            want = {"Body": x.body, "MessageGroupId": x.group, "MessageDeduplicationId": x.dedup,
                    "SequenceNumber": str(x.seq), "ApproximateReceiveCount": str(x.deliveries + 1)}
            have = {"Body": m["Body"], "MessageGroupId": a.get("MessageGroupId"),
                    "MessageDeduplicationId": a.get("MessageDeduplicationId"),
                    "SequenceNumber": a.get("SequenceNumber"),
                    "ApproximateReceiveCount": a.get("ApproximateReceiveCount")}
            if want != have:
                self.fail(f"{x.body} delivered as {have}, expected {want}")
            per_group.setdefault(x.group, []).append(x)
        for g, xs in per_group.items():
            live = self.live(g)
            head = live[:len(xs)]
            for y in head:
                if y.lo - EPS > te:
                    self.fail(f"group {g}: {[x.body for x in xs]} delivered while {y.body} was in flight "
                              f"(deadline ≥ {y.lo - self.t_start:.3f}, receive answered at {te - self.t_start:.3f})")
            if [x.mid for x in xs] != [y.mid for y in head]:
                self.fail(f"group {g}: receive returned {[x.body for x in xs]}, but the group's oldest "
                          f"undeleted messages are {[y.body for y in live[:len(xs) + 2]]}")
        for m in got:
            x = self.msgs[m["MessageId"]]
            x.deliveries += 1
            x.handle = m["ReceiptHandle"]
            x.lo, x.hi = ts + vt, te + vt
        return got

    def op_receive(self):
        self.receive(self.rng.randint(1, 10), self.rng.randint(0, 2))

    def in_flight_candidates(self):
        now = time.monotonic()
        return [x for x in self.msgs.values() if not x.deleted and x.handle and x.lo > now + 0.05]

    def op_delete(self):
        cands = self.in_flight_candidates()
        if not cands:
            return
        picks = self.rng.sample(cands, min(len(cands), self.rng.choice([1, 1, 1, 2, 3])))
        ts = time.monotonic()
        if len(picks) == 1:
            try:
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=picks[0].handle)
                outcome = {picks[0].mid: None}
            except ClientError as e:
                outcome = {picks[0].mid: f"{error_code(e)}: {e.response['Error'].get('Message')}"}
        else:
            r = self.client.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": f"d{i}", "ReceiptHandle": x.handle} for i, x in enumerate(picks)])
            outcome = {x.mid: None for x in picks}
            for f in r.get("Failed", []):
                outcome[picks[int(f["Id"][1:])].mid] = f"{f.get('Code')}: {f.get('Message')}"
        te = time.monotonic()
        for x in picks:
            err = outcome[x.mid]
            sure = te < x.lo - EPS       # answered before the earliest possible expiry
            self.note(f"delete {x.body} -> {err or 'ok'}{'' if sure else ' (near expiry)'}")
            if err is None:
                x.deleted = True
                self.stats["deletes"] += 1
            elif sure:
                self.fail(f"DeleteMessage of in-flight {x.body} with its latest receipt handle failed: {err}")

    def op_change_visibility(self):
        cands = self.in_flight_candidates()
        if not cands:
            return
        x = self.rng.choice(cands)
        vt = self.rng.choice([0, 0, 1, 2])
        ts = time.monotonic()
        try:
            self.client.change_message_visibility(QueueUrl=self.url, ReceiptHandle=x.handle,
                                                  VisibilityTimeout=vt)
            err = None
        except ClientError as e:
            err = f"{error_code(e)}: {e.response['Error'].get('Message')}"
        te = time.monotonic()
        sure = te < x.lo - EPS
        self.note(f"cmv {x.body} vt={vt} -> {err or 'ok'}{'' if sure else ' (near expiry)'}")
        if err is None:
            x.lo, x.hi = ts + vt, te + vt
            self.stats["cmv"] += 1
        elif sure:
            self.fail(f"ChangeMessageVisibility of in-flight {x.body} failed: {err}")

    def op_sleep(self):
        d = self.rng.choice([0.02, 0.05, 0.1, 0.2, 0.4])
        self.note(f"sleep {d}")
        time.sleep(d)

    # --- the run ---------------------------------------------------------
    def run(self):
        self.t_start = time.monotonic()
        attrs = {"FifoQueue": "true"}
        if self.mode == "messageGroup":
            attrs["DeduplicationScope"] = "messageGroup"
        if self.mode == "content":
            attrs["ContentBasedDeduplication"] = "true"
        name = unique_name(f"prop{self.seed}")[:70] + ".fifo"
        self.url = self.client.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        self.note(f"queue {name} mode {self.mode} groups {self.groups}")
        ops = [(self.op_send, 26), (self.op_batch, 8), (self.op_receive, 36), (self.op_delete, 14),
               (self.op_change_visibility, 8), (self.op_sleep, 8)]
        funcs = [f for f, _ in ops]
        weights = [w for _, w in ops]
        for _ in range(OPS):
            self.rng.choices(funcs, weights)[0]()
        self.drain()

    def drain(self):
        self.note("drain")
        deadline = time.monotonic() + 8
        while any(self.live(g) for g in self.groups) and time.monotonic() < deadline:
            got = self.receive(10, 10)
            for m in got:
                x = self.msgs[m["MessageId"]]
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
                x.deleted = True
            if not got:
                time.sleep(0.05)
        left = [x.body for g in self.groups for x in self.live(g)]
        if left:
            self.fail(f"acknowledged messages never delivered by the end: {left}")
        never = [x.body for x in self.msgs.values() if x.deliveries == 0]
        if never:
            self.fail(f"messages deleted without ever being delivered: {never}")
        extra = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                            AttributeNames=["All"]).get("Messages", [])
        if extra:
            self.fail(f"queue not empty after every message was deleted: {[m['Body'] for m in extra]}")
        a = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        if (a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]) != ("0", "0"):
            self.fail(f"counts after the drain: {a}")


class FifoPropertyTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_random_interleavings_keep_fifo_guarantees(self):
        seeds = seeds_from_env()
        runs = [Run(seed, proto, self.server) for seed, proto in seeds]   # clients built here, not in threads
        results = {}

        def go(run):
            t0 = time.monotonic()
            try:
                run.run()
                results[run.seed] = (None, time.monotonic() - t0)
            except BaseException as e:   # noqa: B902 - reported below, per seed
                results[run.seed] = (e, time.monotonic() - t0)

        if os.environ.get("WHARF_FIFO_SERIAL") == "1":
            for run in runs:
                go(run)
        else:
            threads = [threading.Thread(target=go, args=(r,), daemon=True) for r in runs]
            for t in threads:
                t.start()
            deadline = time.monotonic() + SEED_TIMEOUT
            for t in threads:
                t.join(timeout=max(0.1, deadline - time.monotonic()))
        for run in runs:
            with self.subTest(seed=run.seed, protocol=run.protocol, mode=run.mode):
                err, took = results.get(run.seed, (TimeoutError(f"seed did not finish in {SEED_TIMEOUT}s"), None))
                if err is None:
                    continue
                detail = (str(err) if isinstance(err, Violation)
                          else "".join(traceback.format_exception(type(err), err, err.__traceback__)))
                msg = (f"FIFO property violated with seed {run.seed} ({run.protocol}, mode {run.mode}, "
                       f"groups {run.groups}): {detail}\n"
                       f"stats: {run.stats}\nlast operations:\n  " + "\n  ".join(run.log[-40:]) +
                       f"\nreplay: WHARF_FIFO_SEEDS={run.seed}:{run.protocol} "
                       f"tests/integration/run.sh test_fifo_property")
                sys.stderr.write(f"\n[test_fifo_property] failing seed {run.seed}:{run.protocol}\n")
                self.fail(msg)
        if os.environ.get("WHARF_FIFO_VERBOSE") == "1":
            for run in runs:
                sys.stderr.write(f"seed {run.seed} {run.protocol} {run.mode} groups={len(run.groups)} "
                                 f"{run.stats} {results[run.seed][1]:.1f}s\n")


if __name__ == "__main__":
    unittest.main()
