"""TLS on a second port (--tls-port, --tls-cert, --tls-key): boto3 (JSON and
query) and the AWS CLI verify the server's self-signed certificate through a
CA bundle and work over HTTPS; without the bundle they refuse it."""

import os
import shutil
import subprocess
import tempfile
import unittest

import boto3
import botocore.exceptions

import harness
from harness import REGION, WharfServer


def make_certificate(directory):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="wharf-tls-")
        cls.cert, key = make_certificate(cls.dir)
        cls.server = WharfServer(extra_args=["--tls-port", "0", "--tls-cert", cls.cert, "--tls-key", key])
        cls.server.start()
        with open(cls.server.log_path) as log:
            first = log.readline()
        cls.tls_port = int(first.split("tls on 127.0.0.1:")[1].split()[0])
        cls.endpoint = f"https://127.0.0.1:{cls.tls_port}"

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def client(self, protocol, verify):
        model_dir = harness.query_model_dir() if protocol == "query" else None
        session = boto3.session.Session(botocore_session=harness._botocore_session(model_dir), region_name=REGION)
        return session.client("sqs", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="x",
                              aws_secret_access_key="x", verify=verify, config=harness._client_config())

    def test_sdks_verify_the_certificate_and_work_over_https(self):
        for protocol in ("json", "query"):
            with self.subTest(protocol=protocol):
                c = self.client(protocol, self.cert)
                url = c.create_queue(QueueName=f"tls-{protocol}")["QueueUrl"]
                self.assertEqual(url, f"https://127.0.0.1:{self.tls_port}/000000000000/tls-{protocol}")
                c.send_message(QueueUrl=url, MessageBody="over tls")
                got = c.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
                self.assertEqual(got[0]["Body"], "over tls")

    def test_without_the_ca_bundle_the_certificate_is_refused(self):
        with self.assertRaises(botocore.exceptions.SSLError):
            self.client("json", True).list_queues()

    def test_aws_cli_with_ca_bundle(self):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION=REGION,
                   AWS_CA_BUNDLE=self.cert, AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        done = subprocess.run(["aws", "--endpoint-url", self.endpoint, "--output", "json", "sqs", "create-queue",
                               "--queue-name", "tls-cli"], env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("https://127.0.0.1", done.stdout)

    def test_plain_port_still_serves_http(self):
        c = harness.make_json_client(self.server.endpoint)
        self.assertIn("QueueUrl", c.create_queue(QueueName="tls-plain"))


if __name__ == "__main__":
    unittest.main()
