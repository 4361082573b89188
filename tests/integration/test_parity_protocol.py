"""Addressing and the query protocol as AWS answers them (issue 17): empty
lists sent as a bare "Name=" (how botocore's query serializer sends []),
query answers written as JSON for "Accept: application/json",
<ReceiveMessageResult/>, a GET on a queue URL that names no Action, and
CreateQueue / ListQueues refused at a queue URL.

Each test runs through boto3 in the JSON protocol and in the query protocol
(Debian's query-era model); what only the query protocol's wire shows is
also checked with raw, SigV4-signed requests."""

import http.client
import json
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import (ACCOUNT, DUMMY_KEY, DUMMY_SECRET, REGION, RequestRecorder, WharfServer, error_code,
                     http_status, make_json_client, make_query_client, unique_name)

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"
AMZ_JSON_CT = "application/x-amz-json-1.0"


def outcome(call, **kwargs):
    """("ok",) or ("error", code, HTTP status, Type, message): what a call
    answers, comparable across protocols."""
    try:
        call(**kwargs)
        return ("ok",)
    except ClientError as e:
        err = e.response["Error"]
        return ("error", error_code(e), http_status(e), err.get("Type"), err.get("Message"))


class ProtocolParityBehaviour:
    protocol = None  # "json" or "query"

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.json_client = make_json_client(cls.server.endpoint)
        cls.query_client = make_query_client(cls.server.endpoint, post_to_queue_url=True)
        if cls.protocol == "json":
            cls.client, cls.other = cls.json_client, cls.query_client
        else:
            cls.client, cls.other = cls.query_client, cls.json_client

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def new_queue(self, prefix="parity"):
        name = unique_name(prefix)
        return name, self.client.create_queue(QueueName=name)["QueueUrl"]

    # --- raw, signed requests ---------------------------------------------
    def raw(self, method, path, body=b"", headers=None):
        """One SigV4-signed request; answers (status, headers, body bytes)."""
        headers = dict(headers or {})
        req = AWSRequest(method=method, url=f"http://{self.server.host}{path}", data=body, headers=headers)
        SigV4Auth(Credentials(DUMMY_KEY, DUMMY_SECRET), "sqs", REGION).add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)
        try:
            conn.request(method, path, body=body or None, headers=dict(req.headers.items()))
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            conn.close()

    def raw_query(self, params, path="/", method="POST", accept=None):
        form = urllib.parse.urlencode(dict({"Version": "2012-11-05"}, **params))
        headers = {"Accept": accept} if accept else {}
        if method == "GET":
            return self.raw("GET", f"{path}?{form}", b"", headers)
        headers["Content-Type"] = FORM_CT
        return self.raw("POST", path, form.encode(), headers)

    def raw_json(self, action, payload, accept=None):
        headers = {"Content-Type": AMZ_JSON_CT, "X-Amz-Target": f"AmazonSQS.{action}"}
        if accept:
            headers["Accept"] = accept
        return self.raw("POST", "/", json.dumps(payload).encode(), headers)

    def query_json(self, params, status=200):
        """A query request with Accept: application/json; its parsed body."""
        got_status, headers, data = self.raw_query(params, accept="application/json")
        self.assertEqual(got_status, status, data[:400])
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        body = json.loads(data)
        request_id = headers.get("x-amzn-requestid")
        self.assertTrue(request_id, headers)
        return body, request_id

    # --- empty lists --------------------------------------------------------
    def test_receive_with_empty_name_lists(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="empty lists",
                                 MessageAttributes={"a": {"DataType": "String", "StringValue": "x"}})
        recorder = RequestRecorder(self.client)
        kwargs = {"AttributeNames": [], "MessageAttributeNames": []}
        if self.protocol == "json":
            kwargs["MessageSystemAttributeNames"] = []
        r = self.client.receive_message(QueueUrl=url, VisibilityTimeout=0, **kwargs)
        self.assertEqual([m["Body"] for m in r["Messages"]], ["empty lists"])
        self.assertNotIn("Attributes", r["Messages"][0])
        self.assertNotIn("MessageAttributes", r["Messages"][0])
        body = recorder.requests[-1][3]
        if self.protocol == "query":
            # what this test is about: botocore's wire form of [] in the query protocol
            fields = urllib.parse.parse_qs(body, keep_blank_values=True)
            self.assertEqual(fields.get("AttributeNames"), [""], body)
            self.assertEqual(fields.get("MessageAttributeNames"), [""], body)
        else:
            self.assertEqual(json.loads(body)["AttributeNames"], [], body)

    def test_get_queue_attributes_with_empty_list(self):
        _, url = self.new_queue()
        r = self.client.get_queue_attributes(QueueUrl=url, AttributeNames=[])
        self.assertEqual(r.get("Attributes", {}), {})
        self.assertEqual(r.get("Attributes", {}), self.other.get_queue_attributes(QueueUrl=url, AttributeNames=[])
                         .get("Attributes", {}))

    def test_empty_lists_answer_as_in_the_other_protocol(self):
        """An empty list decodes as one, so each action answers exactly as the
        other protocol does (whatever AWS's rule for that action is), never a
        decoding error."""
        _, url = self.new_queue()
        self.client.tag_queue(QueueUrl=url, Tags={"k": "v"})
        calls = [
            ("untag_queue", {"QueueUrl": url, "TagKeys": []}),
            ("add_permission", {"QueueUrl": url, "Label": "l1", "AWSAccountIds": [], "Actions": []}),
            ("send_message_batch", {"QueueUrl": url, "Entries": []}),
            ("delete_message_batch", {"QueueUrl": url, "Entries": []}),
            ("change_message_visibility_batch", {"QueueUrl": url, "Entries": []}),
        ]
        for op, kwargs in calls:
            with self.subTest(op=op):
                mine = outcome(getattr(self.client, op), **kwargs)
                other = outcome(getattr(self.other, op), **kwargs)
                self.assertEqual(mine, other, f"{op} with empty lists")
        self.assertEqual(self.client.list_queue_tags(QueueUrl=url)["Tags"], {"k": "v"})

    def test_raw_empty_lists(self):
        _, url = self.new_queue()
        self.client.send_message(QueueUrl=url, MessageBody="raw")
        if self.protocol == "query":
            status, _, data = self.raw_query({"Action": "ReceiveMessage", "QueueUrl": url, "AttributeNames": "",
                                              "MessageAttributeNames": "", "MessageSystemAttributeNames": "",
                                              "VisibilityTimeout": "0"})
            self.assertEqual(status, 200, data)
            root = ET.fromstring(data)
            messages = root.findall(f"{NS}ReceiveMessageResult/{NS}Message")
            self.assertEqual([m.findtext(NS + "Body") for m in messages], ["raw"])
            self.assertEqual(messages[0].findall(NS + "Attribute"), [])
            status, _, data = self.raw_query({"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeNames": ""})
            self.assertEqual(status, 200, data)
            self.assertIn(b"<GetQueueAttributesResult/>", data)
        else:
            status, _, data = self.raw_json("ReceiveMessage", {"QueueUrl": url, "AttributeNames": [],
                                                               "MessageAttributeNames": [],
                                                               "MessageSystemAttributeNames": [],
                                                               "VisibilityTimeout": 0})
            self.assertEqual(status, 200, data)
            self.assertEqual([m["Body"] for m in json.loads(data)["Messages"]], ["raw"])
            status, _, data = self.raw_json("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": []})
            self.assertEqual(status, 200, data)
            self.assertEqual(json.loads(data).get("Attributes", {}), {})

    # --- answers as JSON for Accept: application/json ------------------------
    def test_accept_json_list_queues(self):
        name, url = self.new_queue()
        self.assertEqual(self.client.list_queues(QueueNamePrefix=name)["QueueUrls"], [url])
        if self.protocol == "query":
            body, request_id = self.query_json({"Action": "ListQueues", "QueueNamePrefix": name})
            self.assertEqual(body, {"ListQueuesResponse": {"ListQueuesResult": {"queueUrls": [url]},
                                                           "ResponseMetadata": {"RequestId": request_id}}})
            body, request_id = self.query_json({"Action": "ListQueues", "QueueNamePrefix": name + "-none"})
            self.assertEqual(body, {"ListQueuesResponse": {"ListQueuesResult": {"queueUrls": None},
                                                           "ResponseMetadata": {"RequestId": request_id}}})
        else:
            # the JSON protocol's answer does not depend on Accept
            status, headers, data = self.raw_json("ListQueues", {"QueueNamePrefix": name}, accept="application/json")
            self.assertEqual(status, 200, data)
            self.assertTrue(headers["content-type"].startswith(AMZ_JSON_CT), headers)
            self.assertEqual(json.loads(data), {"QueueUrls": [url]})

    def test_accept_json_receive_message(self):
        _, url = self.new_queue()
        sent = self.client.send_message(QueueUrl=url, MessageBody="as json <&>",
                                        MessageAttributes={"colour": {"DataType": "String", "StringValue": "red"}})
        if self.protocol == "query":
            body, request_id = self.query_json({"Action": "ReceiveMessage", "QueueUrl": url,
                                                "AttributeName.1": "All", "MessageAttributeName.1": "All"})
            response = body["ReceiveMessageResponse"]
            self.assertEqual(response["ResponseMetadata"], {"RequestId": request_id})
            messages = response["ReceiveMessageResult"]["messages"]
        else:
            status, _, data = self.raw_json("ReceiveMessage", {"QueueUrl": url, "AttributeNames": ["All"],
                                                               "MessageAttributeNames": ["All"]},
                                            accept="application/json")
            self.assertEqual(status, 200, data)
            messages = json.loads(data)["Messages"]
        self.assertEqual(len(messages), 1)
        m = messages[0]
        self.assertEqual(m["MessageId"], sent["MessageId"])
        self.assertEqual(m["Body"], "as json <&>")
        self.assertEqual(m["MD5OfBody"], sent["MD5OfMessageBody"])
        self.assertEqual(m["MD5OfMessageAttributes"], sent["MD5OfMessageAttributes"])
        self.assertEqual(m["MessageAttributes"], {"colour": {"DataType": "String", "StringValue": "red"}})
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        # the receipt handle works with the SDK
        self.client.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if self.protocol == "query":
            body, _ = self.query_json({"Action": "ReceiveMessage", "QueueUrl": url})
            self.assertEqual(body["ReceiveMessageResponse"]["ReceiveMessageResult"], {"messages": None})
        else:
            self.assertNotIn("Messages", self.client.receive_message(QueueUrl=url))

    def test_accept_json_batch_and_no_result(self):
        _, url = self.new_queue()
        if self.protocol == "query":
            body, _ = self.query_json({"Action": "SendMessageBatch", "QueueUrl": url,
                                       "SendMessageBatchRequestEntry.1.Id": "a",
                                       "SendMessageBatchRequestEntry.1.MessageBody": "one"})
            result = body["SendMessageBatchResponse"]["SendMessageBatchResult"]
            self.assertEqual([e["Id"] for e in result["successful"]], ["a"])
            self.assertFalse(result["failed"])  # [] as the JSON protocol's tree has it
            body, request_id = self.query_json({"Action": "SetQueueAttributes", "QueueUrl": url,
                                                "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "7"})
            self.assertEqual(body, {"SetQueueAttributesResponse": {"ResponseMetadata": {"RequestId": request_id}}})
        else:
            r = self.client.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "one"}])
            self.assertEqual([e["Id"] for e in r["Successful"]], ["a"])
            self.client.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "7"})
        self.assertEqual(self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
                         ["Attributes"], {"VisibilityTimeout": "7"})

    def test_accept_json_errors(self):
        missing = unique_name("missing")
        with self.assertRaises(ClientError) as caught:
            self.client.get_queue_url(QueueName=missing)
        self.assertEqual(error_code(caught.exception), "AWS.SimpleQueueService.NonExistentQueue")
        sdk_message = caught.exception.response["Error"]["Message"]
        if self.protocol == "query":
            body, request_id = self.query_json({"Action": "GetQueueUrl", "QueueName": missing}, status=400)
            self.assertEqual(body, {"Error": {"Code": "AWS.SimpleQueueService.NonExistentQueue",
                                              "Message": sdk_message, "Type": "Sender"},
                                    "RequestId": request_id})
        else:
            status, headers, data = self.raw_json("GetQueueUrl", {"QueueName": missing}, accept="application/json")
            self.assertEqual(status, 400, data)
            self.assertEqual(json.loads(data)["message"], sdk_message)
            self.assertEqual(headers["x-amzn-query-error"], "AWS.SimpleQueueService.NonExistentQueue;Sender")

    # --- an empty ReceiveMessageResult ----------------------------------------
    def test_empty_receive_result(self):
        _, url = self.new_queue()
        r = self.client.receive_message(QueueUrl=url)
        self.assertNotIn("Messages", r)
        status, _, data = self.raw_query({"Action": "ReceiveMessage", "QueueUrl": url})
        self.assertEqual(status, 200, data)
        self.assertIn(b"<ReceiveMessageResult/>", data)
        self.assertNotIn(b"</ReceiveMessageResult>", data)

    # --- addressing -------------------------------------------------------------
    def test_get_on_queue_url_without_action(self):
        name, url = self.new_queue()
        path = f"/{ACCOUNT}/{name}"
        for accept in (None, "application/json", "text/xml"):
            with self.subTest(accept=accept):
                status, _, data = self.raw("GET", path, b"", {"Accept": accept} if accept else {})
                self.assertEqual(status, 404, data)
                self.assertEqual(data, b"<UnknownOperationException/>")
        # a GET with an Action at the same URL is a query call as before
        status, _, data = self.raw_query({"Action": "GetQueueAttributes", "AttributeName.1": "QueueArn"},
                                         path=path, method="GET")
        self.assertEqual(status, 200, data)
        self.assertIn(f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}".encode(), data)
        self.assertIn("QueueArn", self.client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                      ["Attributes"])

    def test_create_and_list_queues_refused_at_a_queue_url(self):
        name, url = self.new_queue()
        path = f"/{ACCOUNT}/{name}"
        at_queue_url = make_query_client(self.server.endpoint, post_to_queue_url=False)

        def to_queue_path(request, **kwargs):
            request.url = f"{self.server.endpoint}{path}"

        at_queue_url.meta.events.register_first("before-send.sqs", to_queue_path)
        calls = [("CreateQueue", at_queue_url.create_queue, {"QueueName": unique_name("at-url")}),
                 ("ListQueues", at_queue_url.list_queues, {})]
        for action, call, kwargs in calls:
            with self.subTest(action=action):
                with self.assertRaises(ClientError) as caught:
                    call(**kwargs)
                e = caught.exception
                self.assertEqual(error_code(e), "InvalidAction")
                self.assertEqual(http_status(e), 400)
                self.assertEqual(e.response["Error"]["Message"], f"The action {action} is not valid for this endpoint.")
                status, _, data = self.raw_query(dict({"Action": action}, **kwargs), path=path)
                self.assertEqual(status, 400, data)
                self.assertEqual(ET.fromstring(data).findtext(f"{NS}Error/{NS}Code"), "InvalidAction")
        # nothing was created; at the endpoint, in this protocol, both work
        self.assertNotIn("QueueUrls", self.client.list_queues(QueueNamePrefix=calls[0][2]["QueueName"]))
        self.assertEqual(self.client.list_queues(QueueNamePrefix=name)["QueueUrls"], [url])
        other = self.client.create_queue(QueueName=calls[0][2]["QueueName"])["QueueUrl"]
        self.assertTrue(other.endswith("/" + calls[0][2]["QueueName"]))
        # a queue action at the queue's URL still works
        self.assertEqual(at_queue_url.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])
                         ["Attributes"], {"DelaySeconds": "0"})


class JsonProtocolParityTest(ProtocolParityBehaviour, unittest.TestCase):
    protocol = "json"


class QueryProtocolParityTest(ProtocolParityBehaviour, unittest.TestCase):
    protocol = "query"


if __name__ == "__main__":
    unittest.main()
