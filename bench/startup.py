#!/usr/bin/env python3
"""Start-to-first-answer of wharf: from spawning the process to the first
successful HTTP answer (GET /health, 200), median of N runs per mode, and
from SIGTERM to exit. Modes (runs interleaved, so that a load change on the
machine hits each mode alike):

  data-dir    --data-dir <a fresh empty directory>  (today's default use)
  ephemeral   --ephemeral                           (RocksDB in memory, nothing on disk)

Every server is `--port 0 --bind 127.0.0.1`; the port is read from the first
stdout line ("listening on 127.0.0.1:PORT"), as test harnesses do.

Usage: bench/startup.py [--bin build/wharf] [--runs 10] [MODE ...]
Prints one line per mode: median, min and max in milliseconds.
"""

import argparse
import http.client
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

MODES = {
    "data-dir": lambda work: ["--data-dir", tempfile.mkdtemp(prefix="data-", dir=work)],
    "ephemeral": lambda work: ["--ephemeral"],
}
LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+)")


def wait_for_port(proc, timeout=20.0):
    """The port from the listening line on stdout (bounded in time)."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.05)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
            match = LISTENING.search(seen)
            if match:
                return int(match.group(1))
        elif proc.poll() is not None:
            break
    raise RuntimeError(f"wharf did not start: {seen!r}")


def one_run(binary, args, work):
    """(ms to the first answer, ms from SIGTERM to exit)."""
    env = dict(os.environ, TMPDIR=work)
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "--port", "0", "--bind", "127.0.0.1", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    try:
        port = wait_for_port(proc)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/health")
        answer = connection.getresponse()
        answer.read()
        answered = time.perf_counter()
        connection.close()
        if answer.status != 200:
            raise RuntimeError(f"GET /health answered {answer.status}")
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        stopped = time.perf_counter()
        if proc.returncode != 0:
            raise RuntimeError(f"wharf exited with {proc.returncode}")
        return (answered - start) * 1000, (stopped - stopping) * 1000
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.environ.get("WHARF_BIN", "build/wharf"))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("modes", nargs="*", metavar="MODE", help="data-dir, ephemeral (default: both)")
    options = parser.parse_args()
    options.modes = options.modes or list(MODES)
    if unknown := [m for m in options.modes if m not in MODES]:
        parser.error(f"unknown mode {unknown[0]}: one of {', '.join(MODES)}")
    work = tempfile.mkdtemp(prefix="wharf-startup-")
    try:
        first, stop = {m: [] for m in options.modes}, {m: [] for m in options.modes}
        for _ in range(options.runs):
            for mode in options.modes:
                answer_ms, stop_ms = one_run(options.bin, MODES[mode](work), work)
                first[mode].append(answer_ms)
                stop[mode].append(stop_ms)
        leftovers = [name for name in os.listdir(work) if not name.startswith("data-")]
        print(f"wharf start to first answer (GET /health), {options.runs} runs each, {options.bin}")
        for mode in options.modes:
            print(f"  {mode:10} median {statistics.median(first[mode]):7.1f} ms  min {min(first[mode]):7.1f}  "
                  f"max {max(first[mode]):7.1f}   SIGTERM to exit: median {statistics.median(stop[mode]):6.1f} ms")
        if leftovers:
            print(f"  left in TMPDIR after the runs: {leftovers}")
            return 1
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
