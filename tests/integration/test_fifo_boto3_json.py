"""FIFO queues and fair queues through boto3 over AWS JSON 1.0."""

import json
import unittest

from fifo_behaviour import FifoBehaviour
from harness import RequestRecorder, make_json_client


class FifoBoto3JsonTest(FifoBehaviour, unittest.TestCase):
    protocol = "json"

    @classmethod
    def make_client(cls, server):
        return make_json_client(server.endpoint)

    def test_message_system_attribute_names(self):
        # the current model's way of asking for system attributes
        _, url = self.new_fifo()
        r = self.send(url, "x", "grp", "ded")
        m = self.client.receive_message(
            QueueUrl=url, MessageSystemAttributeNames=["MessageGroupId", "SequenceNumber"],
            VisibilityTimeout=0)["Messages"][0]
        self.assertEqual(m["Attributes"], {"MessageGroupId": "grp", "SequenceNumber": r["SequenceNumber"]})
        m = self.client.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"],
                                        VisibilityTimeout=0)["Messages"][0]
        self.assertEqual(m["Attributes"]["MessageDeduplicationId"], "ded")
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "2")

    def test_fifo_fields_on_the_wire(self):
        client = make_json_client(self.server.endpoint)
        rec = RequestRecorder(client)
        _, url = self.new_fifo()
        r = client.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g",
                                MessageDeduplicationId="d")
        client.receive_message(QueueUrl=url, ReceiveRequestAttemptId="att", AttributeNames=["All"])
        body = json.loads(rec.requests[0][3])
        self.assertEqual((body["MessageGroupId"], body["MessageDeduplicationId"]), ("g", "d"))
        self.assertEqual(json.loads(rec.requests[1][3])["ReceiveRequestAttemptId"], "att")
        self.assertIsInstance(r["SequenceNumber"], str)


if __name__ == "__main__":
    unittest.main()
