"""Two wharf nodes over two PostgreSQL database groups (--postgres-groups),
driven by boto3 over real sockets: 20 queues created through the SDK spread
over both groups (counted with SQL on each database), ListQueues returns them
all, messages sent on node 1 are received on node 2, and with one group's
database stopped its queues answer 503 while the other group's queues keep
working; it comes back with the database; dead-letter redrive and move
tasks between queues of the two groups. Also: --postgres-url with
--postgres-groups refuses to start.

Skipped when PostgreSQL is not installed (CI installs it), or when the wharf
under test was built without the backend."""

import os
import sys
import tempfile
import time
import unittest

from botocore.exceptions import ClientError

import pg_nodes
from harness import http_status, private_tmp, receive_all, wait_until

_databases = []
_groups_file = None
SCHEMA = "groups_it"


def setUpModule():
    global _groups_file
    why = pg_nodes.available()
    if why:
        raise unittest.SkipTest(why)
    code, output = pg_nodes.run_node_once("postgresql://nobody@127.0.0.1:1/none")
    if "built without the PostgreSQL backend" in output:
        raise unittest.SkipTest("this wharf was built without the PostgreSQL backend")
    for _ in range(2):
        _databases.append(pg_nodes.PgDatabase().start())
    fd, _groups_file = tempfile.mkstemp(prefix="groups-", suffix=".txt", dir=private_tmp())
    with os.fdopen(fd, "w") as f:
        f.write("# the catalog group first\n")
        for database in _databases:
            f.write(database.url + "\n\n")


def tearDownModule():
    for database in _databases:
        database.stop()


def group_node():
    # An empty WHARF_POSTGRES_URL: the groups file names the databases.
    return pg_nodes.PgNode("", schema=SCHEMA, extra_args=["--postgres-groups", _groups_file])


def count_queues(database, prefix):
    out = database.psql(f"SELECT 'count=' || count(*) FROM {SCHEMA}.queues "
                        f"WHERE deleted_ms IS NULL AND name LIKE '{prefix}%'")
    return int(out.split("count=")[1].split()[0])


class TwoGroupsTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.one = group_node().start()
        cls.two = group_node().start()
        cls.c1 = cls.one.json_client()
        cls.c2 = cls.two.json_client()

    @classmethod
    def tearDownClass(cls):
        cls.one.stop()
        cls.two.stop()

    def test_queues_spread_listed_and_shared_then_one_group_down(self):
        names = [f"spread-{i:02d}" for i in range(20)]
        urls = {name: self.c1.create_queue(QueueName=name)["QueueUrl"] for name in names}
        per_group = [count_queues(d, "spread-") for d in _databases]
        self.assertEqual(sum(per_group), 20, per_group)
        self.assertGreaterEqual(min(per_group), 4, per_group)  # the hash spreads them
        print(f"\n  20 queues per group: {per_group}", file=sys.stderr)
        listed = self.c2.list_queues(QueueNamePrefix="spread-").get("QueueUrls", [])
        self.assertEqual(sorted(u.rsplit("/", 1)[1] for u in listed), names)

        for name in names:
            self.c1.send_message(QueueUrl=urls[name], MessageBody="to " + name)
        for name in names:
            url2 = self.c2.get_queue_url(QueueName=name)["QueueUrl"]
            got = receive_all(self.c2, url2, 1, timeout=10)
            self.assertEqual([m["Body"] for m in got], ["to " + name])
            self.c2.delete_message(QueueUrl=url2, ReceiptHandle=got[0]["ReceiptHandle"])

        # Which queues are on the second group (not the catalog)?
        out = _databases[1].psql(f"SELECT 'n=' || name FROM {SCHEMA}.queues WHERE deleted_ms IS NULL "
                                 "AND name LIKE 'spread-%'")
        on_second = {line.split("n=")[1].strip() for line in out.splitlines() if "n=" in line}
        on_first = [n for n in names if n not in on_second]
        self.assertTrue(on_second and on_first)

        _databases[1].stop()
        try:
            for name in sorted(on_second)[:3]:
                with self.assertRaises(ClientError) as down:
                    self.c1.send_message(QueueUrl=urls[name], MessageBody="lost?")
                self.assertEqual(http_status(down.exception), 503)
            for name in on_first:
                url2 = self.c2.get_queue_url(QueueName=name)["QueueUrl"]
                self.c1.send_message(QueueUrl=urls[name], MessageBody="still " + name)
                got = receive_all(self.c2, url2, 1, timeout=10)
                self.assertEqual([m["Body"] for m in got], ["still " + name])
                self.c2.delete_message(QueueUrl=url2, ReceiptHandle=got[0]["ReceiptHandle"])
            with self.assertRaises(ClientError) as partial:
                self.c1.list_queues(QueueNamePrefix="spread-")
            self.assertEqual(http_status(partial.exception), 503)
        finally:
            _databases[1].start_again()

        name = sorted(on_second)[0]

        def works_again(call):
            try:
                return call() or True
            except ClientError:
                return False

        # Each node's pool reconnects on its own backoff (up to 2 s).
        wait_until(lambda: works_again(lambda: self.c1.send_message(QueueUrl=urls[name], MessageBody="back")),
                   timeout=30, interval=0.2)
        url2 = wait_until(lambda: works_again(lambda: self.c2.get_queue_url(QueueName=name)["QueueUrl"]),
                          timeout=30, interval=0.2)
        got = receive_all(self.c2, url2, 1, timeout=10)
        self.assertEqual([m["Body"] for m in got], ["back"])


    def names_on(self, database, prefix):
        out = database.psql(f"SELECT 'n=' || name FROM {SCHEMA}.queues WHERE deleted_ms IS NULL "
                            f"AND name LIKE '{prefix}%'")
        return sorted(line.split("n=")[1].strip() for line in out.splitlines() if "n=" in line)

    def test_redrive_and_move_tasks_across_groups(self):
        names = [f"dl-{i:02d}" for i in range(12)]
        for name in names:
            self.c1.create_queue(QueueName=name)
        first, second = self.names_on(_databases[0], "dl-"), self.names_on(_databases[1], "dl-")
        self.assertTrue(first and second, (first, second))
        dlq_url = self.c1.get_queue_url(QueueName=first[0])["QueueUrl"]
        dlq_arn = self.c1.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        policy = '{"deadLetterTargetArn":"%s","maxReceiveCount":"1"}' % dlq_arn

        # A queue of the other group dead-letters into it: the receive on
        # node 1 parks the message, and node 2 finds it in the dead-letter queue.
        other_url = self.c1.get_queue_url(QueueName=second[0])["QueueUrl"]
        self.c1.set_queue_attributes(QueueUrl=other_url, Attributes={"RedrivePolicy": policy})
        listed = self.c2.list_dead_letter_source_queues(QueueUrl=self.c2.get_queue_url(QueueName=first[0])["QueueUrl"])
        self.assertEqual([u.rsplit("/", 1)[1] for u in listed["queueUrls"]], [second[0]])
        sent = self.c1.send_message(QueueUrl=other_url, MessageBody="across")
        got = receive_all(self.c1, other_url, 1, timeout=10, VisibilityTimeout=0)
        self.assertEqual([m["Body"] for m in got], ["across"])
        self.assertEqual(self.c1.receive_message(QueueUrl=other_url, WaitTimeSeconds=1).get("Messages", []), [])
        dlq_url2 = self.c2.get_queue_url(QueueName=first[0])["QueueUrl"]
        dead = receive_all(self.c2, dlq_url2, 1, timeout=10, VisibilityTimeout=0,
                           AttributeNames=["All"])
        self.assertEqual([m["Body"] for m in dead], ["across"])
        self.assertEqual(dead[0]["MessageId"], sent["MessageId"])
        self.assertTrue(dead[0]["Attributes"]["DeadLetterQueueSourceArn"].endswith(":" + second[0]))
        self.assertEqual(self.count_outbox(_databases[1]), 0)

        # A move task back to its source, across groups: started on node 2, done.
        task = self.c2.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
        self.assertTrue(task)
        wait_until(lambda: self.c1.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED",
                   timeout=30, interval=0.2)
        back = receive_all(self.c1, other_url, 1, timeout=10)
        self.assertEqual([m["Body"] for m in back], ["across"])
        self.assertNotEqual(back[0]["MessageId"], sent["MessageId"])

        # A move task to a named queue of the other group.
        for body in ("one", "two", "three"):
            self.c1.send_message(QueueUrl=dlq_url, MessageBody=body)
        target_url = self.c1.get_queue_url(QueueName=second[1])["QueueUrl"]
        target_arn = self.c1.get_queue_attributes(QueueUrl=target_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.c1.start_message_move_task(SourceArn=dlq_arn, DestinationArn=target_arn)
        wait_until(lambda: self.c2.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["Status"] == "COMPLETED",
                   timeout=30, interval=0.2)
        self.assertEqual(self.c2.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]["ApproximateNumberOfMessagesMoved"], 3)
        moved = receive_all(self.c2, self.c2.get_queue_url(QueueName=second[1])["QueueUrl"], 3, timeout=10)
        self.assertEqual(sorted(m["Body"] for m in moved), ["one", "three", "two"])

        # A new queue naming a dead-letter queue is placed on its group.
        self.c1.create_queue(QueueName="dl-source", Attributes={"RedrivePolicy": policy})
        self.assertEqual(self.names_on(_databases[0], "dl-source"), ["dl-source"])

    def count_outbox(self, database):
        out = database.psql(f"SELECT 'count=' || count(*) FROM {SCHEMA}.outbox")
        return int(out.split("count=")[1].split()[0])


class BadSettingsTest(unittest.TestCase):

    def test_url_and_groups_exclude_each_other(self):
        code, output = pg_nodes.run_node_once(_databases[0].url, extra_args=["--postgres-groups", _groups_file])
        self.assertEqual(code, 2, output)
        self.assertIn("exclude each other", output)

    def test_a_group_missing_from_the_list_stops_the_start(self):
        fd, path = tempfile.mkstemp(prefix="groups-", suffix=".txt", dir=private_tmp())
        with os.fdopen(fd, "w") as f:
            f.write(_databases[0].url + "\n")
        node = group_node()
        node.extra_args = ["--postgres-groups", path]
        # Only meaningful once the catalog knows both groups (TwoGroupsTest
        # or a node of this test started them).
        group_node().start().stop()
        with self.assertRaises(RuntimeError) as refused:
            node.start()
        self.assertIn("which the list does not name", str(refused.exception))


if __name__ == "__main__":
    unittest.main()
