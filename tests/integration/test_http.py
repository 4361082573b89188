"""Raw HTTP checks of the wire formats, with http.client: error formats,
unknown/missing actions, keep-alive after errors, the query protocol POSTed
or GET to the queue URL, Host-derived queue URLs."""

import http.client
import json
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import (ACCOUNT, DUMMY_KEY, DUMMY_SECRET, REGION, WharfServer, md5_hex,
                     md5_of_attributes, unique_name)

NS = "{http://queue.amazonaws.com/doc/2012-11-05/}"
JSON_CT = "application/x-amz-json-1.0"
FORM_CT = "application/x-www-form-urlencoded; charset=utf-8"


class RawHttpTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=15)

    def tearDown(self):
        self.conn.close()
        if not self.server.is_running():
            tail = self.server.log_tail()
            self.server.proc = None
            self.server.start()
            self.fail(f"wharf died during this test; log tail:\n{tail}")

    # --- helpers ---------------------------------------------------------
    def request(self, method, path, body=None, headers=None, conn=None):
        """Send one SigV4-signed request (dummy credentials) and read the answer."""
        conn = conn or self.conn
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        host = headers.get("Host", self.server.host)
        req = AWSRequest(method=method, url=f"http://{host}{path}", data=body or b"", headers=headers)
        SigV4Auth(Credentials(DUMMY_KEY, DUMMY_SECRET), "sqs", REGION).add_auth(req)
        headers = {k: v for k, v in req.headers.items()}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp, data

    def json_call(self, action, payload, raw=None, headers=None, conn=None):
        h = {"Content-Type": JSON_CT, "X-Amz-Target": f"AmazonSQS.{action}"}
        h.update(headers or {})
        body = raw if raw is not None else json.dumps(payload)
        return self.request("POST", "/", body, h, conn=conn)

    def query_call(self, params, path="/", method="POST", headers=None, conn=None):
        params = dict(params)
        params.setdefault("Version", "2012-11-05")
        form = urllib.parse.urlencode(params)
        if method == "GET":
            return self.request("GET", f"{path}?{form}", None, headers or {}, conn=conn)
        h = {"Content-Type": FORM_CT}
        h.update(headers or {})
        return self.request("POST", path, form, h, conn=conn)

    def json_body(self, resp, data):
        ct = resp.getheader("Content-Type", "")
        self.assertTrue(ct.startswith("application/x-amz-json-1.0"), f"Content-Type {ct!r}; body {data[:200]!r}")
        try:
            return json.loads(data)
        except ValueError:
            self.fail(f"response is not JSON: {data[:300]!r}")

    def xml_body(self, data):
        try:
            return ET.fromstring(data)
        except ET.ParseError as e:
            self.fail(f"response is not XML ({e}): {data[:300]!r}")

    def assertXmlError(self, resp, data, code, status=400):
        self.assertEqual(resp.status, status, data[:300])
        root = self.xml_body(data)
        self.assertEqual(root.tag, NS + "ErrorResponse", data[:300])
        err = root.find(NS + "Error")
        self.assertIsNotNone(err, data[:300])
        self.assertEqual(err.findtext(NS + "Type"), "Sender", data[:300])
        if code is not None:
            self.assertEqual(err.findtext(NS + "Code"), code, data[:300])
        else:
            self.assertTrue(err.findtext(NS + "Code"), data[:300])
        self.assertIsNotNone(err.find(NS + "Message"), data[:300])
        self.assertTrue(root.findtext(NS + "RequestId"), "ErrorResponse/RequestId")
        return err

    def create(self, name=None):
        name = name or unique_name("http")
        resp, data = self.json_call("CreateQueue", {"QueueName": name})
        self.assertEqual(resp.status, 200, data)
        return name, json.loads(data)["QueueUrl"]

    # --- JSON protocol ---------------------------------------------------
    def test_json_success_shape(self):
        name, url = self.create()
        self.assertEqual(url, f"http://127.0.0.1:{self.server.port}/{ACCOUNT}/{name}")
        resp, data = self.json_call("GetQueueUrl", {"QueueName": name})
        self.assertEqual(resp.status, 200)
        self.assertEqual(self.json_body(resp, data), {"QueueUrl": url})
        self.assertTrue(resp.getheader("x-amzn-RequestId"), "x-amzn-RequestId header")

    def test_json_error_has_query_error_header(self):
        resp, data = self.json_call("GetQueueUrl", {"QueueName": unique_name("missing")})
        self.assertEqual(resp.status, 400)
        body = self.json_body(resp, data)
        self.assertEqual(body.get("__type"), "com.amazonaws.sqs#QueueDoesNotExist", body)
        self.assertTrue(body.get("message"), body)
        self.assertEqual(resp.getheader("x-amzn-query-error"),
                         "AWS.SimpleQueueService.NonExistentQueue;Sender")
        self.assertTrue(resp.getheader("x-amzn-RequestId"), "x-amzn-RequestId header")

    def test_json_queue_name_exists_header(self):
        name = unique_name("exists")
        self.json_call("CreateQueue", {"QueueName": name, "Attributes": {"DelaySeconds": "1"}})
        resp, data = self.json_call("CreateQueue", {"QueueName": name, "Attributes": {"DelaySeconds": "2"}})
        self.assertEqual(resp.status, 400)
        self.assertEqual(self.json_body(resp, data).get("__type"), "com.amazonaws.sqs#QueueNameExists")
        self.assertEqual(resp.getheader("x-amzn-query-error"), "QueueAlreadyExists;Sender")

    def test_json_malformed_body(self):
        for raw in ["{not json", "[1,2", '{"QueueNamePrefix": 5', "\x00\x01"]:
            with self.subTest(body=raw):
                resp, data = self.json_call("ListQueues", None, raw=raw)
                self.assertEqual(resp.status, 400, data)
                body = self.json_body(resp, data)
                self.assertTrue(body.get("__type"), body)

    def test_json_wrong_member_type(self):
        # MaxNumberOfMessages must be an integer
        _, url = self.create()
        resp, data = self.json_call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": "ten"})
        self.assertEqual(resp.status, 400, data)
        self.assertTrue(self.json_body(resp, data).get("__type"))

    def test_json_missing_required_parameter(self):
        resp, data = self.json_call("GetQueueUrl", {})
        self.assertEqual(resp.status, 400, data)
        body = self.json_body(resp, data)
        self.assertTrue(body.get("__type"), body)
        # AWS: MissingParameter via x-amzn-query-error
        self.assertEqual(resp.getheader("x-amzn-query-error"), "MissingParameter;Sender",
                         f"body {body}")

    def test_json_unknown_action(self):
        resp, data = self.json_call("Nope", {})
        self.assertEqual(resp.status, 400, data)
        body = self.json_body(resp, data)
        code = body.get("__type", "").rsplit("#", 1)[-1]
        qerr = resp.getheader("x-amzn-query-error") or ""
        self.assertTrue(code == "InvalidAction" or qerr.startswith("InvalidAction;"),
                        f"unknown X-Amz-Target action: __type {body.get('__type')!r}, "
                        f"x-amzn-query-error {qerr!r}; expected InvalidAction")

    def test_json_missing_target(self):
        resp, data = self.request("POST", "/", "{}", {"Content-Type": JSON_CT})
        self.assertEqual(resp.status, 400, data)

    def test_keep_alive_survives_errors(self):
        # a JSON error, then a query error, then a success: one connection
        resp, data = self.json_call("ListQueues", None, raw="{broken")
        self.assertEqual(resp.status, 400)
        sock = self.conn.sock
        self.assertIsNotNone(sock, "server closed the connection after a 400")
        resp, data = self.query_call({"Action": "Nope"})
        self.assertEqual(resp.status, 400)
        self.assertIs(self.conn.sock, sock, "server closed the connection after a query error")
        resp, data = self.json_call("GetQueueUrl", {"QueueName": unique_name("gone")})
        self.assertEqual(resp.status, 400)
        resp, data = self.json_call("ListQueues", {})
        self.assertEqual(resp.status, 200, data)
        resp, data = self.query_call({"Action": "ListQueues"})
        self.assertEqual(resp.status, 200, data)
        self.assertIs(self.conn.sock, sock, "keep-alive connection was not kept")

    def test_host_header_names_the_queue_url(self):
        name = unique_name("host")
        resp, data = self.json_call("CreateQueue", {"QueueName": name},
                                    headers={"Host": "wharf.example:4567"})
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(json.loads(data)["QueueUrl"], f"http://wharf.example:4567/{ACCOUNT}/{name}")
        resp, data = self.query_call({"Action": "GetQueueUrl", "QueueName": name},
                                     headers={"Host": "other.example:99"})
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        self.assertEqual(root.findtext(f"{NS}GetQueueUrlResult/{NS}QueueUrl"),
                         f"http://other.example:99/{ACCOUNT}/{name}")

    # --- query protocol --------------------------------------------------
    def test_query_success_shape(self):
        name, url = self.create()
        resp, data = self.query_call({"Action": "GetQueueUrl", "QueueName": name})
        self.assertEqual(resp.status, 200, data)
        self.assertTrue(resp.getheader("Content-Type", "").startswith("text/xml"),
                        resp.getheader("Content-Type"))
        root = self.xml_body(data)
        self.assertEqual(root.tag, NS + "GetQueueUrlResponse")
        self.assertEqual(root.findtext(f"{NS}GetQueueUrlResult/{NS}QueueUrl"), url)
        self.assertTrue(root.findtext(f"{NS}ResponseMetadata/{NS}RequestId"))

    def test_query_get_request(self):
        name, url = self.create()
        resp, data = self.query_call({"Action": "ListQueues", "QueueNamePrefix": name}, method="GET")
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        self.assertEqual([e.text for e in root.iter(NS + "QueueUrl")], [url])

    def test_query_unknown_action(self):
        resp, data = self.query_call({"Action": "Nope"})
        self.assertXmlError(resp, data, "InvalidAction")
        resp, data = self.query_call({"Action": "Nope"}, method="GET")
        self.assertXmlError(resp, data, "InvalidAction")

    def test_query_missing_action(self):
        resp, data = self.query_call({"QueueName": "x"})
        self.assertXmlError(resp, data, None)
        resp, data = self.request("POST", "/", b"", {"Content-Type": FORM_CT})
        self.assertEqual(resp.status, 400, data)

    def test_query_empty_results_keep_the_result_element(self):
        # AWS answers e.g. <ReceiveMessageResponse><ReceiveMessageResult/>...;
        # SDKs (botocore's query parser among them) look for the Result element
        name, url = self.create()
        cases = [
            ({"Action": "ReceiveMessage", "QueueUrl": url}, "ReceiveMessage"),
            ({"Action": "ListQueues", "QueueNamePrefix": name + "-none"}, "ListQueues"),
            ({"Action": "GetQueueAttributes", "QueueUrl": url}, "GetQueueAttributes"),
        ]
        for params, action in cases:
            with self.subTest(action=action):
                resp, data = self.query_call(params)
                self.assertEqual(resp.status, 200, data)
                root = self.xml_body(data)
                self.assertEqual(root.tag, NS + action + "Response")
                result = root.find(NS + action + "Result")
                self.assertIsNotNone(result, f"no <{action}Result/> in {data.decode()}")
                self.assertEqual(len(result), 0, data)

    def test_json_posted_to_queue_url_path(self):
        # some SDKs (e.g. Ruby aws-sdk-sqs with JSON) send to the queue URL's path
        name, url = self.create()
        h = {"Content-Type": JSON_CT, "X-Amz-Target": "AmazonSQS.SendMessage"}
        resp, data = self.request("POST", f"/{ACCOUNT}/{name}",
                                  json.dumps({"QueueUrl": url, "MessageBody": "via path"}), h)
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(self.json_body(resp, data)["MD5OfMessageBody"], md5_hex("via path"))

    def test_query_error_for_missing_queue(self):
        resp, data = self.query_call({"Action": "GetQueueUrl", "QueueName": unique_name("missing")})
        self.assertXmlError(resp, data, "AWS.SimpleQueueService.NonExistentQueue")

    def test_query_posted_to_queue_url(self):
        name, url = self.create()
        path = f"/{ACCOUNT}/{name}"
        # no QueueUrl parameter: the path names the queue
        resp, data = self.query_call({"Action": "SendMessage", "MessageBody": "to the queue url"}, path=path)
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        self.assertEqual(root.tag, NS + "SendMessageResponse")
        self.assertEqual(root.findtext(f"{NS}SendMessageResult/{NS}MD5OfMessageBody"), md5_hex("to the queue url"))
        resp, data = self.query_call({"Action": "GetQueueAttributes", "AttributeName.1": "ApproximateNumberOfMessages"},
                                     path=path, method="GET")
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        attrs = {a.findtext(NS + "Name"): a.findtext(NS + "Value")
                 for a in root.iter(NS + "Attribute")}
        self.assertEqual(attrs, {"ApproximateNumberOfMessages": "1"})
        resp, data = self.query_call({"Action": "ReceiveMessage", "VisibilityTimeout": "60"}, path=path)
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        self.assertEqual([b.text for b in root.iter(NS + "Body")], ["to the queue url"])
        handle = root.findtext(f"{NS}ReceiveMessageResult/{NS}Message/{NS}ReceiptHandle")
        resp, data = self.query_call({"Action": "DeleteMessage", "ReceiptHandle": handle}, path=path)
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(self.xml_body(data).tag, NS + "DeleteMessageResponse")
        # a queue path for a missing queue
        resp, data = self.query_call({"Action": "SendMessage", "MessageBody": "x"},
                                     path=f"/{ACCOUNT}/{unique_name('nosuch')}")
        self.assertXmlError(resp, data, "AWS.SimpleQueueService.NonExistentQueue")

    def test_query_message_attributes_flattened(self):
        name, url = self.create()
        form = {
            "Action": "SendMessage", "QueueUrl": url, "MessageBody": "attrs",
            "MessageAttribute.1.Name": "s", "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "v",
            "MessageAttribute.2.Name": "b", "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": "AAEC/w==",
        }
        resp, data = self.query_call(form)
        self.assertEqual(resp.status, 200, data)
        expected = md5_of_attributes({"s": {"DataType": "String", "StringValue": "v"},
                                      "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\x02\xff"}})
        root = self.xml_body(data)
        self.assertEqual(root.findtext(f"{NS}SendMessageResult/{NS}MD5OfMessageAttributes"), expected)

    def test_crlf_is_escaped_in_xml(self):
        # XML parsers normalise a raw CR to LF; AWS escapes it as &#xD;
        name, url = self.create()
        resp, data = self.query_call({"Action": "SendMessage", "QueueUrl": url, "MessageBody": "a\r\nb\rc"})
        self.assertEqual(resp.status, 200, data)
        resp, data = self.query_call({"Action": "ReceiveMessage", "QueueUrl": url})
        self.assertEqual(resp.status, 200, data)
        root = self.xml_body(data)
        self.assertEqual([b.text for b in root.iter(NS + "Body")], ["a\r\nb\rc"], data)


    # --- hostile input found by fuzzing -------------------------------------
    def test_query_values_that_are_not_utf8_are_refused(self):
        name, url = self.create()
        for action, extra in (("TagQueue", {"Tag.1.Key": "k", "Tag.1.Value": "v"}),
                              ("SetQueueAttributes", {"Attribute.1.Name": "KmsMasterKeyId",
                                                      "Attribute.1.Value": "v"})):
            form = urllib.parse.urlencode({"Action": action, "QueueUrl": url, "Version": "2012-11-05", **extra})
            form = form.replace("=v", "=v%FF%FE")
            resp, data = self.request("POST", "/", form, {"Content-Type": FORM_CT})
            self.assertXmlError(resp, data, "InvalidParameterValue")
        # nothing was stored, and the queue still answers in both protocols
        resp, data = self.json_call("ListQueueTags", {"QueueUrl": url})
        self.assertEqual(resp.status, 200, data)
        self.assertEqual(json.loads(data).get("Tags", {}), {})
        resp, data = self.json_call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
        self.assertEqual(resp.status, 200, data)
        self.assertNotIn("KmsMasterKeyId", json.loads(data)["Attributes"])
        form = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": url, "Version": "2012-11-05"})
        resp, data = self.request("POST", "/", form + "&MessageBody=%C3", {"Content-Type": FORM_CT})
        self.assertXmlError(resp, data, "InvalidMessageContents")

    def test_error_messages_echoing_bad_bytes_are_still_xml(self):
        for action in ("Bad%01Action", "Bad%FFAction", "Bad%00Action"):
            resp, data = self.request("POST", "/", f"Action={action}&Version=2012-11-05", {"Content-Type": FORM_CT})
            self.assertEqual(resp.status, 400, data)
            self.xml_body(data)  # parses

    def test_deeply_nested_policies_are_refused(self):
        name, url = self.create()
        deep = "[" * 20000 + "]" * 20000
        for attribute, value in (("Policy", '{"Statement":' + deep + "}"),
                                 ("RedrivePolicy", '{"deadLetterTargetArn":"x","maxReceiveCount":' + deep + "}"),
                                 ("RedriveAllowPolicy", '{"redrivePermission":' + deep + "}")):
            resp, data = self.json_call("SetQueueAttributes", {"QueueUrl": url, "Attributes": {attribute: value}})
            self.assertEqual(resp.status, 400, data)
            self.assertIn(self.json_body(resp, data)["__type"],
                          ("com.amazonaws.sqs#InvalidAttributeValue", "com.amazonaws.sqs#InvalidParameterValueException"))
        # the server lives and AddPermission works on the queue
        resp, data = self.json_call("AddPermission", {"QueueUrl": url, "Label": "l", "AWSAccountIds": ["111122223333"],
                                                      "Actions": ["SendMessage"]})
        self.assertEqual(resp.status, 200, data)


if __name__ == "__main__":
    unittest.main()
