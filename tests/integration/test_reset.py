"""The reset for tests (--dev-api): POST /_wharf/reset deletes every queue,
message, deduplication entry and name cooldown of every account, or of one
with ?account=ID; without --dev-api the path is no reset; under --auth only
the server's own account's key may call it. Through real sockets: boto3 for
SQS, urllib for the reset (as a test suite's fixture would)."""

import json
import os
import threading
import time
import unittest
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

import harness
from harness import REGION, WharfServer
from test_auth import client

OWNER = ("AKIDRESETOWNER", "owner-secret")  # the server's own account, 000000000000
TEAM_B = ("AKIDRESETTEAMB", "team-b-secret", "111122223333")
OWNER_ACCOUNT = "000000000000"


def post(url, method="POST", headers=None):
    """(status, body as text) of a request without a body."""
    request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def signed_post(url, key, secret):
    request = botocore.awsrequest.AWSRequest(method="POST", url=url, data=b"")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "sqs", REGION).add_auth(request)
    return post(url, headers=dict(request.headers.items()))


def fill(sqs, prefix):
    """Queues with messages (a FIFO one with a deduplication id), and a queue
    deleted just now (its name in cooldown); their names."""
    standard = sqs.create_queue(QueueName=f"{prefix}-orders")["QueueUrl"]
    for i in range(5):
        sqs.send_message(QueueUrl=standard, MessageBody=f"m{i}")
    fifo = sqs.create_queue(QueueName=f"{prefix}-events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=fifo, MessageBody="first", MessageGroupId="g", MessageDeduplicationId="d1")
    gone = sqs.create_queue(QueueName=f"{prefix}-gone")["QueueUrl"]
    sqs.delete_queue(QueueUrl=gone)
    return standard, fifo


class ResetTest(unittest.TestCase):
    """--dev-api without --auth: one account."""

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer(extra_args=["--dev-api"]).start()
        cls.sqs = cls.server.json_client()
        cls.reset_url = f"{cls.server.endpoint}/_wharf/reset"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_reset_deletes_everything_and_names_are_free_at_once(self):
        standard, fifo = fill(self.sqs, "r")
        status, body = post(self.reset_url)
        self.assertEqual(status, 200, body)
        answer = json.loads(body)
        self.assertTrue(answer["reset"])
        self.assertGreaterEqual(answer["queues"], 2)
        self.assertEqual(self.sqs.list_queues().get("QueueUrls", []), [])
        with self.assertRaises(ClientError) as gone:
            self.sqs.receive_message(QueueUrl=standard)
        self.assertEqual(harness.error_code(gone.exception), "AWS.SimpleQueueService.NonExistentQueue")
        # No cooldown, for a reset name nor a deleted one; no message is left.
        self.assertEqual(self.sqs.create_queue(QueueName="r-orders")["QueueUrl"], standard)
        self.sqs.create_queue(QueueName="r-gone")
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=standard))
        # The deduplication id is forgotten.
        self.sqs.create_queue(QueueName="r-events.fifo", Attributes={"FifoQueue": "true"})
        self.sqs.send_message(QueueUrl=fifo, MessageBody="second", MessageGroupId="g", MessageDeduplicationId="d1")
        got = self.sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["second"])
        self.assertEqual(post(self.reset_url)[0], 200)

    def test_long_poll_on_a_reset_queue_ends_at_once(self):
        url = self.sqs.create_queue(QueueName=harness.unique_name("polled"))["QueueUrl"]
        outcome = {}

        def poll():
            started = time.monotonic()
            try:
                harness.make_json_client(self.server.endpoint).receive_message(QueueUrl=url, WaitTimeSeconds=15)
                outcome["answer"] = "messages or none"
            except ClientError as e:
                outcome["answer"] = harness.error_code(e)
            outcome["took"] = time.monotonic() - started

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.5)  # the poll is waiting
        self.assertEqual(post(self.reset_url)[0], 200)
        poller.join(20)
        self.assertEqual(outcome.get("answer"), "AWS.SimpleQueueService.NonExistentQueue")
        self.assertLess(outcome["took"], 10)

    def test_methods_paths_and_unknown_account(self):
        status, body = post(self.reset_url, method="GET")
        self.assertEqual(status, 405, body)
        self.assertEqual(post(f"{self.server.endpoint}/_wharf/other")[0], 404)
        status, body = post(self.reset_url + "?account=999999999999")
        self.assertEqual(status, 404, body)
        self.assertIn("999999999999", body)

    def test_environment_variable_turns_it_on(self):
        os.environ["WHARF_DEV_API"] = "1"
        try:
            server = WharfServer().start()
        finally:
            del os.environ["WHARF_DEV_API"]
        try:
            server.json_client().create_queue(QueueName="env-q")
            self.assertEqual(post(f"{server.endpoint}/_wharf/reset")[0], 200)
            self.assertEqual(server.json_client().list_queues().get("QueueUrls", []), [])
        finally:
            server.stop()


class WithoutDevApiTest(unittest.TestCase):
    def test_the_path_is_no_reset(self):
        server = WharfServer().start()
        try:
            sqs = server.json_client()
            url = sqs.create_queue(QueueName="kept")["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody="kept")
            status, body = post(f"{server.endpoint}/_wharf/reset")
            self.assertNotEqual(status, 200, body)
            self.assertNotIn('"reset"', body)
            self.assertEqual(sqs.list_queues()["QueueUrls"], [url])
            self.assertEqual(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"], "kept")
        finally:
            server.stop()


class ResetWithAuthTest(unittest.TestCase):
    """--dev-api with --auth: two accounts; only the server's own key resets,
    every account or its own."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_with_credentials(
            f"{OWNER[0]}:{OWNER[1]},{TEAM_B[0]}:{TEAM_B[1]}:{TEAM_B[2]}", extra_args=("--auth", "--dev-api"))
        cls.owner = client(cls.server, "json", *OWNER)
        cls.team_b = client(cls.server, "json", *TEAM_B[:2])
        cls.reset_url = f"{cls.server.endpoint}/_wharf/reset"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def names(self, sqs):
        return sorted(url.rsplit("/", 1)[1] for url in sqs.list_queues().get("QueueUrls", []))

    def test_only_the_owners_key_resets_one_account_or_all(self):
        fill(self.owner, "own")
        fill(self.team_b, "team")
        status, body = post(self.reset_url)
        self.assertEqual(status, 403, body)
        self.assertIn("signed", body)
        status, body = signed_post(self.reset_url, *TEAM_B[:2])
        self.assertEqual(status, 403, body)
        self.assertIn(TEAM_B[2], body)
        status, body = signed_post(self.reset_url + f"?account={TEAM_B[2]}", *TEAM_B[:2])
        self.assertEqual(status, 403, body)
        self.assertEqual(self.names(self.team_b), ["team-events.fifo", "team-orders"])

        # Not another account than the caller's, even for the owner's key.
        status, body = signed_post(self.reset_url + f"?account={TEAM_B[2]}", *OWNER)
        self.assertEqual(status, 403, body)
        self.assertEqual(self.names(self.team_b), ["team-events.fifo", "team-orders"])

        # One account, its own: the owner's queues go, team B's stay.
        status, body = signed_post(self.reset_url + f"?account={OWNER_ACCOUNT}", *OWNER)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.names(self.owner), [])
        self.assertEqual(self.names(self.team_b), ["team-events.fifo", "team-orders"])
        self.owner.create_queue(QueueName="own-gone")  # no cooldown there
        with self.assertRaises(ClientError) as cooling:
            self.team_b.create_queue(QueueName="team-gone")  # team B's cooldown is kept
        self.assertEqual(harness.error_code(cooling.exception), "AWS.SimpleQueueService.QueueDeletedRecently")

        # Every account.
        status, body = signed_post(self.reset_url, *OWNER)
        self.assertEqual(status, 200, body)
        self.assertEqual(self.names(self.owner), [])
        self.assertEqual(self.names(self.team_b), [])
        self.team_b.create_queue(QueueName="team-gone")


if __name__ == "__main__":
    unittest.main()
