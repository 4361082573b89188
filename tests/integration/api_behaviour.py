"""SQS API families beyond the core actions, written once and run by every
boto3 flavour (JSON and query): batches, dead-letter queues and redrive,
message move tasks, tags, permissions and the 60-second limits.

A test class mixes ApiBehaviour into unittest.TestCase and provides
make_client(server) and protocol ('json' or 'query'). Everything asserted here
is what Amazon SQS does (sources are named next to the less obvious checks).

Debian's query-era botocore model (1.29) has no StartMessageMoveTask,
CancelMessageMoveTask or ListMessageMoveTasks, so the query flavour sends
those three as raw form POSTs (Action=StartMessageMoveTask&SourceArn=...) and
parses the XML answer (RawQuery below).

The message-retention scenario needs ~62 s of waiting; RetentionScenario
starts it once per test process (from each API module's setUpModule) on its
own server, a thread observes the queues at t≈62 s, and
test_api_cli.RetentionTest asserts on that observation, so the wait overlaps
the other API tests.
"""

import base64
import http.client
import json
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import (ACCOUNT, DUMMY_KEY, DUMMY_SECRET, REGION, WharfServer, error_code,
                     http_status, make_json_client, md5_hex, md5_of_attributes, receive_all,
                     unique_name, wait_until)
from sqs_behaviour import SqsTestBase, norm_attrs, short

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"

# AddPermission: "An Amazon SQS policy can have a maximum of 7 actions" (API reference)
EIGHT_ACTIONS = ["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                 "GetQueueAttributes", "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue"]

BATCH_ACTIONS = ("send_message_batch", "delete_message_batch", "change_message_visibility_batch")


def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def as_list(v):
    return v if isinstance(v, list) else [v]


class RawQuery:
    """Query-protocol calls as raw, SigV4-signed form POSTs to "/", for the
    actions Debian's query-era model does not know. Answers are parsed with
    xml.etree; ErrorResponse documents raise botocore's ClientError, shaped as
    boto3 would shape them, so assertSqsError works unchanged."""

    INT_FIELDS = {"MaxNumberOfMessagesPerSecond", "ApproximateNumberOfMessagesMoved",
                  "ApproximateNumberOfMessagesToMove", "StartedTimestamp"}

    def __init__(self, server, region=REGION):
        self.server = server
        self.region = region

    def call(self, action, params):
        form = urllib.parse.urlencode(dict({"Action": action, "Version": "2012-11-05"}, **params)).encode()
        host = self.server.host
        req = AWSRequest(method="POST", url=f"http://{host}/", data=form,
                         headers={"Content-Type": FORM_CT})
        SigV4Auth(Credentials(DUMMY_KEY, DUMMY_SECRET), "sqs", self.region).add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
        try:
            conn.request("POST", "/", body=form, headers=dict(req.headers.items()))
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            root = ET.fromstring(data)
        except ET.ParseError as e:
            raise AssertionError(f"{action}: answer is not XML ({e}), HTTP {resp.status}: {data[:300]!r}")
        if root.tag == NS + "ErrorResponse":
            err = root.find(NS + "Error")
            raise ClientError({
                "Error": {"Code": err.findtext(NS + "Code"), "Message": err.findtext(NS + "Message"),
                          "Type": err.findtext(NS + "Type")},
                "ResponseMetadata": {"HTTPStatusCode": resp.status}}, action)
        if resp.status != 200 or root.tag != NS + f"{action}Response":
            raise AssertionError(f"{action}: HTTP {resp.status}, root {root.tag}: {data[:300]!r}")
        if not root.findtext(f"{NS}ResponseMetadata/{NS}RequestId"):
            raise AssertionError(f"{action}: no ResponseMetadata/RequestId: {data[:300]!r}")
        result = root.find(NS + f"{action}Result")
        if result is None:
            raise AssertionError(f"{action}: no <{action}Result> (AWS always sends it for an action "
                                 f"with an output shape): {data[:300]!r}")
        return result

    def _fields(self, elem):
        out = {}
        for child in elem:
            key = child.tag[len(NS):] if child.tag.startswith(NS) else child.tag
            out[key] = int(child.text) if key in self.INT_FIELDS else (child.text or "")
        return out

    def start_message_move_task(self, **kw):
        return self._fields(self.call("StartMessageMoveTask", {k: str(v) for k, v in kw.items()}))

    def cancel_message_move_task(self, **kw):
        return self._fields(self.call("CancelMessageMoveTask", kw))

    def list_message_move_tasks(self, **kw):
        result = self.call("ListMessageMoveTasks", {k: str(v) for k, v in kw.items()})
        return {"Results": [self._fields(e) for e in result.findall(NS + "ListMessageMoveTasksResultEntry")]}


class ApiBehaviour(SqsTestBase):
    """Mixin: needs make_client(server) and protocol ('json' or 'query')."""

    def visible(self, url):
        return int(self.counts(url)[0])

    def drain_bodies(self, url, expected, timeout=3.0):
        """Receive (invisible for 10 minutes) everything in the queue; bodies
        as a list, so that a duplicate shows up."""
        msgs = receive_all(self.client, url, expected, timeout=timeout, VisibilityTimeout=600)
        # one more look: nothing beyond what was expected
        msgs += self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        return sorted(m["Body"] for m in msgs)

    # dead-letter plumbing
    def dlq_pipe(self, max_receive=1, sources=1, dlq_attrs=None):
        """A dead-letter queue and `sources` queues redriving into it.
        Returns (dlq_url, dlq_arn, [(source_url, source_arn), ...])."""
        dlq_name, dlq_url = self.new_queue(dlq_attrs, prefix="dlq")
        dlq_arn = queue_arn(dlq_name)
        out = []
        for i in range(sources):
            policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive})
            name, url = self.new_queue({"RedrivePolicy": policy}, prefix=f"src{i}")
            out.append((url, queue_arn(name)))
        return dlq_url, dlq_arn, out

    def drive_to_dlq(self, source_url, dlq_url, expected_in_dlq):
        """Receive with VisibilityTimeout 0 until `expected_in_dlq` messages have
        gone past maxReceiveCount into the dead-letter queue (bounded)."""
        deadline = time.monotonic() + 10
        for _ in range(300):
            if self.visible(dlq_url) >= expected_in_dlq:
                return
            if time.monotonic() > deadline:
                break
            self.client.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        self.fail(f"only {self.visible(dlq_url)} of {expected_in_dlq} messages reached the dead-letter queue")

    # message move tasks: boto3 (JSON) or raw form POSTs (query)
    def _mmt(self):
        return self.client if self.protocol == "json" else RawQuery(self.server)

    def start_message_move_task(self, **kw):
        return self._mmt().start_message_move_task(**kw)

    def cancel_message_move_task(self, **kw):
        return self._mmt().cancel_message_move_task(**kw)

    def list_message_move_tasks(self, **kw):
        return self._mmt().list_message_move_tasks(**kw)

    def wait_task_status(self, source_arn, statuses, timeout=10.0):
        def done():
            r = self.list_message_move_tasks(SourceArn=source_arn)["Results"]
            return r[0] if r and r[0]["Status"] in statuses else None
        return wait_until(done, timeout=timeout, interval=0.1, what=f"move task status in {statuses}")

    # =====================================================================
    # Batches
    # =====================================================================
    def test_send_batch_one_bad_entry_among_good_ones(self):
        _, url = self.new_queue()
        attrs = {"s": {"DataType": "String", "StringValue": "v"},
                 "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xfe\xff"}}
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "good1", "MessageBody": "first", "MessageAttributes": attrs},
            {"Id": "bad", "MessageBody": "\u0000"},
            {"Id": "good2", "MessageBody": "second ✓"},
        ])
        ok = {e["Id"]: e for e in r.get("Successful", [])}
        self.assertEqual(set(ok), {"good1", "good2"}, r)
        for e in ok.values():
            self.assertTrue(e.get("MessageId"), e)
            self.assertNotIn("SequenceNumber", e, "standard queue")
        self.assertNotEqual(ok["good1"]["MessageId"], ok["good2"]["MessageId"])
        self.assertEqual(ok["good1"]["MD5OfMessageBody"], md5_hex("first"))
        self.assertEqual(ok["good1"].get("MD5OfMessageAttributes"), md5_of_attributes(attrs))
        self.assertEqual(ok["good2"]["MD5OfMessageBody"], md5_hex("second ✓"))
        self.assertNotIn("MD5OfMessageAttributes", ok["good2"], "no attributes sent: no MD5OfMessageAttributes")
        failed = r.get("Failed", [])
        self.assertEqual(len(failed), 1, r)
        f = failed[0]
        self.assertEqual(f["Id"], "bad")
        self.assertIs(f["SenderFault"], True)
        self.assertEqual(f["Code"], "InvalidMessageContents")
        self.assertTrue(f.get("Message"), "a failed entry carries a Message")
        # the good ones really took effect, and only they
        self.assertEqual(self.counts(url), ("2", "0", "0"))
        msgs = receive_all(self.client, url, 2, timeout=3, VisibilityTimeout=600, MessageAttributeNames=["All"])
        by_id = {m["MessageId"]: m for m in msgs}
        self.assertEqual(set(by_id), {ok["good1"]["MessageId"], ok["good2"]["MessageId"]})
        m1 = by_id[ok["good1"]["MessageId"]]
        self.assertEqual(m1["Body"], "first")
        self.assertEqual(norm_attrs(m1.get("MessageAttributes")), norm_attrs(attrs))
        self.assertEqual(by_id[ok["good2"]["MessageId"]]["Body"], "second ✓")

    def test_send_batch_per_entry_attributes_binary_byte_exact(self):
        _, url = self.new_queue()
        per_entry = {
            "e1": {"bin": {"DataType": "Binary", "BinaryValue": bytes(range(256))},
                   "num": {"DataType": "Number.float", "StringValue": "1.5e3"}},
            "e2": {"raw": {"DataType": "Binary.custom", "BinaryValue": b"\x00\xff\x00\r\n"},
                   "txt": {"DataType": "String", "StringValue": "<&> ✓ 😀"}},
            "e3": None,
        }
        entries = []
        for i, (eid, a) in enumerate(per_entry.items()):
            e = {"Id": eid, "MessageBody": f"body-{eid}"}
            if a:
                e["MessageAttributes"] = a
            entries.append(e)
        r = self.client.send_message_batch(QueueUrl=url, Entries=entries)
        self.assertEqual(r.get("Failed", []), [])
        ok = {e["Id"]: e for e in r["Successful"]}
        self.assertEqual(set(ok), set(per_entry))
        for eid, a in per_entry.items():
            self.assertEqual(ok[eid]["MD5OfMessageBody"], md5_hex(f"body-{eid}"))
            if a:
                self.assertEqual(ok[eid].get("MD5OfMessageAttributes"), md5_of_attributes(a), eid)
            else:
                self.assertNotIn("MD5OfMessageAttributes", ok[eid])
        msgs = receive_all(self.client, url, 3, timeout=3, VisibilityTimeout=600, MessageAttributeNames=["All"])
        self.assertEqual(len(msgs), 3)
        for m in msgs:
            eid = m["Body"].split("-", 1)[1]
            self.assertEqual(m["MessageId"], ok[eid]["MessageId"])
            a = per_entry[eid]
            if a:
                self.assertEqual(norm_attrs(m.get("MessageAttributes")), norm_attrs(a), f"attributes of {eid}")
                self.assertEqual(m.get("MD5OfMessageAttributes"), md5_of_attributes(a))
            else:
                self.assertNotIn("MessageAttributes", m)
        got = {m["Body"]: m for m in msgs}
        self.assertEqual(bytes(got["body-e1"]["MessageAttributes"]["bin"]["BinaryValue"]), bytes(range(256)))
        self.assertEqual(bytes(got["body-e2"]["MessageAttributes"]["raw"]["BinaryValue"]), b"\x00\xff\x00\r\n")

    def test_send_batch_per_entry_delay_seconds(self):
        # per-entry DelaySeconds overrides the queue's DelaySeconds
        _, url = self.new_queue({"DelaySeconds": "600"})
        t_send = time.monotonic()
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "now", "MessageBody": "now", "DelaySeconds": 0},
            {"Id": "soon", "MessageBody": "soon", "DelaySeconds": 1},
            {"Id": "queue", "MessageBody": "queue default"},
        ])
        self.assertEqual(len(r["Successful"]), 3, r)
        self.assertEqual(self.counts(url), ("1", "0", "2"))
        self.assertEqual([m["Body"] for m in self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=600)],
                         ["now"])
        msgs = wait_until(lambda: self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=600),
                          timeout=4, what="the entry delayed by 1 s")
        self.assertGreaterEqual(time.monotonic(), t_send + 0.9)
        self.assertEqual([m["Body"] for m in msgs], ["soon"])
        self.assertEqual(self.counts(url), ("0", "2", "1"), "the entry without DelaySeconds takes the queue's 600 s")

    def test_delete_batch_one_bad_handle(self):
        _, url = self.new_queue()
        for i in range(3):
            self.client.send_message(QueueUrl=url, MessageBody=f"d{i}")
        msgs = receive_all(self.client, url, 3, timeout=3, VisibilityTimeout=1)
        self.assertEqual(len(msgs), 3)
        t_recv = time.monotonic()
        by_body = {m["Body"]: m for m in msgs}
        r = self.client.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": by_body["d0"]["ReceiptHandle"]},
            {"Id": "b", "ReceiptHandle": "garbage"},
            {"Id": "c", "ReceiptHandle": by_body["d2"]["ReceiptHandle"]},
        ])
        self.assertEqual(sorted(e["Id"] for e in r.get("Successful", [])), ["a", "c"], r)
        failed = r.get("Failed", [])
        self.assertEqual(len(failed), 1, r)
        self.assertEqual(failed[0]["Id"], "b")
        self.assertIs(failed[0]["SenderFault"], True)
        self.assertEqual(failed[0]["Code"], "ReceiptHandleIsInvalid")
        self.assertTrue(failed[0].get("Message"))
        # the deletes really happened: after the 1 s visibility only d1 comes back
        time.sleep(max(0.0, t_recv + 1.2 - time.monotonic()))
        self.assertEqual(self.drain_bodies(url, 1, timeout=2), ["d1"])

    def test_change_visibility_batch_one_bad_handle(self):
        _, url = self.new_queue()
        for i in range(2):
            self.client.send_message(QueueUrl=url, MessageBody=f"v{i}")
        msgs = receive_all(self.client, url, 2, timeout=3, VisibilityTimeout=600)
        by_body = {m["Body"]: m for m in msgs}
        r = self.client.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "zero", "ReceiptHandle": by_body["v0"]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "junk", "ReceiptHandle": "AQEB" + "x" * 60, "VisibilityTimeout": 0},
        ])
        self.assertEqual([e["Id"] for e in r.get("Successful", [])], ["zero"], r)
        failed = r.get("Failed", [])
        self.assertEqual(len(failed), 1, r)
        self.assertEqual(failed[0]["Id"], "junk")
        self.assertIs(failed[0]["SenderFault"], True)
        self.assertEqual(failed[0]["Code"], "ReceiptHandleIsInvalid")
        self.assertTrue(failed[0].get("Message"))
        # v0 is visible at once, v1 stays in flight
        again = self.receive(url, MaxNumberOfMessages=10, VisibilityTimeout=600)
        self.assertEqual([m["Body"] for m in again], ["v0"])
        self.assertEqual(self.counts(url), ("0", "2", "0"))

    def test_batch_whole_request_errors(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        handle = self.receive(url, VisibilityTimeout=600)[0]["ReceiptHandle"]

        def entry(action, i):
            if action == "send_message_batch":
                return {"Id": str(i), "MessageBody": f"m{i}"}
            if action == "delete_message_batch":
                return {"Id": str(i), "ReceiptHandle": handle}
            return {"Id": str(i), "ReceiptHandle": handle, "VisibilityTimeout": 600}

        for action in BATCH_ACTIONS:
            fn = getattr(self.client, action)
            cases = [
                ("AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest", []),
                ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "TooManyEntriesInBatchRequest",
                 [entry(action, i) for i in range(11)]),
                ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "BatchEntryIdsNotDistinct",
                 [dict(entry(action, 1)), dict(entry(action, 1))]),
                ("AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId",
                 [dict(entry(action, 0), Id="bad id")]),
                ("AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId",
                 [dict(entry(action, 0), Id="a" * 81)]),
            ]
            for code, exc, entries in cases:
                with self.subTest(action=action, code=code, n=len(entries)):
                    self.assertSqsError(code, fn, exc=exc, QueueUrl=url, Entries=entries)
        # none of these took effect: the one message is still in flight, nothing was sent
        self.assertEqual(self.counts(url), ("0", "1", "0"))
        # 10 entries and 80-character ids of the whole alphabet are fine
        ten = [{"Id": f"{i}-_Ab" + "z" * 75, "MessageBody": f"ok{i}"} for i in range(10)]
        self.assertEqual(len(ten[0]["Id"]), 80)
        r = self.client.send_message_batch(QueueUrl=url, Entries=ten)
        self.assertEqual(len(r["Successful"]), 10)
        self.assertEqual(r.get("Failed", []), [])

    def test_send_batch_request_too_long(self):
        # bodies (and attributes) summed over the batch are bounded by
        # 1,048,576 bytes, whatever the queue's MaximumMessageSize (AWS)
        _, url = self.new_queue({"MaximumMessageSize": "1024"})
        attr = {"ab": {"DataType": "String", "StringValue": "x" * 20}}
        self.assertSqsError("AWS.SimpleQueueService.BatchRequestTooLong", self.client.send_message_batch,
                            exc="BatchRequestTooLong", QueueUrl=url, Entries=[
                                {"Id": f"e{i}", "MessageBody": "a" * 220_000, "MessageAttributes": attr}
                                for i in range(5)])
        self.assertEqual(self.counts(url), ("0", "0", "0"), "a rejected batch sends nothing")
        r = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "a" * 600}, {"Id": "b", "MessageBody": "b" * 600}])
        self.assertEqual(len(r["Successful"]), 2, "2 x 600 bytes on a 1,024-byte queue: each fits")

    # =====================================================================
    # Dead-letter queues
    # =====================================================================
    def test_redrive_policy_create_set_read_back_and_remove(self):
        dlq_name, dlq_url = self.new_queue(prefix="dlq")
        dlq_arn = self.attrs(dlq_url, ["QueueArn"])["QueueArn"]
        self.assertEqual(dlq_arn, queue_arn(dlq_name))
        policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
        src_name, src_url = self.new_queue({"RedrivePolicy": json.dumps(policy)}, prefix="src")
        got = json.loads(self.attrs(src_url, ["RedrivePolicy"])["RedrivePolicy"])
        self.assertEqual(got, policy)
        self.assertIsInstance(got["maxReceiveCount"], int, "maxReceiveCount is read back as a JSON number")
        self.assertIn("RedrivePolicy", self.attrs(src_url), "RedrivePolicy is part of All")
        # SetQueueAttributes; maxReceiveCount given as a string (as AWS's own CLI
        # examples do) is read back as a number
        other_name, other_url = self.new_queue(prefix="src2")
        self.client.set_queue_attributes(QueueUrl=other_url, Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})
        got = json.loads(self.attrs(other_url, ["RedrivePolicy"])["RedrivePolicy"])
        self.assertEqual(got, {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
        srcs = self.client.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        self.assertEqual(sorted(srcs), sorted([src_url, other_url]))
        # "" removes it
        self.client.set_queue_attributes(QueueUrl=src_url, Attributes={"RedrivePolicy": ""})
        self.assertNotIn("RedrivePolicy", self.attrs(src_url))
        self.assertEqual(self.attrs(src_url, ["RedrivePolicy"]), {})
        srcs = self.client.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
        self.assertEqual(srcs, [other_url])

    def test_redrive_policy_invalid(self):
        dlq_name, dlq_url = self.new_queue(prefix="dlq")
        dlq_arn = queue_arn(dlq_name)
        bad = {
            "maxReceiveCount 0": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 0}),
            "maxReceiveCount 1001": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1001}),
            "missing target queue": json.dumps({"deadLetterTargetArn": queue_arn(unique_name("gone")),
                                                "maxReceiveCount": 2}),
            "no maxReceiveCount": json.dumps({"deadLetterTargetArn": dlq_arn}),
            "not JSON": "not json",
        }
        _, url = self.new_queue(prefix="src")
        for what, value in bad.items():
            with self.subTest(what, action="CreateQueue"):
                name = unique_name("badrp")
                self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                                    QueueName=name, Attributes={"RedrivePolicy": value})
                self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url,
                                    QueueName=name)
            with self.subTest(what, action="SetQueueAttributes"):
                self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes,
                                    QueueUrl=url, Attributes={"RedrivePolicy": value})
        self.assertNotIn("RedrivePolicy", self.attrs(url))
        # the bounds themselves are fine
        for n in (1, 1000):
            self.client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": n})})
            self.assertEqual(json.loads(self.attrs(url, ["RedrivePolicy"])["RedrivePolicy"])["maxReceiveCount"], n)

    def test_redrive_end_to_end(self):
        dlq_url, dlq_arn, [(src_url, src_arn)] = self.dlq_pipe(max_receive=2)
        attrs = {"k": {"DataType": "String", "StringValue": "v"},
                 "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x10\xff"}}
        sent = self.client.send_message(QueueUrl=src_url, MessageBody="poison ✓", MessageAttributes=attrs)
        first = self.receive(src_url, system=["All"], VisibilityTimeout=0, MessageAttributeNames=["All"])
        self.assertEqual(len(first), 1)
        self.assertEqual(first[0]["Attributes"]["ApproximateReceiveCount"], "1")
        sent_ts = first[0]["Attributes"]["SentTimestamp"]
        second = self.receive(src_url, system=["ApproximateReceiveCount"], VisibilityTimeout=0)
        self.assertEqual(len(second), 1)
        self.assertEqual(second[0]["Attributes"]["ApproximateReceiveCount"], "2")
        # the third receive would exceed maxReceiveCount 2: the message goes to the DLQ instead
        self.assertEqual(self.receive(src_url, VisibilityTimeout=0, MaxNumberOfMessages=10), [])
        self.assertEqual(self.counts(src_url), ("0", "0", "0"))
        got = wait_until(lambda: self.receive(dlq_url, system=["All"], MessageAttributeNames=["All"],
                                              VisibilityTimeout=600),
                         timeout=5, what="the message in the dead-letter queue")
        self.assertEqual(len(got), 1)
        m = got[0]
        self.assertEqual(m["MessageId"], sent["MessageId"])
        self.assertEqual(m["Body"], "poison ✓")
        self.assertEqual(m["MD5OfBody"], md5_hex("poison ✓"))
        self.assertEqual(norm_attrs(m.get("MessageAttributes")), norm_attrs(attrs))
        self.assertEqual(m.get("MD5OfMessageAttributes"), md5_of_attributes(attrs))
        # standard queues: "the enqueue timestamp is unchanged" when moved to a DLQ
        self.assertEqual(m["Attributes"]["SentTimestamp"], sent_ts)
        self.assertEqual(m["Attributes"].get("DeadLetterQueueSourceArn"), src_arn)
        self.assertEqual(self.counts(src_url), ("0", "0", "0"), "nothing comes back to the source")

    def test_redrive_allow_policy(self):
        def dlq_with(policy):
            name, url = self.new_queue({"RedriveAllowPolicy": json.dumps(policy)}, prefix="dlq")
            got = json.loads(self.attrs(url, ["RedriveAllowPolicy"])["RedriveAllowPolicy"])
            self.assertEqual(got, policy, "RedriveAllowPolicy read back")
            return queue_arn(name)

        def redrive_to(arn):
            return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})}

        deny = dlq_with({"redrivePermission": "denyAll"})
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=unique_name("denied"), Attributes=redrive_to(deny))
        _, plain = self.new_queue(prefix="plain")
        self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes,
                            QueueUrl=plain, Attributes=redrive_to(deny))

        allowed_name = unique_name("allowed")
        by_queue = dlq_with({"redrivePermission": "byQueue", "sourceQueueArns": [queue_arn(allowed_name)]})
        self.client.create_queue(QueueName=allowed_name, Attributes=redrive_to(by_queue))
        self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                            QueueName=unique_name("notlisted"), Attributes=redrive_to(by_queue))
        self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes,
                            QueueUrl=plain, Attributes=redrive_to(by_queue))

        allow = dlq_with({"redrivePermission": "allowAll"})
        self.client.set_queue_attributes(QueueUrl=plain, Attributes=redrive_to(allow))
        self.assertEqual(json.loads(self.attrs(plain, ["RedrivePolicy"])["RedrivePolicy"])["deadLetterTargetArn"],
                         allow)

    def test_redrive_allow_policy_invalid(self):
        arns = [queue_arn(f"src{i}") for i in range(11)]
        bad = {
            "byQueue without sourceQueueArns": {"redrivePermission": "byQueue"},
            "byQueue with 11 sourceQueueArns": {"redrivePermission": "byQueue", "sourceQueueArns": arns},
            "allowAll with sourceQueueArns": {"redrivePermission": "allowAll", "sourceQueueArns": arns[:1]},
            "denyAll with sourceQueueArns": {"redrivePermission": "denyAll", "sourceQueueArns": arns[:1]},
            "unknown redrivePermission": {"redrivePermission": "maybe"},
        }
        _, url = self.new_queue()
        for what, policy in bad.items():
            with self.subTest(what):
                self.assertSqsError("InvalidParameterValue", self.client.set_queue_attributes,
                                    QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps(policy)})
                self.assertSqsError("InvalidParameterValue", self.client.create_queue,
                                    QueueName=unique_name("badrap"),
                                    Attributes={"RedriveAllowPolicy": json.dumps(policy)})
        self.assertNotIn("RedriveAllowPolicy", self.attrs(url))
        # 10 source ARNs are fine
        ten = {"redrivePermission": "byQueue", "sourceQueueArns": arns[:10]}
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"RedriveAllowPolicy": json.dumps(ten)})
        self.assertEqual(json.loads(self.attrs(url, ["RedriveAllowPolicy"])["RedriveAllowPolicy"]), ten)

    def test_list_dead_letter_source_queues_paging(self):
        dlq_url, dlq_arn, sources = self.dlq_pipe(sources=3)
        urls = sorted(u for u, _ in sources)
        # an unrelated source of another DLQ is not listed
        self.dlq_pipe(sources=1)
        r = self.client.list_dead_letter_source_queues(QueueUrl=dlq_url)
        self.assertEqual(sorted(r.get("queueUrls", [])), urls)
        self.assertNotIn("NextToken", r, "no MaxResults: no NextToken")
        seen, token = [], None
        for _ in range(5):
            kw = {"QueueUrl": dlq_url, "MaxResults": 2}
            if token:
                kw["NextToken"] = token
            r = self.client.list_dead_letter_source_queues(**kw)
            page = r.get("queueUrls", [])
            self.assertLessEqual(len(page), 2)
            seen += page
            token = r.get("NextToken")
            if not token:
                break
        self.assertIsNone(token, "paging did not end")
        self.assertEqual(sorted(seen), urls, "pages together list every source once")
        first = self.client.list_dead_letter_source_queues(QueueUrl=dlq_url, MaxResults=2)
        self.assertEqual(len(first["queueUrls"]), 2)
        self.assertIn("NextToken", first)
        # a queue that is nobody's DLQ has no sources
        _, lonely = self.new_queue()
        self.assertEqual(self.client.list_dead_letter_source_queues(QueueUrl=lonely).get("queueUrls", []), [])
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.list_dead_letter_source_queues,
                            QueueUrl=dlq_url + "-missing")

    # =====================================================================
    # Message move tasks
    # =====================================================================
    def test_move_task_back_to_original_sources(self):
        dlq_url, dlq_arn, [(s1, _), (s2, _)] = self.dlq_pipe(sources=2)
        attrs = {"n": {"DataType": "Number", "StringValue": "7"}}
        self.client.send_message(QueueUrl=s1, MessageBody="from-s1", MessageAttributes=attrs)
        self.client.send_message(QueueUrl=s2, MessageBody="from-s2")
        self.drive_to_dlq(s1, dlq_url, 1)
        self.drive_to_dlq(s2, dlq_url, 2)
        t0 = int(time.time() * 1000)
        r = self.start_message_move_task(SourceArn=dlq_arn)
        self.assertTrue(r.get("TaskHandle"), r)
        task = self.wait_task_status(dlq_arn, {"COMPLETED"})
        self.assertEqual(task["SourceArn"], dlq_arn)
        self.assertEqual(task["ApproximateNumberOfMessagesMoved"], 2)
        self.assertEqual(task["ApproximateNumberOfMessagesToMove"], 2)
        self.assertTrue(t0 - 2000 <= task["StartedTimestamp"] <= int(time.time() * 1000) + 2000,
                        f"StartedTimestamp {task['StartedTimestamp']} is epoch ms around {t0}")
        self.assertNotIn("TaskHandle", task, "TaskHandle is only returned for RUNNING tasks")
        self.assertNotIn("DestinationArn", task, "no DestinationArn was given")
        self.assertNotIn("MaxNumberOfMessagesPerSecond", task, "no rate was given")
        self.assertNotIn("FailureReason", task)
        # each message is back in the queue it came from, without DeadLetterQueueSourceArn
        for url, body in ((s1, "from-s1"), (s2, "from-s2")):
            msgs = receive_all(self.client, url, 1, timeout=3, VisibilityTimeout=600,
                               MessageAttributeNames=["All"],
                               **({"MessageSystemAttributeNames": ["All"]} if self.protocol == "json"
                                  else {"AttributeNames": ["All"]}))
            self.assertEqual([m["Body"] for m in msgs], [body])
            self.assertNotIn("DeadLetterQueueSourceArn", msgs[0].get("Attributes", {}))
            if body == "from-s1":
                self.assertEqual(norm_attrs(msgs[0].get("MessageAttributes")), norm_attrs(attrs))
        self.assertEqual(self.counts(dlq_url), ("0", "0", "0"))

    def test_move_task_to_destination_at_rate(self):
        dlq_url, dlq_arn, [(src, _)] = self.dlq_pipe()
        dest_name, dest = self.new_queue(prefix="dest")
        dest_arn = queue_arn(dest_name)
        for i in range(3):
            self.client.send_message(QueueUrl=src, MessageBody=f"r{i}")
        self.drive_to_dlq(src, dlq_url, 3)
        t0 = time.monotonic()
        handle = self.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                              MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
        running = self.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        self.assertEqual(len(running), 1)
        t = running[0]
        self.assertEqual(t["Status"], "RUNNING", "3 messages at 1/s cannot be done yet")
        self.assertEqual(t.get("TaskHandle"), handle)
        self.assertEqual(t["SourceArn"], dlq_arn)
        self.assertEqual(t.get("DestinationArn"), dest_arn)
        self.assertEqual(t.get("MaxNumberOfMessagesPerSecond"), 1)
        self.assertEqual(t["ApproximateNumberOfMessagesToMove"], 3)
        self.assertIn("StartedTimestamp", t)
        # only one active task per source queue
        self.assertSqsError("InvalidParameterValue", self.start_message_move_task,
                            SourceArn=dlq_arn, DestinationArn=dest_arn)
        done = self.wait_task_status(dlq_arn, {"COMPLETED"}, timeout=10)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.8, f"3 messages at 1 message/s took only {elapsed:.2f}s")
        self.assertLess(elapsed, 6.0, f"3 messages at 1 message/s took {elapsed:.2f}s")
        self.assertEqual(done["ApproximateNumberOfMessagesMoved"], 3)
        self.assertNotIn("TaskHandle", done)
        self.assertEqual(done.get("DestinationArn"), dest_arn)
        self.assertEqual(self.counts(dlq_url), ("0", "0", "0"))
        self.assertEqual(self.counts(src), ("0", "0", "0"), "a DestinationArn task moves nothing to the source")
        msgs = receive_all(self.client, dest, 3, timeout=3, VisibilityTimeout=600,
                           **({"MessageSystemAttributeNames": ["All"]} if self.protocol == "json"
                              else {"AttributeNames": ["All"]}))
        self.assertEqual(sorted(m["Body"] for m in msgs), ["r0", "r1", "r2"])
        for m in msgs:
            self.assertNotIn("DeadLetterQueueSourceArn", m.get("Attributes", {}))

    def test_move_task_cancel_and_list_newest_first(self):
        dlq_url, dlq_arn, [(src, _)] = self.dlq_pipe()
        dest_name, dest = self.new_queue(prefix="dest")
        dest_arn = queue_arn(dest_name)
        self.assertEqual(self.list_message_move_tasks(SourceArn=dlq_arn)["Results"], [])
        for i in range(5):
            self.client.send_message(QueueUrl=src, MessageBody=f"c{i}")
        self.drive_to_dlq(src, dlq_url, 5)
        h1 = self.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn,
                                          MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
        wait_until(lambda: self.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
                   ["ApproximateNumberOfMessagesMoved"] >= 1, timeout=5, interval=0.1, what="first message moved")
        c = self.cancel_message_move_task(TaskHandle=h1)
        self.assertIsInstance(c["ApproximateNumberOfMessagesMoved"], int)
        self.assertTrue(0 <= c["ApproximateNumberOfMessagesMoved"] <= 5, c)
        cancelled = self.wait_task_status(dlq_arn, {"CANCELLED"}, timeout=5)
        self.assertNotIn("TaskHandle", cancelled)
        moved = cancelled["ApproximateNumberOfMessagesMoved"]
        self.assertTrue(1 <= moved < 5, cancelled)
        # cancelling stops the move: nothing more arrives, nothing is lost
        time.sleep(1.5)
        in_dest = self.visible(dest)
        self.assertEqual(in_dest, moved, "messages in the destination = moved count of the cancelled task")
        self.assertEqual(in_dest + self.visible(dlq_url), 5)
        time.sleep(0.05)
        h2 = self.start_message_move_task(SourceArn=dlq_arn, DestinationArn=dest_arn)["TaskHandle"]
        self.assertNotEqual(h1, h2)
        newest = self.wait_task_status(dlq_arn, {"COMPLETED"})
        self.assertEqual(newest["ApproximateNumberOfMessagesMoved"], 5 - moved)
        one = self.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        self.assertEqual(len(one), 1, "MaxResults defaults to 1: the most recent task")
        self.assertEqual(one[0]["Status"], "COMPLETED")
        both = self.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        self.assertEqual([t["Status"] for t in both], ["COMPLETED", "CANCELLED"], "newest first")
        self.assertGreaterEqual(both[0]["StartedTimestamp"], both[1]["StartedTimestamp"])
        self.assertEqual(self.drain_bodies(dest, 5), [f"c{i}" for i in range(5)])
        self.assertEqual(self.counts(dlq_url), ("0", "0", "0"))

    def test_move_task_errors(self):
        dlq_url, dlq_arn, [(src, src_arn)] = self.dlq_pipe()
        dest_name, _ = self.new_queue(prefix="dest")
        # not a dead-letter queue (AWS: "Source queue must be configured as a Dead Letter Queue.")
        self.assertSqsError("InvalidParameterValue", self.start_message_move_task,
                            SourceArn=queue_arn(dest_name))
        self.assertSqsError("InvalidParameterValue", self.start_message_move_task, SourceArn=src_arn)
        # queues that do not exist: ResourceNotFoundException, HTTP 404
        self.assertSqsError("ResourceNotFoundException", self.start_message_move_task, status=404,
                            SourceArn=queue_arn(unique_name("nosuch")))
        self.assertSqsError("ResourceNotFoundException", self.start_message_move_task, status=404,
                            SourceArn=dlq_arn, DestinationArn=queue_arn(unique_name("nosuch")))
        self.assertSqsError("ResourceNotFoundException", self.list_message_move_tasks, status=404,
                            SourceArn=queue_arn(unique_name("nosuch")))
        # rate 1..500
        for rate in (0, 501):
            with self.subTest(MaxNumberOfMessagesPerSecond=rate):
                self.assertSqsError("InvalidParameterValue", self.start_message_move_task,
                                    SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=rate)
        # ListMessageMoveTasks: "The upper limit is 10"
        self.assertSqsError("InvalidParameterValue", self.list_message_move_tasks,
                            SourceArn=dlq_arn, MaxResults=11)
        # none of that started a task
        self.assertEqual(self.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"], [])

    def test_move_task_cancel_unknown_task(self):
        # a well-formed handle naming an existing queue but no task. AWS's handles
        # are base64 JSON {"taskId", "sourceArn"}; AWS answers ResourceNotFoundException,
        # "Task does not exist.", HTTP 404 (recorded against AWS in LocalStack's
        # tests/aws/services/sqs/test_sqs_move_task.snapshot.json)
        dlq_url, dlq_arn, _ = self.dlq_pipe()
        forged = base64.b64encode(json.dumps(
            {"taskId": str(uuid.uuid4()), "sourceArn": dlq_arn}, separators=(",", ":")).encode()).decode()
        self.assertSqsError("ResourceNotFoundException", self.cancel_message_move_task, status=404,
                            TaskHandle=forged)

    def test_move_task_cancel_malformed_handle(self):
        # a handle that is not a task handle at all: AWS answers InvalidParameterValue,
        # "Value for parameter TaskHandle is invalid.", HTTP 400 (same recording)
        self.assertSqsError("InvalidParameterValue", self.cancel_message_move_task, TaskHandle="foobared")

    # =====================================================================
    # Tags
    # =====================================================================
    def test_tags_on_create_tag_overwrite_untag(self):
        _, url = self.new_queue(tags={"team": "core", "env": "dev"})
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags"), {"team": "core", "env": "dev"})
        # overwrite one, add one
        self.client.tag_queue(QueueUrl=url, Tags={"env": "prod", "Owner": "Ünïcode ✓"})
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags"),
                         {"team": "core", "env": "prod", "Owner": "Ünïcode ✓"})
        # untag: a missing key is fine
        self.client.untag_queue(QueueUrl=url, TagKeys=["team", "no-such-key"])
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags"),
                         {"env": "prod", "Owner": "Ünïcode ✓"})
        self.client.untag_queue(QueueUrl=url, TagKeys=["env", "Owner"])
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags", {}), {})
        # tags are not queue attributes
        self.assertNotIn("team", self.attrs(url))
        # case-sensitive keys
        self.client.tag_queue(QueueUrl=url, Tags={"k": "lower", "K": "upper"})
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags"), {"k": "lower", "K": "upper"})

    def test_tags_invalid(self):
        _, url = self.new_queue(tags={"keep": "me"})
        fifty_one = {f"t{i}": "v" for i in range(51)}
        self.assertSqsError("InvalidParameterValue", self.client.tag_queue, QueueUrl=url, Tags=fifty_one)
        self.assertSqsError("InvalidParameterValue", self.client.tag_queue, QueueUrl=url, Tags={"aws:x": "v"})
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url).get("Tags"), {"keep": "me"},
                         "a rejected TagQueue changes nothing")
        # 49 more make 50: fine; then one more is too many
        self.client.tag_queue(QueueUrl=url, Tags={f"t{i}": "v" for i in range(49)})
        self.assertEqual(len(self.client.list_queue_tags(QueueUrl=url)["Tags"]), 50)
        self.assertSqsError("InvalidParameterValue", self.client.tag_queue, QueueUrl=url, Tags={"one-more": "v"})
        name = unique_name("badtags")
        self.assertSqsError("InvalidParameterValue", self.client.create_queue, QueueName=name,
                            tags={"aws:x": "v"})
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url, QueueName=name)
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.tag_queue,
                            QueueUrl=url + "-missing", Tags={"a": "b"})

    # =====================================================================
    # Permissions
    # =====================================================================
    def test_add_and_remove_permission(self):
        name, url = self.new_queue()
        arn = queue_arn(name)
        self.assertNotIn("Policy", self.attrs(url))
        self.client.add_permission(QueueUrl=url, Label="AliceSendReceive", AWSAccountIds=["111122223333"],
                                   Actions=["SendMessage", "ReceiveMessage"])
        policy = json.loads(self.attrs(url, ["Policy"])["Policy"])
        self.assertEqual(len(policy["Statement"]), 1, policy)
        st = policy["Statement"][0]
        self.assertEqual(st["Sid"], "AliceSendReceive")
        self.assertEqual(st["Effect"], "Allow")
        self.assertEqual(st["Principal"], {"AWS": "arn:aws:iam::111122223333:root"})
        self.assertEqual(st["Action"], ["SQS:SendMessage", "SQS:ReceiveMessage"])
        self.assertEqual(st["Resource"], arn)
        self.assertIn("Policy", self.attrs(url), "Policy is part of All")
        # a second label adds a second statement
        self.client.add_permission(QueueUrl=url, Label="BobDelete", AWSAccountIds=["444455556666"],
                                   Actions=["DeleteMessage"])
        policy = json.loads(self.attrs(url, ["Policy"])["Policy"])
        sids = {s["Sid"]: s for s in policy["Statement"]}
        self.assertEqual(set(sids), {"AliceSendReceive", "BobDelete"})
        self.assertEqual(as_list(sids["BobDelete"]["Action"]), ["SQS:DeleteMessage"])
        self.assertEqual(sids["BobDelete"]["Principal"], {"AWS": "arn:aws:iam::444455556666:root"})
        # the same label again
        self.assertSqsError("InvalidParameterValue", self.client.add_permission, QueueUrl=url,
                            Label="BobDelete", AWSAccountIds=["444455556666"], Actions=["SendMessage"])
        self.client.remove_permission(QueueUrl=url, Label="AliceSendReceive")
        policy = json.loads(self.attrs(url, ["Policy"])["Policy"])
        self.assertEqual([s["Sid"] for s in policy["Statement"]], ["BobDelete"])
        self.assertSqsError("InvalidParameterValue", self.client.remove_permission, QueueUrl=url,
                            Label="AliceSendReceive")
        self.client.remove_permission(QueueUrl=url, Label="BobDelete")
        self.assertNotIn("Policy", self.attrs(url), "the Policy is gone once its last permission is removed")

    def test_permission_errors(self):
        _, url = self.new_queue()
        self.assertSqsError("InvalidParameterValue", self.client.remove_permission, QueueUrl=url, Label="nope")
        self.assertSqsError("OverLimit", self.client.add_permission, exc="OverLimit", status=403, QueueUrl=url,
                            Label="TooMany", AWSAccountIds=["111122223333"], Actions=EIGHT_ACTIONS)
        self.assertNotIn("Policy", self.attrs(url), "a rejected AddPermission adds nothing")
        self.client.add_permission(QueueUrl=url, Label="Seven", AWSAccountIds=["111122223333"],
                                   Actions=EIGHT_ACTIONS[:7])
        st = json.loads(self.attrs(url, ["Policy"])["Policy"])["Statement"][0]
        self.assertEqual(sorted(st["Action"]), sorted("SQS:" + a for a in EIGHT_ACTIONS[:7]))
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.add_permission,
                            QueueUrl=url + "-missing", Label="x", AWSAccountIds=["111122223333"],
                            Actions=["SendMessage"])

    def test_policy_attribute(self):
        name, url = self.new_queue()
        self.assertSqsError("InvalidAttributeValue", self.client.set_queue_attributes,
                            QueueUrl=url, Attributes={"Policy": "not json"})
        self.assertNotIn("Policy", self.attrs(url))
        doc = {"Version": "2012-10-17", "Id": "custom", "Statement": [{
            "Sid": "AnyoneSends", "Effect": "Allow", "Principal": {"AWS": "*"},
            "Action": "SQS:SendMessage", "Resource": queue_arn(name)}]}
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(doc)})
        self.assertEqual(json.loads(self.attrs(url, ["Policy"])["Policy"]), doc)
        # AddPermission adds to an uploaded policy
        self.client.add_permission(QueueUrl=url, Label="More", AWSAccountIds=["111122223333"],
                                   Actions=["ReceiveMessage"])
        sids = [s["Sid"] for s in json.loads(self.attrs(url, ["Policy"])["Policy"])["Statement"]]
        self.assertEqual(sorted(sids), ["AnyoneSends", "More"])

    # =====================================================================
    # Limits
    # =====================================================================
    def test_limit_eleven_message_attributes(self):
        _, url = self.new_queue()
        eleven = {f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)}
        self.assertSqsError("InvalidParameterValue", self.client.send_message,
                            QueueUrl=url, MessageBody="x", MessageAttributes=eleven)
        self.assertEqual(self.counts(url), ("0", "0", "0"))

    def test_limit_purge_queue_in_progress(self):
        _, url = self.new_queue()
        _, other = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="x")
        self.client.purge_queue(QueueUrl=url)
        self.assertSqsError("AWS.SimpleQueueService.PurgeQueueInProgress", self.client.purge_queue,
                            exc="PurgeQueueInProgress", status=403, QueueUrl=url)
        # the window is per queue
        self.client.purge_queue(QueueUrl=other)

    def test_limit_queue_deleted_recently(self):
        name, url = self.new_queue(tags={"a": "b"})
        self.client.delete_queue(QueueUrl=url)
        self.assertSqsError("AWS.SimpleQueueService.QueueDeletedRecently", self.client.create_queue,
                            exc="QueueDeletedRecently", QueueName=name, Attributes={"DelaySeconds": "1"})
        self.assertSqsError("AWS.SimpleQueueService.NonExistentQueue", self.client.get_queue_url, QueueName=name)


# =========================================================================
# Retention: one ~62 s scenario per test process, on its own server
# =========================================================================

class RetentionScenario:
    """t=0: queue A is created with MessageRetentionPeriod 60 and gets "A-old";
    queue B (default retention, 4 days) gets "B-old". t=4 s: A gets "A-fresh";
    B's MessageRetentionPeriod is lowered to 60 and B gets "B-fresh".
    At t≈62 s the old messages (62 s old) have expired from both queues — also
    B's, sent under the 4-day retention: AWS: changes to MessageRetentionPeriod
    "will impact existing messages in the queue potentially causing them to be
    expired and deleted if the MessageRetentionPeriod is reduced below the age
    of existing messages" (SetQueueAttributes API reference) — while the fresh
    ones (58 s old) have not.

    A background thread makes the sends and the observation at their times, so
    the scenario overlaps other tests; check() (test_api_cli.RetentionTest)
    waits for that observation and asserts on it."""

    GAP = 4.0          # seconds between the old and the fresh messages
    CHECK_AGE = 61.7   # age of the old messages at the check

    _instance = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
                cls._instance._start()
            return cls._instance

    def _start(self):
        self.error = None
        self.observed = None
        self.times = {}
        self.server = WharfServer().start()
        self.client = make_json_client(self.server.endpoint)
        c = self.client
        self.url_a = c.create_queue(QueueName=unique_name("ret-a"),
                                    Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        self.url_b = c.create_queue(QueueName=unique_name("ret-b"))["QueueUrl"]
        self.times["old_before"] = time.monotonic()
        c.send_message(QueueUrl=self.url_a, MessageBody="A-old")
        c.send_message(QueueUrl=self.url_b, MessageBody="B-old")
        self.times["old_after"] = time.monotonic()
        self.thread = threading.Thread(target=self._later, daemon=True)
        self.thread.start()

    def _later(self):
        """Runs in a thread: the fresh sends at t=GAP, then the observation at
        t=CHECK_AGE, whenever the test that asserts on it happens to run."""
        try:
            time.sleep(max(0.0, self.times["old_after"] + self.GAP - time.monotonic()))
            client = make_json_client(self.server.endpoint)
            self.times["fresh_before"] = time.monotonic()
            client.send_message(QueueUrl=self.url_a, MessageBody="A-fresh")
            client.set_queue_attributes(QueueUrl=self.url_b, Attributes={"MessageRetentionPeriod": "60"})
            client.send_message(QueueUrl=self.url_b, MessageBody="B-fresh")
            self.times["fresh_after"] = time.monotonic()
            time.sleep(max(0.0, self.times["old_after"] + self.CHECK_AGE - time.monotonic()))
            self.times["check_start"] = time.monotonic()
            obs = {"retention_b": client.get_queue_attributes(
                QueueUrl=self.url_b, AttributeNames=["MessageRetentionPeriod"])["Attributes"]}
            for url, q in ((self.url_a, "A"), (self.url_b, "B")):
                n = client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
                obs[f"count_{q}"] = n["Attributes"]["ApproximateNumberOfMessages"]
                msgs = receive_all(client, url, 2, timeout=1.0, VisibilityTimeout=600)
                obs[f"bodies_{q}"] = sorted(m["Body"] for m in msgs)
            self.times["check_end"] = time.monotonic()
            self.observed = obs
        except Exception as e:   # reported by check()
            self.error = e

    def check(self, test):
        """Wait (bounded) for the observation made at CHECK_AGE and assert on it."""
        self.thread.join(timeout=max(0.0, self.times["old_after"] + self.CHECK_AGE + 20 - time.monotonic()))
        test.assertFalse(self.thread.is_alive(), "retention scenario did not finish in time")
        test.assertIsNone(self.error, f"retention scenario failed: {self.error!r}")
        test.assertTrue(self.server.is_running(), f"retention server died; log:\n{self.server.log_tail()}")
        t = self.times
        test.assertLess(t["check_end"], t["fresh_before"] + 60,
                        f"scenario timing: the observation ended {t['check_end'] - t['fresh_before']:.1f}s "
                        f"after the fresh sends, too late to tell expired from kept (machine overloaded?)")
        obs = self.observed
        test.assertEqual(obs["retention_b"], {"MessageRetentionPeriod": "60"})
        age = t["check_start"] - t["old_after"]
        for q in ("A", "B"):
            test.assertEqual(obs[f"bodies_{q}"], [f"{q}-fresh"],
                             f"queue {q} {age:.1f}s after {q}-old was sent: {q}-old must have expired "
                             f"(60 s retention), {q}-fresh ({t['check_start'] - t['fresh_after']:.1f}s old) not")
            test.assertEqual(obs[f"count_{q}"], "1", f"queue {q}: ApproximateNumberOfMessages at {age:.1f}s")

    def stop(self):
        self.server.stop()
