"""--ephemeral and the WHARF_ENDPOINT line, against the real binary.

A test suite starts `wharf --ephemeral --port 0`, reads the endpoint from the
one WHARF_ENDPOINT=... line on stdout, and points its SDK at it. The server
keeps its data in RocksDB's in-memory Env: nothing is written to disk (its
TMPDIR and the data dir stay empty, also after SIGKILL), it stops with exit
code 0 on SIGTERM or SIGINT, and the next ephemeral server starts empty. It
is RocksDB's backend (every SQS behaviour as usual); with --storage
postgresql it is refused.
"""

import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import harness

ENDPOINT_PREFIX = "WHARF_ENDPOINT="


class EphemeralServer:
    """`wharf --ephemeral --port 0 ...` with TMPDIR set to `tmpdir`, its
    stdout read through a pipe as a test harness would."""

    def __init__(self, tmpdir, args=(), env=None):
        self.tmpdir = tmpdir
        environment = dict(os.environ, TMPDIR=tmpdir, **(env or {}))
        environment.pop("WHARF_TEST_STORAGE", None)
        self.stderr_path = os.path.join(harness.private_tmp(), f"ephemeral-{harness.unique_name('e')}.stderr")
        bind = [] if "--bind" in args else ["--bind", "127.0.0.1"]
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(
                [harness.server_binary(), "--port", "0", *bind, *args],
                stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, env=environment,
                preexec_fn=harness._set_pdeathsig, close_fds=True)
        self.stdout_lines = []
        self.endpoint = self._read_endpoint()

    def _read_endpoint(self):
        """Reads stdout lines until the endpoint line (bounded in time)."""
        deadline = time.monotonic() + harness.START_TIMEOUT
        pending = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if not ready:
                if self.proc.poll() is not None:
                    break
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                break
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.stdout_lines.append(line.decode("utf-8", "replace"))
                if line.startswith(ENDPOINT_PREFIX.encode()):
                    return line[len(ENDPOINT_PREFIX):].decode()
        self.kill()
        raise RuntimeError(f"no {ENDPOINT_PREFIX} line on stdout: {self.stdout_lines} {pending!r}; "
                           f"stderr: {self.stderr()}")

    def stderr(self):
        with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def client(self):
        return harness.make_json_client(self.endpoint)

    def stop(self, signum=signal.SIGTERM):
        """Sends `signum`, waits (bounded); returns the exit code and the
        rest of stdout's lines."""
        self.proc.send_signal(signum)
        out, _ = self.proc.communicate(timeout=harness.STOP_TIMEOUT)
        self.stdout_lines += out.decode("utf-8", "replace").splitlines()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


class EphemeralTest(unittest.TestCase):
    def private_tmpdir(self):
        path = tempfile.mkdtemp(prefix="tmpdir-", dir=harness.private_tmp())
        self.addCleanup(shutil.rmtree, path, ignore_errors=True)
        return path

    def start(self, tmpdir, *args, env=None):
        server = EphemeralServer(tmpdir, ["--ephemeral", *args], env=env)
        self.addCleanup(server.kill)
        return server

    def use_queues(self, server):
        """A standard and a FIFO queue: send, receive, delete."""
        client = server.client()
        standard = client.create_queue(QueueName="orders")["QueueUrl"]
        fifo = client.create_queue(QueueName="orders.fifo",
                                   Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
        self.assertTrue(standard.startswith(server.endpoint + "/"), standard)
        client.send_message(QueueUrl=standard, MessageBody="one")
        for body in ("first", "second"):
            client.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId="g")
        got = client.receive_message(QueueUrl=standard, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["one"])
        client.delete_message(QueueUrl=standard, ReceiptHandle=got[0]["ReceiptHandle"])
        got = client.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["first", "second"])
        for m in got:
            client.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
        attrs = client.get_queue_attributes(QueueUrl=standard, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["ApproximateNumberOfMessages"], "0")
        self.assertEqual(sorted(client.list_queues()["QueueUrls"]), sorted([standard, fifo]))

    def check_stop(self, signum):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir)
        self.assertEqual(server.endpoint, f"http://127.0.0.1:{server.endpoint.rsplit(':', 1)[1]}")
        self.use_queues(server)
        self.assertEqual(os.listdir(tmpdir), [])  # while it runs too
        self.assertEqual(server.stop(signum), 0, server.stderr())
        self.assertEqual(os.listdir(tmpdir), [], server.stderr())
        return server, tmpdir

    def test_sigterm_leaves_nothing_and_the_next_server_starts_empty(self):
        server, tmpdir = self.check_stop(signal.SIGTERM)
        self.assertIn("storage rocksdb in memory (ephemeral: nothing on disk, gone at exit)", server.stdout_lines[0])
        self.assertEqual(server.stdout_lines[-1].split(" ", 2)[2], "wharf stopped")
        self.assertEqual(server.stderr(), "")
        # The same TMPDIR: a second ephemeral server sees no queues.
        again = self.start(tmpdir)
        self.assertEqual(again.client().list_queues().get("QueueUrls", []), [])
        self.assertEqual(again.stop(), 0)
        self.assertEqual(os.listdir(tmpdir), [])

    def test_other_regions_in_memory_too(self):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir)
        elsewhere = harness.make_json_client(server.endpoint, region="eu-west-1")
        url = elsewhere.create_queue(QueueName="far")["QueueUrl"]
        elsewhere.send_message(QueueUrl=url, MessageBody="far away")
        self.assertEqual(elsewhere.receive_message(QueueUrl=url)["Messages"][0]["Body"], "far away")
        self.assertEqual(os.listdir(tmpdir), [])
        self.assertEqual(server.stop(), 0)

    def test_sigint_leaves_nothing(self):
        self.check_stop(signal.SIGINT)

    def test_sigkill_leaves_nothing(self):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir)
        self.use_queues(server)
        server.kill()
        self.assertEqual(os.listdir(tmpdir), [])

    def test_endpoint_line_follows_the_first_log_line(self):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir, "--log-format", "json")
        port = server.endpoint.rsplit(":", 1)[1]
        # The first line is still the log line harnesses read the port from.
        self.assertIn(f"listening on 127.0.0.1:{port}", server.stdout_lines[0])
        self.assertEqual(server.stdout_lines[1], f"WHARF_ENDPOINT=http://127.0.0.1:{port}")
        self.assertEqual(server.stop(), 0)
        self.assertEqual(sum(line.startswith(ENDPOINT_PREFIX) for line in server.stdout_lines), 1)
        # With no log lines at all, the endpoint line is the only one.
        quiet = self.start(tmpdir, "--log-level", "off")
        self.assertEqual(quiet.stdout_lines, [f"WHARF_ENDPOINT={quiet.endpoint}"])
        self.assertEqual(quiet.client().list_queues().get("QueueUrls", []), [])
        self.assertEqual(quiet.stop(), 0)
        self.assertEqual(quiet.stdout_lines, [f"WHARF_ENDPOINT={quiet.endpoint}"])
        self.assertEqual(os.listdir(tmpdir), [])

    def test_wildcard_bind_gives_a_loopback_endpoint(self):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir, "--bind", "0.0.0.0")
        self.assertRegex(server.endpoint, r"^http://127\.0\.0\.1:\d+$")
        self.assertEqual(server.client().list_queues().get("QueueUrls", []), [])
        self.assertEqual(server.stop(), 0)

    def test_from_the_environment_and_the_config_file(self):
        tmpdir = self.private_tmpdir()
        server = self.start(tmpdir, env={"WHARF_EPHEMERAL": "1"})
        self.assertEqual(server.stop(), 0)
        config = os.path.join(self.private_tmpdir(), "wharf.json")
        with open(config, "w") as f:
            f.write('{"ephemeral": true}')
        server = EphemeralServer(tmpdir, ["--config", config])
        self.addCleanup(server.kill)
        self.assertIn("storage rocksdb in memory", server.stdout_lines[0])
        self.assertEqual(server.stop(), 0)
        self.assertEqual(os.listdir(tmpdir), [])

    def test_an_explicit_data_dir_is_ignored_with_a_warning(self):
        tmpdir = self.private_tmpdir()
        data_dir = os.path.join(self.private_tmpdir(), "data")
        server = self.start(tmpdir, "--data-dir", data_dir)
        server.client().create_queue(QueueName="kept-nowhere")
        self.assertEqual(server.stop(), 0)
        self.assertIn("setting ignored: an ephemeral server keeps its data in memory", server.stderr())
        self.assertIn("setting=data_dir", server.stderr())
        self.assertFalse(os.path.exists(data_dir))
        self.assertEqual(os.listdir(tmpdir), [])

    def test_with_postgresql_it_is_refused(self):
        tmpdir = self.private_tmpdir()
        for args, env in ((["--ephemeral", "--storage", "postgresql"], {}),
                          (["--storage", "postgresql", "--postgres-url", "postgresql://nobody@127.0.0.1:1/none"],
                           {"WHARF_EPHEMERAL": "true"})):
            done = subprocess.run([harness.server_binary(), "--port", "0", *args],
                                  env=dict(os.environ, TMPDIR=tmpdir, **env), stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 2, done)
            self.assertIn("wharf: ephemeral applies to storage rocksdb only", done.stderr)
            self.assertNotIn("listening on", done.stdout)
            self.assertEqual(os.listdir(tmpdir), [])


if __name__ == "__main__":
    unittest.main()
