"""Endpoint by environment: boto3 and the AWS CLI reach Wharf with no endpoint
in code or on the command line, through AWS_ENDPOINT_URL_SQS alone, then
AWS_ENDPOINT_URL alone, and AWS_ENDPOINT_URL_SQS wins when both are set
(botocore >= 1.31.0 / boto3 >= 1.28.0, AWS CLI v1 >= 1.29.0, v2 >= 2.13.0).

AWS CLI v1 has an exception: its `sqs` commands ignore both variables in the
regions of its awscli/customizations/overridesslcommonname.py table (us-east-1,
eu-west-1 and every other region older than 2023), where it sets the endpoint
to the legacy https://<region>.queue.amazonaws.com itself unless
--endpoint-url is given (aws/aws-cli issue 8737). So the CLI runs in
eu-central-2, outside that table, and a test pins the exception down.

Each client runs in a subprocess whose environment has no AWS_* variable but
dummy credentials, the region, empty config files and the endpoint variables
under test. Its proxy variables point at a loopback port where nothing
listens (NO_PROXY exempts 127.0.0.1): a client that ignored the endpoint
variables would fail at once instead of reaching out to AWS.

Two servers run: which one answered shows in the queue URLs, whose host and
port come from the request's Host header."""

import json
import os
import shutil
import socket
import subprocess
import sys
import unittest

import harness

CLIENT_TIMEOUT = 60
CLI_REGION = "eu-central-2"  # outside aws-cli v1's table of legacy SQS endpoints

BOTO3_SCRIPT = """
import json, boto3
client = boto3.client("sqs")  # endpoint, region and credentials from the environment
print(json.dumps({"endpoint": client.meta.endpoint_url, "urls": client.list_queues().get("QueueUrls", [])}))
"""


def aws_cli():
    """The aws command; beside this Python when PATH holds a pyenv shim."""
    found = shutil.which("aws")
    beside = os.path.join(os.path.dirname(sys.executable), "aws")
    if found and "/shims/" in found and os.path.exists(beside):
        return beside
    return found


class EndpointEnvironmentTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dead = socket.socket()  # bound, never listening: connections to it are refused
        cls.dead.bind(("127.0.0.1", 0))
        cls.servers = {}
        try:
            for name in ("a", "b"):
                server = harness.WharfServer().start()
                cls.servers[name] = server
                for region in (harness.REGION, CLI_REGION):
                    harness.make_json_client(server.endpoint, region).create_queue(QueueName=f"endpoint-env-{name}")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for server in cls.servers.values():
            server.stop()
        cls.dead.close()

    def environment(self, endpoints, region=harness.REGION):
        """No AWS_* or proxy variable of ours; dummy credentials; `endpoints`."""
        proxies = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k.upper() not in proxies}
        dead = f"http://127.0.0.1:{self.dead.getsockname()[1]}"
        env.update({
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_PAGER": "",
            "HTTP_PROXY": dead, "HTTPS_PROXY": dead, "http_proxy": dead, "https_proxy": dead,
            "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
        })
        env.update(endpoints)
        return env

    def run_client(self, argv, endpoints, region=harness.REGION):
        done = subprocess.run(argv, env=self.environment(endpoints, region), capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(done.returncode, 0, f"{argv[:3]} with {endpoints}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def boto3_urls(self, endpoints):
        out = self.run_client([sys.executable, "-c", BOTO3_SCRIPT], endpoints)
        return out["endpoint"], out["urls"]

    def cli(self):
        cli = aws_cli()
        if cli is None:
            self.skipTest("aws CLI not installed")
        version = subprocess.run([cli, "--version"], capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
        return cli, (version.stdout + version.stderr).strip()

    def reached(self, name, urls, region=harness.REGION):
        """`urls` are those server `name` hands out (its port in each)."""
        server = self.servers[name]
        path = f"{harness.ACCOUNT}/endpoint-env-{name}"
        if region != harness.REGION:
            path = f"queue/{region}/{path}"
        self.assertIn(f"{server.endpoint}/{path}", urls)
        for url in urls:
            self.assertTrue(url.startswith(server.endpoint + "/"), f"{url} not from {server.endpoint}")

    def cases(self):
        a, b = self.servers["a"].endpoint, self.servers["b"].endpoint
        return [
            ("AWS_ENDPOINT_URL_SQS alone", {"AWS_ENDPOINT_URL_SQS": a}, "a"),
            ("AWS_ENDPOINT_URL alone", {"AWS_ENDPOINT_URL": b}, "b"),
            ("both: the SQS one wins", {"AWS_ENDPOINT_URL_SQS": a, "AWS_ENDPOINT_URL": b}, "a"),
        ]

    def test_boto3_reaches_wharf_through_the_variables(self):
        for label, endpoints, name in self.cases():
            with self.subTest(label):
                endpoint, urls = self.boto3_urls(endpoints)
                self.assertEqual(endpoint, self.servers[name].endpoint)
                self.reached(name, urls)

    def test_aws_cli_reaches_wharf_through_the_variables(self):
        cli, _ = self.cli()
        for label, endpoints, name in self.cases():
            with self.subTest(label):
                out = self.run_client([cli, "sqs", "list-queues", "--output", "json"], endpoints, CLI_REGION)
                self.reached(name, out.get("QueueUrls", []), CLI_REGION)

    def test_aws_cli_v1_sqs_ignores_the_variables_in_us_east_1(self):
        cli, version = self.cli()
        argv = [cli, "sqs", "list-queues", "--output", "json"]
        endpoints = {"AWS_ENDPOINT_URL_SQS": self.servers["a"].endpoint}
        if not version.startswith("aws-cli/1."):
            self.reached("a", self.run_client(argv, endpoints).get("QueueUrls", []))  # v2 has no such table
            return
        done = subprocess.run(argv + ["--debug"], env=self.environment(endpoints), capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertNotEqual(done.returncode, 0, done.stdout)
        self.assertIn("https://queue.amazonaws.com", done.stderr)  # stopped at the dead proxy
        # --endpoint-url still works there.
        done = subprocess.run(argv + ["--endpoint-url", self.servers["a"].endpoint], env=self.environment({}),
                              capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.reached("a", json.loads(done.stdout).get("QueueUrls", []))

    def test_without_the_variables_nothing_reaches_wharf(self):
        # The guard of these tests: with no endpoint variable boto3 goes for
        # AWS, through the dead proxy, and fails at once.
        done = subprocess.run([sys.executable, "-c", BOTO3_SCRIPT], env=self.environment({}), capture_output=True,
                              text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertNotEqual(done.returncode, 0, done.stdout)
        self.assertIn("proxy", done.stderr.lower())


if __name__ == "__main__":
    unittest.main()
