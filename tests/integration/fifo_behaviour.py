"""FIFO queues and fair queues, written once and run by every boto3 flavour
(JSON and query).

A test class mixes FifoBehaviour into unittest.TestCase and provides
make_client(server) and protocol ('json' or 'query'). Everything asserted here
is what Amazon SQS does; the source is named next to the less obvious checks
("model" = the documentation text in botocore's SQS service model, "dev guide"
= the Amazon SQS Developer Guide). System attributes are asked for with
AttributeNames=['All'], which both the current model and Debian's query-era
model accept (the query-era model has no MessageSystemAttributeNames).

Servers: one per test class on AWS's 300 s dedup window; a second one, started
on first use, with --dedup-window-seconds 2 for the window-expiry tests; the
SIGKILL tests start their own on a private data dir.
"""

import hashlib
import threading
import time

from harness import ACCOUNT, REGION, WharfServer, receive_all, unique_name, wait_until
from sqs_behaviour import SqsTestBase

FIFO_DEFAULTS = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
FIFO_ONLY = {
    "ContentBasedDeduplication": "true",
    "DeduplicationScope": "messageGroup",
    "FifoThroughputLimit": "perMessageGroupId",
}
# Valid MessageGroupId / MessageDeduplicationId characters (model): alphanumerics
# and !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~
PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
SHORT_WINDOW = 2          # --dedup-window-seconds of the short-window server
EARLY_TOLERANCE = 0.1     # clock granularity in "not before" checks


def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def fifo_name(prefix):
    return unique_name(prefix)[:75] + ".fifo"


def seq(m):
    """SequenceNumber of a send answer or a received message, as an int."""
    s = m.get("SequenceNumber") or m.get("Attributes", {}).get("SequenceNumber")
    assert s is not None and s.isdigit(), f"SequenceNumber missing or not decimal: {s!r}"
    return int(s)


class FifoBehaviour:
    """Mixin: needs make_client(server) and protocol ('json' or 'query')."""

    protocol = None

    @classmethod
    def make_client(cls, server):
        raise NotImplementedError

    # --- fixture ---------------------------------------------------------
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.client = cls.make_client(cls.server)
        cls._short_server = None

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        if cls._short_server is not None:
            cls._short_server.stop()

    def setUp(self):
        if not self.server.is_running():
            self.server.start()
            type(self).client = self.make_client(self.server)

    def tearDown(self):
        for s in (self.server, self._short_server):
            if s is not None and s.proc is not None and not s.is_running():
                rc = s.proc.returncode
                tail = s.log_tail()
                s.proc = None
                self.fail(f"wharf died during this test (exit {rc}); log tail:\n{tail}")

    def short_window_client(self):
        """A client of the server started with --dedup-window-seconds 2."""
        cls = type(self)
        if cls._short_server is None or not cls._short_server.is_running():
            cls._short_server = WharfServer(
                extra_args=["--dedup-window-seconds", str(SHORT_WINDOW)]).start()
        return self.make_client(cls._short_server)

    # --- helpers ---------------------------------------------------------
    assertSqsError = SqsTestBase.assertSqsError

    def new_fifo(self, attrs=None, client=None, prefix=None):
        client = client or self.client
        name = fifo_name(prefix or self._testMethodName[5:25].replace("_", "-"))
        a = {"FifoQueue": "true"}
        a.update(attrs or {})
        url = client.create_queue(QueueName=name, Attributes=a)["QueueUrl"]
        return name, url

    def new_standard(self, attrs=None):
        name = unique_name(self._testMethodName[5:25].replace("_", "-"))
        kw = {"QueueName": name}
        if attrs:
            kw["Attributes"] = attrs
        return name, self.client.create_queue(**kw)["QueueUrl"]

    def send(self, url, body, group, dedup=None, client=None, **kw):
        client = client or self.client
        kw = dict(kw)
        if group is not None:
            kw["MessageGroupId"] = group
        if dedup is not None:
            kw["MessageDeduplicationId"] = dedup
        return client.send_message(QueueUrl=url, MessageBody=body, **kw)

    def recv(self, url, n=10, vt=30, client=None, **kw):
        client = client or self.client
        return client.receive_message(QueueUrl=url, MaxNumberOfMessages=n, VisibilityTimeout=vt,
                                      AttributeNames=["All"], **kw).get("Messages", [])

    def attrs(self, url, names=("All",), client=None):
        client = client or self.client
        return client.get_queue_attributes(QueueUrl=url, AttributeNames=list(names)).get("Attributes", {})

    def counts(self, url, client=None):
        a = self.attrs(url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
                       client=client)
        return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])

    def bodies(self, msgs):
        return [m["Body"] for m in msgs]

    def drain(self, url, expected, client=None, timeout=5.0):
        """Receive and delete until `expected` messages were seen; returns them
        in delivery order."""
        client = client or self.client
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            msgs = self.recv(url, client=client)
            for m in msgs:
                got.append(m)
                client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            if not msgs:
                time.sleep(0.05)
        return got

    # =====================================================================
    # Creation rules
    # =====================================================================
    def test_create_fifo_queue_defaults(self):
        name = fifo_name("defaults")
        url = self.client.create_queue(QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.assertEqual(url, f"http://127.0.0.1:{self.server.port}/{ACCOUNT}/{name}")
        a = self.attrs(url)
        for k, v in FIFO_DEFAULTS.items():
            self.assertEqual(a.get(k), v, f"GetQueueAttributes All of a new FIFO queue: {k}")
        self.assertEqual(a["QueueArn"], queue_arn(name))
        self.assertEqual(a["VisibilityTimeout"], "30")
        self.assertEqual(a["DelaySeconds"], "0")
        # each FIFO attribute can be asked for by name too
        self.assertEqual(self.attrs(url, list(FIFO_DEFAULTS)), FIFO_DEFAULTS)
        # idempotent with the same attributes
        self.assertEqual(self.client.create_queue(
            QueueName=name, Attributes={"FifoQueue": "true"})["QueueUrl"], url)
        self.assertEqual(self.client.get_queue_url(QueueName=name)["QueueUrl"], url)

    def test_create_fifo_queue_with_fifo_attributes(self):
        name, url = self.new_fifo(dict(FIFO_ONLY))
        a = self.attrs(url, list(FIFO_DEFAULTS))
        self.assertEqual(a, dict(FIFO_ONLY, FifoQueue="true"))
        # .fifo counts towards the 80 characters (SQS-FACTS; CreateQueue docs)
        stem = unique_name("len")
        ok = (stem + "x" * 80)[:75] + ".fifo"
        self.assertEqual(len(ok), 80)
        self.assertTrue(self.client.create_queue(
            QueueName=ok, Attributes={"FifoQueue": "true"})["QueueUrl"].endswith("/" + ok))
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=(stem + "x" * 80)[:76] + ".fifo", Attributes={"FifoQueue": "true"})

    def test_create_fifo_name_and_attribute_must_agree(self):
        # "The name of a FIFO queue can only include alphanumeric characters,
        # hyphens, or underscores, must end with .fifo suffix ..." (AWS's message)
        plain = unique_name("nofifo")
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=plain, Attributes={"FifoQueue": "true"})
        # a .fifo name without FifoQueue is a standard queue name with a dot: invalid
        dotted = fifo_name("noattr")
        self.assertSqsError("InvalidParameterValue", self.client.create_queue, QueueName=dotted)
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=dotted, Attributes={"FifoQueue": "false"})
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=dotted, Attributes={"VisibilityTimeout": "10"})
        for n in (plain, dotted):
            self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url,
                                QueueName=n)

    def test_set_queue_attributes_fifo_queue_is_create_only(self):
        _, furl = self.new_fifo()
        _, surl = self.new_standard()
        # AWS: "true" again on a FIFO queue is a no-op; "false" cannot change
        # its type; a standard queue knows no FifoQueue
        self.client.set_queue_attributes(QueueUrl=furl, Attributes={"FifoQueue": "true"})
        for url, value, code in ((furl, "false", "InvalidAttributeValue"), (surl, "true", "InvalidAttributeName")):
            with self.subTest(url=url, value=value):
                self.assertSqsError(code, self.client.set_queue_attributes,
                                    QueueUrl=url, Attributes={"FifoQueue": value})
        self.assertEqual(self.attrs(furl, ["FifoQueue"]), {"FifoQueue": "true"})
        self.assertNotIn("FifoQueue", self.attrs(surl))

    def test_fifo_only_attributes_on_standard_queue(self):
        # "Unknown Attribute ContentBasedDeduplication." and the like
        for attr, value in FIFO_ONLY.items():
            with self.subTest(attr=attr, action="CreateQueue"):
                name = unique_name("stdfifoattr")
                self.assertSqsError("InvalidAttributeName", self.client.create_queue,
                                    QueueName=name, Attributes={attr: value})
                self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue",
                                    self.client.get_queue_url, QueueName=name)
        _, url = self.new_standard()
        for attr, value in FIFO_ONLY.items():
            with self.subTest(attr=attr, action="SetQueueAttributes"):
                self.assertSqsError("InvalidAttributeName", self.client.set_queue_attributes,
                                    QueueUrl=url, Attributes={attr: value})
        a = self.attrs(url)
        for attr in list(FIFO_ONLY) + ["FifoQueue"]:
            self.assertNotIn(attr, a, "standard queues do not report FIFO attributes")

    def test_fifo_throughput_limit_needs_message_group_scope(self):
        # model: "The perMessageGroupId value is allowed only when the value for
        # DeduplicationScope is messageGroup."
        for attrs in ({"FifoThroughputLimit": "perMessageGroupId"},
                      {"FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "queue"}):
            with self.subTest(attrs=attrs):
                name = fifo_name("tput")
                self.assertSqsError("InvalidAttributeValue", self.client.create_queue,
                                    QueueName=name, Attributes=dict(attrs, FifoQueue="true"))
                self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue",
                                    self.client.get_queue_url, QueueName=name)
        _, url = self.new_fifo()
        self.assertSqsError("InvalidAttributeValue", self.client.set_queue_attributes,
                            QueueUrl=url, Attributes={"FifoThroughputLimit": "perMessageGroupId"})
        self.assertEqual(self.attrs(url, ["FifoThroughputLimit", "DeduplicationScope"]),
                         {"FifoThroughputLimit": "perQueue", "DeduplicationScope": "queue"})
        # both in one call is fine; perQueue with messageGroup too
        self.client.set_queue_attributes(QueueUrl=url, Attributes={
            "FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "messageGroup"})
        self.assertEqual(self.attrs(url, ["FifoThroughputLimit", "DeduplicationScope"]),
                         {"FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "messageGroup"})
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"FifoThroughputLimit": "perQueue"})
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "true"})
        self.assertEqual(self.attrs(url, list(FIFO_DEFAULTS)), {
            "FifoQueue": "true", "ContentBasedDeduplication": "true",
            "DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perQueue"})

    def test_fifo_attribute_values_invalid(self):
        for attr, bad in (("DeduplicationScope", "group"), ("FifoThroughputLimit", "perGroup"),
                          ("ContentBasedDeduplication", "maybe")):
            with self.subTest(attr=attr):
                self.assertSqsError("InvalidAttributeValue", self.client.create_queue,
                                    QueueName=fifo_name("badval"), Attributes={"FifoQueue": "true", attr: bad})

    # =====================================================================
    # Send rules
    # =====================================================================
    def test_send_requires_message_group_id(self):
        # model: "If you do not provide a MessageGroupId when sending a message
        # to a FIFO queue, the action fails." AWS: MissingParameter
        _, url = self.new_fifo({"ContentBasedDeduplication": "true"})
        self.assertSqsError("MissingParameter", self.client.send_message,
                            QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
        self.assertEqual(self.counts(url), (0, 0))

    def test_send_per_message_delay_rejected(self):
        # model: "When you set FifoQueue, you can't set DelaySeconds per message."
        _, url = self.new_fifo()
        self.assertSqsError("InvalidParameterValue", self.client.send_message, QueueUrl=url,
                            MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d",
                            DelaySeconds=5)
        self.assertEqual(self.counts(url), (0, 0))

    def test_send_without_dedup_id_needs_content_based_dedup(self):
        # "The queue should either have ContentBasedDeduplication enabled or
        # MessageDeduplicationId provided explicitly" (InvalidParameterValue)
        _, url = self.new_fifo()
        self.assertSqsError("InvalidParameterValue", self.client.send_message, QueueUrl=url,
                            MessageBody="x", MessageGroupId="g")
        self.assertEqual(self.counts(url), (0, 0))

    def test_send_returns_increasing_sequence_numbers(self):
        _, url = self.new_fifo()
        seqs = {"a": [], "b": []}
        ids = []
        for i in range(6):
            g = "ab"[i % 2]
            r = self.send(url, f"m{i}", g, f"d{i}")
            self.assertRegex(r["SequenceNumber"], r"^[0-9]+$")
            self.assertLessEqual(len(r["SequenceNumber"]), 39, "a 128-bit number has at most 39 digits")
            seqs[g].append(seq(r))
            ids.append(r["MessageId"])
        for g, s in seqs.items():
            self.assertEqual(s, sorted(set(s)), f"SequenceNumbers of group {g} not strictly increasing: {s}")
        self.assertEqual(len(set(ids)), 6)
        # the received message carries the same SequenceNumber and the FIFO attributes
        got = {m["MessageId"]: m for m in receive_all(
            self.client, url, 6, AttributeNames=["All"], VisibilityTimeout=30)}
        for i, mid in enumerate(ids):
            a = got[mid]["Attributes"]
            self.assertEqual(a["MessageGroupId"], "ab"[i % 2])
            self.assertEqual(a["MessageDeduplicationId"], f"d{i}")
            self.assertEqual(int(a["SequenceNumber"]), seqs["ab"[i % 2]][i // 2])
            for k in ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                      "ApproximateFirstReceiveTimestamp"):
                self.assertIn(k, a)

    def test_dedup_id_on_standard_queue_rejected(self):
        # MessageDeduplicationId "applies only to FIFO queues"; AWS answers
        # InvalidParameterValue ("The request include parameter that is not
        # valid for this queue type")
        _, url = self.new_standard()
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="x", MessageDeduplicationId="d",
                            MessageGroupId="g")
        self.assertEqual(self.counts(url), (0, 0))

    def test_group_and_dedup_id_characters(self):
        _, url = self.new_fifo()
        # every allowed character, 128 long, survives the protocol both ways
        ok = (PUNCTUATION + "azAZ09" * 30)[:128]
        r = self.send(url, "chars", ok, ok)
        m = self.recv(url)[0]
        self.assertEqual(m["MessageId"], r["MessageId"])
        self.assertEqual(m["Attributes"]["MessageGroupId"], ok)
        self.assertEqual(m["Attributes"]["MessageDeduplicationId"], ok)
        bad_values = ["a" * 129, "has space", "tab\tchar", "ünïcode", "new\nline"]
        for bad in bad_values:
            with self.subTest(field="MessageGroupId", value=bad[:20]):
                self.assertSqsError("InvalidParameterValue", self.client.send_message,
                                    QueueUrl=url, MessageBody="x", MessageGroupId=bad,
                                    MessageDeduplicationId="fine")
            with self.subTest(field="MessageDeduplicationId", value=bad[:20]):
                self.assertSqsError("InvalidParameterValue", self.client.send_message,
                                    QueueUrl=url, MessageBody="x", MessageGroupId="fine",
                                    MessageDeduplicationId=bad)
        self.assertEqual(self.counts(url), (0, 1))

    # =====================================================================
    # Ordering and group locks
    # =====================================================================
    def test_order_within_each_group(self):
        _, url = self.new_fifo()
        sent = {g: [] for g in "xyz"}
        for i in range(12):
            g = "xyz"[i % 3] if i % 5 else "x"
            body = f"{g}-{len(sent[g])}"
            self.send(url, body, g, f"d{i}")
            sent[g].append(body)
        got = self.drain(url, 12)
        self.assertEqual(len(got), 12, f"not all delivered: {self.bodies(got)}")
        for g in "xyz":
            seen = [m["Body"] for m in got if m["Attributes"]["MessageGroupId"] == g]
            self.assertEqual(seen, sent[g], f"group {g} out of order")

    def test_group_locked_while_a_message_is_in_flight(self):
        _, url = self.new_fifo()
        self.send(url, "a1", "A", "a1")
        self.send(url, "a2", "A", "a2")
        first = self.recv(url, n=1)
        self.assertEqual(self.bodies(first), ["a1"])
        self.send(url, "b1", "B", "b1")
        self.send(url, "b2", "B", "b2")
        # group A is locked by a1; group B still delivers, in order
        b = self.recv(url)
        self.assertEqual(self.bodies(b), ["b1", "b2"])
        self.assertEqual(self.recv(url), [], "both groups have messages in flight")
        # deleting a1 unlocks A
        self.client.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
        self.assertEqual(self.bodies(self.recv(url)), ["a2"])

    def test_every_in_flight_message_locks_its_group(self):
        # dev guide: "When you receive a message with a message group ID, no
        # more messages for the same message group ID are returned unless you
        # delete the message or it becomes visible."
        _, url = self.new_fifo()
        for i in range(1, 4):
            self.send(url, f"a{i}", "A", f"a{i}")
        two = self.recv(url, n=2)
        # "SQS first tries to return as many messages with the same message
        # group ID as possible"
        self.assertEqual(self.bodies(two), ["a1", "a2"])
        self.client.delete_message(QueueUrl=url, ReceiptHandle=two[0]["ReceiptHandle"])
        self.assertEqual(self.recv(url), [], "a2 is still in flight: group A stays locked")
        # a2 made visible again comes back before a3
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=two[1]["ReceiptHandle"],
                                              VisibilityTimeout=0)
        again = self.recv(url)
        self.assertEqual(self.bodies(again), ["a2", "a3"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertEqual(again[1]["Attributes"]["ApproximateReceiveCount"], "1")

    def test_group_unlocked_by_visibility_expiry(self):
        _, url = self.new_fifo()
        self.send(url, "a1", "A", "a1")
        self.send(url, "a2", "A", "a2")
        t0 = time.monotonic()
        first = self.recv(url, n=1, vt=1)
        self.assertEqual(self.bodies(first), ["a1"])
        self.assertEqual(self.recv(url), [])

        def back():
            msgs = self.recv(url)
            return msgs or None
        again = wait_until(back, 4, interval=0.05, what="a1 visible again")
        self.assertGreaterEqual(time.monotonic() - t0, 1 - EARLY_TOLERANCE)
        self.assertEqual(again[0]["Body"], "a1", "the expired message comes back first")
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertEqual(again[0]["MessageId"], first[0]["MessageId"])
        self.assertEqual(self.bodies(again), ["a1", "a2"][:len(again)])

    def test_group_unlocked_by_change_visibility_zero(self):
        _, url = self.new_fifo()
        self.send(url, "a1", "A", "a1")
        self.send(url, "a2", "A", "a2")
        first = self.recv(url, n=1)
        self.assertEqual(self.bodies(first), ["a1"])
        self.assertEqual(self.recv(url), [])
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"],
                                              VisibilityTimeout=0)
        again = self.recv(url, n=1)
        self.assertEqual(self.bodies(again), ["a1"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertEqual(self.recv(url), [])
        self.client.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
        self.assertEqual(self.bodies(self.recv(url)), ["a2"])

    def test_long_poll_woken_when_the_group_unlocks(self):
        # a long poll waiting on a locked group answers as soon as the lock
        # ends (a delete, a visibility change to 0), not at the end of its wait
        _, url = self.new_fifo()
        for i in range(1, 4):
            self.send(url, f"a{i}", "A", f"a{i}")
        first = self.recv(url, n=1)
        self.assertEqual(self.bodies(first), ["a1"])
        other = self.make_client(self.server)
        for action in ("delete", "visibility 0"):
            handle = first[0]["ReceiptHandle"]

            def unlock():
                time.sleep(0.5)
                if action == "delete":
                    other.delete_message(QueueUrl=url, ReceiptHandle=handle)
                else:
                    other.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
            th = threading.Thread(target=unlock, daemon=True)
            t0 = time.monotonic()
            th.start()
            got = self.recv(url, n=1, WaitTimeSeconds=5)
            took = time.monotonic() - t0
            th.join(timeout=5)
            with self.subTest(unlocked_by=action):
                # after the delete a2 is the head; a2 made visible again is still the head
                self.assertEqual(self.bodies(got), ["a2"])
                self.assertEqual(got[0]["Attributes"]["ApproximateReceiveCount"],
                                 "1" if action == "delete" else "2")
                self.assertLess(took, 3, f"long poll not woken by the {action} (took {took:.2f}s)")
                self.assertGreaterEqual(took, 0.4)
            first = got

    # =====================================================================
    # Deduplication
    # =====================================================================
    def test_dedup_within_window(self):
        _, url = self.new_fifo()
        r1 = self.send(url, "first", "g", "same")
        r2 = self.send(url, "second body, same id", "g", "same")
        # model: duplicates "are accepted successfully but aren't delivered";
        # AWS answers with the original message's MessageId and SequenceNumber
        self.assertEqual(r2["MessageId"], r1["MessageId"])
        self.assertEqual(r2["SequenceNumber"], r1["SequenceNumber"])
        self.assertEqual(self.counts(url), (1, 0))
        msgs = self.recv(url)
        self.assertEqual(self.bodies(msgs), ["first"])
        # model: "Amazon SQS continues to keep track of the message
        # deduplication ID even after the message is received and deleted."
        self.client.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
        r3 = self.send(url, "third", "g", "same")
        self.assertEqual(r3["MessageId"], r1["MessageId"])
        self.assertEqual(self.counts(url), (0, 0))
        self.assertEqual(self.recv(url), [])
        # another id is a new message
        r4 = self.send(url, "fourth", "g", "other")
        self.assertNotEqual(r4["MessageId"], r1["MessageId"])
        self.assertGreater(seq(r4), seq(r1))
        self.assertEqual(self.bodies(self.recv(url)), ["fourth"])

    def test_dedup_window_expires(self):
        client = self.short_window_client()
        _, url = self.new_fifo(client=client)
        t0 = time.monotonic()
        r1 = self.send(url, "one", "g", "same", client=client)
        self.assertEqual(self.send(url, "dup", "g", "same", client=client)["MessageId"], r1["MessageId"])
        self.assertEqual(self.counts(url, client=client), (1, 0))
        time.sleep(max(0.0, t0 + SHORT_WINDOW + 0.4 - time.monotonic()))
        r3 = self.send(url, "after the window", "g", "same", client=client)
        self.assertNotEqual(r3["MessageId"], r1["MessageId"], "deduplicated after the window ended")
        self.assertGreater(seq(r3), seq(r1))
        self.assertEqual(self.counts(url, client=client), (2, 0))
        got = self.drain(url, 2, client=client)
        self.assertEqual(self.bodies(got), ["one", "after the window"])

    def test_content_based_dedup(self):
        _, url = self.new_fifo({"ContentBasedDeduplication": "true"})
        r1 = self.send(url, "body-x", "g")
        # model: the SHA-256 "of the body of the message (but not the attributes)"
        r2 = self.send(url, "body-x", "g", MessageAttributes={
            "a": {"DataType": "String", "StringValue": "different"}})
        self.assertEqual(r2["MessageId"], r1["MessageId"])
        r3 = self.send(url, "body-y", "g")
        self.assertNotEqual(r3["MessageId"], r1["MessageId"])
        # an explicit id overrides the generated one
        r4 = self.send(url, "body-x", "g", "explicit")
        self.assertNotEqual(r4["MessageId"], r1["MessageId"])
        # model: an explicit id equal to the generated one is a duplicate
        sha = hashlib.sha256(b"body-z").hexdigest()
        r5 = self.send(url, "body-z", "g")
        r6 = self.send(url, "another body", "g", sha)
        self.assertEqual(r6["MessageId"], r5["MessageId"])
        got = self.drain(url, 4)
        self.assertEqual(self.bodies(got), ["body-x", "body-y", "body-x", "body-z"])
        self.assertEqual(got[0]["Attributes"]["MessageDeduplicationId"],
                         hashlib.sha256(b"body-x").hexdigest(),
                         "the generated MessageDeduplicationId is the body's SHA-256 in hex")
        self.assertEqual(got[2]["Attributes"]["MessageDeduplicationId"], "explicit")
        self.assertEqual(self.counts(url), (0, 0))

    def test_dedup_scope_queue_spans_groups(self):
        _, url = self.new_fifo()
        r1 = self.send(url, "in g1", "g1", "d")
        r2 = self.send(url, "in g2", "g2", "d")
        self.assertEqual(r2["MessageId"], r1["MessageId"])
        msgs = self.recv(url)
        self.assertEqual(self.bodies(msgs), ["in g1"])
        self.assertEqual(msgs[0]["Attributes"]["MessageGroupId"], "g1")

    def test_dedup_scope_message_group(self):
        _, url = self.new_fifo({"DeduplicationScope": "messageGroup"})
        r1 = self.send(url, "in g1", "g1", "d")
        r2 = self.send(url, "in g2", "g2", "d")
        self.assertNotEqual(r2["MessageId"], r1["MessageId"], "scope messageGroup: other groups are not duplicates")
        r3 = self.send(url, "again in g1", "g1", "d")
        self.assertEqual(r3["MessageId"], r1["MessageId"])
        got = self.drain(url, 2)
        self.assertEqual(sorted(self.bodies(got)), ["in g1", "in g2"])
        self.assertEqual(self.counts(url), (0, 0))

    def test_dedup_survives_sigkill(self):
        server = WharfServer().start()
        try:
            client = self.make_client(server)
            name, url = self.new_fifo(client=client)
            r1 = self.send(url, "before", "g", "dk", client=client)
            server.restart(hard=True)
            client = self.make_client(server)
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
            r2 = self.send(url, "after", "g", "dk", client=client)
            self.assertEqual(r2["MessageId"], r1["MessageId"], "dedup entry lost by kill -9")
            self.assertEqual(r2["SequenceNumber"], r1["SequenceNumber"])
            r3 = self.send(url, "new", "g", "dk2", client=client)
            self.assertGreater(seq(r3), seq(r1), "SequenceNumber went back after kill -9")
            got = self.drain(url, 2, client=client)
            self.assertEqual(self.bodies(got), ["before", "new"])
            # still deduplicated after the message was deleted, and after another kill
            server.restart(hard=True)
            client = self.make_client(server)
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
            self.assertEqual(self.send(url, "x", "g", "dk", client=client)["MessageId"], r1["MessageId"])
            self.assertEqual(self.recv(url, client=client), [])
        finally:
            server.stop()

    # =====================================================================
    # SendMessageBatch
    # =====================================================================
    def test_send_batch_keeps_entry_order(self):
        _, url = self.new_fifo()
        entries = [{"Id": f"e{i}", "MessageBody": f"{'AB'[i % 2]}{i}",
                    "MessageGroupId": "AB"[i % 2], "MessageDeduplicationId": f"d{i}"}
                   for i in range(10)]
        r = self.client.send_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(r.get("Failed", []), [])
        ok = {e["Id"]: e for e in r["Successful"]}
        self.assertEqual(set(ok), {e["Id"] for e in entries})
        for g in "AB":
            s = [seq(ok[e["Id"]]) for e in entries if e["MessageGroupId"] == g]
            self.assertEqual(s, sorted(set(s)), f"SequenceNumbers of group {g} not in entry order")
        got = self.drain(url, 10)
        for g in "AB":
            self.assertEqual([m["Body"] for m in got if m["Attributes"]["MessageGroupId"] == g],
                             [e["MessageBody"] for e in entries if e["MessageGroupId"] == g])
        by_body = {m["Body"]: m for m in got}
        for e in entries:
            self.assertEqual(by_body[e["MessageBody"]]["MessageId"], ok[e["Id"]]["MessageId"])
            self.assertEqual(by_body[e["MessageBody"]]["Attributes"]["SequenceNumber"],
                             ok[e["Id"]]["SequenceNumber"])

    def test_send_batch_duplicate_dedup_id_inside_one_batch(self):
        _, url = self.new_fifo()
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "one", "MessageBody": "first", "MessageGroupId": "g", "MessageDeduplicationId": "dup"},
            {"Id": "two", "MessageBody": "other", "MessageGroupId": "g", "MessageDeduplicationId": "uniq"},
            {"Id": "three", "MessageBody": "again", "MessageGroupId": "g", "MessageDeduplicationId": "dup"},
        ])
        self.assertEqual(r.get("Failed", []), [])
        ok = {e["Id"]: e for e in r["Successful"]}
        self.assertEqual(set(ok), {"one", "two", "three"})
        self.assertEqual(ok["three"]["MessageId"], ok["one"]["MessageId"])
        self.assertNotEqual(ok["two"]["MessageId"], ok["one"]["MessageId"])
        self.assertEqual(self.counts(url), (2, 0))
        self.assertEqual(self.bodies(self.drain(url, 2)), ["first", "other"])
        # and a later single send with that id is a duplicate too
        self.assertEqual(self.send(url, "later", "g", "dup")["MessageId"], ok["one"]["MessageId"])
        self.assertEqual(self.counts(url), (0, 0))

    # =====================================================================
    # ReceiveRequestAttemptId
    # =====================================================================
    def test_receive_request_attempt_id_retry(self):
        # model: "During a visibility timeout, subsequent calls with the same
        # ReceiveRequestAttemptId return the same messages and receipt handles."
        _, url = self.new_fifo()
        for i in range(1, 4):
            self.send(url, f"a{i}", "A", f"a{i}")
        first = self.recv(url, n=2, ReceiveRequestAttemptId="attempt-1")
        self.assertEqual(self.bodies(first), ["a1", "a2"])
        for _ in range(2):
            retry = self.recv(url, n=2, ReceiveRequestAttemptId="attempt-1")
            self.assertEqual([(m["MessageId"], m["ReceiptHandle"]) for m in retry],
                             [(m["MessageId"], m["ReceiptHandle"]) for m in first])
            self.assertEqual(self.bodies(retry), ["a1", "a2"])
        # another attempt id is another receive: group A is locked
        self.assertEqual(self.recv(url, ReceiveRequestAttemptId="attempt-2"), [])
        self.assertEqual(self.recv(url), [])
        self.assertEqual(self.counts(url), (1, 2))
        # the handles work
        self.client.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
        # model: a retry returns the same set only "if none of the messages have
        # been modified (deleted or had their visibility changes)"; once one is
        # deleted the retry is a fresh receive: never the deleted a1, and a2
        # (still in flight) keeps group A locked, so only group B answers
        self.send(url, "b1", "B", "b1")
        after = self.recv(url, n=2, ReceiveRequestAttemptId="attempt-1")
        self.assertNotIn(first[0]["MessageId"], [m["MessageId"] for m in after],
                         "a deleted message came back from a ReceiveRequestAttemptId retry")
        self.assertEqual(self.bodies(after), ["b1"])

    def test_receive_request_attempt_id_retry_resets_visibility(self):
        # model: "If a retry occurs within the deduplication interval, it
        # resets the visibility timeout."
        _, url = self.new_fifo()
        self.send(url, "a1", "A", "a1")
        t0 = time.monotonic()
        first = self.recv(url, vt=2, ReceiveRequestAttemptId="reset")
        self.assertEqual(self.bodies(first), ["a1"])
        time.sleep(max(0.0, t0 + 1.3 - time.monotonic()))
        t1 = time.monotonic()
        retry = self.recv(url, vt=2, ReceiveRequestAttemptId="reset")
        self.assertEqual([m["ReceiptHandle"] for m in retry], [first[0]["ReceiptHandle"]])
        time.sleep(max(0.0, t0 + 2.6 - time.monotonic()))
        if time.monotonic() >= t1 + 2 - 0.1:
            self.skipTest("machine too slow to check the reset before the new deadline")
        self.assertEqual(self.recv(url), [], "visibility was not reset by the retry")
        back = wait_until(lambda: self.recv(url) or None, 3, what="a1 visible after the reset timeout")
        self.assertGreaterEqual(time.monotonic() - t1, 2 - EARLY_TOLERANCE)
        self.assertEqual(self.bodies(back), ["a1"])

    def test_receive_request_attempt_id_expires_with_window(self):
        # model: "You can use ReceiveRequestAttemptId only for 5 minutes after
        # a ReceiveMessage action." (the server's window is 2 s here)
        client = self.short_window_client()
        _, url = self.new_fifo(client=client)
        self.send(url, "a1", "A", "a1", client=client)
        t0 = time.monotonic()
        first = self.recv(url, ReceiveRequestAttemptId="old", client=client)
        self.assertEqual(self.bodies(first), ["a1"])
        time.sleep(max(0.0, t0 + SHORT_WINDOW + 0.4 - time.monotonic()))
        # a fresh receive now: a1 is still in flight (30 s), so nothing
        self.assertEqual(self.recv(url, ReceiveRequestAttemptId="old", client=client), [])

    # =====================================================================
    # Dead-letter queues
    # =====================================================================
    def test_fifo_dlq_must_be_fifo(self):
        # dev guide: "The dead-letter queue of a FIFO queue must also be a FIFO
        # queue." AWS: InvalidParameterValue "... Reason: Dead-letter queue must
        # be same type of queue as the source."
        std_name, _ = self.new_standard()
        fifo_dlq, _ = self.new_fifo(prefix="fdlq")
        policy = lambda arn: f'{{"deadLetterTargetArn":"{arn}","maxReceiveCount":"3"}}'
        src = fifo_name("fsrc")
        self.assertSqsError("InvalidParameterValue", self.client.create_queue, QueueName=src,
                            Attributes={"FifoQueue": "true", "RedrivePolicy": policy(queue_arn(std_name))})
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url, QueueName=src)
        _, furl = self.new_fifo()
        self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes, QueueUrl=furl,
                            Attributes={"RedrivePolicy": policy(queue_arn(std_name))})
        self.assertNotIn("RedrivePolicy", self.attrs(furl))
        _, surl = self.new_standard()
        self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes, QueueUrl=surl,
                            Attributes={"RedrivePolicy": policy(queue_arn(fifo_dlq))})
        # FIFO -> FIFO is fine
        self.client.set_queue_attributes(QueueUrl=furl, Attributes={"RedrivePolicy": policy(queue_arn(fifo_dlq))})
        self.assertIn(fifo_dlq, self.attrs(furl, ["RedrivePolicy"])["RedrivePolicy"])

    def test_fifo_redrive_keeps_group_and_order_replaces_dedup_id(self):
        # dev guide (Configure dead-letter queue redrive): "When a message is
        # moved from a FIFO queue to a FIFO DLQ, the original message's
        # deduplication ID will be replaced with the original message's ID.
        # This is to make sure that DLQ deduplication will not prevent storing
        # two independent messages that happen to share a deduplication ID."
        # Scope messageGroup lets two such messages (dd-0 in A and in B) exist.
        dlq_name, dlq_url = self.new_fifo(prefix="dlq")
        policy = f'{{"deadLetterTargetArn":"{queue_arn(dlq_name)}","maxReceiveCount":"1"}}'
        _, url = self.new_fifo({"RedrivePolicy": policy, "DeduplicationScope": "messageGroup"})
        sent = []
        for i, (g, d) in enumerate(zip("AABAB", ["dd-0", "dd-1", "dd-0", "dd-3", "dd-4"])):
            r = self.send(url, f"{g}{i}", g, d)
            sent.append((r["MessageId"], f"{g}{i}", g, d))
        self.assertEqual(len({s[0] for s in sent}), 5)
        got = self.drain_without_delete(url, 5)
        self.assertEqual(sorted(m["MessageId"] for m in got), sorted(s[0] for s in sent))
        for m in got:
            self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                                  VisibilityTimeout=0)

        # the next receives move them all (receive count would pass 1)
        def moved():
            extra = self.recv(url)
            self.assertEqual(extra, [], "a message past maxReceiveCount was delivered instead of moved")
            return self.counts(dlq_url)[0] == 5
        wait_until(moved, 5, interval=0.1, what="5 messages in the FIFO DLQ")
        self.assertEqual(self.counts(url), (0, 0))
        moved_msgs = self.drain(dlq_url, 5)
        self.assertEqual(len(moved_msgs), 5)
        by_id = {m["MessageId"]: m for m in moved_msgs}
        for mid, body, g, d in sent:
            self.assertIn(mid, by_id, "the DLQ message keeps its MessageId")
            a = by_id[mid]["Attributes"]
            self.assertEqual(by_id[mid]["Body"], body)
            self.assertEqual(a["MessageGroupId"], g)
            self.assertEqual(a["MessageDeduplicationId"], mid,
                             f"sent with MessageDeduplicationId {d}; in the FIFO DLQ AWS replaces it "
                             f"with the message's MessageId")
        for g in "AB":
            self.assertEqual([m["Body"] for m in moved_msgs if m["Attributes"]["MessageGroupId"] == g],
                             [s[1] for s in sent if s[2] == g], f"group {g} reordered by redrive")

    def drain_without_delete(self, url, expected, timeout=5.0):
        got = {}
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            msgs = self.recv(url)
            for m in msgs:
                got.setdefault(m["MessageId"], m)
            if not msgs:
                time.sleep(0.05)
        return list(got.values())

    # =====================================================================
    # Durability
    # =====================================================================
    def test_group_locks_and_deadlines_survive_sigkill(self):
        server = WharfServer().start()
        try:
            client = self.make_client(server)
            name, url = self.new_fifo(client=client)
            for g in "AC":
                self.send(url, f"{g}1", g, f"{g}1", client=client)
                self.send(url, f"{g}2", g, f"{g}2", client=client)
            vt = 4
            t0 = time.monotonic()
            a = self.recv(url, n=1, vt=vt, client=client)
            c = self.recv(url, n=1, vt=60, client=client)
            self.assertEqual(self.bodies(a) + self.bodies(c), ["A1", "C1"])
            self.send(url, "B1", "B", "B1", client=client)
            server.restart(hard=True)
            client = self.make_client(server)
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
            # A and C are still locked by A1 and C1
            after_restart = self.recv(url, client=client)
            if time.monotonic() - t0 >= vt - 0.2:
                self.skipTest("restart too slow to check the lock before the old deadline")
            self.assertEqual(self.bodies(after_restart), ["B1"])
            # C1's receipt handle from before the kill still deletes it; C2 follows
            client.delete_message(QueueUrl=url, ReceiptHandle=c[0]["ReceiptHandle"])
            self.assertEqual(self.bodies(self.recv(url, client=client)), ["C2"])
            # A1 comes back at its old deadline, first, with its receive count
            back = wait_until(lambda: self.recv(url, client=client) or None, vt + 2, what="A1 back")
            self.assertGreaterEqual(time.monotonic() - t0, vt - EARLY_TOLERANCE)
            self.assertEqual(back[0]["Body"], "A1")
            self.assertEqual(back[0]["Attributes"]["ApproximateReceiveCount"], "2")
            self.assertEqual(self.bodies(back), ["A1", "A2"][:len(back)])
        finally:
            server.stop()

    # =====================================================================
    # Fair queues (standard queues with MessageGroupId)
    # =====================================================================
    def test_fair_queue_accepts_and_returns_message_group_id(self):
        _, url = self.new_standard()
        r = self.send(url, "tenant message", "tenant-1")
        self.assertNotIn("SequenceNumber", r, "standard queues have no SequenceNumber")
        b = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "x", "MessageBody": "batch tenant", "MessageGroupId": "tenant-2"},
            {"Id": "y", "MessageBody": "no tenant"}])
        self.assertEqual(b.get("Failed", []), [])
        got = {m["Body"]: m for m in receive_all(self.client, url, 3, AttributeNames=["All"],
                                                  VisibilityTimeout=30)}
        self.assertEqual(set(got), {"tenant message", "batch tenant", "no tenant"})
        self.assertEqual(got["tenant message"]["Attributes"].get("MessageGroupId"), "tenant-1")
        self.assertEqual(got["batch tenant"]["Attributes"].get("MessageGroupId"), "tenant-2")
        self.assertNotIn("MessageGroupId", got["no tenant"]["Attributes"])
        for m in got.values():
            self.assertNotIn("SequenceNumber", m["Attributes"])
            self.assertNotIn("MessageDeduplicationId", m["Attributes"])
        # same group id: no FIFO lock on a standard queue
        self.send(url, "t1-a", "t1")
        self.send(url, "t1-b", "t1")
        both = receive_all(self.client, url, 2, VisibilityTimeout=30)
        self.assertEqual(sorted(self.bodies(both)), ["t1-a", "t1-b"])
        self.assertSqsError("InvalidParameterValue", self.client.send_message, QueueUrl=url,
                            MessageBody="x", MessageGroupId="a" * 129)

    def test_fair_queue_quiet_tenants_not_starved_by_noisy_one(self):
        # AWS fair queues keep quiet tenants' dwell time low during a noisy
        # neighbour's backlog; Wharf gives each group a turn, so with 200
        # messages of "noisy" sent first, the 6 of t1..t3 all come within the
        # first three receives of 10.
        _, url = self.new_standard()
        for b in range(20):
            r = self.client.send_message_batch(QueueUrl=url, Entries=[
                {"Id": f"n{i}", "MessageBody": f"noisy-{b * 10 + i}", "MessageGroupId": "noisy"}
                for i in range(10)])
            self.assertEqual(r.get("Failed", []), [])
        quiet = set()
        for t in ("t1", "t2", "t3"):
            for i in range(2):
                self.send(url, f"{t}-{i}", t)
                quiet.add(f"{t}-{i}")
        seen = []
        for _ in range(3):
            seen += self.bodies(self.client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", []))
        missing = quiet - set(seen)
        self.assertEqual(missing, set(), f"quiet tenants' messages not within the first 3 receives: "
                                         f"{sorted(missing)}; got {seen}")
