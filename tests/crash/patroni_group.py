"""The `patroni` variant of the crash test: two wharf nodes on a Patroni
group (deploy/patroni-group.sh: etcd, three PostgreSQL 15 with synchronous
replication) under the crash test's load, while the group's PRIMARY is lost
--failovers times, each time only after Patroni reports a Sync Standby and
three running members again. A loss is the leader's Patroni agent, its
postmaster and the postmaster's children SIGKILLed at once (killing only the
postmaster makes Patroni restart it in place, with no failover); the member's
agent is then started again and rejoins as a standby (pg_rewind).

The wharf nodes are not killed during the load. The crash test's checker
judges the history as in every variant; this module adds what the clients saw
of each failover: the outage from the first failed request after the kill to
the first success (of a request that needed the database: a send, delete or
visibility change, or a receive that returned messages) after it, the errors
by kind, and every answer other than success or 503 during a failover, which
fails the run (a request caught by a failover must get a retryable 503).

It is called by crash_test.py with that module as `ct` (crash_test runs as
__main__: importing it again would make a second copy with its own clock).
"""

import collections
import os
import shutil
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GROUP_SH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "patroni-group.sh")

START_TIMEOUT = 150      # `start` bounds its own wait at 120 s
STOP_TIMEOUT = 120       # `stop` gives each agent 30 s, then SIGKILL
PHASE_TIMEOUT = 150.0    # every failover of a run, with the waits between them
PROMOTE_TIMEOUT = 40.0   # a new leader after a kill
READY_TIMEOUT = 60.0     # Leader + Sync Standby + every member running again
LOAD_BEFORE_KILL = 3.0   # seconds of load on a healthy group before each kill
LOAD_AFTER = 3.0         # ... and after the last failover
POLL = 0.3
# The clients' read timeout (besides a receive's long poll). The other
# variants use 4 s; here a request caught by a failover may be held by wharf
# until a primary answers (a send whose COMMIT is in doubt is retried on the
# new primary for up to 30 s, then answered by its real outcome). A client
# that gave up after 4 s would retry a send that may have been stored, and a
# standard message would be stored twice by the client's doing. SDKs wait
# 60 s by default; the clients here wait 40 s.
CLIENT_READ_TIMEOUT = 40.0

# operations whose success proves that the primary answered
WRITES = {"send_message", "send_message_batch", "delete_message", "delete_message_batch",
          "change_message_visibility", "change_message_visibility_batch"}


class PatroniGroup:
    """deploy/patroni-group.sh on a directory of its own."""

    def __init__(self):
        # short: the Unix sockets live in it (107 bytes at most)
        self.dir = tempfile.mkdtemp(prefix="pgg-", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.started = False

    def run(self, *args, timeout=30):
        return subprocess.run([GROUP_SH, args[0], self.dir, *args[1:]], capture_output=True,
                              text=True, timeout=timeout)

    def start(self):
        """The multi-host URL; None and why when a package is missing."""
        self.started = True
        out = self.run("start", timeout=START_TIMEOUT)
        if out.returncode == 3:
            return None, out.stderr.strip()
        if out.returncode != 0:
            raise RuntimeError(f"patroni-group.sh start failed ({out.returncode}):\n{out.stderr}")
        with open(os.path.join(self.dir, "url")) as f:
            return f.read().strip(), None

    def leader(self):
        """{'member', 'postmaster_pid', 'agent_pid', 'port'} or None."""
        out = self.run("leader")
        if out.returncode != 0:
            return None
        return dict(w.split("=", 1) for w in out.stdout.split() if "=" in w)

    def ready(self, members):
        return self.run("ready", "--members", str(members)).returncode == 0

    def kill_leader(self):
        out = self.run("kill-leader")
        if out.returncode != 0:
            raise RuntimeError(f"kill-leader failed: {out.stderr.strip()}")
        return dict(w.split("=", 1) for w in out.stdout.split() if "=" in w)

    def restart_member(self, name):
        out = self.run("restart-member", name, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"restart-member {name} failed: {out.stderr.strip()}")

    def status(self):
        try:
            return self.run("status").stdout
        except Exception as e:
            return f"<patronictl list failed: {e}>"

    def log_tails(self, n=15):
        out = []
        for m in ("pg0", "pg1", "pg2"):
            try:
                with open(os.path.join(self.dir, m, "patroni.log"), "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                lines = ["<no log>"]
            out.append(f"--- {m}/patroni.log (tail)\n" + "\n".join(lines))
        return "\n".join(out)

    def stop(self, keep):
        if self.started:
            try:
                self.run("stop", timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                print(f"  patroni-group.sh stop {self.dir} timed out", flush=True)
        if keep:
            print(f"  Patroni group dir kept: {self.dir} (patroni.log, etcd.log, data)", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


class Requests:
    """Every request's (t0, t1, op, ok, error, needed the primary), from
    crash_test.call's observer hook."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows = []

    def __call__(self, fn, ok, r, t0, t1, err):
        op = getattr(fn, "__name__", "?")
        primary = ok and (op in WRITES or (op == "receive_message" and bool(r.get("Messages"))))
        with self.lock:
            self.rows.append((t0, t1, op, ok, err, primary))


class Failovers:
    """Runs the kills in the main thread and reports what the clients saw."""

    def __init__(self, ct, args, group):
        self.ct = ct
        self.args = args
        self.group = group
        self.requests = Requests()
        self.kills = []          # dict(t, member, promoted, new_leader, ready)
        self.phase_end = None

    def wait(self, ctx, what, timeout, test):
        """Polls test() while the wharf nodes keep running; seconds it took."""
        t = time.monotonic()
        end = min(t + timeout, self.deadline)
        while time.monotonic() < end:
            if not ctx.alive():
                raise self.ct.Fatal(f"run aborted while waiting for {what}")
            self.ct.check_running(ctx.servers)
            if test():
                return time.monotonic() - t
            time.sleep(POLL)
        raise self.ct.Fatal(f"Patroni group: no {what} within {timeout:.0f}s; patronictl list:\n"
                            f"{self.group.status()}\n{self.group.log_tails()}")

    def load(self, ctx, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end and ctx.alive():
            self.ct.check_running(ctx.servers)
            time.sleep(0.1)

    def run(self, ctx):
        self.deadline = time.monotonic() + PHASE_TIMEOUT
        try:
            return self.failovers(ctx)
        except (RuntimeError, subprocess.TimeoutExpired) as e:   # a group command failed
            raise self.ct.Fatal(f"Patroni group: {e}\n{self.group.status()}\n{self.group.log_tails()}")

    def failovers(self, ctx):
        ct, led = self.ct, ctx.ledger
        for i in range(self.args.failovers):
            self.wait(ctx, "Leader with a Sync Standby and 3 running members", READY_TIMEOUT,
                      lambda: self.group.ready(3))
            self.load(ctx, LOAD_BEFORE_KILL)
            killed = self.group.kill_leader()
            t_kill = ct.now()
            name = killed["member"]
            led.server_event("db-kill", f"failover {i + 1}: SIGKILL leader {name} (agent {killed['agent_pid']}, "
                             f"postmaster {killed['postmaster_pid']} and its children)")
            print(f"[{t_kill:8.3f}] failover {i + 1}/{self.args.failovers}: killed leader {name} "
                  f"(agent {killed['agent_pid']}, postmaster {killed['postmaster_pid']})", flush=True)
            row = dict(t=t_kill, member=name)
            self.kills.append(row)
            new = {}

            def promoted():
                new.update(self.group.leader() or {})
                return new.get("member") not in (None, name)
            row["promoted"] = self.wait(ctx, "new leader", PROMOTE_TIMEOUT, promoted)
            row["new_leader"] = new["member"]
            led.server_event("db-promoted", f"failover {i + 1}: {new['member']} is the leader")
            self.group.restart_member(name)
            led.server_event("db-restart", f"failover {i + 1}: agent of {name} started again")
            row["ready"] = self.wait(ctx, f"rejoin of {name} (Sync Standby and 3 running members)",
                                     READY_TIMEOUT, lambda: self.group.ready(3))
            print(f"[{ct.now():8.3f}] failover {i + 1}: {new['member']} leader {row['promoted']:.1f}s "
                  f"after the kill; {name} rejoined, Sync Standby and 3 members {row['ready']:.1f}s "
                  "after that", flush=True)
        self.load(ctx, LOAD_AFTER)
        self.phase_end = ct.now()
        return len(self.kills)

    def outage(self, k, rows):
        """What the clients saw of kill k: (outage or None, first failure, end, errors)."""
        t_kill = self.kills[k]["t"]
        nxt = self.kills[k + 1]["t"] if k + 1 < len(self.kills) else float("inf")
        fails = [r for r in rows if not r[3] and t_kill <= r[1] < nxt]
        errors = collections.Counter((r[2], r[4]) for r in fails)
        # the longest request in progress at or after the kill
        held = max(((r[1] - r[0], r[2]) for r in rows if r[1] >= t_kill and r[0] < nxt), default=(0.0, "-"))
        errors[("longest request", f"{held[0]:.1f}s ({held[1]})")] = 1
        if not fails:
            return 0.0, None, None, errors
        first = min(fails, key=lambda r: r[1])
        start = max(t_kill, first[0])
        ok = [r[1] for r in rows if r[5] and r[0] >= t_kill and r[1] > first[1] and r[1] < nxt]
        end = min(ok) if ok else None
        return (end - start if end is not None else None), start, end, errors

    def report(self, ctx):
        """Prints the failovers' numbers; returns failures."""
        ct, led, failures = self.ct, ctx.ledger, []
        with self.requests.lock:
            rows = sorted(self.requests.rows)
        print("  failovers (outage = first failed request after the kill -> first success of a request "
              "sent after the kill that needed the primary):")
        worst = 0.0
        for k, kill in enumerate(self.kills):
            length, start, end, errors = self.outage(k, rows)
            if length is None:
                failures.append(f"failover {k + 1}: no request succeeded after the first failure")
                shown = "no success after it"
            else:
                worst = max(worst, length)
                shown = f"{length:.2f}s" + (f" (t={start:.2f}..{end:.2f})" if start is not None else
                                             " (no request failed)")
            print(f"    #{k + 1} at t={kill['t']:.2f}: leader {kill['member']} -> "
                  f"{kill.get('new_leader', '?')} (new leader seen after {kill.get('promoted', 0):.1f}s, "
                  f"rejoined {kill.get('ready', 0):.1f}s after that); client outage {shown}; errors: "
                  + ", ".join(f"{op} {err}" + (f" x{n}" if op != "longest request" else "")
                              for (op, err), n in sorted(errors.items())))
            if length is not None and length > self.args.max_outage:
                failures.append(f"failover {k + 1}: the clients saw an outage of {length:.1f}s "
                                f"(--max-outage {self.args.max_outage:.0f}s)")
        print(f"    longest outage: {worst:.2f}s (target under {self.args.max_outage:.0f}s)")
        # a request caught by a failover must be answered 503 (or not at all)
        t_first = self.kills[0]["t"] if self.kills else 0.0
        t_last = self.phase_end or float("inf")
        odd = [r for r in rows if not r[3] and ct.answered(r[4]) and not r[4].endswith("/503")
               and t_first <= r[1] <= t_last]
        for t0, t1, op, _, err, _ in odd[:10]:
            print(f"    ANSWER OTHER THAN SUCCESS OR 503 during the failovers: {op} -> {err} "
                  f"(sent t={t0:.3f}, answered t={t1:.3f})")
        if odd:
            failures.append(f"{len(odd)} requests answered with neither success nor 503 during the failovers")
        sends_ok = sum(1 for s in led.sends.values() if any(a["outcome"] == "ok" for a in s["attempts"]))
        recv = sum(1 for r in rows if r[2] == "receive_message" and r[3])
        dels = sum(1 for v in led.deletes.values() if any(a["outcome"] == "ok" for a in v))
        print(f"  counts: sends acknowledged {sends_ok}, receives answered {recv} "
              f"(deliveries {len(led.deliveries)}), deletes acknowledged {dels}, requests {len(rows)}")
        errs = collections.Counter((r[2], r[4]) for r in rows if not r[3])
        print("  errors by kind (whole run): "
              + (", ".join(f"{op} {err} x{n}" for (op, err), n in sorted(errs.items())) or "none"))
        return failures + self.report_duplicates(led)

    def report_duplicates(self, led):
        """A send stored twice: an attempt failed though its commit happened,
        and a retry stored the body again. The issue asks that a commit whose
        outcome is unknown never duplicates a send, so a duplicate whose
        failed attempts were all answered (503: the server said it was not
        done) fails the run; one after an attempt with no answer (a client
        timeout) is only counted, as in the other variants. Returns
        failures."""
        ids = collections.defaultdict(set)
        for d in led.deliveries:
            ids[d.key].add(d.msg_id)
        dups = sorted(k for k, v in ids.items() if len(v) > 1)
        answered_only = [k for k in dups
                         if all(a["outcome"] == "ok" or self.ct.answered(a["outcome"])
                                for a in led.sends[k]["attempts"])]
        print(f"  sends stored twice (one body, several MessageIds): {len(dups)}, "
              f"of which every failed attempt was answered (503): {len(answered_only)}")
        for k in dups[:10]:
            att = led.sends[k]["attempts"]
            shown = att[:2] + ([] if len(att) <= 3 else [None]) + att[max(2, len(att) - 1):]
            tries = "; ".join("..." if a is None else
                              f"{a['how']} t={a['t0']:.3f}..{a['t1']:.3f} -> {a['outcome']}"
                              + (f" {a['msg_id']}" if a["msg_id"] else "") for a in shown)
            print(f"    {k}: delivered as {sorted(ids[k])}; {len(att)} attempts: {tries}")
        if answered_only:
            return [f"{len(answered_only)} sends stored twice after 503 answers "
                    f"({', '.join(answered_only[:5])}{' ...' if len(answered_only) > 5 else ''}): "
                    "a send whose commit happened was answered 503 and the retry stored it again"]
        return []


def run_patroni_variant(args, binary, ct):
    """--pg-nodes wharf nodes on a Patroni group whose primary is lost
    --failovers times; None when a package is missing (skipped)."""
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=10).stdout
    except Exception:
        out = ""
    if "--postgres-url" not in out:
        print("\n=== variant patroni: SKIPPED: this wharf has no --storage postgresql "
              "(build with -DWHARF_POSTGRESQL=ON) ===", flush=True)
        return None
    t_begin = time.monotonic()
    group = PatroniGroup()
    ok = False
    try:
        print(f"\n--- variant patroni: starting a Patroni group in {group.dir}", flush=True)
        try:
            url, why = group.start()
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"\n=== variant patroni: FAIL: no Patroni group: {e} ===", flush=True)
            return False
        if url is None:
            print(f"\n=== variant patroni: SKIPPED: {why} ===", flush=True)
            ok = True
            return None
        print(f"    group up in {time.monotonic() - t_begin:.1f}s: {url}", flush=True)
        failovers = Failovers(ct, args, group)
        budget = PHASE_TIMEOUT + LOAD_AFTER
        ct.CALL_OBSERVER = failovers.requests
        saved_timeout, ct.READ_TIMEOUT_EXTRA = ct.READ_TIMEOUT_EXTRA, CLIENT_READ_TIMEOUT
        try:
            ok = ct.run_variant(args, binary, "patroni", [], pg_url=url, nodes=args.pg_nodes, fifo=True,
                                disrupt=lambda ctx: (budget, lambda: failovers.run(ctx)),
                                report=failovers.report)
        finally:
            ct.CALL_OBSERVER = None
            ct.READ_TIMEOUT_EXTRA = saved_timeout
        return ok
    finally:
        group.stop(keep=not ok)
        print(f"  variant patroni took {time.monotonic() - t_begin:.1f}s in all "
              "(group start and stop included)", flush=True)
