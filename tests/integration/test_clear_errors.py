"""Issue 20, "Clear answers to common test mistakes", through boto3 over the
JSON and the query protocols and real sockets:

- a QueueUrl naming another account (or region) answers AWS's
  QueueDoesNotExist (AWS.SimpleQueueService.NonExistentQueue, HTTP 400) with
  AWS's words first, then what Wharf expected;
- a QueueUrl naming another host or port (another server's URL: LocalStack,
  ElasticMQ, another Wharf) is NOT refused: Wharf finds queues by the URL's
  path whatever its host (proxies, port mappings and Docker networks rely on
  it). Only when no queue is there does the error name both hosts;
- a QueueUrl as Wharf wrote it keeps AWS's exact words;
- an unsigned request while --auth is on answers AWS's
  MissingAuthenticationToken (HTTP 403) with AWS's words first, then that
  SigV4 signing is required and where the credentials come from.
"""

import http.client
import unittest

import boto3
import botocore
import botocore.config
from botocore.exceptions import ClientError

import harness
from harness import ACCOUNT, REGION, WharfServer, error_code, http_status, unique_name

AWS_JSON_WORDS = "The specified queue does not exist."
AWS_QUERY_WORDS = "The specified queue does not exist for this wsdl version."
NON_EXISTENT = "AWS.SimpleQueueService.NonExistentQueue"
OTHER_ACCOUNT = "123456789012"


def failure(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e
    raise AssertionError(f"{fn.__name__} succeeded")


class ClearQueueUrlErrors:
    """Mixin: subclasses set protocol and make_client(server, region)."""

    protocol = None

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.client = cls.make_client(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def aws_words(self):
        return AWS_JSON_WORDS if self.protocol == "json" else AWS_QUERY_WORDS

    def assertNoSuchQueue(self, fn, **kwargs):
        """The error is AWS's (code, status, Sender), its message starts with
        AWS's words; answers the message."""
        e = failure(fn, **kwargs)
        self.assertEqual(error_code(e), NON_EXISTENT)
        self.assertEqual(http_status(e), 400)
        self.assertEqual(e.response["Error"].get("Type"), "Sender")
        message = e.response["Error"]["Message"]
        self.assertTrue(message.startswith(self.aws_words()), message)
        return message

    def new_queue(self):
        name = unique_name("clear")
        return name, self.client.create_queue(QueueName=name)["QueueUrl"]

    def test_queue_url_of_another_account_says_which_account_wharf_serves(self):
        name, own_url = self.new_queue()
        for action, kwargs in ((self.client.send_message, {"MessageBody": "m"}),
                               (self.client.get_queue_attributes, {"AttributeNames": ["All"]})):
            with self.subTest(action=action.__name__):
                message = self.assertNoSuchQueue(
                    action, QueueUrl=f"{self.server.endpoint}/{OTHER_ACCOUNT}/{name}", **kwargs)
                self.assertIn(f"Wharf at {self.server.endpoint} serves this request as account {ACCOUNT} "
                              f"in region {REGION}", message)
                self.assertIn(f"the QueueUrl names account {OTHER_ACCOUNT}.", message)
                self.assertIn(f"Its URL for a queue named {name} is {own_url},", message)
                self.assertNotIn("host", message)  # the host is this server's

    def test_elasticmq_style_queue_url_names_what_wharf_expected(self):
        # ElasticMQ's older URLs are http://HOST:9324/queue/NAME: a path of two
        # parts, read as account "queue".
        name, own_url = self.new_queue()
        message = self.assertNoSuchQueue(self.client.send_message, QueueUrl=f"{self.server.endpoint}/queue/{name}",
                                         MessageBody="m")
        self.assertIn("the QueueUrl names account queue.", message)
        self.assertIn(own_url, message)

    def test_queue_url_of_another_region_says_the_signed_region(self):
        name, own_url = self.new_queue()
        elsewhere = self.make_client(self.server, region="eu-west-1")
        message = self.assertNoSuchQueue(elsewhere.send_message, QueueUrl=own_url, MessageBody="m")
        self.assertIn(f"serves this request as account {ACCOUNT} in region eu-west-1", message)
        self.assertIn(f"the QueueUrl names region {REGION} (a URL without /queue/REGION", message)
        self.assertIn(f"{self.server.endpoint}/queue/eu-west-1/{ACCOUNT}/{name}", message)

    def test_queue_url_of_another_port_is_served_by_its_path(self):
        # Not refused: behind a proxy or a port mapping the URL's host is not
        # the one the request reached.
        name, _ = self.new_queue()
        foreign = f"http://localhost:4566/{ACCOUNT}/{name}"
        self.client.send_message(QueueUrl=foreign, MessageBody="through another host")
        got = self.client.receive_message(QueueUrl=foreign, WaitTimeSeconds=1)["Messages"]
        self.assertEqual([m["Body"] for m in got], ["through another host"])

    def test_queue_url_of_another_server_without_a_queue_names_both_hosts(self):
        name = unique_name("elsewhere")
        for host in ("localhost:4566", "sqs.us-east-1.localhost.localstack.cloud:4566",
                     f"127.0.0.1:{self.server.port + 1}"):
            with self.subTest(host=host):
                message = self.assertNoSuchQueue(self.client.send_message, QueueUrl=f"http://{host}/{ACCOUNT}/{name}",
                                                 MessageBody="m")
                self.assertIn(f"Wharf at {self.server.endpoint} serves this request as account {ACCOUNT}", message)
                self.assertIn(f"the QueueUrl names host {host} (Wharf finds a queue by the URL's path", message)
                self.assertIn("is this URL from another server?", message)
                self.assertIn(f"{self.server.endpoint}/{ACCOUNT}/{name}", message)

    def test_queue_url_as_wharf_wrote_it_keeps_aws_words(self):
        missing = unique_name("missing")
        e = failure(self.client.send_message, QueueUrl=self.server.queue_url(missing), MessageBody="m")
        self.assertEqual(error_code(e), NON_EXISTENT)
        self.assertEqual(e.response["Error"]["Message"], self.aws_words())
        e = failure(self.client.send_message, QueueUrl=missing, MessageBody="m")  # a bare name
        self.assertEqual(e.response["Error"]["Message"], self.aws_words())


class JsonClearQueueUrlErrorsTest(ClearQueueUrlErrors, unittest.TestCase):
    protocol = "json"

    @classmethod
    def make_client(cls, server, region=REGION):
        return harness.make_json_client(server.endpoint, region=region)


class QueryClearQueueUrlErrorsTest(ClearQueueUrlErrors, unittest.TestCase):
    protocol = "query"

    @classmethod
    def make_client(cls, server, region=REGION):
        return harness.make_query_client(server.endpoint, post_to_queue_url=True, region=region)


KEY, SECRET = "AKIDCLEARERRORS", "clear-errors-secret"


class UnsignedRequestUnderAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.start_with_credentials(f"{KEY}:{SECRET}")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def unsigned_client(self, protocol):
        model_dir = harness.query_model_dir() if protocol == "query" else None
        session = boto3.session.Session(botocore_session=harness._botocore_session(model_dir), region_name=REGION)
        config = harness._client_config().merge(botocore.config.Config(signature_version=botocore.UNSIGNED))
        c = session.client("sqs", endpoint_url=self.server.endpoint, region_name=REGION, config=config)
        self.assertEqual(c.meta.service_model.protocol, protocol)
        return c

    def assertSaysSigningIsRequired(self, message):
        self.assertTrue(message.startswith("Request is missing Authentication Token"), message)
        self.assertIn("This Wharf server runs with --auth", message)
        self.assertIn("AWS Signature Version 4", message)
        self.assertIn("WHARF_CREDENTIALS or --credentials-file", message)
        self.assertIn("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", message)

    def test_unsigned_sdk_request_says_signing_is_required(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                e = failure(self.unsigned_client(protocol).list_queues)
                self.assertEqual(error_code(e), "MissingAuthenticationToken")
                self.assertEqual(http_status(e), 403)
                self.assertSaysSigningIsRequired(e.response["Error"]["Message"])

    def test_plain_http_request_says_signing_is_required(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request("POST", "/", body="Action=ListQueues&Version=2012-11-05",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            body = response.read().decode()
        finally:
            conn.close()
        self.assertEqual(response.status, 403)
        self.assertIn("<Code>MissingAuthenticationToken</Code>", body)
        self.assertIn("<Message>Request is missing Authentication Token. This Wharf server runs with --auth", body)

    def test_signed_request_still_passes(self):
        session = boto3.session.Session(botocore_session=harness._botocore_session(), region_name=REGION)
        c = session.client("sqs", endpoint_url=self.server.endpoint, region_name=REGION, aws_access_key_id=KEY,
                           aws_secret_access_key=SECRET, config=harness._client_config())
        url = c.create_queue(QueueName=unique_name("signed"))["QueueUrl"]
        self.assertTrue(url.startswith(f"{self.server.endpoint}/{ACCOUNT}/"), url)


if __name__ == "__main__":
    unittest.main()
