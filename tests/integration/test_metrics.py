"""Observability: GET /metrics (Prometheus text format 0.0.4) moves by the exact
amounts that boto3's sends, receives, deletes and a redrive should move it;
GET /ready; both need no signature under --auth; and SIGTERM answers waiting
long polls empty, promptly, and exits 0 with nothing acknowledged lost."""

import http.client
import json
import os
import re
import signal
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3

import harness
from harness import ACCOUNT, REGION, WharfServer, make_json_client, unique_name

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


class Metrics:
    """One scrape, parsed: samples by (name, frozenset of labels)."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.helps = {}
        self.samples = {}
        for number, line in enumerate(text.split("\n"), 1):
            if line == "":
                continue
            if line.startswith("# HELP "):
                name, _, help_text = line[len("# HELP "):].partition(" ")
                assert name not in self.helps, f"line {number}: second HELP for {name}"
                assert help_text, f"line {number}: empty HELP for {name}"
                self.helps[name] = help_text
                continue
            if line.startswith("# TYPE "):
                name, _, kind = line[len("# TYPE "):].partition(" ")
                assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), f"line {number}: {line!r}"
                assert name not in self.types, f"line {number}: second TYPE for {name}"
                self.types[name] = kind
                continue
            assert not line.startswith("#"), f"line {number}: unexpected comment {line!r}"
            m = SAMPLE_RE.match(line)
            assert m, f"line {number}: not a sample: {line!r}"
            name, label_text, value = m.group(1), m.group(2), m.group(3)
            labels = {}
            if label_text:
                pos = 0
                while pos < len(label_text):
                    lm = LABEL_RE.match(label_text, pos)
                    assert lm, f"line {number}: bad labels {label_text!r}"
                    assert lm.group(1) not in labels, f"line {number}: label {lm.group(1)} twice"
                    labels[lm.group(1)] = lm.group(2)
                    pos = lm.end()
            family = self.family_of(name)
            assert family in self.types and family in self.helps, \
                f"line {number}: {name} has no HELP/TYPE before it"
            key = (name, frozenset(labels.items()))
            assert key not in self.samples, f"line {number}: duplicate series {line!r}"
            self.samples[key] = float(value)

    def family_of(self, name):
        for suffix in HISTOGRAM_SUFFIXES:
            base = name[: -len(suffix)]
            if name.endswith(suffix) and self.types.get(base) == "histogram":
                return base
        return name

    def get(self, name, default=None, **labels):
        return self.samples.get((name, frozenset(labels.items())), default)

    def value(self, name, **labels):
        v = self.get(name, **labels)
        assert v is not None, f"no sample {name} {labels}"
        return v

    def series(self, name):
        """[(labels dict, value)] of every sample named `name`."""
        return [(dict(labels), v) for (n, labels), v in self.samples.items() if n == name]

    def queue(self, name, queue, **labels):
        return self.get(name, 0.0, account=ACCOUNT, region=REGION, queue=queue, **labels)

    def requests(self, action, outcome="success"):
        return self.get("wharf_requests_total", 0.0, action=action, outcome=outcome)


def get(server, path, timeout=10):
    """(status, content type, body text) of GET path, no signature."""
    try:
        with urllib.request.urlopen(server.endpoint + path, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode("utf-8")


def scrape(server):
    status, content_type, body = get(server, "/metrics")
    assert status == 200, (status, body)
    assert content_type.startswith("text/plain; version=0.0.4"), content_type
    return Metrics(body)


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.sqs = make_json_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_format_and_process_metrics(self):
        self.sqs.create_queue(QueueName=unique_name("fmt"))
        m = scrape(self.server)
        for name, kind in [
            ("wharf_start_time_seconds", "gauge"),
            ("wharf_open_connections", "gauge"),
            ("wharf_long_polls_waiting", "gauge"),
            ("wharf_storage_size_bytes", "gauge"),
            ("wharf_requests_total", "counter"),
            ("wharf_request_duration_seconds", "histogram"),
            ("wharf_queue_messages", "gauge"),
            ("wharf_queue_oldest_message_age_seconds", "gauge"),
            ("wharf_queue_messages_sent_total", "counter"),
            ("wharf_queue_messages_received_total", "counter"),
            ("wharf_queue_messages_deleted_total", "counter"),
            ("wharf_queue_messages_moved_to_dead_letter_total", "counter"),
        ]:
            self.assertEqual(m.types.get(name), kind, name)
            self.assertIn(name, m.helps)
        start = m.value("wharf_start_time_seconds")
        self.assertLessEqual(start, time.time() + 1)
        self.assertGreater(start, time.time() - 3600)
        self.assertGreaterEqual(m.value("wharf_open_connections"), 1)  # this scrape's own
        self.assertEqual(m.value("wharf_long_polls_waiting"), 0)
        self.assertGreaterEqual(m.value("wharf_storage_size_bytes", account=ACCOUNT, region=REGION), 0)
        self.assertNotIn("/metrics", m.text)  # not counted as an SQS request or action
        # Every counter and gauge value is a finite non-negative number.
        for (name, labels), v in m.samples.items():
            self.assertGreaterEqual(v, 0, name)

    def test_ready_and_health(self):
        self.assertEqual(get(self.server, "/ready")[::2], (200, "ready\n"))
        self.assertEqual(get(self.server, "/health")[::2], (200, "ok\n"))

    def test_send_receive_delete_move_the_counters_and_gauges(self):
        name = unique_name("counts")
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        before = scrape(self.server)
        self.sqs.send_message(QueueUrl=url, MessageBody="one")
        self.sqs.send_message(QueueUrl=url, MessageBody="two")
        self.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
        self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "three"}, {"Id": "b", "MessageBody": "four"}])
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=60)["Messages"]
        self.assertEqual(len(got), 3)
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        with self.assertRaises(Exception):
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
        after = scrape(self.server)

        self.assertEqual(after.queue("wharf_queue_messages_sent_total", name), 5)
        self.assertEqual(after.queue("wharf_queue_messages_received_total", name), 3)
        self.assertEqual(after.queue("wharf_queue_messages_deleted_total", name), 1)
        self.assertEqual(after.queue("wharf_queue_messages_moved_to_dead_letter_total", name), 0)
        self.assertEqual(after.queue("wharf_queue_messages", name, state="visible"), 1)
        self.assertEqual(after.queue("wharf_queue_messages", name, state="in_flight"), 2)
        self.assertEqual(after.queue("wharf_queue_messages", name, state="delayed"), 1)

        def delta(action, outcome="success"):
            return after.requests(action, outcome) - before.requests(action, outcome)

        self.assertEqual(delta("SendMessage"), 3)
        self.assertEqual(delta("SendMessageBatch"), 1)
        self.assertEqual(delta("ReceiveMessage"), 1)
        self.assertEqual(delta("DeleteMessage"), 1)
        self.assertEqual(delta("DeleteMessage", "client_error"), 1)
        self.assertEqual(delta("DeleteMessage", "server_error"), 0)
        self.assertEqual(delta("CreateQueue"), 0)
        self.check_histograms(after)

    def check_histograms(self, m):
        actions = {labels["action"] for labels, _ in m.series("wharf_requests_total")}
        self.assertTrue({"SendMessage", "ReceiveMessage", "DeleteMessage"} <= actions, actions)
        for action in actions:
            with self.subTest(action=action):
                buckets = sorted(
                    ((float(labels["le"]), v) for labels, v in m.series("wharf_request_duration_seconds_bucket")
                     if labels["action"] == action), key=lambda b: b[0])
                self.assertGreaterEqual(len(buckets), 2)
                self.assertEqual(buckets[-1][0], float("inf"))
                counts = [v for _, v in buckets]
                self.assertEqual(counts, sorted(counts), "buckets must be cumulative")
                total = sum(m.requests(action, o) for o in ("success", "client_error", "server_error"))
                self.assertEqual(m.value("wharf_request_duration_seconds_count", action=action), total)
                self.assertEqual(buckets[-1][1], total)
                self.assertGreater(m.value("wharf_request_duration_seconds_sum", action=action), 0)

    def test_redrive_counts_moved_to_dead_letter(self):
        dlq_name, src_name = unique_name("dlq"), unique_name("src")
        dlq_url = self.sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        src_url = self.sqs.create_queue(QueueName=src_name, Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
        self.sqs.send_message(QueueUrl=src_url, MessageBody="poison")
        first = self.sqs.receive_message(QueueUrl=src_url, VisibilityTimeout=0).get("Messages", [])
        self.assertEqual(len(first), 1)
        # The second receive finds it past maxReceiveCount: it moves instead.
        self.assertEqual(self.sqs.receive_message(QueueUrl=src_url, VisibilityTimeout=0).get("Messages", []), [])
        m = scrape(self.server)
        self.assertEqual(m.queue("wharf_queue_messages_moved_to_dead_letter_total", src_name), 1)
        self.assertEqual(m.queue("wharf_queue_messages_received_total", src_name), 1)
        self.assertEqual(m.queue("wharf_queue_messages_sent_total", src_name), 1)
        self.assertEqual(m.queue("wharf_queue_messages", src_name, state="visible"), 0)
        self.assertEqual(m.queue("wharf_queue_messages", dlq_name, state="visible"), 1)
        self.assertEqual(m.queue("wharf_queue_messages_sent_total", dlq_name), 0)  # moved, not sent
        self.assertEqual(m.queue("wharf_queue_messages_moved_to_dead_letter_total", dlq_name), 0)

    def test_oldest_message_age(self):
        name = unique_name("age")
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(scrape(self.server).value("wharf_queue_oldest_message_age_seconds",
                                                   account=ACCOUNT, region=REGION, queue=name), 0)
        self.sqs.send_message(QueueUrl=url, MessageBody="old")
        time.sleep(1.1)
        self.sqs.send_message(QueueUrl=url, MessageBody="young")
        age = scrape(self.server).value("wharf_queue_oldest_message_age_seconds", account=ACCOUNT, region=REGION, queue=name)
        self.assertGreaterEqual(age, 1.0)
        self.assertLess(age, 60)
        for message in harness.receive_all(self.sqs, url, 2):
            self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        self.assertEqual(scrape(self.server).value("wharf_queue_oldest_message_age_seconds",
                                                   account=ACCOUNT, region=REGION, queue=name), 0)

    def test_waiting_long_polls_gauge(self):
        url = self.sqs.create_queue(QueueName=unique_name("poll"))["QueueUrl"]
        result = {}

        def poll():
            result["messages"] = make_json_client(self.server.endpoint).receive_message(
                QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])

        t = threading.Thread(target=poll, daemon=True)
        t.start()
        harness.wait_until(lambda: scrape(self.server).value("wharf_long_polls_waiting") == 1, 5,
                           what="one long poll waiting")
        self.sqs.send_message(QueueUrl=url, MessageBody="wake")
        t.join(timeout=10)
        self.assertFalse(t.is_alive())
        self.assertEqual([m["Body"] for m in result["messages"]], ["wake"])
        self.assertEqual(scrape(self.server).value("wharf_long_polls_waiting"), 0)


class MetricsWithAuthTest(unittest.TestCase):
    KEY, SECRET = "AKIDX", "secret"
    OTHER_KEY, OTHER_SECRET, OTHER_ACCOUNT = "AKIDY", "other-secret", "111111111111"

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_with_credentials(
            f"{cls.KEY}:{cls.SECRET},{cls.OTHER_KEY}:{cls.OTHER_SECRET}:{cls.OTHER_ACCOUNT}")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_metrics_and_ready_need_no_signature(self):
        self.assertEqual(get(self.server, "/ready")[::2], (200, "ready\n"))
        # An unsigned SQS request is refused (auth is on) and counted.
        status, _, _ = get(self.server, "/?Action=ListQueues")
        self.assertEqual(status, 403)
        m = scrape(self.server)
        self.assertGreaterEqual(m.requests("unknown", "client_error"), 1)
        self.assertIn("wharf_queue_messages", m.types)

    def test_each_account_has_its_own_series(self):
        def signed(key, secret):
            session = boto3.session.Session(botocore_session=harness._botocore_session(), region_name=REGION)
            return session.client("sqs", endpoint_url=self.server.endpoint, region_name=REGION,
                                  aws_access_key_id=key, aws_secret_access_key=secret,
                                  config=harness._client_config())

        own = signed(self.KEY, self.SECRET)
        other = signed(self.OTHER_KEY, self.OTHER_SECRET)
        own.send_message(QueueUrl=own.create_queue(QueueName="shared-name")["QueueUrl"], MessageBody="own")
        url = other.create_queue(QueueName="shared-name")["QueueUrl"]
        other.send_message(QueueUrl=url, MessageBody="other 1")
        other.send_message(QueueUrl=url, MessageBody="other 2")
        m = scrape(self.server)
        for account, sent in ((ACCOUNT, 1), (self.OTHER_ACCOUNT, 2)):
            self.assertEqual(m.get("wharf_queue_messages_sent_total", account=account, region=REGION, queue="shared-name"), sent)
            self.assertEqual(m.get("wharf_queue_messages", account=account, region=REGION, queue="shared-name", state="visible"),
                             sent)
            self.assertGreaterEqual(m.value("wharf_storage_size_bytes", account=account, region=REGION), 0)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_answers_long_polls_and_exits_zero(self):
        server = WharfServer().start()
        try:
            self.run_shutdown(server)
        finally:
            server.kill()

    def run_shutdown(self, server):
        sqs = make_json_client(server.endpoint)
        poll_url = sqs.create_queue(QueueName="polled")["QueueUrl"]
        kept_url = sqs.create_queue(QueueName="kept")["QueueUrl"]
        sqs.send_message(QueueUrl=kept_url, MessageBody="acknowledged before SIGTERM")

        answers, errors = [], []
        lock = threading.Lock()

        def poll():
            try:
                r = make_json_client(server.endpoint).receive_message(QueueUrl=poll_url, WaitTimeSeconds=20)
                with lock:
                    answers.append((time.monotonic(), r.get("Messages", [])))
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))

        threads = [threading.Thread(target=poll, daemon=True) for _ in range(5)]
        for t in threads:
            t.start()
        harness.wait_until(lambda: scrape(server).value("wharf_long_polls_waiting") == 5, 10,
                           what="5 long polls waiting")

        # A keep-alive connection opened before the signal sees /ready turn 503.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        conn.request("GET", "/ready")
        first = conn.getresponse()
        self.assertEqual((first.status, first.read()), (200, b"ready\n"))

        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        harness.wait_until(lambda: "wharf stopping" in server.log_tail(), 2, interval=0.002,
                           what="the server to log that it stops")
        conn.request("GET", "/ready")
        second = conn.getresponse()
        self.assertEqual((second.status, second.read()), (503, b"stopping\n"))
        conn.close()

        for t in threads:
            t.join(timeout=max(0.1, signalled + 5 - time.monotonic()))
        self.assertEqual(errors, [])
        self.assertEqual(len(answers), 5, "every long poll answered")
        for answered_at, messages in answers:
            self.assertEqual(messages, [])
            self.assertLess(answered_at - signalled, 2.0)
        rc = server.proc.wait(timeout=10)
        self.assertEqual(rc, 0, server.log_tail())
        server.proc = None

        server.start()
        sqs = make_json_client(server.endpoint)
        got = sqs.receive_message(QueueUrl=server.queue_url("kept")).get("Messages", [])
        self.assertEqual([m["Body"] for m in got], ["acknowledged before SIGTERM"])
        server.stop()


if __name__ == "__main__":
    unittest.main()
