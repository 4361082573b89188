"""boto3 made to speak the query protocol (form-encoded Action=..., XML
answers) by loading Debian's query-era SQS model through botocore's data_path.

Boto3QueryTest POSTs queue actions to the queue URL itself (as the AWS SDK for
Java v1 and boto 2 do); Boto3QueryRootPathTest runs a subset POSTing
everything to "/" with QueueUrl in the form (as botocore itself does)."""

import unittest
import urllib.parse

from harness import ACCOUNT, RequestRecorder, make_query_client, unique_name
from sqs_behaviour import SqsBehaviour


class Boto3QueryTest(SqsBehaviour, unittest.TestCase):
    protocol = "query"
    post_to_queue_url = True

    @classmethod
    def make_client(cls, server):
        return make_query_client(server.endpoint, post_to_queue_url=cls.post_to_queue_url)

    def test_client_speaks_query(self):
        client = self.make_client(self.server)
        self.assertEqual(client.meta.service_model.protocol, "query")
        rec = RequestRecorder(client)
        client.list_queues()
        name = unique_name("queryproto")
        url = client.create_queue(QueueName=name)["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="x")
        self.assertEqual(len(rec.requests), 3)
        for (method, u, headers, body), action in zip(rec.requests, ["ListQueues", "CreateQueue", "SendMessage"]):
            self.assertEqual(method, "POST")
            self.assertNotIn("X-Amz-Target", headers)
            self.assertTrue(headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"))
            form = urllib.parse.parse_qs(body)
            self.assertEqual(form.get("Action"), [action], body)
            self.assertEqual(form.get("Version"), ["2012-11-05"], body)
        paths = [urllib.parse.urlsplit(r[1]).path for r in rec.requests]
        expected_send_path = f"/{ACCOUNT}/{name}" if self.post_to_queue_url else "/"
        self.assertIn(paths[0], ("/", ""))
        self.assertIn(paths[1], ("/", ""))
        self.assertEqual(paths[2], expected_send_path)


class Boto3QueryRootPathTest(Boto3QueryTest):
    post_to_queue_url = False


_ROOT_PATH_SUBSET = {
    "test_client_speaks_query",
    "test_create_queue_returns_url_from_host_header",
    "test_get_queue_url_of_missing_queue",
    "test_get_queue_attributes_all_defaults",
    "test_set_queue_attributes_read_back",
    "test_message_attributes_round_trip",
    "test_send_receive_bodies_round_trip",
    "test_receive_system_attributes",
    "test_change_message_visibility",
    "test_invalid_receipt_handles",
    "test_purge_queue",
    "test_delete_queue",
    "test_send_to_missing_queue",
}
for _name in dir(Boto3QueryRootPathTest):
    if _name.startswith("test_") and _name not in _ROOT_PATH_SUBSET:
        setattr(Boto3QueryRootPathTest, _name, None)   # not collected by unittest


if __name__ == "__main__":
    unittest.main()
