"""boto3 (AWS JSON 1.0 protocol) against Wharf."""

import json
import threading
import time
import unittest

from harness import RequestRecorder, make_json_client, unique_name
from sqs_behaviour import SqsBehaviour, TRACE


class Boto3JsonTest(SqsBehaviour, unittest.TestCase):
    protocol = "json"

    @classmethod
    def make_client(cls, server):
        return make_json_client(server.endpoint)

    def test_client_speaks_json(self):
        client = make_json_client(self.server.endpoint)
        self.assertEqual(client.meta.service_model.protocol, "json")
        rec = RequestRecorder(client)
        client.list_queues()
        name = unique_name("jsonproto")
        url = client.create_queue(QueueName=name)["QueueUrl"]
        client.send_message(QueueUrl=url, MessageBody="x")
        self.assertEqual(len(rec.requests), 3)
        for (method, u, headers, body), action in zip(rec.requests, ["ListQueues", "CreateQueue", "SendMessage"]):
            self.assertEqual(method, "POST")
            self.assertEqual(headers.get("X-Amz-Target"), f"AmazonSQS.{action}")
            self.assertEqual(headers.get("Content-Type"), "application/x-amz-json-1.0")
            self.assertIsInstance(json.loads(body), dict)

    def test_deprecated_attribute_names_parameter(self):
        # JSON clients may still ask for system attributes with AttributeNames
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="x", MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": TRACE}})
        m = self.client.receive_message(QueueUrl=url, AttributeNames=["All"], VisibilityTimeout=0)["Messages"][0]
        for k in ("SenderId", "SentTimestamp", "ApproximateReceiveCount",
                  "ApproximateFirstReceiveTimestamp", "AWSTraceHeader"):
            self.assertIn(k, m["Attributes"])
        m = self.client.receive_message(QueueUrl=url, AttributeNames=["SentTimestamp"],
                                        VisibilityTimeout=0)["Messages"][0]
        self.assertEqual(set(m["Attributes"]), {"SentTimestamp"})

    def test_invalid_attribute_value_is_typed(self):
        # the current model knows InvalidAttributeValue (Debian's query-era model does not)
        self.assertSqsError("InvalidAttributeValue", self.client.create_queue, exc="InvalidAttributeValue",
                            QueueName=unique_name("typed"), Attributes={"DelaySeconds": "901"})

    def test_concurrent_receivers_never_share_a_message(self):
        _, url = self.new_queue()
        n = 60
        ids = {self.client.send_message(QueueUrl=url, MessageBody=f"c{i}")["MessageId"] for i in range(n)}
        clients = [make_json_client(self.server.endpoint) for _ in range(6)]
        got = [[] for _ in clients]
        errors = []

        def drain(i):
            try:
                deadline = time.monotonic() + 10
                for _ in range(100):
                    if time.monotonic() > deadline:
                        break
                    msgs = clients[i].receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                      VisibilityTimeout=600).get("Messages", [])
                    if not msgs:
                        break
                    got[i] += [m["MessageId"] for m in msgs]
            except Exception as e:
                errors.append(e)

        threads = [threading.Thread(target=drain, args=(i,), daemon=True) for i in range(len(clients))]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=20)
        self.assertEqual(errors, [])
        flat = [m for g in got for m in g]
        self.assertEqual(len(flat), len(set(flat)), "a message was delivered to two concurrent receivers")
        self.assertEqual(set(flat), ids)


if __name__ == "__main__":
    unittest.main()
