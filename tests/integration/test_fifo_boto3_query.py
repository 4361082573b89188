"""FIFO queues and fair queues through boto3 made to speak the query protocol
(Debian's query-era model, which knows MessageGroupId, MessageDeduplicationId,
ReceiveRequestAttemptId and SequenceNumber). FifoBoto3QueryTest POSTs queue
actions to the queue URL; FifoBoto3QueryRootPathTest runs a subset POSTing to
"/" with QueueUrl in the form."""

import unittest
import urllib.parse

from fifo_behaviour import FifoBehaviour
from harness import RequestRecorder, make_query_client


class FifoBoto3QueryTest(FifoBehaviour, unittest.TestCase):
    protocol = "query"
    post_to_queue_url = True

    @classmethod
    def make_client(cls, server):
        return make_query_client(server.endpoint, post_to_queue_url=cls.post_to_queue_url)

    def test_fifo_fields_in_the_form(self):
        client = self.make_client(self.server)
        rec = RequestRecorder(client)
        _, url = self.new_fifo()
        r = client.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g&<>",
                                MessageDeduplicationId="d")
        b = client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "e1", "MessageBody": "y", "MessageGroupId": "g&<>", "MessageDeduplicationId": "d2"}])
        m = client.receive_message(QueueUrl=url, ReceiveRequestAttemptId="att",
                                   AttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
        form = urllib.parse.parse_qs(rec.requests[0][3])
        self.assertEqual(form["MessageGroupId"], ["g&<>"])
        self.assertEqual(form["MessageDeduplicationId"], ["d"])
        form = urllib.parse.parse_qs(rec.requests[1][3])
        self.assertEqual(form["SendMessageBatchRequestEntry.1.MessageGroupId"], ["g&<>"])
        self.assertEqual(urllib.parse.parse_qs(rec.requests[2][3])["ReceiveRequestAttemptId"], ["att"])
        # SequenceNumber parsed from <SendMessageResult> and the batch result entry
        self.assertRegex(r["SequenceNumber"], r"^[0-9]+$")
        self.assertRegex(b["Successful"][0]["SequenceNumber"], r"^[0-9]+$")
        self.assertEqual([x["Attributes"]["MessageGroupId"] for x in m], ["g&<>", "g&<>"])
        self.assertEqual(m[0]["Attributes"]["SequenceNumber"], r["SequenceNumber"])


# Tests that mostly wait on the clock (2-4 s each) for engine behaviour that no
# longer depends on the protocol once the request is decoded; the JSON flavour
# runs them, and the query encoding of every field they use is covered above.
_JSON_ONLY_TIMING = (
    "test_group_locks_and_deadlines_survive_sigkill",
    "test_receive_request_attempt_id_retry_resets_visibility",
    "test_dedup_window_expires",
    "test_receive_request_attempt_id_expires_with_window",
)
for _name in _JSON_ONLY_TIMING:
    setattr(FifoBoto3QueryTest, _name, None)   # not collected by unittest


class FifoBoto3QueryRootPathTest(FifoBoto3QueryTest):
    post_to_queue_url = False


_ROOT_PATH_SUBSET = {
    "test_fifo_fields_in_the_form",
    "test_create_fifo_queue_defaults",
    "test_send_requires_message_group_id",
    "test_group_locked_while_a_message_is_in_flight",
    "test_dedup_within_window",
    "test_receive_request_attempt_id_retry",
}
for _name in dir(FifoBoto3QueryRootPathTest):
    if _name.startswith("test_") and _name not in _ROOT_PATH_SUBSET:
        setattr(FifoBoto3QueryRootPathTest, _name, None)   # not collected by unittest


if __name__ == "__main__":
    unittest.main()
