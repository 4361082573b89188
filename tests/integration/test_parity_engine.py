"""Issue 17's engine rules, as recorded from Amazon SQS, through boto3 in
both protocols (JSON and query):

- FIFO groups: a group is receivable as soon as its first message is
  visible; a receive takes the group's visible messages in order up to the
  first one still in flight. Each receive that takes from a group moves it
  to the back of the group order.
- PurgeQueue clears the FIFO deduplication entries.
- DeduplicationScope changed after creation is reported, but deduplication
  keeps the scope the queue was created with.
- FIFO: DelaySeconds=0 is accepted and the queue's delay applies; a batch
  entry without MessageGroupId or MessageDeduplicationId fails the whole
  request; SequenceNumbers are 20-digit numbers around 1.8e19.
- Receipt handles: on standard queues older and expired handles still
  delete and change visibility; on FIFO queues an expired handle cannot
  delete.

The engine's side of each rule has a conformance test in
tests/unit/conformance (fifo.cpp, messages.cpp).
"""
import time
import unittest

from harness import WharfServer, make_json_client, make_query_client, unique_name
from sqs_behaviour import SqsTestBase

EXPIRED = "Value {} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."
UNAVAILABLE = ("Value {} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not "
               "available for visibility timeout change.")
NO_GROUP = "The request must contain the parameter MessageGroupId."
NO_DEDUP = ("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
            "explicitly")


class EngineParityBehaviour:
    protocol = None
    assertSqsError = SqsTestBase.assertSqsError

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        if cls.protocol == "json":
            cls.client = make_json_client(cls.server.endpoint)
        else:
            cls.client = make_query_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    # --- helpers -----------------------------------------------------------
    def fifo(self, attributes=None):
        name = unique_name(self._testMethodName[5:30].replace("_", "-"))[:75] + ".fifo"
        return self.client.create_queue(QueueName=name,
                                        Attributes=dict({"FifoQueue": "true"}, **(attributes or {})))["QueueUrl"]

    def standard(self):
        name = unique_name(self._testMethodName[5:30].replace("_", "-"))
        return self.client.create_queue(QueueName=name)["QueueUrl"]

    def send(self, url, body, group, dedup=None, **kw):
        return self.client.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group,
                                        MessageDeduplicationId=dedup or body, **kw)

    def receive(self, url, n=10, vt=None):
        kw = {} if vt is None else {"VisibilityTimeout": vt}
        return self.client.receive_message(QueueUrl=url, MaxNumberOfMessages=n, AttributeNames=["All"],
                                           **kw).get("Messages", [])

    def bodies(self, messages):
        return [m["Body"] for m in messages]

    def change(self, url, message, timeout):
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=timeout)

    def counts(self, url):
        a = self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
        return int(a["Attributes"]["ApproximateNumberOfMessages"]), \
            int(a["Attributes"]["ApproximateNumberOfMessagesNotVisible"])

    def fails(self, code, message, fn, status=400, **kw):
        e = self.assertSqsError(code, fn, status=status, **kw)
        self.assertEqual(e.response["Error"]["Message"], message)
        return e

    # --- FIFO groups ---------------------------------------------------------
    def test_fifo_group_receivable_from_its_first_visible_message(self):
        for extended, expected in ((1, ["m1"]), (2, ["m1", "m2"])):
            with self.subTest(extended=f"m{extended + 1}"):
                url = self.fifo()
                for body in ("m1", "m2", "m3"):
                    self.send(url, body, "g")
                got = self.receive(url, 10, 30)
                self.assertEqual(self.bodies(got), ["m1", "m2", "m3"])
                self.change(url, got[extended], 60)
                for i in range(extended):
                    self.change(url, got[i], 0)
                self.assertEqual(self.bodies(self.receive(url, 10, 30)), expected)
                self.assertEqual(self.receive(url, 10, 30), [])

    def test_fifo_group_blocked_while_its_first_message_is_in_flight(self):
        url = self.fifo()
        for body in ("m1", "m2"):
            self.send(url, body, "g")
        got = self.receive(url, 10, 30)
        self.change(url, got[1], 0)  # m2 visible, m1 still in flight
        self.assertEqual(self.receive(url, 10, 30), [])
        self.assertEqual(self.counts(url), (1, 1))

    def test_fifo_receive_moves_the_group_to_the_back(self):
        url = self.fifo()
        for group, n in (("g1", 2), ("g2", 2), ("g3", 1)):
            for i in range(1, n + 1):
                self.send(url, f"{group}-m{i}", group)
        self.assertEqual(self.bodies(self.receive(url, 3, 0)), ["g1-m1", "g1-m2", "g2-m1"])
        held = self.receive(url, 10, 30)
        self.assertEqual(self.bodies(held), ["g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"])
        # g2-m1's visibility ended first, then g1-m1's while g1-m2 stays in flight.
        self.change(url, held[3], 0)
        self.change(url, held[1], 0)
        self.assertEqual(self.bodies(self.receive(url, 3, 30)), ["g2-m1", "g1-m1"])

    # --- FIFO deduplication --------------------------------------------------
    def test_purge_queue_clears_fifo_deduplication(self):
        for attributes in ({}, {"ContentBasedDeduplication": "true"}):
            with self.subTest(attributes=attributes):
                url = self.fifo(attributes)
                dedup = {} if attributes else {"MessageDeduplicationId": "d1"}
                first = self.client.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g", **dedup)
                self.client.purge_queue(QueueUrl=url)
                again = self.client.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g", **dedup)
                self.assertNotEqual(again["MessageId"], first["MessageId"])
                got = self.receive(url, 10, 30)
                self.assertEqual([m["MessageId"] for m in got], [again["MessageId"]])

    def test_deduplication_scope_changed_to_message_group_stays_queue_wide(self):
        url = self.fifo({"DeduplicationScope": "queue"})
        before = self.send(url, "g-one", "g", "d1")
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"DeduplicationScope": "messageGroup"})
        a = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["DeduplicationScope"])["Attributes"]
        self.assertEqual(a["DeduplicationScope"], "messageGroup")
        self.assertEqual(self.send(url, "h-one", "h", "d1")["MessageId"], before["MessageId"])
        after = self.send(url, "g-two", "g", "d2")  # first used after the change
        self.assertEqual(self.send(url, "h-two", "h", "d2")["MessageId"], after["MessageId"])
        self.assertEqual(sorted(self.bodies(self.receive(url, 10, 30))), ["g-one", "g-two"])

    # --- FIFO sends ----------------------------------------------------------
    def test_fifo_delay_seconds_zero_accepted_and_queue_delay_applies(self):
        url = self.fifo({"DelaySeconds": "1"})
        sent_at = time.monotonic()
        self.send(url, "single", "g", DelaySeconds=0)
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "e1", "MessageBody": "batch", "MessageGroupId": "g", "MessageDeduplicationId": "b1",
             "DelaySeconds": 0}])
        self.assertEqual([e["Id"] for e in r.get("Successful", [])], ["e1"])
        self.assertEqual(r.get("Failed", []), [])
        self.assertEqual(self.receive(url, 10, 30), [])  # the queue's delay
        time.sleep(max(0.0, 1.15 - (time.monotonic() - sent_at)))
        self.assertEqual(self.bodies(self.receive(url, 10, 30)), ["single", "batch"])
        # a non-zero per-message delay stays refused
        self.fails("InvalidParameterValue",
                   "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not "
                   "valid for this queue type.",
                   self.client.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g",
                   MessageDeduplicationId="x", DelaySeconds=5)

    def test_fifo_batch_entry_without_group_or_dedup_id_fails_the_request(self):
        url = self.fifo()
        good = {"Id": "ok", "MessageBody": "fine", "MessageGroupId": "g", "MessageDeduplicationId": "d1"}
        no_group = {"Id": "bad", "MessageBody": "x", "MessageDeduplicationId": "d2"}
        no_dedup = {"Id": "bad", "MessageBody": "x", "MessageGroupId": "g"}
        for entry, text in ((no_group, NO_GROUP), (no_dedup, NO_DEDUP)):
            with self.subTest(text=text):
                self.fails("InvalidParameterValue", text, self.client.send_message_batch, QueueUrl=url,
                           Entries=[good, entry])
                self.fails("InvalidParameterValue", text, self.client.send_message_batch, QueueUrl=url,
                           Entries=[entry])
        self.assertEqual(self.counts(url), (0, 0))
        # a single SendMessage keeps its own answers
        self.fails("MissingParameter", NO_GROUP, self.client.send_message, QueueUrl=url, MessageBody="x",
                   MessageDeduplicationId="d3")
        self.fails("InvalidParameterValue", NO_DEDUP, self.client.send_message, QueueUrl=url, MessageBody="x",
                   MessageGroupId="g")

    def test_fifo_sequence_numbers_are_20_digits_around_1_8e19(self):
        url = self.fifo()
        numbers = [self.send(url, f"m{i}", "g")["SequenceNumber"] for i in range(3)]
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": f"b{i}", "MessageGroupId": "h", "MessageDeduplicationId": f"b{i}"}
            for i in range(2)])
        numbers += [e["SequenceNumber"] for e in sorted(r["Successful"], key=lambda e: e["Id"])]
        for n in numbers:
            self.assertRegex(n, r"^[0-9]{20}$")
            self.assertTrue(1.8e19 <= int(n) < 1e20, n)
        self.assertEqual([int(n) for n in numbers], sorted(set(int(n) for n in numbers)))
        got = self.receive(url, 10, 30)
        self.assertEqual(sorted(m["Attributes"]["SequenceNumber"] for m in got), sorted(numbers))

    # --- receipt handles: standard queues ------------------------------------
    def test_standard_older_handle_deletes_the_message_received_again(self):
        url = self.standard()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        old = self.receive(url, 1, 0)[0]
        new = self.receive(url, 1, 30)[0]
        self.assertNotEqual(old["ReceiptHandle"], new["ReceiptHandle"])
        self.client.delete_message(QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 0))
        # deleting again, with either handle: success
        self.client.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])

    def test_standard_older_handle_changes_visibility(self):
        url = self.standard()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        old = self.receive(url, 1, 0)[0]
        self.receive(url, 1, 30)
        self.change(url, old, 0)  # single: applies to the message received again
        again = self.receive(url, 1, 30)
        self.assertEqual(self.bodies(again), ["x"])
        r = self.client.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "old", "ReceiptHandle": old["ReceiptHandle"], "VisibilityTimeout": 0}])
        self.assertEqual([e["Id"] for e in r.get("Successful", [])], ["old"])
        self.assertEqual(r.get("Failed", []), [])
        self.assertEqual(self.counts(url), (1, 0))

    def test_standard_expired_handle_change_visibility_applies(self):
        url = self.standard()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        m = self.receive(url, 1, 0)[0]  # its timeout is over at once
        self.assertEqual(self.counts(url), (1, 0))
        self.change(url, m, 60)
        self.assertEqual(self.counts(url), (0, 1))
        self.assertEqual(self.receive(url, 1, 30), [])
        self.change(url, m, 0)
        again = self.receive(url, 1, 30)[0]
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "2")  # the change was no receive

    def test_standard_handle_errors_only_for_deleted_messages_and_unknown_handles(self):
        url = self.standard()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        m = self.receive(url, 1, 30)[0]
        self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        h = m["ReceiptHandle"]
        self.fails("InvalidParameterValue", UNAVAILABLE.format(h), self.client.change_message_visibility,
                   QueueUrl=url, ReceiptHandle=h, VisibilityTimeout=10)
        bogus = "never-issued"
        self.fails("ReceiptHandleIsInvalid", f'The input receipt handle "{bogus}" is not a valid receipt handle.',
                   self.client.change_message_visibility, status=404, QueueUrl=url, ReceiptHandle=bogus,
                   VisibilityTimeout=10)

    # --- receipt handles: FIFO queues ----------------------------------------
    def test_fifo_delete_with_expired_handle_is_refused(self):
        url = self.fifo()
        self.send(url, "m1", "g")
        m = self.receive(url, 1, 0)[0]  # expired at once
        h = m["ReceiptHandle"]
        self.fails("InvalidParameterValue", EXPIRED.format(h), self.client.delete_message, QueueUrl=url,
                   ReceiptHandle=h)
        self.assertEqual(self.counts(url), (1, 0))  # the message stays
        r = self.client.delete_message_batch(QueueUrl=url, Entries=[{"Id": "e", "ReceiptHandle": h}])
        self.assertEqual(r.get("Successful", []), [])
        self.assertEqual([(f["Id"], f["Code"], f["SenderFault"], f["Message"]) for f in r["Failed"]],
                         [("e", "InvalidParameterValue", True, EXPIRED.format(h))])
        self.assertEqual(self.counts(url), (1, 0))

    def test_fifo_delete_with_superseded_handle_is_refused(self):
        url = self.fifo()
        self.send(url, "m1", "g")
        old = self.receive(url, 1, 0)[0]
        new = self.receive(url, 1, 30)[0]
        self.fails("InvalidParameterValue", EXPIRED.format(old["ReceiptHandle"]), self.client.delete_message,
                   QueueUrl=url, ReceiptHandle=old["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 1))
        self.client.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 0))
        # an already deleted message: success, as before
        self.client.delete_message(QueueUrl=url, ReceiptHandle=new["ReceiptHandle"])


class EngineParityJsonTest(EngineParityBehaviour, unittest.TestCase):
    protocol = "json"


class EngineParityQueryTest(EngineParityBehaviour, unittest.TestCase):
    protocol = "query"


if __name__ == "__main__":
    unittest.main()
