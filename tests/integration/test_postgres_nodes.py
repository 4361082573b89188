"""Two wharf nodes on one PostgreSQL database (--storage postgresql), driven
by boto3 over real sockets: queues, messages and receipt handles are shared;
a long poll on one node is answered by a send on the other (LISTEN/NOTIFY);
a database outage answers 503 and loses nothing acknowledged; bad settings
stop the start with exit code 2.

Skipped when PostgreSQL is not installed (CI installs it), or when the wharf
under test was built without the backend."""

import statistics
import threading
import time
import unittest
import urllib.error
import urllib.request

from botocore.exceptions import ClientError

import pg_nodes
from harness import error_code, http_status, make_json_client, receive_all, unique_name, wait_until

_database = None


def setUpModule():
    global _database
    why = pg_nodes.available()
    if why:
        raise unittest.SkipTest(why)
    code, output = pg_nodes.run_node_once("postgresql://nobody@127.0.0.1:1/none")
    if "built without the PostgreSQL backend" in output:
        raise unittest.SkipTest("this wharf was built without the PostgreSQL backend")
    _database = pg_nodes.PgDatabase().start()


def tearDownModule():
    if _database:
        _database.stop()


def ready_status(node):
    try:
        with urllib.request.urlopen(node.endpoint + "/ready", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


class TwoNodesTest(unittest.TestCase):
    """Nodes A and B on one schema."""

    @classmethod
    def setUpClass(cls):
        cls.a = pg_nodes.PgNode(_database.url, schema="two_nodes").start()
        cls.b = pg_nodes.PgNode(_database.url, schema="two_nodes").start()
        cls.ca = cls.a.json_client()
        cls.cb = cls.b.json_client()

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()

    def queue(self, **attributes):
        name = unique_name("pg")
        url_a = self.ca.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        url_b = self.cb.get_queue_url(QueueName=name)["QueueUrl"]
        return name, url_a, url_b

    def test_queue_created_on_a_is_seen_on_b(self):
        name, url_a, url_b = self.queue(VisibilityTimeout="17")
        self.assertTrue(url_b.endswith("/" + name), url_b)
        self.assertIn(url_b, self.cb.list_queues(QueueNamePrefix=name).get("QueueUrls", []))
        attributes = self.cb.get_queue_attributes(QueueUrl=url_b, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["VisibilityTimeout"], "17")
        self.cb.delete_queue(QueueUrl=url_b)
        with self.assertRaises(ClientError) as gone:
            self.ca.get_queue_url(QueueName=name)
        self.assertEqual(error_code(gone.exception), "AWS.SimpleQueueService.NonExistentQueue")

    def test_standard_send_on_a_receive_on_b(self):
        _, url_a, url_b = self.queue()
        bodies = {f"message {i}" for i in range(25)}
        for i in range(0, 25, 10):
            entries = [{"Id": str(j), "MessageBody": f"message {j}"} for j in range(i, min(i + 10, 25))]
            self.assertEqual(len(self.ca.send_message_batch(QueueUrl=url_a, Entries=entries)["Successful"]),
                             len(entries))
        got = receive_all(self.cb, url_b, 25, timeout=10)
        self.assertEqual({m["Body"] for m in got}, bodies)

    def test_query_protocol_on_a_json_on_b(self):
        _, url_a, url_b = self.queue()
        sent = self.a.query_client().send_message(QueueUrl=url_a, MessageBody="over query")["MessageId"]
        got = receive_all(self.cb, url_b, 1, timeout=10)
        self.assertEqual([(m["MessageId"], m["Body"]) for m in got], [(sent, "over query")])

    def test_handle_from_a_deletes_and_changes_visibility_on_b(self):
        _, url_a, url_b = self.queue(VisibilityTimeout="60")
        self.ca.send_message(QueueUrl=url_a, MessageBody="one")
        self.ca.send_message(QueueUrl=url_a, MessageBody="two")
        got = {m["Body"]: m for m in receive_all(self.ca, url_a, 2, timeout=10)}
        self.assertEqual(set(got), {"one", "two"})
        # B deletes "two" and makes "one" visible again, with A's handles.
        self.cb.delete_message(QueueUrl=url_b, ReceiptHandle=got["two"]["ReceiptHandle"])
        self.cb.change_message_visibility(QueueUrl=url_b, ReceiptHandle=got["one"]["ReceiptHandle"],
                                          VisibilityTimeout=0)
        again = receive_all(self.cb, url_b, 1, timeout=10)
        self.assertEqual([m["Body"] for m in again], ["one"])
        self.assertEqual(again[0]["MessageId"], got["one"]["MessageId"])
        # ... and A deletes "one" with B's handle: the queue is empty.
        self.ca.delete_message(QueueUrl=url_a, ReceiptHandle=again[0]["ReceiptHandle"])
        attributes = self.ca.get_queue_attributes(
            QueueUrl=url_a, AttributeNames=["ApproximateNumberOfMessages",
                                            "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessages"], "0")
        self.assertEqual(attributes["ApproximateNumberOfMessagesNotVisible"], "0")

    def long_poll_latency(self, url_a, url_b, body):
        """Seconds from the start of a send on A to B's long poll returning it."""
        answer = {}

        def poll():
            answer["messages"] = self.cb.receive_message(QueueUrl=url_b, WaitTimeSeconds=10).get("Messages", [])
            answer["at"] = time.monotonic()

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.5)  # B's poll is waiting by now (it would return at once if not empty)
        self.assertNotIn("at", answer)
        sent_at = time.monotonic()
        self.ca.send_message(QueueUrl=url_a, MessageBody=body)
        waiter.join(15)
        self.assertFalse(waiter.is_alive())
        self.assertEqual([m["Body"] for m in answer["messages"]], [body])
        self.cb.delete_message(QueueUrl=url_b, ReceiptHandle=answer["messages"][0]["ReceiptHandle"])
        return answer["at"] - sent_at

    def test_long_poll_on_b_answered_by_send_on_a(self):
        _, url_a, url_b = self.queue()
        latencies = [self.long_poll_latency(url_a, url_b, f"wake {i}") for i in range(5)]
        print(f"\n  long poll on B answered after a send on A: "
              f"{', '.join(f'{s * 1000:.1f}' for s in latencies)} ms "
              f"(median {statistics.median(latencies) * 1000:.1f} ms)", flush=True)
        for seconds in latencies:
            self.assertLess(seconds, 1.0)

    def test_regions_with_queues_are_opened_at_start(self):
        name = unique_name("region")
        make_json_client(self.a.endpoint, region="eu-west-1").create_queue(QueueName=name)
        c = pg_nodes.PgNode(_database.url, schema="two_nodes").start()
        try:
            with urllib.request.urlopen(c.endpoint + "/metrics", timeout=10) as answer:
                metrics = answer.read().decode()
        finally:
            c.stop()
        self.assertIn(f'region="eu-west-1",queue="{name}"', metrics)

    def test_ready(self):
        self.assertEqual(ready_status(self.a), 200)
        self.assertEqual(ready_status(self.b), 200)


class StartupErrorsTest(unittest.TestCase):

    def test_wrong_password_exits_2_with_a_clear_message(self):
        _database.add_password_user("wharf_pw", "right")
        code, output = pg_nodes.run_node_once(_database.url_for("wharf_pw", "wrong"))
        self.assertEqual(code, 2, output)
        self.assertIn('password authentication failed for user "wharf_pw"', output)
        self.assertNotIn("wrong", output.replace("password authentication failed", ""))

    def test_unreachable_database_exits_2(self):
        code, output = pg_nodes.run_node_once("postgresql://postgres@127.0.0.1:1/postgres")
        self.assertEqual(code, 2, output)
        self.assertIn("cannot be reached", output)

    def test_durability_with_postgresql_exits_2(self):
        code, output = pg_nodes.run_node_once(_database.url, extra_args=["--durability", "fsync"])
        self.assertEqual(code, 2, output)
        self.assertIn("synchronous_commit", output)


class DatabaseOutageTest(unittest.TestCase):
    """The database stops while a node serves, then comes back."""

    def setUp(self):
        self.node = pg_nodes.PgNode(_database.url, schema="outage").start()
        self.client = self.node.json_client()

    def tearDown(self):
        self.assertEqual(self.node.stop(), 0, self.node.log())  # a clean stop after the outage

    def send_or_error(self, client, url, body):
        try:
            return client.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
        except ClientError as e:
            return e

    def test_stopped_database_answers_503_and_recovers_losing_nothing(self):
        url = self.client.create_queue(QueueName=unique_name("outage"))["QueueUrl"]
        acknowledged = {self.client.send_message(QueueUrl=url, MessageBody=f"before {i}")["MessageId"]
                        for i in range(20)}
        _database.stop()
        try:
            wait_until(lambda: ready_status(self.node) == 503, 5, what="/ready answering 503")
            for client in (self.client, self.node.query_client()):
                asked = time.monotonic()
                failed = self.send_or_error(client, url, "while down")
                # Known down: answered at once, not after the pool's 5 s wait.
                self.assertLess(time.monotonic() - asked, 2.0)
                self.assertIsInstance(failed, ClientError)
                self.assertEqual(http_status(failed), 503)
                self.assertEqual(error_code(failed), "ServiceUnavailable")
        finally:
            _database.start_again()
        started = time.monotonic()

        def sent_again():
            answer = self.send_or_error(self.client, url, "after")
            return answer if isinstance(answer, str) else None

        first = wait_until(sent_again, 20, interval=0.1, what="a send to succeed again")
        print(f"\n  first send acknowledged {time.monotonic() - started:.2f} s after the database was back",
              flush=True)
        acknowledged.add(first)
        wait_until(lambda: ready_status(self.node) == 200, 5, what="/ready answering 200 again")
        got = receive_all(self.client, url, len(acknowledged), timeout=10)
        self.assertEqual({m["MessageId"] for m in got}, acknowledged)


if __name__ == "__main__":
    unittest.main()
