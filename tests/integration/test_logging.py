"""Logs and auto-created queues, against the real binary.

Logs: a start line, a stop line and errors, as text or JSON lines
(--log-format); with --access-log one line per SQS request naming the
action, queue, status, error code, latency and request id. Configuration
problems come out in the chosen format too when it is given by flag or
environment.

--auto-create-queues: a request naming a missing queue by URL (or
GetQueueUrl naming it) creates it with default attributes; off by default,
as in AWS."""

import json
import re
import subprocess
import unittest

import botocore.exceptions

import harness

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) \S")


def log_lines(server):
    """The log's lines, without the one WHARF_ENDPOINT= line (not a log line)."""
    with open(server.log_path, "rb") as f:
        return [line.decode("utf-8") for line in f.read().split(b"\n")
                if line and not line.startswith(b"WHARF_ENDPOINT=")]


class LogTest(unittest.TestCase):
    def start(self, *args):
        server = harness.WharfServer(extra_args=list(args)).start()
        self.addCleanup(server.kill)
        return server

    def test_json_lines_with_access_log(self):
        server = self.start("--log-format", "json", "--access-log")
        for client in (server.json_client(), server.query_client()):
            name = harness.unique_name("log")
            url = client.create_queue(QueueName=name)["QueueUrl"]
            sent = client.send_message(QueueUrl=url, MessageBody="hello")
            with self.assertRaises(botocore.exceptions.ClientError) as missing:
                client.send_message(QueueUrl=server.queue_url(name + "-missing"), MessageBody="x")
            self.assertEqual(harness.error_code(missing.exception), "AWS.SimpleQueueService.NonExistentQueue")
        harness.wait_until(lambda: sum('"msg":"request"' in line for line in log_lines(server)) >= 6, 5,
                           what="six access log lines")
        self.assertEqual(server.stop(), 0)

        records = [json.loads(line) for line in log_lines(server)]  # every line is one JSON object
        for r in records:
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIn(r["level"], ("info", "warning", "error"))
        self.assertIn(f"listening on 127.0.0.1:{server.port}", records[0]["msg"])
        self.assertEqual([r["msg"] for r in records[-2:]], ["wharf stopping", "wharf stopped"])
        self.assertEqual(records[-2]["signal"], "SIGTERM")

        requests = [r for r in records if r["msg"] == "request"]
        self.assertEqual([r["action"] for r in requests],
                         ["CreateQueue", "SendMessage", "SendMessage"] * 2)
        created, ok, failed = requests[3:]  # the query protocol's three
        self.assertEqual((created["queue"], created["status"]), (name, 200))
        self.assertEqual((ok["queue"], ok["status"]), (name, 200))
        self.assertNotIn("error", ok)
        self.assertEqual((failed["queue"], failed["status"], failed["error"]),
                         (name + "-missing", 400, "QueueDoesNotExist"))
        for r in requests:
            self.assertIsInstance(r["ms"], float)
            self.assertGreaterEqual(r["ms"], 0)
            self.assertEqual(r["client"], "127.0.0.1")
        # The request id in the log is the one the client got.
        ids = {r["request_id"] for r in requests}
        self.assertIn(sent["ResponseMetadata"]["RequestId"], ids)

    def test_text_lines_and_no_access_log_by_default(self):
        server = self.start()
        client = server.json_client()
        client.create_queue(QueueName=harness.unique_name("log"))
        self.assertEqual(server.stop(), 0)
        lines = log_lines(server)
        for line in lines:
            self.assertRegex(line, TEXT_LINE)
        self.assertRegex(lines[0], r" info wharf \S+ listening on 127\.0\.0\.1:\d+, data dir .* "
                                   r"declared_queues=0 threads=\d+ console=on auto_create_queues=off$")
        self.assertFalse([line for line in lines if " info request " in line], lines)
        self.assertTrue(lines[-1].endswith(" info wharf stopped"), lines[-1])

    def test_text_access_log_line(self):
        server = self.start("--access-log")
        client = server.json_client()
        name = harness.unique_name("log")
        client.create_queue(QueueName=name)
        sent = client.send_message(QueueUrl=server.queue_url(name), MessageBody="x")
        request_id = sent["ResponseMetadata"]["RequestId"]
        harness.wait_until(lambda: any(request_id in line for line in log_lines(server)), 5,
                           what="the send's access log line")
        line = next(line for line in log_lines(server) if request_id in line)
        self.assertRegex(line, TEXT_LINE)
        self.assertRegex(line, rf" info request action=SendMessage queue={name} status=200 ms=\d+\.\d{{3}} "
                               rf"request_id={request_id} client=127\.0\.0\.1$")

    def test_config_problem_as_json_line(self):
        for args, env in (((("--log-format", "json", "--port", "70000")), {}),
                          (("--port", "70000"), {"WHARF_LOG_FORMAT": "json"})):
            done = subprocess.run([harness.server_binary(), *args], env={"PATH": "/usr/bin:/bin", **env},
                                  stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
            self.assertEqual(done.returncode, 1, done)
            lines = done.stderr.splitlines()
            self.assertEqual(len(lines), 1, done.stderr)
            record = json.loads(lines[0])
            self.assertEqual(record["level"], "error")
            self.assertIn("port", record["msg"])
            self.assertIn("70000", record["msg"])
        # Text, as before, when JSON was not asked for.
        done = subprocess.run([harness.server_binary(), "--port", "70000"], env={"PATH": "/usr/bin:/bin"},
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 1)
        self.assertTrue(done.stderr.startswith("wharf: "), done.stderr)

    def test_storage_error_is_logged_as_error(self):
        # A data dir that is a file cannot be opened: exit 2 with an error line.
        path = harness.private_tmp() + "/not-a-dir"
        with open(path, "w") as f:
            f.write("x")
        done = subprocess.run([harness.server_binary(), "--port", "0", "--bind", "127.0.0.1", "--data-dir", path,
                               "--log-format", "json"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(done.returncode, 2, done)
        record = json.loads(done.stderr.splitlines()[-1])
        self.assertEqual(record["level"], "error")
        self.assertIn(path, record["msg"])


class AutoCreateTest(unittest.TestCase):
    def test_off_by_default(self):
        server = harness.WharfServer().start()
        self.addCleanup(server.kill)
        client = server.json_client()
        with self.assertRaises(botocore.exceptions.ClientError):
            client.send_message(QueueUrl=server.queue_url("never-created"), MessageBody="x")
        with self.assertRaises(botocore.exceptions.ClientError):
            client.get_queue_url(QueueName="never-created")
        self.assertNotIn("QueueUrls", client.list_queues())

    def test_first_use_creates_the_queue(self):
        server = harness.WharfServer(extra_args=["--auto-create-queues"]).start()
        self.addCleanup(server.kill)
        for client in (server.json_client(), server.query_client()):
            name = harness.unique_name("auto")
            url = server.queue_url(name)
            client.send_message(QueueUrl=url, MessageBody="first")
            got = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
            self.assertEqual([m["Body"] for m in got], ["first"])
            attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual(attributes["VisibilityTimeout"], "30")
            self.assertNotIn("FifoQueue", attributes)
            # GetQueueUrl creates too; a .fifo name makes a FIFO queue.
            fifo = harness.unique_name("auto") + ".fifo"
            fifo_url = client.get_queue_url(QueueName=fifo)["QueueUrl"]
            self.assertTrue(fifo_url.endswith("/" + fifo))
            self.assertEqual(client.get_queue_attributes(QueueUrl=fifo_url, AttributeNames=["FifoQueue"])
                             ["Attributes"]["FifoQueue"], "true")
            # DeleteQueue of a missing queue is still an error, not a create-then-delete.
            with self.assertRaises(botocore.exceptions.ClientError) as missing:
                client.delete_queue(QueueUrl=server.queue_url(harness.unique_name("gone")))
            self.assertIn("NonExistentQueue", harness.error_code(missing.exception))
            # A name CreateQueue refuses is not created: the action says the queue does not exist.
            with self.assertRaises(botocore.exceptions.ClientError):
                client.send_message(QueueUrl=server.queue_url("bad name!"), MessageBody="x")
        urls = server.json_client().list_queues()["QueueUrls"]
        self.assertEqual(len(urls), 4, urls)


if __name__ == "__main__":
    unittest.main()
