"""The web console's server side: /console's embedded files, the peek
endpoint (POST /console/api/peek), which must change nothing (no visibility,
no receive count), answers errors in the JSON protocol's shape, is signed
like any SQS request under --auth, and is gone (404) with --no-console; and
the delete of a peeked message (POST /console/api/delete)."""

import json
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials

import harness
from harness import ACCOUNT, REGION, WharfServer, make_json_client, unique_name


def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body bytes) of one request; HTTP errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def peek(server, queue_url, max_messages=None, headers=None):
    params = {"QueueUrl": queue_url}
    if max_messages is not None:
        params["MaxNumberOfMessages"] = max_messages
    status, _, body = http("POST", server.endpoint + "/console/api/peek", json.dumps(params).encode(),
                           {"Content-Type": "application/json", **(headers or {})})
    return status, json.loads(body)


class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer()
        cls.server.start()
        cls.sqs = make_json_client(cls.server.endpoint)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_files_are_served_with_their_types(self):
        for path, kind in [("/console", "text/html"), ("/console/", "text/html"),
                           ("/console/app.js", "text/javascript"), ("/console/sigv4.js", "text/javascript"),
                           ("/console/style.css", "text/css"), ("/console/config.json", "application/json")]:
            status, headers, body = http("GET", self.server.endpoint + path)
            self.assertEqual(status, 200, path)
            self.assertTrue(headers["Content-Type"].startswith(kind), (path, headers["Content-Type"]))
            self.assertTrue(body, path)
        status, _, _ = http("GET", self.server.endpoint + "/console/nothing.js")
        self.assertEqual(status, 404)
        config = json.loads(http("GET", self.server.endpoint + "/console/config.json")[2])
        self.assertEqual(config["region"], REGION)
        self.assertFalse(config["auth"])

    def test_peek_changes_nothing(self):
        url = self.sqs.create_queue(QueueName=unique_name("peek"))["QueueUrl"]
        sent = self.sqs.send_message(QueueUrl=url, MessageBody="first",
                                     MessageAttributes={"colour": {"DataType": "String", "StringValue": "blue"}})
        self.sqs.send_message(QueueUrl=url, MessageBody="second")
        for _ in range(3):
            status, answer = peek(self.server, url, 10)
            self.assertEqual(status, 200, answer)
        messages = answer["Messages"]
        self.assertEqual([m["Body"] for m in messages], ["first", "second"])
        self.assertEqual(messages[0]["MessageId"], sent["MessageId"])
        self.assertEqual(messages[0]["State"], "visible")
        self.assertEqual(messages[0]["Attributes"]["ApproximateReceiveCount"], "0")
        self.assertEqual(messages[0]["MessageAttributes"]["colour"]["StringValue"], "blue")

        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessages"], "2")
        self.assertEqual(attributes["ApproximateNumberOfMessagesNotVisible"], "0")
        received = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"],
                                            VisibilityTimeout=30)["Messages"]
        self.assertEqual(received[0]["Body"], "first")
        self.assertEqual(received[0]["Attributes"]["ApproximateReceiveCount"], "1")

        # An in-flight message is shown as such, and peeking it leaves it in flight.
        status, answer = peek(self.server, url, 1)
        self.assertEqual(status, 200)
        self.assertEqual(len(answer["Messages"]), 1)
        self.assertEqual(answer["Messages"][0]["State"], "in_flight")
        self.assertEqual(answer["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "1")
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attributes["ApproximateNumberOfMessages"], "1")
        self.assertEqual(attributes["ApproximateNumberOfMessagesNotVisible"], "1")

    def test_peek_shows_system_attributes(self):
        url = self.sqs.create_queue(QueueName=unique_name("sys") + ".fifo",
                                    Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody="traced", MessageGroupId="g-1",
                              MessageDeduplicationId="d\"1\\",
                              MessageSystemAttributes={"AWSTraceHeader": {"DataType": "String",
                                                                          "StringValue": "Root=1-caf\u00e9"}})
        status, answer = peek(self.server, url)
        self.assertEqual(status, 200, answer)
        attributes = answer["Messages"][0]["Attributes"]
        self.assertEqual(attributes["MessageGroupId"], "g-1")
        self.assertEqual(attributes["MessageDeduplicationId"], "d\"1\\")
        self.assertEqual(attributes["AWSTraceHeader"], "Root=1-caf\u00e9")
        self.assertNotIn("DeadLetterQueueSourceArn", attributes)
        self.assertIn("SequenceNumber", attributes)

    def test_peek_errors_in_the_json_shape(self):
        url = self.sqs.create_queue(QueueName=unique_name("peek"))["QueueUrl"]
        status, answer = peek(self.server, url, 101)
        self.assertEqual(status, 400)
        self.assertIn("InvalidParameterValue", answer["__type"])
        status, answer = peek(self.server, self.server.queue_url(unique_name("missing")))
        self.assertEqual(status, 400)
        self.assertIn("QueueDoesNotExist", answer["__type"])
        status, _, body = http("POST", self.server.endpoint + "/console/api/peek", b"not json",
                               {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("__type", json.loads(body))


    def test_delete_a_peeked_message(self):
        url = self.sqs.create_queue(QueueName=unique_name("del"))["QueueUrl"]
        for body in ("keep", "drop", "in flight"):
            self.sqs.send_message(QueueUrl=url, MessageBody=body)
        taken = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)["Messages"][0]
        self.assertEqual(taken["Body"], "keep")
        status, answer = peek(self.server, url)
        self.assertEqual(status, 200, answer)
        by_body = {m["Body"]: m for m in answer["Messages"]}

        def delete(message, message_id=None):
            body = {"QueueUrl": url, "MessageId": message_id or message["MessageId"], "Position": message["Position"]}
            status, _, raw = http("POST", self.server.endpoint + "/console/api/delete", json.dumps(body).encode(),
                                  {"Content-Type": "application/json"})
            return status, json.loads(raw)

        # Position is the engine's opaque token, given and taken back as a string.
        self.assertTrue(all(isinstance(m["Position"], str) and m["Position"] for m in answer["Messages"]))
        for token in ("", "not-a-position", "-1", "1 "):
            status, answer = delete({**by_body["drop"], "Position": token})
            self.assertEqual(status, 400, token)
            self.assertIn("InvalidParameterValue", answer["__type"])
        self.assertEqual(delete(by_body["drop"]), (200, {}))
        self.assertEqual(delete(by_body["keep"])[0], 200)  # in flight: deleted all the same
        status, answer = delete(by_body["drop"])  # already gone
        self.assertEqual(status, 400)
        self.assertIn("InvalidParameterValue", answer["__type"])
        status, answer = delete(by_body["in flight"], message_id="another-id")
        self.assertEqual(status, 400)
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual((attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]),
                         ("1", "0"))
        left = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in left], ["in flight"])
        # The deleted in-flight message's receipt handle now deletes nothing, without error (as on AWS).
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=taken["ReceiptHandle"])


class ConsoleOffTest(unittest.TestCase):
    def test_no_console_answers_404(self):
        server = WharfServer(extra_args=["--no-console"])
        server.start()
        try:
            sqs = make_json_client(server.endpoint)
            url = sqs.create_queue(QueueName=unique_name("off"))["QueueUrl"]
            for path in ["/console", "/console/", "/console/app.js", "/console/config.json"]:
                self.assertEqual(http("GET", server.endpoint + path)[0], 404, path)
            status, _, _ = http("POST", server.endpoint + "/console/api/peek",
                                json.dumps({"QueueUrl": url}).encode(), {"Content-Type": "application/json"})
            self.assertEqual(status, 404)
            # SQS itself is unaffected.
            self.assertEqual(http("GET", server.endpoint + "/health")[0], 200)
            sqs.send_message(QueueUrl=url, MessageBody="x")
        finally:
            server.stop()


class ConsoleAuthTest(unittest.TestCase):
    def test_peek_is_signed_like_sqs(self):
        server = harness.start_with_credentials("AKIDCONSOLE:console-secret")
        try:
            client = boto3.client("sqs", endpoint_url=server.endpoint, region_name=REGION,
                                  aws_access_key_id="AKIDCONSOLE", aws_secret_access_key="console-secret")
            url = client.create_queue(QueueName=unique_name("auth"))["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody="secret body")
            # The files need no signature; the peek does.
            self.assertEqual(http("GET", server.endpoint + "/console/")[0], 200)
            self.assertTrue(json.loads(http("GET", server.endpoint + "/console/config.json")[2])["auth"])
            status, answer = peek(server, url)
            self.assertIn(status, (400, 403))
            self.assertIn("MissingAuthenticationToken", answer["__type"])

            def signed(secret):
                body = json.dumps({"QueueUrl": url})
                request = botocore.awsrequest.AWSRequest(
                    method="POST", url=server.endpoint + "/console/api/peek", data=body,
                    headers={"Content-Type": "application/json"})
                botocore.auth.SigV4Auth(botocore.credentials.Credentials("AKIDCONSOLE", secret), "sqs",
                                        REGION).add_auth(request)
                status, _, raw = http("POST", request.url, body.encode(), dict(request.headers.items()))
                return status, json.loads(raw)

            status, answer = signed("console-secret")
            self.assertEqual(status, 200, answer)
            self.assertEqual(answer["Messages"][0]["Body"], "secret body")
            status, answer = signed("wrong-secret")
            self.assertEqual(status, 403)
            self.assertIn("InvalidSignature", answer["__type"])
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
