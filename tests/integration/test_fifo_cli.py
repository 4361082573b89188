"""FIFO queues and fair queues through the AWS CLI (v1, JSON protocol through
current botocore): a representative subset of fifo_behaviour."""

import concurrent.futures
import hashlib
import json
import unittest

from harness import ACCOUNT, REGION, WharfServer, unique_name
import test_cli as _cli   # a module, so unittest does not collect AwsCliTest twice

AWS = _cli.AWS


def fifo_name(prefix):
    return unique_name(prefix)[:75] + ".fifo"


@unittest.skipIf(AWS is None, "aws CLI not installed")
class FifoCliTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.env = _cli.cli_env()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    # the CLI helpers of test_cli.AwsCliTest, reused as they are
    tearDown = _cli.AwsCliTest.tearDown
    run_aws = _cli.AwsCliTest.run_aws
    aws = _cli.AwsCliTest.aws
    aws_fails = _cli.AwsCliTest.aws_fails
    counts = _cli.AwsCliTest.counts

    def test_fifo_queue_send_dedup_receive(self):
        name = fifo_name("clififo")
        url = self.aws("create-queue", "--queue-name", name,
                       "--attributes", "FifoQueue=true,ContentBasedDeduplication=true")["QueueUrl"]
        self.assertEqual(url, f"{self.server.endpoint}/{ACCOUNT}/{name}")
        a = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        self.assertEqual((a["FifoQueue"], a["ContentBasedDeduplication"], a["DeduplicationScope"],
                          a["FifoThroughputLimit"]), ("true", "true", "queue", "perQueue"))
        self.assertEqual(a["QueueArn"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")

        r1 = self.aws("send-message", "--queue-url", url, "--message-body", "hello",
                      "--message-group-id", "g1")
        self.assertRegex(r1["SequenceNumber"], r"^[0-9]+$")
        # content-based duplicate: same MessageId and SequenceNumber, not enqueued
        r2 = self.aws("send-message", "--queue-url", url, "--message-body", "hello",
                      "--message-group-id", "g1")
        self.assertEqual((r2["MessageId"], r2["SequenceNumber"]), (r1["MessageId"], r1["SequenceNumber"]))
        entries = [{"Id": f"e{i}", "MessageBody": f"b{i}", "MessageGroupId": "g1",
                    "MessageDeduplicationId": f"d{i}"} for i in range(3)]
        b = self.aws("send-message-batch", "--queue-url", url, "--entries", json.dumps(entries))
        self.assertEqual(len(b["Successful"]), 3)
        seqs = {e["Id"]: int(e["SequenceNumber"]) for e in b["Successful"]}
        self.assertLess(int(r1["SequenceNumber"]), seqs["e0"])
        self.assertLess(seqs["e0"], seqs["e1"])
        self.assertLess(seqs["e1"], seqs["e2"])
        self.assertEqual(self.counts(url), ("4", "0"))

        r = self.aws("receive-message", "--queue-url", url, "--attribute-names", "All",
                     "--max-number-of-messages", "2", "--receive-request-attempt-id", "cli-attempt")
        msgs = r["Messages"]
        self.assertEqual([m["Body"] for m in msgs], ["hello", "b0"])
        self.assertEqual(msgs[0]["Attributes"]["MessageGroupId"], "g1")
        self.assertEqual(msgs[0]["Attributes"]["MessageDeduplicationId"], hashlib.sha256(b"hello").hexdigest())
        self.assertEqual(msgs[0]["Attributes"]["SequenceNumber"], r1["SequenceNumber"])
        self.assertEqual(msgs[1]["Attributes"]["MessageDeduplicationId"], "d0")
        # a retry with the same attempt id: same messages, same receipt handles
        again = self.aws("receive-message", "--queue-url", url, "--max-number-of-messages", "2",
                         "--receive-request-attempt-id", "cli-attempt")["Messages"]
        self.assertEqual([(m["MessageId"], m["ReceiptHandle"]) for m in again],
                         [(m["MessageId"], m["ReceiptHandle"]) for m in msgs])
        # the group is locked while they are in flight
        self.assertIsNone(self.aws("receive-message", "--queue-url", url))
        for m in msgs:
            self.aws("delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
        r = self.aws("receive-message", "--queue-url", url, "--max-number-of-messages", "10")
        self.assertEqual([m["Body"] for m in r["Messages"]], ["b1", "b2"])

    def test_fifo_errors(self):
        url = self.aws("create-queue", "--queue-name", fifo_name("clierr"),
                       "--attributes", "FifoQueue=true")["QueueUrl"]
        std_name = unique_name("clistddlq")
        std = self.aws("create-queue", "--queue-name", std_name)["QueueUrl"]
        std_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{std_name}"
        cases = [
            ("InvalidParameterValue", "create-queue", "--queue-name", unique_name("clinofifo"),
             "--attributes", "FifoQueue=true"),
            ("InvalidAttributeValue", "create-queue", "--queue-name", fifo_name("clitput"),
             "--attributes", "FifoQueue=true,FifoThroughputLimit=perMessageGroupId"),
            ("MissingParameter", "send-message", "--queue-url", url, "--message-body", "x",
             "--message-deduplication-id", "d"),
            ("InvalidParameterValue", "send-message", "--queue-url", url, "--message-body", "x",
             "--message-group-id", "g"),
            ("InvalidParameterValue", "send-message", "--queue-url", url, "--message-body", "x",
             "--message-group-id", "g", "--message-deduplication-id", "d", "--delay-seconds", "5"),
            # FifoQueue=true again is a no-op (AWS); a FIFO queue cannot become standard
            ("InvalidAttributeValue", "set-queue-attributes", "--queue-url", url,
             "--attributes", "FifoQueue=false"),
            ("InvalidParameterValue", "set-queue-attributes", "--queue-url", url, "--attributes",
             json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": std_arn, "maxReceiveCount": "2"})})),
            ("InvalidParameterValue", "send-message", "--queue-url", std, "--message-body", "x",
             "--message-deduplication-id", "d"),
        ]
        # independent CLI processes: run them side by side (each is ~0.7 s of start-up)
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda c: self.run_aws(*c[1:]), cases))
        for (code, *args), p in zip(cases, results):
            with self.subTest(args=" ".join(args)[:80]):
                self.assertNotEqual(p.returncode, 0, f"`aws sqs {' '.join(args)}` succeeded: {p.stdout}; "
                                                     f"AWS: {code}")
                self.assertIn(f"({code})", p.stderr, f"`aws sqs {' '.join(args)}`: {p.stderr.strip()}; "
                                                     f"AWS: {code}")
        self.assertEqual(self.counts(url), ("0", "0"))
        self.assertEqual(self.counts(std), ("0", "0"))

    def test_fair_queue_message_group_id(self):
        url = self.aws("create-queue", "--queue-name", unique_name("clifair"))["QueueUrl"]
        r = self.aws("send-message", "--queue-url", url, "--message-body", "tenant",
                     "--message-group-id", "tenant-7")
        self.assertNotIn("SequenceNumber", r)
        m = self.aws("receive-message", "--queue-url", url, "--attribute-names", "All")["Messages"][0]
        self.assertEqual(m["MessageId"], r["MessageId"])
        self.assertEqual(m["Attributes"]["MessageGroupId"], "tenant-7")
        self.assertNotIn("SequenceNumber", m["Attributes"])


if __name__ == "__main__":
    unittest.main()
