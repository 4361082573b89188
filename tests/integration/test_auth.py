"""SigV4 verification (--auth): real SDKs with the right keys pass; a wrong
secret, an unknown key, a tampered body, an old date and a missing signature
each fail with AWS's error, in both protocols."""

import datetime
import http.client
import os
import subprocess
import unittest
import urllib.request
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
from botocore.exceptions import ClientError

import harness
from harness import REGION

KEY, SECRET = "AKIDWHARFTEST", "wharf-test-secret"
OTHER_KEY, OTHER_SECRET = "AKIDSECOND", "second-secret"


def client(server, protocol, key=KEY, secret=SECRET):
    model_dir = harness.query_model_dir() if protocol == "query" else None
    session = boto3.session.Session(botocore_session=harness._botocore_session(model_dir), region_name=REGION)
    c = session.client("sqs", endpoint_url=server.endpoint, region_name=REGION, aws_access_key_id=key,
                       aws_secret_access_key=secret, config=harness._client_config())
    assert c.meta.service_model.protocol == protocol
    return c


def error_of(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_with_credentials(f"{KEY}:{SECRET},{OTHER_KEY}:{OTHER_SECRET}")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_right_keys_pass_in_both_protocols(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                for key, secret in ((KEY, SECRET), (OTHER_KEY, OTHER_SECRET)):
                    c = client(self.server, protocol, key, secret)
                    url = c.create_queue(QueueName=f"auth-ok-{protocol}")["QueueUrl"]
                    c.send_message(QueueUrl=url, MessageBody="signed")
                    self.assertEqual(c.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["Body"],
                                     "signed")

    def test_wrong_secret_is_signature_does_not_match(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                c = client(self.server, protocol, KEY, "not-the-secret")
                self.assertEqual(error_of(c.list_queues), ("SignatureDoesNotMatch", 403))

    def test_unknown_key_is_invalid_client_token_id(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                c = client(self.server, protocol, "AKIDUNKNOWN", SECRET)
                self.assertEqual(error_of(c.list_queues), ("InvalidClientTokenId", 403))

    def test_old_date_is_request_expired(self):
        old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                c = client(self.server, protocol)
                with mock.patch.object(botocore.auth, "get_current_datetime", lambda: old):
                    self.assertEqual(error_of(c.list_queues), ("RequestExpired", 400))

    def signed_json_request(self, body):
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.server.endpoint + "/", data=body,
            headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.ListQueues"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(KEY, SECRET), "sqs", REGION).add_auth(request)
        return request

    def send_raw(self, request, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request("POST", "/", body, dict(request.headers.items()))
            response = conn.getresponse()
            return response.status, response.getheader("x-amzn-query-error"), response.read().decode()
        finally:
            conn.close()

    def test_a_signed_request_passes_and_a_tampered_body_does_not(self):
        body = '{"QueueNamePrefix":"auth"}'
        request = self.signed_json_request(body)
        status, _, answer = self.send_raw(request, body)
        self.assertEqual(status, 200, answer)
        status, code, answer = self.send_raw(request, '{"QueueNamePrefix":"other"}')
        self.assertEqual((status, code), (403, "SignatureDoesNotMatch;Sender"), answer)

    def test_many_signed_headers_are_refused_quickly(self):
        # Found by fuzzing: thousands of signed header names cost seconds of
        # CPU per request. Over 64 is IncompleteSignature; real clients sign ~5.
        body = '{"QueueNamePrefix":"auth"}'
        request = self.signed_json_request(body)
        auth = request.headers["Authorization"]
        names = ";".join(["host"] * 5000)
        request.headers.replace_header(
            "Authorization", auth.replace("SignedHeaders=", "SignedHeaders=" + names + ";", 1))
        status, code, answer = self.send_raw(request, body)
        self.assertEqual((status, code), (400, "IncompleteSignature;Sender"), answer)
        # and the server still answers signed requests
        request = self.signed_json_request(body)
        status, _, answer = self.send_raw(request, body)
        self.assertEqual(status, 200, answer)

    def test_an_unsigned_request_is_missing_authentication_token(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        conn.request("POST", "/", "Action=ListQueues", {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        answer = response.read().decode()
        conn.close()
        self.assertEqual(response.status, 403, answer)
        self.assertIn("<Code>MissingAuthenticationToken</Code>", answer)

    def test_presigned_query_url(self):
        c = client(self.server, "query")
        c.create_queue(QueueName="auth-presigned")
        # botocore presigns with the operation's method, POST for the query
        # protocol; the signature covers it, so the URL is POSTed (empty body).
        url = c.generate_presigned_url("get_queue_url", Params={"QueueName": "auth-presigned"}, ExpiresIn=60)
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST"), timeout=10) as response:
            answer = response.read().decode()
        self.assertIn("/000000000000/auth-presigned</QueueUrl>", answer)
        tampered = url.replace("auth-presigned", "auth-other", 1)
        with self.assertRaises(urllib.error.HTTPError) as failure:
            urllib.request.urlopen(urllib.request.Request(tampered, data=b"", method="POST"), timeout=10)
        self.assertEqual(failure.exception.code, 403)
        self.assertIn("SignatureDoesNotMatch", failure.exception.read().decode())

    def aws_cli(self, key, secret, *args):
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION=REGION,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        return subprocess.run(["aws", "--endpoint-url", self.server.endpoint, "--output", "json", "sqs", *args],
                              env=env, capture_output=True, text=True, timeout=60)

    def test_aws_cli_signs_and_is_checked(self):
        ok = self.aws_cli(KEY, SECRET, "create-queue", "--queue-name", "auth-cli")
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn("/000000000000/auth-cli", ok.stdout)
        bad = self.aws_cli(KEY, "wrong", "list-queues")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", bad.stderr)

    def test_health_needs_no_signature(self):
        with urllib.request.urlopen(self.server.endpoint + "/health", timeout=10) as response:
            self.assertEqual(response.read(), b"ok\n")


if __name__ == "__main__":
    unittest.main()
