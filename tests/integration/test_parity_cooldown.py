"""--queue-delete-cooldown: how long a deleted queue's name is refused with
QueueDeletedRecently (AWS: 60 s, the default, checked in sqs_behaviour's
test_queue_name_reused_within_60s_of_delete), through boto3 in both
protocols. 0 turns it off for test suites that recreate queues between
tests; the queue created again is a new, empty queue."""
import time
import unittest

from botocore.exceptions import ClientError

from harness import WharfServer, error_code, make_json_client, make_query_client, unique_name


class CooldownBehaviour:
    protocol = None

    def make_client(self, server):
        if self.protocol == "json":
            return make_json_client(server.endpoint)
        return make_query_client(server.endpoint)

    def test_cooldown_zero_recreates_at_once_and_empty(self):
        server = WharfServer(extra_args=["--queue-delete-cooldown", "0"]).start()
        self.addCleanup(server.stop)
        client = self.make_client(server)
        for name in (unique_name("again"), unique_name("again") + ".fifo"):
            with self.subTest(name=name):
                attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
                url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                extra = {"MessageGroupId": "g", "MessageDeduplicationId": "d1"} if attributes else {}
                client.send_message(QueueUrl=url, MessageBody="before the delete", **extra)
                client.delete_queue(QueueUrl=url)
                again = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
                self.assertEqual(again, url)
                got = client.receive_message(QueueUrl=again, WaitTimeSeconds=0).get("Messages", [])
                self.assertEqual(got, [])
                # the old queue's deduplication ids went with it
                client.send_message(QueueUrl=again, MessageBody="after", **extra)
                got = client.receive_message(QueueUrl=again, WaitTimeSeconds=1)["Messages"]
                self.assertEqual([m["Body"] for m in got], ["after"])

    def test_cooldown_of_two_seconds_refuses_then_accepts(self):
        server = WharfServer(extra_args=["--queue-delete-cooldown", "2"]).start()
        self.addCleanup(server.stop)
        client = self.make_client(server)
        name = unique_name("cool")
        url = client.create_queue(QueueName=name)["QueueUrl"]
        client.delete_queue(QueueUrl=url)
        deleted = time.monotonic()
        with self.assertRaises(ClientError) as refused:
            client.create_queue(QueueName=name)
        self.assertEqual(error_code(refused.exception), "AWS.SimpleQueueService.QueueDeletedRecently")
        time.sleep(max(0.0, 2.2 - (time.monotonic() - deleted)))
        self.assertEqual(client.create_queue(QueueName=name)["QueueUrl"], url)


class CooldownJsonTest(CooldownBehaviour, unittest.TestCase):
    protocol = "json"


class CooldownQueryTest(CooldownBehaviour, unittest.TestCase):
    protocol = "query"


if __name__ == "__main__":
    unittest.main()
