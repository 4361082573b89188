"""The AWS CLI (v1, JSON protocol through current botocore) against Wharf, for
a representative subset of each API family: batches, dead-letter queues and
redrive, message move tasks, tags, permissions, the 60-second limits.

RetentionTest (last in this module, which runs last of the API modules)
checks the ~62 s retention scenario that api_behaviour.RetentionScenario
started when the first API module began, so its wait overlaps their tests."""

import base64
import json
import subprocess
import time
import unittest
import uuid

from harness import REGION, WharfServer, md5_hex, md5_of_attributes, unique_name
from api_behaviour import EIGHT_ACTIONS, RetentionScenario, queue_arn
from test_cli import AWS, CLI_TIMEOUT, cli_env


def setUpModule():
    RetentionScenario.get()


@unittest.skipIf(AWS is None, "aws CLI not installed")
class AwsCliApiTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.env = cli_env()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def tearDown(self):
        if not self.server.is_running():
            tail = self.server.log_tail()
            self.server.proc = None
            self.server.start()
            self.fail(f"wharf died during this test; log tail:\n{tail}")

    # --- helpers ---------------------------------------------------------
    def run_aws(self, *args):
        cmd = [AWS, "--endpoint-url", self.server.endpoint, "--region", REGION,
               "--output", "json", "sqs"] + list(args)
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT)

    def aws(self, *args):
        p = self.run_aws(*args)
        self.assertEqual(p.returncode, 0,
                         f"`aws sqs {' '.join(args)}` exited {p.returncode}\nstderr: {p.stderr.strip()}")
        out = p.stdout.strip()
        return json.loads(out) if out else None

    def aws_fails(self, code, *args):
        p = self.run_aws(*args)
        self.assertNotEqual(p.returncode, 0, f"`aws sqs {' '.join(args)}` succeeded: {p.stdout}; AWS: {code}")
        self.assertIn(f"({code})", p.stderr, f"`aws sqs {' '.join(args)}`: {p.stderr.strip()}; AWS: {code}")
        return p

    def create(self, prefix, *extra):
        name = unique_name(prefix)
        return name, self.aws("create-queue", "--queue-name", name, *extra)["QueueUrl"]

    def attr(self, url, name):
        return (self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", name)
                or {}).get("Attributes", {}).get(name)

    def visible(self, url):
        return int(self.attr(url, "ApproximateNumberOfMessages"))

    def receive(self, url, *extra):
        r = self.aws("receive-message", "--queue-url", url, "--max-number-of-messages", "10", *extra)
        return (r or {}).get("Messages", [])

    def dlq_pipe(self, max_receive=1):
        dlq_name, dlq = self.create("clidlq")
        policy = json.dumps({"deadLetterTargetArn": queue_arn(dlq_name), "maxReceiveCount": max_receive})
        src_name, src = self.create("clisrc", "--attributes", json.dumps({"RedrivePolicy": policy}))
        return dlq, queue_arn(dlq_name), src, queue_arn(src_name)

    def drive_to_dlq(self, src, dlq, n):
        for _ in range(20):
            if self.visible(dlq) >= n:
                return
            self.receive(src, "--visibility-timeout", "0")
        self.fail(f"messages did not reach the dead-letter queue ({self.visible(dlq)} of {n})")

    def wait_task(self, source_arn, statuses, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.aws("list-message-move-tasks", "--source-arn", source_arn)["Results"]
            if last and last[0]["Status"] in statuses:
                return last[0]
            time.sleep(0.2)
        self.fail(f"move task did not reach {statuses} within {timeout}s: {last}")

    # ---------------------------------------------------------------------
    def test_batches(self):
        _, url = self.create("clibatch")
        attrs = {"s": {"DataType": "String", "StringValue": "v"},
                 "n": {"DataType": "Number", "StringValue": "42"}}
        entries = [{"Id": "good", "MessageBody": "hello ✓", "MessageAttributes": attrs},
                   {"Id": "bad", "MessageBody": "\u0000"},
                   {"Id": "later", "MessageBody": "later", "DelaySeconds": 600}]
        r = self.aws("send-message-batch", "--queue-url", url, "--entries", json.dumps(entries))
        ok = {e["Id"]: e for e in r.get("Successful", [])}
        self.assertEqual(set(ok), {"good", "later"}, r)
        self.assertEqual(ok["good"]["MD5OfMessageBody"], md5_hex("hello ✓"))
        self.assertEqual(ok["good"]["MD5OfMessageAttributes"], md5_of_attributes(attrs))
        self.assertTrue(ok["good"]["MessageId"])
        self.assertEqual(len(r.get("Failed", [])), 1, r)
        f = r["Failed"][0]
        self.assertEqual((f["Id"], f["SenderFault"], f["Code"]), ("bad", True, "InvalidMessageContents"))
        self.assertTrue(f.get("Message"))
        self.assertEqual(self.attr(url, "ApproximateNumberOfMessagesDelayed"), "1", "per-entry DelaySeconds")

        for i in range(2):
            self.aws("send-message", "--queue-url", url, "--message-body", f"more{i}")
        msgs = self.receive(url, "--visibility-timeout", "600")
        self.assertEqual(sorted(m["Body"] for m in msgs), ["hello ✓", "more0", "more1"])
        h = {m["Body"]: m["ReceiptHandle"] for m in msgs}
        r = self.aws("delete-message-batch", "--queue-url", url, "--entries", json.dumps([
            {"Id": "d1", "ReceiptHandle": h["hello ✓"]}, {"Id": "d2", "ReceiptHandle": "garbage"}]))
        self.assertEqual([e["Id"] for e in r["Successful"]], ["d1"])
        self.assertEqual([(e["Id"], e["Code"], e["SenderFault"]) for e in r["Failed"]],
                         [("d2", "ReceiptHandleIsInvalid", True)])
        r = self.aws("change-message-visibility-batch", "--queue-url", url, "--entries", json.dumps([
            {"Id": "v1", "ReceiptHandle": h["more0"], "VisibilityTimeout": 0},
            {"Id": "v2", "ReceiptHandle": "garbage", "VisibilityTimeout": 0}]))
        self.assertEqual([e["Id"] for e in r["Successful"]], ["v1"])
        self.assertEqual([(e["Id"], e["Code"]) for e in r["Failed"]], [("v2", "ReceiptHandleIsInvalid")])
        self.assertEqual([m["Body"] for m in self.receive(url, "--visibility-timeout", "600")], ["more0"],
                         "the deleted message is gone, the made-visible one is back")

        self.aws_fails("AWS.SimpleQueueService.EmptyBatchRequest", "send-message-batch",
                       "--queue-url", url, "--entries", "[]")
        self.aws_fails("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "send-message-batch",
                       "--queue-url", url, "--entries",
                       json.dumps([{"Id": str(i), "MessageBody": "x"} for i in range(11)]))
        self.aws_fails("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "delete-message-batch",
                       "--queue-url", url, "--entries",
                       json.dumps([{"Id": "same", "ReceiptHandle": "a"}, {"Id": "same", "ReceiptHandle": "b"}]))
        self.aws_fails("AWS.SimpleQueueService.InvalidBatchEntryId", "send-message-batch",
                       "--queue-url", url, "--entries", json.dumps([{"Id": "bad id", "MessageBody": "x"}]))

    def test_dead_letter_queue(self):
        dlq, dlq_arn, src, src_arn = self.dlq_pipe(max_receive=1)
        self.assertEqual(json.loads(self.attr(src, "RedrivePolicy")),
                         {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
        sent = self.aws("send-message", "--queue-url", src, "--message-body", "poison")
        first = self.receive(src, "--visibility-timeout", "0", "--attribute-names", "SentTimestamp")
        self.assertEqual([m["Body"] for m in first], ["poison"])
        self.assertEqual(self.receive(src, "--visibility-timeout", "0"), [], "past maxReceiveCount 1")
        m = self.receive(dlq, "--attribute-names", "All", "--visibility-timeout", "600")
        self.assertEqual(len(m), 1)
        self.assertEqual(m[0]["MessageId"], sent["MessageId"])
        self.assertEqual(m[0]["Attributes"]["DeadLetterQueueSourceArn"], src_arn)
        self.assertEqual(m[0]["Attributes"]["SentTimestamp"], first[0]["Attributes"]["SentTimestamp"])
        self.assertEqual(self.aws("list-dead-letter-source-queues", "--queue-url", dlq)["queueUrls"], [src])

        self.aws_fails("InvalidParameterValue", "set-queue-attributes", "--queue-url", src, "--attributes",
                       json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                                                "maxReceiveCount": 0})}))
        deny_name, _ = self.create("clideny", "--attributes",
                                   json.dumps({"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})}))
        self.aws_fails("InvalidParameterValue", "create-queue", "--queue-name", unique_name("clidenied"),
                       "--attributes", json.dumps({"RedrivePolicy": json.dumps(
                           {"deadLetterTargetArn": queue_arn(deny_name), "maxReceiveCount": 3})}))
        self.aws("set-queue-attributes", "--queue-url", src, "--attributes", json.dumps({"RedrivePolicy": ""}))
        self.assertIsNone(self.attr(src, "RedrivePolicy"), '"" removes the RedrivePolicy')

    def test_message_move_tasks(self):
        dlq, dlq_arn, src, _ = self.dlq_pipe()
        for i in range(2):
            self.aws("send-message", "--queue-url", src, "--message-body", f"back{i}")
        self.drive_to_dlq(src, dlq, 2)
        r = self.aws("start-message-move-task", "--source-arn", dlq_arn)
        self.assertTrue(r["TaskHandle"])
        t = self.wait_task(dlq_arn, {"COMPLETED"})
        self.assertEqual((t["ApproximateNumberOfMessagesMoved"], t["ApproximateNumberOfMessagesToMove"]), (2, 2))
        self.assertNotIn("TaskHandle", t)
        self.assertNotIn("DestinationArn", t)
        back = self.receive(src, "--visibility-timeout", "600", "--attribute-names", "All")
        self.assertEqual(sorted(m["Body"] for m in back), ["back0", "back1"], "moved back to their source")
        for m in back:
            self.assertNotIn("DeadLetterQueueSourceArn", m.get("Attributes", {}))

        # to a destination at 1 message/s, cancelled on the way (10 messages:
        # the task must outlast the CLI calls before the cancel, which take
        # seconds on a loaded or sanitized run)
        dlq2, dlq2_arn, src2, _ = self.dlq_pipe()
        dest_name, dest = self.create("clidest")
        self.aws("send-message-batch", "--queue-url", src2, "--entries",
                 json.dumps([{"Id": str(i), "MessageBody": f"slow{i}"} for i in range(10)]))
        self.drive_to_dlq(src2, dlq2, 10)
        h = self.aws("start-message-move-task", "--source-arn", dlq2_arn, "--destination-arn",
                     queue_arn(dest_name), "--max-number-of-messages-per-second", "1")["TaskHandle"]
        running = self.aws("list-message-move-tasks", "--source-arn", dlq2_arn, "--max-results", "10")["Results"]
        self.assertEqual([(x["Status"], x.get("TaskHandle"), x.get("MaxNumberOfMessagesPerSecond"))
                          for x in running], [("RUNNING", h, 1)])
        self.aws_fails("InvalidParameterValue", "start-message-move-task", "--source-arn", dlq2_arn)
        c = self.aws("cancel-message-move-task", "--task-handle", h)
        self.assertIsInstance(c["ApproximateNumberOfMessagesMoved"], int)
        t = self.wait_task(dlq2_arn, {"CANCELLED"}, timeout=5)
        self.assertNotIn("TaskHandle", t)
        self.assertLess(t["ApproximateNumberOfMessagesMoved"], 10)
        self.assertEqual(self.visible(dest) + self.visible(dlq2), 10, "nothing lost by cancelling")

        self.aws_fails("InvalidParameterValue", "start-message-move-task", "--source-arn", dlq2_arn,
                       "--max-number-of-messages-per-second", "501")
        self.aws_fails("InvalidParameterValue", "start-message-move-task", "--source-arn", queue_arn(dest_name))
        forged = base64.b64encode(json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": dlq2_arn},
                                             separators=(",", ":")).encode()).decode()
        self.aws_fails("ResourceNotFoundException", "cancel-message-move-task", "--task-handle", forged)

    def test_tags(self):
        _, url = self.create("clitags", "--tags", "team=core,env=dev")
        self.assertEqual(self.aws("list-queue-tags", "--queue-url", url)["Tags"], {"team": "core", "env": "dev"})
        self.aws("tag-queue", "--queue-url", url, "--tags", "env=prod,new=1")
        self.aws("untag-queue", "--queue-url", url, "--tag-keys", "team", "not-there")
        self.assertEqual(self.aws("list-queue-tags", "--queue-url", url)["Tags"], {"env": "prod", "new": "1"})
        self.aws_fails("InvalidParameterValue", "tag-queue", "--queue-url", url, "--tags", "aws:x=v")
        self.aws_fails("InvalidParameterValue", "tag-queue", "--queue-url", url, "--tags",
                       json.dumps({f"t{i}": "v" for i in range(51)}))

    def test_permissions(self):
        name, url = self.create("cliperm")
        self.aws("add-permission", "--queue-url", url, "--label", "Alice", "--aws-account-ids", "111122223333",
                 "--actions", "SendMessage", "ReceiveMessage")
        st = json.loads(self.attr(url, "Policy"))["Statement"]
        self.assertEqual(len(st), 1)
        self.assertEqual({k: st[0][k] for k in ("Sid", "Effect", "Principal", "Action", "Resource")}, {
            "Sid": "Alice", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": ["SQS:SendMessage", "SQS:ReceiveMessage"], "Resource": queue_arn(name)})
        self.aws_fails("InvalidParameterValue", "add-permission", "--queue-url", url, "--label", "Alice",
                       "--aws-account-ids", "111122223333", "--actions", "SendMessage")
        self.aws_fails("OverLimit", "add-permission", "--queue-url", url, "--label", "Eight",
                       "--aws-account-ids", "111122223333", "--actions", *EIGHT_ACTIONS)
        self.aws("remove-permission", "--queue-url", url, "--label", "Alice")
        self.assertIsNone(self.attr(url, "Policy"))
        self.aws_fails("InvalidParameterValue", "remove-permission", "--queue-url", url, "--label", "Alice")
        self.aws_fails("InvalidAttributeValue", "set-queue-attributes", "--queue-url", url,
                       "--attributes", json.dumps({"Policy": "not json"}))

    def test_limits(self):
        name, url = self.create("clilim")
        self.aws("purge-queue", "--queue-url", url)
        self.aws_fails("AWS.SimpleQueueService.PurgeQueueInProgress", "purge-queue", "--queue-url", url)
        self.aws_fails("InvalidParameterValue", "send-message", "--queue-url", url, "--message-body", "x",
                       "--message-attributes",
                       json.dumps({f"a{i}": {"DataType": "String", "StringValue": "x"} for i in range(11)}))
        self.aws("delete-queue", "--queue-url", url)
        self.aws_fails("AWS.SimpleQueueService.QueueDeletedRecently", "create-queue", "--queue-name", name)


class RetentionTest(unittest.TestCase):
    """MessageRetentionPeriod 60: a message expires ~60 s after it was sent,
    also one sent before the retention period was lowered to 60. See
    api_behaviour.RetentionScenario; checked with boto3 (JSON)."""

    def test_messages_expire_after_retention_period(self):
        RetentionScenario.get().check(self)


if __name__ == "__main__":
    unittest.main()
