"""Per-key accounts and queue Policy enforcement (auth on), through boto3 in
both protocols: each access key acts as its account; another account's
queue needs an Allow in that queue's Policy (AddPermission or
SetQueueAttributes), else AccessDenied."""
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import WharfServer
from test_auth import client

OWNER = ("AKIDOWNER", "owner-secret")              # the server's own account, 000000000000
TEAM_B = ("AKIDTEAMB", "team-b-secret", "111122223333")
TEAM_C = ("AKIDTEAMC", "team-c-secret", "444455556666")
OWNER_ACCOUNT = "000000000000"


def error_code(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


class AccountsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="accounts-", dir=harness.private_tmp())
        cls.credentials = os.path.join(cls.tmp, "credentials")
        with open(cls.credentials, "w") as f:
            f.write(f"{OWNER[0]}:{OWNER[1]}\n{TEAM_B[0]}:{TEAM_B[1]}:{TEAM_B[2]}\n"
                    f"{TEAM_C[0]}:{TEAM_C[1]}:{TEAM_C[2]}\n")
        cls.server = WharfServer(extra_args=["--credentials-file", cls.credentials])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def clients(self, protocol):
        return (client(self.server, protocol, *OWNER), client(self.server, protocol, *TEAM_B[:2]),
                client(self.server, protocol, *TEAM_C[:2]))

    def test_each_key_has_its_own_account_and_queues(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                owner, b, c = self.clients(protocol)
                name = harness.unique_name(f"same-{protocol}")
                owner_url = owner.create_queue(QueueName=name)["QueueUrl"]
                b_url = b.create_queue(QueueName=name)["QueueUrl"]
                self.assertTrue(owner_url.endswith(f"/{OWNER_ACCOUNT}/{name}"), owner_url)
                self.assertTrue(b_url.endswith(f"/{TEAM_B[2]}/{name}"), b_url)
                arn = b.get_queue_attributes(QueueUrl=b_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                self.assertEqual(arn, f"arn:aws:sqs:{harness.REGION}:{TEAM_B[2]}:{name}")
                b.send_message(QueueUrl=b_url, MessageBody="for team b")
                # the owner's queue of the same name is empty; team b's holds its message
                self.assertEqual(owner.receive_message(QueueUrl=owner_url).get("Messages", []), [])
                got = b.receive_message(QueueUrl=b_url, WaitTimeSeconds=1)["Messages"]
                self.assertEqual([m["Body"] for m in got], ["for team b"])
                # each lists only its own account's queues; GetQueueUrl finds its own
                self.assertEqual(c.list_queues(QueueNamePrefix=name).get("QueueUrls", []), [])
                self.assertEqual(b.list_queues(QueueNamePrefix=name)["QueueUrls"], [b_url])
                self.assertEqual(error_code(c.get_queue_url, QueueName=name)[0],
                                 "AWS.SimpleQueueService.NonExistentQueue")

    def test_another_accounts_queue_is_denied_without_a_policy(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                owner, b, _ = self.clients(protocol)
                url = owner.create_queue(QueueName=harness.unique_name(f"private-{protocol}"))["QueueUrl"]
                for call, kwargs in ((b.send_message, {"MessageBody": "x"}),
                                     (b.receive_message, {}),
                                     (b.get_queue_attributes, {"AttributeNames": ["All"]}),
                                     (b.purge_queue, {}),
                                     (b.delete_queue, {})):
                    self.assertEqual(error_code(call, QueueUrl=url, **kwargs), ("AccessDenied", 403), call)
                # the queue is untouched and its owner still uses it
                owner.send_message(QueueUrl=url, MessageBody="owner's")
                self.assertEqual(owner.receive_message(QueueUrl=url)["Messages"][0]["Body"], "owner's")

    def test_add_permission_grants_exactly_its_account_and_actions(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                owner, b, c = self.clients(protocol)
                name = harness.unique_name(f"shared-{protocol}")
                url = owner.create_queue(QueueName=name)["QueueUrl"]
                owner.add_permission(QueueUrl=url, Label="teamb", AWSAccountIds=[TEAM_B[2]],
                                     Actions=["SendMessage", "GetQueueUrl"])
                self.assertIn("MessageId", b.send_message(QueueUrl=url, MessageBody="from b"))
                batch = b.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "batch from b"}])
                self.assertEqual(len(batch["Successful"]), 1)  # SendMessageBatch rides on SendMessage
                self.assertEqual(
                    b.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER_ACCOUNT)["QueueUrl"], url)
                self.assertEqual(error_code(b.receive_message, QueueUrl=url), ("AccessDenied", 403))
                self.assertEqual(error_code(c.send_message, QueueUrl=url, MessageBody="x"), ("AccessDenied", 403))
                self.assertEqual(error_code(c.get_queue_url, QueueName=name, QueueOwnerAWSAccountId=OWNER_ACCOUNT),
                                 ("AccessDenied", 403))
                # only the owner changes permissions
                self.assertEqual(error_code(b.add_permission, QueueUrl=url, Label="mine", AWSAccountIds=[TEAM_B[2]],
                                            Actions=["ReceiveMessage"]), ("AccessDenied", 403))
                self.assertEqual(error_code(b.remove_permission, QueueUrl=url, Label="teamb"), ("AccessDenied", 403))
                bodies = sorted(m["Body"] for m in owner.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"])
                self.assertEqual(bodies, ["batch from b", "from b"])
                # removing the permission takes the access away again
                owner.remove_permission(QueueUrl=url, Label="teamb")
                self.assertEqual(error_code(b.send_message, QueueUrl=url, MessageBody="x"), ("AccessDenied", 403))

    def test_a_policy_document_with_wildcards_and_deny(self):
        owner, b, c = self.clients("json")
        url = owner.create_queue(QueueName=harness.unique_name("policy"))["QueueUrl"]
        arn = owner.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = {"Version": "2012-10-17", "Statement": [
            {"Sid": "everyone", "Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": arn},
            {"Sid": "no-purge-for-c", "Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{TEAM_C[2]}:root"},
             "Action": ["sqs:PurgeQueue", "sqs:Delete*"], "Resource": arn}]}
        owner.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
        c.send_message(QueueUrl=url, MessageBody="from c")
        got = b.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        self.assertEqual(got[0]["Body"], "from c")
        b.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
        self.assertEqual(error_code(c.purge_queue, QueueUrl=url), ("AccessDenied", 403))
        self.assertEqual(error_code(c.delete_queue, QueueUrl=url), ("AccessDenied", 403))
        b.purge_queue(QueueUrl=url)  # b is not denied

    def test_long_polls_wake_for_their_own_account(self):
        owner, b, _ = self.clients("json")
        name = harness.unique_name("poll")
        owner_url = owner.create_queue(QueueName=name)["QueueUrl"]
        b_url = b.create_queue(QueueName=name)["QueueUrl"]
        result = {}

        def poll():
            start = time.monotonic()
            result["messages"] = b.receive_message(QueueUrl=b_url, WaitTimeSeconds=4).get("Messages", [])
            result["seconds"] = time.monotonic() - start

        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.5)
        owner.send_message(QueueUrl=owner_url, MessageBody="owner's, not b's")
        time.sleep(0.5)
        b.send_message(QueueUrl=b_url, MessageBody="b's")
        t.join(timeout=10)
        self.assertEqual([m["Body"] for m in result["messages"]], ["b's"])
        self.assertLess(result["seconds"], 3.0)

    def test_accounts_survive_a_restart(self):
        _, b, _ = self.clients("json")
        url = b.create_queue(QueueName=harness.unique_name("durable"))["QueueUrl"]
        b.send_message(QueueUrl=url, MessageBody="kept")
        self.server.stop()
        self.server.start()
        _, b, _ = self.clients("json")
        got = b.receive_message(QueueUrl=url.replace(url.split("/")[2], f"127.0.0.1:{self.server.port}"),
                                WaitTimeSeconds=1)["Messages"]
        self.assertEqual(got[0]["Body"], "kept")


class CredentialSyntaxTest(unittest.TestCase):
    def test_a_bad_account_id_stops_the_start(self):
        tmp = tempfile.mkdtemp(prefix="badcred-", dir=harness.private_tmp())
        path = os.path.join(tmp, "credentials")
        for bad in ("KEY:SECRET:12345", "KEY:SECRET:abcdefghijkl", "KEY::111122223333"):
            with open(path, "w") as f:
                f.write(bad + "\n")
            proc = subprocess.run([harness.server_binary(), "--port", "0", "--bind", "127.0.0.1", "--data-dir",
                                   os.path.join(tmp, "data"), "--credentials-file", path],
                                  capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 1, (bad, proc.stdout, proc.stderr))
            self.assertIn("12-digit account id", proc.stderr + proc.stdout)


if __name__ == "__main__":
    unittest.main()
