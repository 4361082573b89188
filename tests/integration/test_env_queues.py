"""Declared queues from the environment: WHARF_QUEUES='NAME[:Key=Value,...];...'
(server/queues_from_env.h). Wharf started with the variable (real sockets,
boto3) has the queues with their attributes and tags; redrive works into the
declared dead-letter queue; a .fifo name is a FIFO queue; a restart with the
same variable changes nothing; the variable and the config file's "queues"
combine (a dead-letter queue of one may be declared by the other) but may
not both declare one name; a malformed value refuses to start (exit code 1)
with a message naming the entry.

Wharf's environment is the test process's without WHARF_* variables, plus
the test's (test_config.Wharf)."""

import json
import subprocess
import time
import unittest

import harness
import test_config as config

ORDERS = ("orders:VisibilityTimeout=60,RedrivePolicy.maxReceiveCount=2,"
          "RedrivePolicy.deadLetterTargetName=orders-dlq,Tag.team=shop")
QUEUES = f"{ORDERS};orders-dlq:MessageRetentionPeriod=1209600;events.fifo:ContentBasedDeduplication=true"


def start(env, args=(), data_dir=None):
    return config.Wharf(list(args) + config.local(data_dir), env)


class EnvQueuesTest(unittest.TestCase):

    def refused(self, env, args=()):
        """Runs wharf expecting it to refuse to start: answers its stderr."""
        argv = [harness.server_binary()] + list(args) + config.local()
        try:
            done = subprocess.run(argv, env=config.environment(env), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                                  preexec_fn=harness._set_pdeathsig)
        except subprocess.TimeoutExpired as e:
            self.fail(f"wharf started instead of refusing {env}: {e.stdout}")
        self.assertEqual(done.returncode, 1, f"{env}: {done.stdout} {done.stderr}")
        self.assertNotIn("listening on", done.stdout)
        return done.stderr

    def url(self, server, name):
        return f"{server.endpoint}/{harness.ACCOUNT}/{name}"

    def test_queues_exist_with_their_attributes_and_tags(self):
        with start({"WHARF_QUEUES": QUEUES}) as server:
            client = server.client()
            names = sorted(u.rsplit("/", 1)[1] for u in client.list_queues()["QueueUrls"])
            self.assertEqual(names, ["events.fifo", "orders", "orders-dlq"])
            orders = client.get_queue_attributes(QueueUrl=self.url(server, "orders"),
                                                 AttributeNames=["All"])["Attributes"]
            self.assertEqual(orders["VisibilityTimeout"], "60")
            self.assertEqual(json.loads(orders["RedrivePolicy"]), {
                "deadLetterTargetArn": f"arn:aws:sqs:{harness.REGION}:{harness.ACCOUNT}:orders-dlq",
                "maxReceiveCount": 2})
            self.assertEqual(client.list_queue_tags(QueueUrl=self.url(server, "orders"))["Tags"], {"team": "shop"})
            dlq = client.get_queue_attributes(QueueUrl=self.url(server, "orders-dlq"),
                                              AttributeNames=["MessageRetentionPeriod"])["Attributes"]
            self.assertEqual(dlq["MessageRetentionPeriod"], "1209600")
            self.assertEqual(client.list_dead_letter_source_queues(QueueUrl=self.url(server, "orders-dlq"))
                             ["queueUrls"], [self.url(server, "orders")])

    def test_redrive_into_the_declared_dead_letter_queue(self):
        with start({"WHARF_QUEUES": QUEUES}) as server:
            client = server.client()
            orders, dlq = self.url(server, "orders"), self.url(server, "orders-dlq")
            sent = client.send_message(QueueUrl=orders, MessageBody="poison")["MessageId"]
            for attempt in (1, 2):  # maxReceiveCount=2: two receives, then the dead-letter queue
                got = client.receive_message(QueueUrl=orders, VisibilityTimeout=0,
                                             WaitTimeSeconds=1).get("Messages", [])
                self.assertEqual([m["MessageId"] for m in got], [sent], f"receive {attempt}")
            self.assertEqual(client.receive_message(QueueUrl=orders, WaitTimeSeconds=0).get("Messages", []), [])
            moved = harness.receive_all(client, dlq, 1)
            self.assertEqual([m["MessageId"] for m in moved], [sent])
            self.assertEqual(moved[0]["Body"], "poison")

    def test_a_fifo_name_is_a_fifo_queue(self):
        with start({"WHARF_QUEUES": QUEUES}) as server:
            client = server.client()
            url = self.url(server, "events.fifo")
            attributes = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            self.assertEqual(attributes["FifoQueue"], "true")
            self.assertEqual(attributes["ContentBasedDeduplication"], "true")
            with self.assertRaises(Exception) as caught:
                client.send_message(QueueUrl=url, MessageBody="no group")
            self.assertEqual(harness.error_code(caught.exception), "MissingParameter")
            first = client.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")["MessageId"]
            again = client.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")["MessageId"]
            self.assertEqual(again, first)  # deduplicated by content
            client.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g")
            bodies = [m["Body"] for m in harness.receive_all(client, url, 2, MaxNumberOfMessages=10)]
            self.assertEqual(bodies, ["one", "two"])

    def test_restart_with_the_same_variable_changes_nothing(self):
        data_dir = config.new_data_dir()
        with start({"WHARF_QUEUES": QUEUES}, data_dir=data_dir) as server:
            client = server.client()
            client.send_message(QueueUrl=self.url(server, "orders"), MessageBody="kept")
            created = client.get_queue_attributes(QueueUrl=self.url(server, "orders"),
                                                  AttributeNames=["LastModifiedTimestamp"])["Attributes"]
        time.sleep(1.1)  # a change would move LastModifiedTimestamp (seconds)
        with start({"WHARF_QUEUES": QUEUES}, data_dir=data_dir) as server:
            client = server.client()
            url = self.url(server, "orders")
            after = client.get_queue_attributes(QueueUrl=url, AttributeNames=["LastModifiedTimestamp"])["Attributes"]
            self.assertEqual(after, created)
            self.assertEqual([m["Body"] for m in harness.receive_all(client, url, 1)], ["kept"])

    def test_the_variable_and_the_config_file_combine(self):
        # The file's queue names a dead-letter queue that only the variable declares.
        path = config.write_config({"queues": [{"QueueName": "invoices", "Attributes": {
            "RedrivePolicy": {"deadLetterQueue": "orders-dlq", "maxReceiveCount": 3}}}]})
        with start({"WHARF_QUEUES": "orders-dlq;events.fifo"}, ["--config", path]) as server:
            client = server.client()
            names = sorted(u.rsplit("/", 1)[1] for u in client.list_queues()["QueueUrls"])
            self.assertEqual(names, ["events.fifo", "invoices", "orders-dlq"])
            self.assertEqual(client.list_dead_letter_source_queues(QueueUrl=self.url(server, "orders-dlq"))
                             ["queueUrls"], [self.url(server, "invoices")])

    def test_a_name_in_both_the_file_and_the_variable_is_refused(self):
        path = config.write_config({"queues": [{"QueueName": "orders"}]})
        err = self.refused({"WHARF_QUEUES": "orders:VisibilityTimeout=5"}, ["--config", path])
        self.assertIn("WHARF_QUEUES: orders is also declared in the config file's \"queues\"", err)

    def test_malformed_values_refuse_to_start_naming_the_entry(self):
        cases = [
            ("orders;:VisibilityTimeout=1", ["WHARF_QUEUES entry 2:", "needs a queue name"]),
            ("orders:VisibilityTimeout", ["WHARF_QUEUES entry 1 (orders):", '"VisibilityTimeout" is not Key=Value']),
            ("orders:VisibilityTimeout=1,", ["entry 1 (orders):", "an empty part"]),
            ("a;b:Policy.Version=1", ["entry 2 (b):", "only RedrivePolicy.NAME"]),
            ("a;a", ["entry 2 (a):", "a is declared twice in WHARF_QUEUES"]),
            ("a:Tag.=x", ["entry 1 (a):", "Tag. needs a tag key"]),
            ("a:RedrivePolicy.deadLetterTargetName=b,RedrivePolicy.maxReceiveCount=1;"
             "b:RedrivePolicy.deadLetterTargetName=a,RedrivePolicy.maxReceiveCount=1",
             ["WHARF_QUEUES: the dead-letter queues form a cycle: a -> b -> a"]),
            # Well formed, refused as CreateQueue would refuse them.
            ("orders:VisibilityTimeout=99999", ["declared queue orders", "InvalidAttributeValue"]),
            ("orders:NoSuchAttribute=1", ["declared queue orders", "InvalidAttributeName"]),
            ("orders:RedrivePolicy.deadLetterTargetName=missing,RedrivePolicy.maxReceiveCount=3",
             ["declared queue orders", "Dead letter target does not exist"]),
            ("events.fifo:FifoQueue=false", ["declared queue events.fifo"]),
            ("bad name!", ["declared queue bad name!", "InvalidParameterValue"]),
        ]
        for value, expected in cases:
            with self.subTest(value=value):
                err = self.refused({"WHARF_QUEUES": value})
                for text in expected:
                    self.assertIn(text, err)


if __name__ == "__main__":
    unittest.main()
