"""SQS behaviours shared by every boto3 client flavour (JSON and query).

A test class mixes SqsBehaviour into unittest.TestCase and provides
make_client(server). Everything asserted here is what Amazon SQS does; where
the two protocols differ on AWS, the test says so explicitly.
"""

import threading
import time

from botocore.exceptions import ClientError

from harness import (ACCOUNT, REGION, WharfServer, error_code, http_status,
                     md5_hex, md5_of_attributes, receive_all, unique_name,
                     wait_until)

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

DEFAULTS = {
    "VisibilityTimeout": "30",
    "DelaySeconds": "0",
    "MaximumMessageSize": "1048576",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
}

# (attribute, first invalid value below/above range, valid boundary values)
OUT_OF_RANGE = [
    ("VisibilityTimeout", "43201", ["0", "43200"]),
    ("VisibilityTimeout", "-1", []),
    ("DelaySeconds", "901", ["0", "900"]),
    ("MessageRetentionPeriod", "59", ["60", "1209600"]),
    ("MessageRetentionPeriod", "1209601", []),
    ("MaximumMessageSize", "1023", ["1024", "1048576"]),
    ("MaximumMessageSize", "1048577", []),
    ("ReceiveMessageWaitTimeSeconds", "21", ["0", "20"]),
    ("VisibilityTimeout", "abc", []),
]

# A timing tolerance for "not before" checks: the server's deadline is
# computed from its own clock after our request left, so it can only be later
# than our local estimate; this only absorbs clock granularity.
EARLY_TOLERANCE = 0.1


def norm_attrs(attrs):
    """Message attributes reduced to what AWS returns for them."""
    out = {}
    for name, v in (attrs or {}).items():
        out[name] = {k: v[k] for k in ("DataType", "StringValue", "BinaryValue") if k in v}
        if "BinaryValue" in out[name]:
            out[name]["BinaryValue"] = bytes(out[name]["BinaryValue"])
    return out


class SqsTestBase:
    """Fixture and helpers of the boto3 behaviour mixins: a server per class,
    clients from make_client(server), and AWS-error assertions. Subclasses set
    protocol ('json' or 'query') and make_client."""

    protocol = None

    @classmethod
    def make_client(cls, server):
        raise NotImplementedError

    # --- fixture ---------------------------------------------------------
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.client = cls.make_client(cls.server)
        cls.sender = cls.make_client(cls.server)   # for background threads

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        if not self.server.is_running():
            self.server.start()
            type(self).client = self.make_client(self.server)
            type(self).sender = self.make_client(self.server)

    def tearDown(self):
        if not self.server.is_running():
            rc = self.server.proc.returncode if self.server.proc else None
            tail = self.server.log_tail()
            self.server.proc = None
            self.fail(f"wharf died during this test (exit {rc}); log tail:\n{tail}")

    # --- helpers ---------------------------------------------------------
    def new_queue(self, attrs=None, prefix=None, tags=None):
        name = unique_name(prefix or self._testMethodName[5:25].replace("_", "-"))
        kw = {"QueueName": name}
        if attrs:
            kw["Attributes"] = attrs
        if tags:
            kw["tags"] = tags
        url = self.client.create_queue(**kw)["QueueUrl"]
        return name, url

    def assertSqsError(self, code, fn, *, exc=None, status=400, **kwargs):
        """Call fn(**kwargs); assert it fails with the given (query-compatible)
        error code, Sender fault, HTTP status and, if given, typed exception."""
        op = getattr(fn, "__name__", str(fn))
        try:
            fn(**kwargs)
        except ClientError as e:
            got = error_code(e)
            self.assertEqual(
                got, code,
                f"{op}({short(kwargs)}) failed with {got!r} (HTTP {http_status(e)}, "
                f"message {e.response.get('Error', {}).get('Message')!r}); AWS answers {code!r}")
            if status is not None:
                self.assertEqual(http_status(e), status, f"{op}: HTTP status for {code}")
            self.assertEqual(e.response["Error"].get("Type"), "Sender",
                             f"{op}: error Type for {code} (query <Type> / JSON x-amzn-query-error suffix)")
            if exc is not None:
                self.assertIsInstance(e, getattr(self.client.exceptions, exc),
                                      f"{op}: boto3 should raise client.exceptions.{exc}")
            return e
        self.fail(f"{op}({short(kwargs)}) succeeded; AWS answers {code}")

    def receive(self, url, system=None, **kw):
        """ReceiveMessage asking for system attributes in the way the protocol's
        model allows (MessageSystemAttributeNames in JSON, AttributeNames in
        Debian's query model)."""
        if system is not None:
            if self.protocol == "json":
                kw["MessageSystemAttributeNames"] = system
            else:
                kw["AttributeNames"] = system
        return self.client.receive_message(QueueUrl=url, **kw).get("Messages", [])

    def attrs(self, url, names=("All",)):
        return self.client.get_queue_attributes(
            QueueUrl=url, AttributeNames=list(names)).get("Attributes", {})

    def counts(self, url):
        a = self.attrs(url, ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                             "ApproximateNumberOfMessagesDelayed"])
        return (a.get("ApproximateNumberOfMessages"), a.get("ApproximateNumberOfMessagesNotVisible"),
                a.get("ApproximateNumberOfMessagesDelayed"))

    # =====================================================================
    # CreateQueue / GetQueueUrl / ListQueues / DeleteQueue
    # =====================================================================


class SqsBehaviour(SqsTestBase):
    """The core actions' behaviours, shared by the JSON and query flavours."""

    def test_create_queue_returns_url_from_host_header(self):
        name = unique_name("create")
        url = self.client.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(url, f"http://127.0.0.1:{self.server.port}/{ACCOUNT}/{name}")
        self.assertEqual(self.client.get_queue_url(QueueName=name)["QueueUrl"], url)

    def test_create_queue_is_idempotent_with_equal_attributes(self):
        name = unique_name("idem")
        attrs = {"VisibilityTimeout": "45", "DelaySeconds": "2"}
        url1 = self.client.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        url2 = self.client.create_queue(QueueName=name, Attributes=dict(attrs))["QueueUrl"]
        self.assertEqual(url1, url2)
        self.assertEqual(self.attrs(url1, ["VisibilityTimeout"]), {"VisibilityTimeout": "45"})

    def test_create_queue_with_different_attributes_fails(self):
        name = unique_name("diff")
        url = self.client.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
        self.assertSqsError("QueueAlreadyExists", self.client.create_queue, exc="QueueNameExists",
                            QueueName=name, Attributes={"VisibilityTimeout": "46"})
        # the existing queue is unchanged
        self.assertEqual(self.attrs(url, ["VisibilityTimeout"]), {"VisibilityTimeout": "45"})

    def test_create_queue_invalid_names(self):
        for bad in ["", "a" * 81, "bad name!", "dot.name", "slash/name", "ünï"]:
            with self.subTest(name=bad):
                self.assertSqsError("InvalidParameterValue", self.client.create_queue, QueueName=bad)
        # 80 characters of the whole alphabet are fine; names are case-sensitive
        stem = unique_name("Ok_-")
        ok = (stem + "x" * 80)[:80]
        self.assertEqual(len(ok), 80)
        self.assertTrue(self.client.create_queue(QueueName=ok)["QueueUrl"].endswith("/" + ok))
        lower = unique_name("case").lower()
        u1 = self.client.create_queue(QueueName=lower)["QueueUrl"]
        u2 = self.client.create_queue(QueueName=lower.upper())["QueueUrl"]
        self.assertNotEqual(u1, u2)

    def test_create_queue_attribute_out_of_range(self):
        for attr, bad, goods in OUT_OF_RANGE:
            with self.subTest(attr=attr, value=bad):
                self.assertSqsError("InvalidAttributeValue", self.client.create_queue,
                                    QueueName=unique_name("range"), Attributes={attr: bad})
            for good in goods:
                with self.subTest(attr=attr, value=good):
                    url = self.client.create_queue(QueueName=unique_name("range"),
                                                   Attributes={attr: good})["QueueUrl"]
                    self.assertEqual(self.attrs(url, [attr]), {attr: good})

    def test_create_queue_out_of_range_creates_nothing(self):
        name = unique_name("nothing")
        self.assertSqsError("InvalidAttributeValue", self.client.create_queue,
                            QueueName=name, Attributes={"DelaySeconds": "901"})
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url,
                            exc="QueueDoesNotExist", QueueName=name)

    def test_create_queue_unknown_attribute_name(self):
        self.assertSqsError("InvalidAttributeName", self.client.create_queue, exc="InvalidAttributeName",
                            QueueName=unique_name("unk"), Attributes={"NoSuchAttribute": "1"})

    def test_get_queue_url_with_owner_account(self):
        name, url = self.new_queue()
        r = self.client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=ACCOUNT)
        self.assertEqual(r["QueueUrl"], url)

    def test_get_queue_url_of_missing_queue(self):
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url,
                            exc="QueueDoesNotExist", QueueName=unique_name("missing"))

    def test_list_queues_with_prefix(self):
        prefix = unique_name("lp")
        names = [f"{prefix}-{i}" for i in range(3)]
        urls = {self.client.create_queue(QueueName=n)["QueueUrl"] for n in names}
        self.client.create_queue(QueueName=unique_name("other"))
        got = self.client.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
        self.assertEqual(sorted(got), sorted(urls))
        # prefix is case-sensitive and may match nothing: QueueUrls is then absent/empty
        none = self.client.list_queues(QueueNamePrefix=prefix.upper() + "zz")
        self.assertEqual(none.get("QueueUrls", []), [])
        self.assertNotIn("NextToken", none)
        # without a prefix every queue is listed
        all_urls = self.client.list_queues().get("QueueUrls", [])
        self.assertTrue(urls <= set(all_urls))

    def test_list_queues_paging(self):
        prefix = unique_name("pg")
        names = [f"{prefix}-{i}" for i in range(5)]
        urls = {self.client.create_queue(QueueName=n)["QueueUrl"] for n in names}
        seen = []
        token = None
        pages = 0
        for _ in range(10):
            kw = {"QueueNamePrefix": prefix, "MaxResults": 2}
            if token:
                kw["NextToken"] = token
            r = self.client.list_queues(**kw)
            page = r.get("QueueUrls", [])
            pages += 1
            self.assertLessEqual(len(page), 2)
            seen += page
            token = r.get("NextToken")
            if not token:
                break
        self.assertIsNone(token, "paging did not end within 10 pages")
        self.assertEqual(len(seen), len(set(seen)), f"duplicates across pages: {seen}")
        self.assertEqual(set(seen), urls)
        self.assertGreaterEqual(pages, 3)
        # MaxResults 1000 (the maximum) lists everything in one page
        r = self.client.list_queues(QueueNamePrefix=prefix, MaxResults=1000)
        self.assertEqual(set(r.get("QueueUrls", [])), urls)
        self.assertNotIn("NextToken", r)
        # MaxResults 1 pages one by one
        r = self.client.list_queues(QueueNamePrefix=prefix, MaxResults=1)
        self.assertEqual(len(r.get("QueueUrls", [])), 1)
        self.assertIn("NextToken", r)

    def test_list_queues_max_results_out_of_range(self):
        for bad in (0, 1001):
            with self.subTest(MaxResults=bad):
                self.assertSqsError("InvalidParameterValue", self.client.list_queues, MaxResults=bad)

    def test_delete_queue(self):
        name, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        self.client.delete_queue(QueueUrl=url)
        nonexist = "AWS.SimpleQueueService.NonExistentQueue"
        self.assertSqsError(nonexist, self.client.get_queue_url, exc="QueueDoesNotExist", QueueName=name)
        self.assertSqsError(nonexist, self.client.send_message, exc="QueueDoesNotExist",
                            QueueUrl=url, MessageBody="x")
        self.assertSqsError(nonexist, self.client.receive_message, exc="QueueDoesNotExist", QueueUrl=url)
        self.assertSqsError(nonexist, self.client.get_queue_attributes, exc="QueueDoesNotExist",
                            QueueUrl=url, AttributeNames=["All"])
        self.assertSqsError(nonexist, self.client.delete_queue, exc="QueueDoesNotExist", QueueUrl=url)
        self.assertNotIn(url, self.client.list_queues(QueueNamePrefix=name).get("QueueUrls", []))

    def test_queue_name_reused_within_60s_of_delete(self):
        # AWS: "you must wait at least 60 seconds before creating a queue with
        # the same name" -> AWS.SimpleQueueService.QueueDeletedRecently
        name, url = self.new_queue()
        self.client.delete_queue(QueueUrl=url)
        self.assertSqsError("AWS.SimpleQueueService.QueueDeletedRecently", self.client.create_queue,
                            exc="QueueDeletedRecently", QueueName=name)

    def test_queue_url_is_matched_by_account_and_name_whatever_the_host(self):
        name, url = self.new_queue()
        for other in (f"http://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
                      f"http://localhost:9324/{ACCOUNT}/{name}"):
            with self.subTest(url=other):
                r = self.client.send_message(QueueUrl=other, MessageBody="via " + other)
                self.assertEqual(r["MD5OfMessageBody"], md5_hex("via " + other))
        msgs = receive_all(self.client, url, 2, timeout=3, VisibilityTimeout=60)
        self.assertEqual(len(msgs), 2)

    # =====================================================================
    # GetQueueAttributes / SetQueueAttributes
    # =====================================================================
    def test_get_queue_attributes_all_defaults(self):
        t0 = int(time.time())
        name, url = self.new_queue()
        t1 = int(time.time())
        a = self.attrs(url)
        for k, v in DEFAULTS.items():
            self.assertEqual(a.get(k), v, f"default {k}")
        self.assertEqual(a.get("QueueArn"), f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")
        for k in ("CreatedTimestamp", "LastModifiedTimestamp"):
            self.assertIn(k, a)
            self.assertRegex(a[k], r"^\d+$", f"{k} is epoch seconds")
            self.assertTrue(t0 - 2 <= int(a[k]) <= t1 + 2, f"{k}={a[k]} not within [{t0},{t1}]")
        for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                  "ApproximateNumberOfMessagesDelayed"):
            self.assertEqual(a.get(k), "0", k)
        self.assertNotIn("FifoQueue", a, "FifoQueue is only returned for FIFO queues")

    def test_get_queue_attributes_specific_names(self):
        _, url = self.new_queue({"VisibilityTimeout": "31"})
        self.assertEqual(self.attrs(url, ["VisibilityTimeout"]), {"VisibilityTimeout": "31"})
        got = self.attrs(url, ["DelaySeconds", "QueueArn"])
        self.assertEqual(set(got), {"DelaySeconds", "QueueArn"})
        # no AttributeNames: no attributes
        r = self.client.get_queue_attributes(QueueUrl=url)
        self.assertEqual(r.get("Attributes", {}), {})

    def test_get_queue_attributes_unknown_name(self):
        _, url = self.new_queue()
        self.assertSqsError("InvalidAttributeName", self.client.get_queue_attributes,
                            exc="InvalidAttributeName", QueueUrl=url, AttributeNames=["NoSuchAttribute"])

    def test_message_counts(self):
        _, url = self.new_queue()
        for i in range(3):
            self.client.send_message(QueueUrl=url, MessageBody=f"m{i}")
        self.client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
        self.assertEqual(self.counts(url), ("3", "0", "1"))
        msgs = self.receive(url, VisibilityTimeout=600)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(self.counts(url), ("2", "1", "1"))
        self.client.delete_message(QueueUrl=url, ReceiptHandle=msgs[0]["ReceiptHandle"])
        self.assertEqual(self.counts(url), ("2", "0", "1"))
        a = self.attrs(url)
        self.assertEqual((a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"],
                          a["ApproximateNumberOfMessagesDelayed"]), ("2", "0", "1"))

    def test_set_queue_attributes_read_back(self):
        _, url = self.new_queue()
        created = int(self.attrs(url, ["CreatedTimestamp"])["CreatedTimestamp"])
        new = {"VisibilityTimeout": "60", "DelaySeconds": "3", "MaximumMessageSize": "2048",
               "MessageRetentionPeriod": "3600", "ReceiveMessageWaitTimeSeconds": "2"}
        t_set = int(time.time())
        self.client.set_queue_attributes(QueueUrl=url, Attributes=new)
        a = self.attrs(url)
        for k, v in new.items():
            self.assertEqual(a.get(k), v, k)
        self.assertEqual(int(a["CreatedTimestamp"]), created)
        self.assertGreaterEqual(int(a["LastModifiedTimestamp"]), t_set - 1)
        self.assertLessEqual(int(a["LastModifiedTimestamp"]), int(time.time()) + 1)
        # a partial update leaves the others alone
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
        a = self.attrs(url)
        self.assertEqual(a["DelaySeconds"], "0")
        self.assertEqual(a["VisibilityTimeout"], "60")

    def test_set_queue_attributes_validation(self):
        _, url = self.new_queue({"VisibilityTimeout": "33"})
        for attr, bad, goods in OUT_OF_RANGE:
            with self.subTest(attr=attr, value=bad):
                self.assertSqsError("InvalidAttributeValue", self.client.set_queue_attributes,
                                    QueueUrl=url, Attributes={attr: bad})
            for good in goods:
                with self.subTest(attr=attr, value=good):
                    self.client.set_queue_attributes(QueueUrl=url, Attributes={attr: good})
                    self.assertEqual(self.attrs(url, [attr]), {attr: good})
        self.assertSqsError("InvalidAttributeName", self.client.set_queue_attributes,
                            exc="InvalidAttributeName", QueueUrl=url, Attributes={"NoSuchAttribute": "1"})
        # a failed update changes nothing, also when valid attributes came with it
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "33"})
        self.assertSqsError("InvalidAttributeValue", self.client.set_queue_attributes,
                            QueueUrl=url, Attributes={"VisibilityTimeout": "34", "DelaySeconds": "901"})
        self.assertEqual(self.attrs(url, ["VisibilityTimeout"]), {"VisibilityTimeout": "33"})
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.set_queue_attributes,
                            exc="QueueDoesNotExist", QueueUrl=url + "-missing",
                            Attributes={"VisibilityTimeout": "1"})

    # =====================================================================
    # SendMessage / ReceiveMessage
    # =====================================================================
    def test_send_receive_bodies_round_trip(self):
        _, url = self.new_queue()
        bodies = [
            "hello",
            "héllo wörld ✓ — 日本語 😀𝄞",
            "tab\there\nnewline\r\ncrlf\rcr",
            "<xml attr=\"x\">&amp; &lt; ]]> 'q'</xml>",
            "{\"json\": [1, 2, \"\\\\\"]}",
            "edges \ud7ff \ue000 \ufffd \U00010000 \U0010ffff",
            " leading and trailing spaces ",
        ]
        sent = {}
        for b in bodies:
            r = self.client.send_message(QueueUrl=url, MessageBody=b)
            self.assertEqual(r["MD5OfMessageBody"], md5_hex(b), f"MD5OfMessageBody of {b!r}")
            self.assertTrue(r["MessageId"])
            self.assertNotIn("MD5OfMessageAttributes", r, "no attributes sent: no MD5OfMessageAttributes")
            self.assertNotIn("MD5OfMessageSystemAttributes", r)
            sent[r["MessageId"]] = b
        self.assertEqual(len(sent), len(bodies), "message ids must be distinct")
        msgs = receive_all(self.client, url, len(bodies), timeout=5, VisibilityTimeout=60)
        self.assertEqual({m["MessageId"] for m in msgs}, set(sent))
        for m in msgs:
            self.assertEqual(m["Body"], sent[m["MessageId"]])
            self.assertEqual(m["MD5OfBody"], md5_hex(sent[m["MessageId"]]))
            self.assertTrue(m["ReceiptHandle"])
            self.assertNotIn("MessageAttributes", m)
            self.assertNotIn("MD5OfMessageAttributes", m)
            self.assertNotIn("Attributes", m, "no system attributes were requested")

    def test_message_attributes_round_trip(self):
        _, url = self.new_queue()
        attrs = {
            "attr.str": {"DataType": "String", "StringValue": "héllo ✓ <&>"},
            "attr.num": {"DataType": "Number", "StringValue": "-3.14"},
            "attr.bin": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
            "custom.s": {"DataType": "String.custom", "StringValue": "x"},
            "custom.n": {"DataType": "Number.int", "StringValue": "42"},
            "Other": {"DataType": "Binary.gz", "BinaryValue": b"\x00\x01\xff"},
        }
        r = self.client.send_message(QueueUrl=url, MessageBody="with attributes", MessageAttributes=attrs)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex("with attributes"))
        self.assertEqual(r.get("MD5OfMessageAttributes"), md5_of_attributes(attrs))
        expected = norm_attrs(attrs)

        def recv(names):
            kw = {"VisibilityTimeout": 0}
            if names is not None:
                kw["MessageAttributeNames"] = names
            msgs = self.receive(url, **kw)
            self.assertEqual(len(msgs), 1, f"receive with MessageAttributeNames={names}")
            return msgs[0]

        m = recv(["All"])
        self.assertEqual(norm_attrs(m.get("MessageAttributes")), expected)
        self.assertEqual(m.get("MD5OfMessageAttributes"), md5_of_attributes(attrs))

        m = recv([".*"])
        self.assertEqual(norm_attrs(m.get("MessageAttributes")), expected, "'.*' means all")

        m = recv(["attr.str", "custom.n", "not.there"])
        sub = {k: attrs[k] for k in ("attr.str", "custom.n")}
        self.assertEqual(norm_attrs(m.get("MessageAttributes")), norm_attrs(sub))
        self.assertEqual(m.get("MD5OfMessageAttributes"), md5_of_attributes(sub),
                         "MD5OfMessageAttributes covers the attributes returned")

        m = recv(["attr.*"])
        sub = {k: attrs[k] for k in ("attr.str", "attr.num", "attr.bin")}
        self.assertEqual(norm_attrs(m.get("MessageAttributes")), norm_attrs(sub))
        self.assertEqual(m.get("MD5OfMessageAttributes"), md5_of_attributes(sub))

        m = recv(None)
        self.assertNotIn("MessageAttributes", m)
        self.assertNotIn("MD5OfMessageAttributes", m)

        m = recv(["nomatch.*"])
        self.assertEqual(m.get("MessageAttributes", {}), {})
        self.assertNotIn("MD5OfMessageAttributes", m)

    def test_aws_trace_header_system_attribute(self):
        _, url = self.new_queue()
        sysattrs = {"AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}}
        r = self.client.send_message(QueueUrl=url, MessageBody="traced", MessageSystemAttributes=sysattrs)
        self.assertEqual(r.get("MD5OfMessageSystemAttributes"), md5_of_attributes(sysattrs))
        self.assertNotIn("MD5OfMessageAttributes", r)
        m = self.receive(url, system=["AWSTraceHeader"], VisibilityTimeout=0)[0]
        self.assertEqual(m.get("Attributes"), {"AWSTraceHeader": TRACE})
        m = self.receive(url, system=["All"], VisibilityTimeout=0)[0]
        self.assertEqual(m["Attributes"].get("AWSTraceHeader"), TRACE)
        m = self.receive(url, VisibilityTimeout=0)[0]
        self.assertNotIn("Attributes", m)

    def test_receive_system_attributes(self):
        _, url = self.new_queue()
        t0 = int(time.time() * 1000)
        sent = self.client.send_message(QueueUrl=url, MessageBody="sys")
        t1 = int(time.time() * 1000)
        m = self.receive(url, system=["All"], VisibilityTimeout=0)[0]
        t2 = int(time.time() * 1000)
        self.assertEqual(m["MessageId"], sent["MessageId"])
        a = m.get("Attributes", {})
        for k in ("SenderId", "SentTimestamp", "ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"):
            self.assertIn(k, a)
        self.assertTrue(a["SenderId"])
        self.assertTrue(t0 - 1000 <= int(a["SentTimestamp"]) <= t1 + 1000,
                        f"SentTimestamp {a['SentTimestamp']} is epoch ms within [{t0},{t1}]")
        self.assertEqual(a["ApproximateReceiveCount"], "1")
        first = int(a["ApproximateFirstReceiveTimestamp"])
        self.assertTrue(int(a["SentTimestamp"]) <= first <= t2 + 1000)
        self.assertNotIn("AWSTraceHeader", a, "not sent, so not returned")
        for k in ("MessageGroupId", "SequenceNumber", "MessageDeduplicationId"):
            self.assertNotIn(k, a, f"{k} is FIFO-only")

        m = self.receive(url, system=["ApproximateReceiveCount", "SentTimestamp"], VisibilityTimeout=0)[0]
        self.assertEqual(set(m["Attributes"]), {"ApproximateReceiveCount", "SentTimestamp"})
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "2")

        m = self.receive(url, system=["ApproximateFirstReceiveTimestamp", "SenderId"], VisibilityTimeout=0)[0]
        self.assertEqual(set(m["Attributes"]), {"ApproximateFirstReceiveTimestamp", "SenderId"})
        self.assertEqual(int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]), first,
                         "first receive time does not change on later receives")

    def test_send_delay_seconds(self):
        _, url = self.new_queue()
        t_send = time.monotonic()
        self.client.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=1)
        self.assertEqual(self.receive(url), [], "a delayed message is not received before its delay")
        self.assertEqual(self.counts(url), ("0", "0", "1"))
        msgs = wait_until(lambda: self.receive(url), timeout=4, interval=0.05, what="delayed message")
        t_got = time.monotonic()
        self.assertEqual(msgs[0]["Body"], "delayed")
        self.assertGreaterEqual(t_got, t_send + 1 - EARLY_TOLERANCE, "received before DelaySeconds passed")

    def test_queue_delay_seconds(self):
        _, url = self.new_queue({"DelaySeconds": "1"})
        t_send = time.monotonic()
        self.client.send_message(QueueUrl=url, MessageBody="queue-delayed")
        # the message's own DelaySeconds overrides the queue's
        self.client.send_message(QueueUrl=url, MessageBody="now", DelaySeconds=0)
        msgs = self.receive(url, VisibilityTimeout=60)
        self.assertEqual([m["Body"] for m in msgs], ["now"])
        msgs = wait_until(lambda: self.receive(url), timeout=4, interval=0.05, what="queue-delayed message")
        self.assertEqual(msgs[0]["Body"], "queue-delayed")
        self.assertGreaterEqual(time.monotonic(), t_send + 1 - EARLY_TOLERANCE)

    def test_send_invalid_characters(self):
        _, url = self.new_queue()
        for bad in ["\u0000", "a\uffffb", "bell\u0008", "\ufffe", "x\u001fy"]:
            with self.subTest(body=bad):
                self.assertSqsError("InvalidMessageContents", self.client.send_message,
                                    exc="InvalidMessageContents", QueueUrl=url, MessageBody=bad)
        self.assertEqual(self.counts(url)[0], "0")

    def test_send_over_maximum_message_size(self):
        _, url = self.new_queue({"MaximumMessageSize": "1024"})
        r = self.client.send_message(QueueUrl=url, MessageBody="a" * 1024)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex("a" * 1024))
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="a" * 1025)
        # multi-byte characters count as their UTF-8 bytes: 342 * 3 = 1026 bytes
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="✓" * 342)
        # message attributes count towards the size
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="a" * 1020,
                            MessageAttributes={"ab": {"DataType": "String", "StringValue": "xyzxyz"}})
        self.assertEqual(self.counts(url)[0], "1")

    def test_send_default_maximum_is_one_mebibyte(self):
        _, url = self.new_queue()
        big = "b" * 1048576
        r = self.client.send_message(QueueUrl=url, MessageBody=big)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex(big))
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody=big + "b")
        m = self.receive(url)[0]
        self.assertEqual(len(m["Body"]), 1048576)
        self.assertEqual(m["MD5OfBody"], md5_hex(big))

    def test_send_invalid_message_attributes(self):
        _, url = self.new_queue()
        bad_sets = {
            "unknown DataType": {"a": {"DataType": "Foo", "StringValue": "x"}},
            "non-numeric Number": {"a": {"DataType": "Number", "StringValue": "abc"}},
            "empty String value": {"a": {"DataType": "String", "StringValue": ""}},
            "no value": {"a": {"DataType": "String"}},
            "reserved prefix AWS.": {"AWS.a": {"DataType": "String", "StringValue": "x"}},
            "invalid name": {"bad name": {"DataType": "String", "StringValue": "x"}},
            "11 attributes": {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)},
        }
        for what, attrs in bad_sets.items():
            with self.subTest(what):
                self.assertSqsError("InvalidParameterValue", self.client.send_message,
                                    QueueUrl=url, MessageBody="x", MessageAttributes=attrs)
        ten = {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(10)}
        r = self.client.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=ten)
        self.assertEqual(r["MD5OfMessageAttributes"], md5_of_attributes(ten))
        self.assertEqual(self.counts(url)[0], "1")

    def test_send_delay_out_of_range(self):
        _, url = self.new_queue()
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="x", DelaySeconds=901)

    def test_send_to_missing_queue(self):
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.send_message,
                            exc="QueueDoesNotExist",
                            QueueUrl=self.server.queue_url(unique_name("nope")), MessageBody="x")

    def test_receive_max_number_of_messages(self):
        _, url = self.new_queue()
        ids = {self.client.send_message(QueueUrl=url, MessageBody=f"n{i}")["MessageId"] for i in range(12)}
        self.assertEqual(len(self.receive(url, VisibilityTimeout=600)), 1, "default MaxNumberOfMessages is 1")
        self.assertEqual(len(self.receive(url, VisibilityTimeout=600, MaxNumberOfMessages=1)), 1)
        ten = self.receive(url, VisibilityTimeout=600, MaxNumberOfMessages=10)
        self.assertTrue(1 <= len(ten) <= 10, len(ten))
        rest = receive_all(self.client, url, 12 - 2 - len(ten), timeout=3, VisibilityTimeout=600)
        self.assertEqual(self.counts(url), ("0", "12", "0"))
        self.assertTrue(set(m["MessageId"] for m in ten + rest) <= ids)
        for bad in (0, 11):
            with self.subTest(MaxNumberOfMessages=bad):
                self.assertSqsError("InvalidParameterValue", self.client.receive_message,
                                    QueueUrl=url, MaxNumberOfMessages=bad)
        self.assertSqsError("InvalidParameterValue", self.client.receive_message,
                            QueueUrl=url, VisibilityTimeout=43201)

    def test_receive_gets_each_message_once_while_invisible(self):
        _, url = self.new_queue()
        ids = {self.client.send_message(QueueUrl=url, MessageBody=f"n{i}")["MessageId"] for i in range(15)}
        got = []
        for _ in range(10):
            batch = self.receive(url, VisibilityTimeout=600, MaxNumberOfMessages=10)
            if not batch:
                break
            got += [m["MessageId"] for m in batch]
        self.assertEqual(len(got), len(set(got)), "a message was delivered twice while invisible")
        self.assertEqual(set(got), ids)

    # =====================================================================
    # Visibility, DeleteMessage, ChangeMessageVisibility
    # =====================================================================
    def test_visibility_timeout_expiry(self):
        _, url = self.new_queue({"VisibilityTimeout": "1"})
        self.client.send_message(QueueUrl=url, MessageBody="vis")
        t_recv = time.monotonic()
        first = self.receive(url, system=["All"])[0]
        self.assertEqual(self.receive(url), [], "received message must be invisible")
        self.assertEqual(self.counts(url), ("0", "1", "0"))
        again = wait_until(lambda: self.receive(url, system=["All"]), timeout=4,
                           what="message to become visible again")[0]
        self.assertGreaterEqual(time.monotonic(), t_recv + 1 - EARLY_TOLERANCE,
                                "visible again before its VisibilityTimeout (1 s)")
        self.assertEqual(again["MessageId"], first["MessageId"])
        self.assertNotEqual(again["ReceiptHandle"], first["ReceiptHandle"])
        self.assertEqual(again["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertEqual(again["Attributes"]["ApproximateFirstReceiveTimestamp"],
                         first["Attributes"]["ApproximateFirstReceiveTimestamp"])

    def test_change_message_visibility(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="cmv")
        m = self.receive(url, VisibilityTimeout=1)[0]
        # extend to 3 s: still invisible after the original 1 s
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=3)
        time.sleep(1.3)
        self.assertEqual(self.receive(url), [], "ChangeMessageVisibility did not extend the timeout")
        # to 0: visible at once
        self.client.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                              VisibilityTimeout=0)
        again = self.receive(url, system=["ApproximateReceiveCount"], VisibilityTimeout=600)
        self.assertEqual(len(again), 1, "VisibilityTimeout 0 makes the message visible at once")
        self.assertEqual(again[0]["MessageId"], m["MessageId"])
        self.assertEqual(again[0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.assertSqsError("InvalidParameterValue", self.client.change_message_visibility,
                            QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"], VisibilityTimeout=43201)

    def test_delete_message(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="del")
        self.client.send_message(QueueUrl=url, MessageBody="keep")
        t_recv = time.monotonic()
        msgs = receive_all(self.client, url, 2, timeout=3, VisibilityTimeout=1)
        m = [x for x in msgs if x["Body"] == "del"][0]
        self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        # deleting again with the same handle succeeds, as on AWS
        self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        time.sleep(max(0.0, t_recv + 1.3 - time.monotonic()))
        back = receive_all(self.client, url, 2, timeout=1.5, VisibilityTimeout=600)
        self.assertEqual([x["Body"] for x in back], ["keep"], "a deleted message came back")
        self.assertEqual(self.counts(url), ("0", "1", "0"))

    def test_invalid_receipt_handles(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        real = self.receive(url, VisibilityTimeout=600)[0]["ReceiptHandle"]
        for bad in ["garbage", "AQEB" + "x" * 100, real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")]:
            with self.subTest(handle=bad[:20]):
                # AWS's model: ReceiptHandleIsInvalid is HTTP 404
                self.assertSqsError("ReceiptHandleIsInvalid", self.client.delete_message, status=404,
                                    exc="ReceiptHandleIsInvalid", QueueUrl=url, ReceiptHandle=bad)
                self.assertSqsError("ReceiptHandleIsInvalid", self.client.change_message_visibility,
                                    status=404, exc="ReceiptHandleIsInvalid", QueueUrl=url,
                                    ReceiptHandle=bad, VisibilityTimeout=0)
        self.assertEqual(self.counts(url), ("0", "1", "0"), "an invalid handle must not touch the message")

    def test_receipt_handle_of_another_queue(self):
        _, url1 = self.new_queue()
        _, url2 = self.new_queue()
        self.client.send_message(QueueUrl=url1, MessageBody="x")
        h = self.receive(url1, VisibilityTimeout=600)[0]["ReceiptHandle"]
        # AWS: "The receipt handle ... is not valid for this queue"
        self.assertSqsError("ReceiptHandleIsInvalid", self.client.delete_message, status=404,
                            exc="ReceiptHandleIsInvalid", QueueUrl=url2, ReceiptHandle=h)
        self.assertEqual(self.counts(url1), ("0", "1", "0"),
                         "DeleteMessage on another queue must not delete the message")

    # =====================================================================
    # Long polling
    # =====================================================================
    def test_long_poll_returns_when_a_message_arrives(self):
        _, url = self.new_queue()
        sent_at = []

        def send_later():
            time.sleep(1.0)
            sent_at.append(time.monotonic())
            self.sender.send_message(QueueUrl=url, MessageBody="wake up")

        th = threading.Thread(target=send_later, daemon=True)
        t0 = time.monotonic()
        th.start()
        msgs = self.receive(url, WaitTimeSeconds=5)
        t1 = time.monotonic()
        th.join(timeout=10)
        self.assertEqual([m["Body"] for m in msgs], ["wake up"])
        self.assertTrue(sent_at and t1 >= sent_at[0], "returned before the message was sent")
        self.assertLess(t1 - t0, 4.0, f"long poll took {t1 - t0:.2f}s; it must return when the message arrives")

    def test_long_poll_empty_queue_waits(self):
        _, url = self.new_queue()
        t0 = time.monotonic()
        self.assertEqual(self.receive(url, WaitTimeSeconds=1), [])
        dt = time.monotonic() - t0
        self.assertTrue(0.9 <= dt < 3.0, f"WaitTimeSeconds=1 on an empty queue took {dt:.2f}s")

    def test_long_poll_uses_queue_receive_wait_time(self):
        _, url = self.new_queue({"ReceiveMessageWaitTimeSeconds": "1"})
        t0 = time.monotonic()
        self.assertEqual(self.receive(url), [])
        dt = time.monotonic() - t0
        self.assertTrue(0.9 <= dt < 3.0, f"queue ReceiveMessageWaitTimeSeconds=1 not used ({dt:.2f}s)")
        t0 = time.monotonic()
        self.assertEqual(self.receive(url, WaitTimeSeconds=0), [])
        dt = time.monotonic() - t0
        self.assertLess(dt, 0.5, "WaitTimeSeconds=0 in the request overrides the queue's")

    def test_long_poll_woken_by_delay_and_visibility_expiry(self):
        # a long poll returns as soon as a delayed message becomes available
        # or an in-flight one becomes visible again: no waiting out the poll
        _, url = self.new_queue()
        t_send = time.monotonic()
        self.client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
        t0 = time.monotonic()
        msgs = self.receive(url, WaitTimeSeconds=5, VisibilityTimeout=1)
        t1 = time.monotonic()
        self.assertEqual([m["Body"] for m in msgs], ["later"], "long poll missed a delayed message")
        self.assertGreaterEqual(t1, t_send + 1 - EARLY_TOLERANCE, "delayed message received early")
        self.assertLess(t1 - t0, 3.5, f"long poll returned {t1 - t0:.2f}s after start, not at the delay's end")
        msgs2 = self.receive(url, WaitTimeSeconds=5)
        t2 = time.monotonic()
        self.assertEqual([m["MessageId"] for m in msgs2], [msgs[0]["MessageId"]],
                         "long poll missed a message whose visibility timeout expired")
        self.assertLess(t2 - t1, 3.0, f"long poll took {t2 - t1:.2f}s to see a visibility expiry (1 s)")

    def long_polls_around(self, url, count, wait_seconds, send):
        """`count` long polls (each its own client) wait on `url`; after 0.5 s
        `send()` runs. Answers (seconds taken, messages) per poll, most
        messages first."""
        clients = [self.make_client(self.server) for _ in range(count)]
        results = {}

        def poll(i):
            t = time.monotonic()
            try:
                r = clients[i].receive_message(QueueUrl=url, WaitTimeSeconds=wait_seconds, VisibilityTimeout=600)
                results[i] = (time.monotonic() - t, r.get("Messages", []))
            except Exception as e:
                results[i] = (time.monotonic() - t, e)

        threads = [threading.Thread(target=poll, args=(i,), daemon=True) for i in range(count)]
        for th in threads:
            th.start()
        time.sleep(0.5)
        send()
        for th in threads:
            th.join(timeout=wait_seconds + 10)
        self.assertEqual(len(results), count, results)
        for i, (dt, r) in results.items():
            self.assertIsInstance(r, list, f"poller {i} failed: {r!r}")
        return sorted(results.values(), key=lambda x: -len(x[1]))

    def test_long_poll_one_message_wakes_one_waiter(self):
        _, url = self.new_queue()
        got = self.long_polls_around(url, 2, 2, lambda: self.client.send_message(QueueUrl=url, MessageBody="only one"))
        self.assertEqual([len(got[0][1]), len(got[1][1])], [1, 0],
                         "exactly one of two waiting long polls gets the message")
        self.assertLess(got[0][0], 1.8, "the woken poll returned late")
        self.assertGreaterEqual(got[1][0], 1.9, "the other poll returned before its WaitTimeSeconds")

    def test_long_poll_batch_wakes_a_waiter_per_message(self):
        # One SendMessageBatch of 4 notifies once; each woken poll that gets a
        # message hands the wake-up on, so all 4 waiting polls get one
        # promptly and a fifth waits out its time.
        _, url = self.new_queue()
        entries = [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(4)]
        got = self.long_polls_around(url, 5, 4, lambda: self.client.send_message_batch(QueueUrl=url, Entries=entries))
        self.assertEqual([len(m) for _, m in got], [1, 1, 1, 1, 0])
        self.assertEqual(sorted(m[0]["Body"] for _, m in got[:4]), ["m0", "m1", "m2", "m3"])
        for dt, _ in got[:4]:
            self.assertLess(dt, 3.0, "a poll with a message waiting for it returned late")
        self.assertGreaterEqual(got[4][0], 3.9, "the fifth poll returned before its WaitTimeSeconds")

    def test_long_poll_wait_time_out_of_range(self):
        _, url = self.new_queue()
        self.assertSqsError("InvalidParameterValue", self.client.receive_message,
                            QueueUrl=url, WaitTimeSeconds=21)

    # =====================================================================
    # PurgeQueue, other actions
    # =====================================================================
    def test_purge_queue(self):
        _, url = self.new_queue()
        for i in range(3):
            self.client.send_message(QueueUrl=url, MessageBody=f"p{i}")
        self.client.send_message(QueueUrl=url, MessageBody="delayed", DelaySeconds=600)
        self.assertEqual(len(self.receive(url, VisibilityTimeout=600)), 1)
        self.client.purge_queue(QueueUrl=url)
        self.assertEqual(self.counts(url), ("0", "0", "0"))
        self.assertEqual(self.receive(url, MaxNumberOfMessages=10), [])
        self.assertSqsError("AWS.SimpleQueueService.PurgeQueueInProgress", self.client.purge_queue,
                            exc="PurgeQueueInProgress", status=403, QueueUrl=url)
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.purge_queue,
                            exc="QueueDoesNotExist", QueueUrl=url + "-missing")

    def test_action_outside_this_issue_answers_properly(self):
        # Not asserting details: only that the server answers a well-formed
        # result or a well-formed SQS error, and survives.
        _, url = self.new_queue()
        try:
            r = self.client.list_queue_tags(QueueUrl=url)
            self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 200)
        except ClientError as e:
            self.assertTrue(error_code(e), "error without a code")
            self.assertTrue(400 <= (http_status(e) or 0) < 600, http_status(e))
        self.assertTrue(self.client.list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200)


def short(kwargs, n=120):
    s = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return s if len(s) <= n else s[:n] + "..."
