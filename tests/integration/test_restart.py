"""Durability across kill -9 and across a graceful restart, driven by boto3
(JSON). A message that was acknowledged is never lost; a deleted one never
comes back; in-flight messages keep their visibility deadline; delayed ones
their delay; queues and their attributes survive."""

import threading
import time
import unittest

from botocore.exceptions import ClientError

from harness import WharfServer, error_code, md5_hex, md5_of_attributes, receive_all, unique_name

QUEUE_ATTRS = {
    "VisibilityTimeout": "7",
    "DelaySeconds": "0",
    "MaximumMessageSize": "4096",
    "MessageRetentionPeriod": "3600",
    "ReceiveMessageWaitTimeSeconds": "0",
}
SETTABLE = list(QUEUE_ATTRS)
IN_FLIGHT_VT = 4          # seconds a received message stays invisible
DELAY = 5                 # seconds of the delayed message
EARLY_TOLERANCE = 0.1


class RestartTest(unittest.TestCase):

    def setUp(self):
        self.server = WharfServer().start()
        self.client = self.server.json_client()

    def tearDown(self):
        if self.server.is_running():
            self.server.stop()

    def restart(self, hard):
        self.server.restart(hard=hard)
        self.client = self.server.json_client()

    def attrs(self, url, names=("All",)):
        return self.client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names))["Attributes"]

    def url_after_restart(self, name):
        # the port changed: ask the server for the queue's current URL
        return self.client.get_queue_url(QueueName=name)["QueueUrl"]

    def test_sigkill_loses_no_acknowledged_message(self):
        name = unique_name("durable")
        url = self.client.create_queue(QueueName=name, Attributes=QUEUE_ATTRS)["QueueUrl"]
        before_attrs = self.attrs(url)
        empty_name = unique_name("empty")
        self.client.create_queue(QueueName=empty_name)
        gone_name = unique_name("gone")
        gone_url = self.client.create_queue(QueueName=gone_name)["QueueUrl"]
        self.client.send_message(QueueUrl=gone_url, MessageBody="in a deleted queue")
        self.client.delete_queue(QueueUrl=gone_url)

        n = 20
        sent = {}
        for i in range(n):
            body = f"message {i} ✓"
            kw = {}
            if i % 3 == 0:
                kw["MessageAttributes"] = {
                    "i": {"DataType": "Number", "StringValue": str(i)},
                    "bin": {"DataType": "Binary", "BinaryValue": bytes([i, 0, 255])},
                }
            r = self.client.send_message(QueueUrl=url, MessageBody=body, **kw)
            sent[r["MessageId"]] = (body, kw.get("MessageAttributes"))
        t_delayed = time.monotonic()
        delayed_id = self.client.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=DELAY)["MessageId"]

        # receive 10 (in flight for IN_FLIGHT_VT s), delete 5 of them
        t_recv = time.monotonic()
        received = []
        for _ in range(20):
            if len(received) >= 10:
                break
            received += self.client.receive_message(
                QueueUrl=url, VisibilityTimeout=IN_FLIGHT_VT,
                MaxNumberOfMessages=min(5, 10 - len(received))).get("Messages", [])
        self.assertEqual(len(received), 10)
        self.assertEqual(len({m["MessageId"] for m in received}), 10)
        deleted = {m["MessageId"] for m in received[:5]}
        for m in received[:5]:
            self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        in_flight = {m["MessageId"]: m for m in received[5:]}
        visible = set(sent) - deleted - set(in_flight)
        t_recv_done = time.monotonic()
        got_nv = self.attrs(url, ["ApproximateNumberOfMessagesNotVisible"])["ApproximateNumberOfMessagesNotVisible"]
        self.assertEqual(got_nv, "5", "before the kill: in flight")

        # crash and restart on the same data dir
        self.restart(hard=True)
        url = self.url_after_restart(name)

        # queues: the deleted one stays deleted, the empty one exists
        with self.assertRaises(ClientError) as cm:
            self.client.get_queue_url(QueueName=gone_name)
        self.assertEqual(error_code(cm.exception), "AWS.SimpleQueueService.NonExistentQueue")
        self.client.get_queue_url(QueueName=empty_name)

        # attributes survive (the port in the URL may change, nothing else)
        after = self.attrs(url)
        for k in SETTABLE + ["QueueArn", "CreatedTimestamp", "LastModifiedTimestamp"]:
            self.assertEqual(after.get(k), before_attrs.get(k), f"attribute {k} after restart")
        if time.monotonic() < t_recv + IN_FLIGHT_VT - 0.5:
            self.assertEqual(after["ApproximateNumberOfMessagesNotVisible"], "5", "in flight after restart")
            self.assertEqual(after["ApproximateNumberOfMessages"], str(len(visible)), "visible after restart")
        if time.monotonic() < t_delayed + DELAY - 0.5:
            self.assertEqual(after["ApproximateNumberOfMessagesDelayed"], "1", "delayed after restart")

        # every visible message is there, with its body and attributes, and
        # nothing else is (neither deleted nor in-flight ones, nor the delayed one)
        got = receive_all(self.client, url, len(visible), timeout=3, VisibilityTimeout=600,
                          MessageAttributeNames=["All"])
        t_got = time.monotonic()
        got_ids = {m["MessageId"] for m in got}
        self.assertFalse(got_ids & deleted, "deleted messages came back after kill -9")
        if t_got < t_recv + IN_FLIGHT_VT - EARLY_TOLERANCE:
            self.assertFalse(got_ids & set(in_flight), "in-flight messages visible before their deadline")
        self.assertEqual(got_ids & visible, visible, "acknowledged messages lost after kill -9")
        for m in got:
            if m["MessageId"] in visible:
                body, mattrs = sent[m["MessageId"]]
                self.assertEqual(m["Body"], body)
                self.assertEqual(m["MD5OfBody"], md5_hex(body))
                if mattrs:
                    self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(mattrs))
                    self.assertEqual(bytes(m["MessageAttributes"]["bin"]["BinaryValue"]),
                                     mattrs["bin"]["BinaryValue"])
                else:
                    self.assertNotIn("MessageAttributes", m)

        # one in-flight message is deleted with the receipt handle from before the crash
        victim_id, victim = next(iter(in_flight.items()))
        self.client.delete_message(QueueUrl=url, ReceiptHandle=victim["ReceiptHandle"])
        returning = set(in_flight) - {victim_id}

        # the others come back at their old deadline, not before; the delayed
        # one after its delay, not before
        seen_at = {}
        deadline = time.monotonic() + max(IN_FLIGHT_VT, DELAY) + 4
        for _ in range(400):
            if (returning | {delayed_id}) <= set(seen_at) or time.monotonic() > deadline:
                break
            batch = self.client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600,
                                                MessageSystemAttributeNames=["ApproximateReceiveCount"]
                                                ).get("Messages", [])
            now = time.monotonic()
            for m in batch:
                seen_at.setdefault(m["MessageId"], (now, m))
            if not batch:
                time.sleep(0.05)
        self.assertFalse(set(seen_at) & deleted, "deleted messages came back")
        self.assertNotIn(victim_id, seen_at, "message deleted with a pre-restart receipt handle came back")
        self.assertEqual(set(seen_at) & returning, returning, "in-flight messages lost after kill -9")
        self.assertIn(delayed_id, seen_at, "delayed message lost after kill -9")
        for mid in returning:
            at, m = seen_at[mid]
            self.assertGreaterEqual(at, t_recv + IN_FLIGHT_VT - EARLY_TOLERANCE,
                                    "in-flight message visible before its visibility deadline")
            self.assertLessEqual(at, t_recv_done + IN_FLIGHT_VT + 2.0,
                                 "in-flight message came back late")
            self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "2", "receive count survives")
            self.assertEqual(m["Body"], sent[mid][0])
        at, m = seen_at[delayed_id]
        self.assertGreaterEqual(at, t_delayed + DELAY - EARLY_TOLERANCE, "delayed message visible early")
        self.assertEqual(m["Body"], "delayed")
        self.assertEqual(self.attrs(url, ["ApproximateNumberOfMessages"])["ApproximateNumberOfMessages"], "0")

    def test_sigkill_right_after_concurrent_answers_loses_nothing(self):
        # Requests answered in the same turn of the server's event loop share
        # one write of the log: every answered one must be in it. Eight
        # clients (four JSON, four query) send and delete at once; the server
        # is killed as soon as the last answer is in.
        name = unique_name("together")
        url = self.client.create_queue(QueueName=name)["QueueUrl"]
        clients = [self.server.json_client() if i % 2 else self.server.query_client() for i in range(8)]
        doomed = {}
        for i in range(40):
            r = self.client.send_message(QueueUrl=url, MessageBody=f"doomed {i}")
            doomed[r["MessageId"]] = None
        handles = [m["ReceiptHandle"] for m in receive_all(self.client, url, 40, VisibilityTimeout=600)]
        self.assertEqual(len(handles), 40)
        sent, deleted, failures = {}, set(), []
        lock = threading.Lock()

        def work(i, client):
            try:
                for k in range(30):
                    body = f"client {i} message {k}"
                    if k % 3 == 0:
                        entries = [{"Id": str(j), "MessageBody": f"{body} entry {j}"} for j in range(3)]
                        r = client.send_message_batch(QueueUrl=url, Entries=entries)
                        with lock:
                            for ok in r.get("Successful", []):
                                sent[ok["MessageId"]] = entries[int(ok["Id"])]["MessageBody"]
                    else:
                        r = client.send_message(QueueUrl=url, MessageBody=body)
                        with lock:
                            sent[r["MessageId"]] = body
                    if k % 6 == 1:
                        client.delete_message(QueueUrl=url, ReceiptHandle=handles[i * 5 + k // 6])
                        with lock:
                            deleted.add(i * 5 + k // 6)
            except Exception as e:  # noqa: BLE001 - reported below
                failures.append(repr(e))

        threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertFalse(failures)
        self.assertEqual(len(sent), 8 * (10 * 3 + 20))
        self.assertEqual(len(deleted), 40)
        self.restart(hard=True)
        url = self.url_after_restart(name)
        # the 40 deleted ones would still be in flight (600 s) had a delete been lost
        counts = self.attrs(url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        self.assertEqual(counts["ApproximateNumberOfMessagesNotVisible"], "0", "answered deletes undone")
        self.assertEqual(counts["ApproximateNumberOfMessages"], str(len(sent)), "answered sends lost")
        got = receive_all(self.client, url, len(sent), timeout=10, VisibilityTimeout=600)
        got_bodies = {m["MessageId"]: m["Body"] for m in got}
        self.assertEqual(set(got_bodies) & set(sent), set(sent), "answered sends lost after kill -9")
        self.assertEqual({mid: got_bodies[mid] for mid in sent}, sent)
        self.assertFalse(set(got_bodies) & set(doomed), "answered deletes undone after kill -9")

    def test_sigterm_exits_cleanly_and_keeps_state(self):
        name = unique_name("graceful")
        url = self.client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "9"})["QueueUrl"]
        ids = {self.client.send_message(QueueUrl=url, MessageBody=f"g{i}")["MessageId"] for i in range(5)}
        m = self.client.receive_message(QueueUrl=url)["Messages"][0]
        self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        t0 = time.monotonic()
        rc = self.server.stop(timeout=10)
        self.assertEqual(rc, 0, f"exit status after SIGTERM; log:\n{self.server.log_tail()}")
        self.assertLess(time.monotonic() - t0, 5.0, "SIGTERM shutdown took too long")
        self.server.start()
        self.client = self.server.json_client()
        url = self.url_after_restart(name)
        self.assertEqual(self.attrs(url, ["VisibilityTimeout"]), {"VisibilityTimeout": "9"})
        got = receive_all(self.client, url, 4, timeout=3, VisibilityTimeout=600)
        self.assertEqual({x["MessageId"] for x in got}, ids - {m["MessageId"]})

    def test_sigterm_ends_a_pending_long_poll(self):
        name = unique_name("lpshut")
        url = self.client.create_queue(QueueName=name)["QueueUrl"]
        result = {}

        def poll():
            try:
                result["r"] = self.client.receive_message(QueueUrl=url, WaitTimeSeconds=20)
            except Exception as e:          # the connection may be closed: fine
                result["e"] = e

        th = threading.Thread(target=poll, daemon=True)
        th.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = self.server.stop(timeout=10)
        dt = time.monotonic() - t0
        th.join(timeout=15)
        self.assertEqual(rc, 0)
        self.assertLess(dt, 5.0, f"shutdown waited {dt:.1f}s for a 20 s long poll")


if __name__ == "__main__":
    unittest.main()
