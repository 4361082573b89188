"""boto3 (AWS JSON 1.0 protocol) against Wharf: batches, dead-letter queues,
message move tasks, tags, permissions and limits (api_behaviour.py), plus a
message move task interrupted by kill -9."""

import json
import unittest

from harness import WharfServer, make_json_client, receive_all, unique_name, wait_until
from api_behaviour import ApiBehaviour, RetentionScenario, queue_arn


def setUpModule():
    # starts the ~62 s retention scenario early; test_api_cli.RetentionTest checks it
    RetentionScenario.get()


class Boto3JsonApiTest(ApiBehaviour, unittest.TestCase):
    protocol = "json"

    @classmethod
    def make_client(cls, server):
        return make_json_client(server.endpoint)


class Boto3JsonMoveTaskKillTest(unittest.TestCase):
    """A message move task interrupted by SIGKILL: after the restart the task
    is still listed (resumed to COMPLETED, or FAILED — never gone), and every
    message is in exactly one queue: none lost, none duplicated."""

    N = 6

    def setUp(self):
        self.server = WharfServer().start()
        self.client = make_json_client(self.server.endpoint)

    def tearDown(self):
        if self.server.is_running():
            self.server.stop()

    def count(self, url):
        a = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])

    def test_move_task_survives_kill_9(self):
        c = self.client
        dlq_name = unique_name("kill-dlq")
        dlq = c.create_queue(QueueName=dlq_name)["QueueUrl"]
        dlq_arn = queue_arn(dlq_name)
        src = c.create_queue(QueueName=unique_name("kill-src"), Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})["QueueUrl"]
        dest_name = unique_name("kill-dest")
        dest = c.create_queue(QueueName=dest_name)["QueueUrl"]
        bodies = [f"k{i}" for i in range(self.N)]
        for b in bodies:
            c.send_message(QueueUrl=src, MessageBody=b)
        for _ in range(100):
            if self.count(dlq) >= self.N:
                break
            c.receive_message(QueueUrl=src, MaxNumberOfMessages=10, VisibilityTimeout=0)
        self.assertEqual(self.count(dlq), self.N, "set-up: all messages in the dead-letter queue")

        c.start_message_move_task(SourceArn=dlq_arn, DestinationArn=queue_arn(dest_name),
                                  MaxNumberOfMessagesPerSecond=2)
        before = wait_until(
            lambda: [t for t in c.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                     if t["ApproximateNumberOfMessagesMoved"] >= 2],
            timeout=5, interval=0.05, what="two messages moved")[0]
        self.assertEqual(before["Status"], "RUNNING", "6 messages at 2/s cannot be done after 2")

        self.server.restart(hard=True)
        c = self.client = make_json_client(self.server.endpoint)

        after = c.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        self.assertEqual(len(after), 1, "the task must survive kill -9 (listed again after the restart)")
        self.assertEqual(after[0]["StartedTimestamp"], before["StartedTimestamp"])
        self.assertIn(after[0]["Status"], ("RUNNING", "COMPLETED", "FAILED"))
        final = wait_until(
            lambda: [t for t in c.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                     if t["Status"] != "RUNNING"],
            timeout=15, interval=0.1, what="the resumed task to finish")[0]
        self.assertIn(final["Status"], ("COMPLETED", "FAILED"), final)
        if final["Status"] == "FAILED":
            self.assertTrue(final.get("FailureReason"), "a FAILED task says why")

        found = []
        for url in (src, dlq, dest):
            msgs = receive_all(c, url, self.N, timeout=2, VisibilityTimeout=600)
            msgs += c.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                      VisibilityTimeout=600).get("Messages", [])
            found += [m["Body"] for m in msgs]
        self.assertEqual(sorted(found), bodies, "every message exactly once across source, DLQ and destination")
        if final["Status"] == "COMPLETED":
            self.assertEqual(self.count(dest), self.N, "a COMPLETED task moved everything")
            self.assertEqual(final["ApproximateNumberOfMessagesMoved"], self.N)


if __name__ == "__main__":
    unittest.main()
