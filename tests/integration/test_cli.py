"""The AWS CLI (v1, JSON protocol through current botocore) against Wharf."""

import base64
import json
import os
import shutil
import subprocess
import time
import unittest

from harness import ACCOUNT, REGION, WharfServer, md5_hex, md5_of_attributes, unique_name

AWS = shutil.which("aws")
CLI_TIMEOUT = 60


def cli_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    env.update({
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_PAGER": "",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    return env


@unittest.skipIf(AWS is None, "aws CLI not installed")
class AwsCliTest(unittest.TestCase):

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

    def run_aws(self, *args):
        cmd = [AWS, "--endpoint-url", self.server.endpoint, "--region", REGION,
               "--output", "json", "sqs"] + list(args)
        p = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=CLI_TIMEOUT)
        return p

    def aws(self, *args):
        """Run `aws sqs ARGS`; it must succeed. Returns the parsed JSON output (or None)."""
        p = self.run_aws(*args)
        self.assertEqual(p.returncode, 0,
                         f"`aws sqs {' '.join(args)}` exited {p.returncode}\nstderr: {p.stderr.strip()}")
        out = p.stdout.strip()
        return json.loads(out) if out else None

    def aws_fails(self, code, *args):
        p = self.run_aws(*args)
        self.assertNotEqual(p.returncode, 0, f"`aws sqs {' '.join(args)}` succeeded: {p.stdout}")
        self.assertIn(f"({code})", p.stderr, f"`aws sqs {' '.join(args)}`: {p.stderr.strip()}")
        return p

    def counts(self, url):
        a = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names",
                     "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")["Attributes"]
        return a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"]

    # ---------------------------------------------------------------------
    def test_queue_lifecycle(self):
        name = unique_name("cli")
        url = self.aws("create-queue", "--queue-name", name,
                       "--attributes", "VisibilityTimeout=40,DelaySeconds=0")["QueueUrl"]
        self.assertEqual(url, f"{self.server.endpoint}/{ACCOUNT}/{name}")
        # idempotent with the same attributes
        self.assertEqual(self.aws("create-queue", "--queue-name", name,
                                  "--attributes", "VisibilityTimeout=40,DelaySeconds=0")["QueueUrl"], url)
        self.assertEqual(self.aws("get-queue-url", "--queue-name", name)["QueueUrl"], url)
        self.assertEqual(self.aws("list-queues", "--queue-name-prefix", name)["QueueUrls"], [url])

        a = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        self.assertEqual(a["VisibilityTimeout"], "40")
        self.assertEqual(a["DelaySeconds"], "0")
        self.assertEqual(a["MaximumMessageSize"], "1048576")
        self.assertEqual(a["MessageRetentionPeriod"], "345600")
        self.assertEqual(a["ReceiveMessageWaitTimeSeconds"], "0")
        self.assertEqual(a["QueueArn"], f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}")

        self.aws("set-queue-attributes", "--queue-url", url,
                 "--attributes", "MaximumMessageSize=2048,MessageRetentionPeriod=3600")
        a = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names",
                     "MaximumMessageSize", "MessageRetentionPeriod")["Attributes"]
        self.assertEqual(a, {"MaximumMessageSize": "2048", "MessageRetentionPeriod": "3600"})

        self.aws("delete-queue", "--queue-url", url)
        self.aws_fails("AWS.SimpleQueueService.NonExistentQueue", "get-queue-url", "--queue-name", name)

    def test_list_queues_pages(self):
        prefix = unique_name("clipg")
        urls = [self.aws("create-queue", "--queue-name", f"{prefix}-{i}")["QueueUrl"] for i in range(3)]
        # the CLI follows NextToken itself; --page-size sets MaxResults
        got = self.aws("list-queues", "--queue-name-prefix", prefix, "--page-size", "1")["QueueUrls"]
        self.assertEqual(sorted(got), sorted(urls))
        got = self.aws("list-queues", "--queue-name-prefix", prefix, "--max-items", "2")
        self.assertEqual(len(got["QueueUrls"]), 2)
        self.assertIn("NextToken", got)

    def test_messages(self):
        name = unique_name("climsg")
        url = self.aws("create-queue", "--queue-name", name)["QueueUrl"]
        body = "héllo from the CLI ✓"
        attrs_json = json.dumps({
            "s": {"DataType": "String", "StringValue": "v"},
            "n": {"DataType": "Number.int", "StringValue": "7"},
            # CLI v1 sends a nested blob's characters as raw bytes
            "b": {"DataType": "Binary", "BinaryValue": "AAEC"},
        })
        expected_attrs = {
            "s": {"DataType": "String", "StringValue": "v"},
            "n": {"DataType": "Number.int", "StringValue": "7"},
            "b": {"DataType": "Binary", "BinaryValue": b"AAEC"},
        }
        r = self.aws("send-message", "--queue-url", url, "--message-body", body,
                     "--message-attributes", attrs_json)
        self.assertEqual(r["MD5OfMessageBody"], md5_hex(body))
        self.assertEqual(r["MD5OfMessageAttributes"], md5_of_attributes(expected_attrs))
        msg_id = r["MessageId"]

        r = self.aws("receive-message", "--queue-url", url, "--attribute-names", "All",
                     "--message-attribute-names", "All", "--visibility-timeout", "30")
        self.assertEqual(len(r["Messages"]), 1)
        m = r["Messages"][0]
        self.assertEqual(m["MessageId"], msg_id)
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MD5OfBody"], md5_hex(body))
        self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(expected_attrs))
        self.assertEqual(m["MessageAttributes"]["s"]["StringValue"], "v")
        self.assertEqual(m["MessageAttributes"]["n"], {"DataType": "Number.int", "StringValue": "7"})
        self.assertEqual(base64.b64decode(m["MessageAttributes"]["b"]["BinaryValue"]), b"AAEC")
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertIn("SentTimestamp", m["Attributes"])

        # invisible now; visibility 0 makes it visible again at once
        self.assertIsNone(self.aws("receive-message", "--queue-url", url))
        self.aws("change-message-visibility", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"],
                 "--visibility-timeout", "0")
        r = self.aws("receive-message", "--queue-url", url, "--attribute-names", "ApproximateReceiveCount")
        m2 = r["Messages"][0]
        self.assertEqual(m2["MessageId"], msg_id)
        self.assertEqual(m2["Attributes"]["ApproximateReceiveCount"], "2")

        self.aws("delete-message", "--queue-url", url, "--receipt-handle", m2["ReceiptHandle"])
        self.assertEqual(self.counts(url), ("0", "0"))

    def test_long_poll_and_purge(self):
        url = self.aws("create-queue", "--queue-name", unique_name("clipurge"))["QueueUrl"]
        t0 = time.monotonic()
        self.assertIsNone(self.aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1"))
        self.assertGreaterEqual(time.monotonic() - t0, 0.9)
        for i in range(2):
            self.aws("send-message", "--queue-url", url, "--message-body", f"p{i}")
        self.assertEqual(self.counts(url), ("2", "0"))
        self.aws("purge-queue", "--queue-url", url)
        self.assertEqual(self.counts(url), ("0", "0"))

    def test_errors(self):
        self.aws_fails("AWS.SimpleQueueService.NonExistentQueue", "get-queue-url",
                       "--queue-name", unique_name("nope"))
        self.aws_fails("InvalidAttributeValue", "create-queue", "--queue-name", unique_name("bad"),
                       "--attributes", "VisibilityTimeout=43201")
        self.aws_fails("InvalidParameterValue", "create-queue", "--queue-name", "bad name!")
        url = self.aws("create-queue", "--queue-name", unique_name("clierr"))["QueueUrl"]
        self.aws_fails("ReceiptHandleIsInvalid", "delete-message", "--queue-url", url,
                       "--receipt-handle", "garbage")


if __name__ == "__main__":
    unittest.main()
