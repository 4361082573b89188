"""Configuration: every setting as a flag, an environment variable and a
config file key (flag > environment > file > default); unknown keys and bad
values stop the start naming the setting; declared queues are created at
start, dead-letter queues first, and a restart with the same file changes
nothing; public_url is the base of queue URLs.

harness.WharfServer passes fixed flags and the test process's environment,
so these tests start the binary themselves, the same way (--port 0 when the
port is not under test, the port read from the start line, killed by PID)."""

import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

import harness
from harness import LISTEN_RE, START_TIMEOUT, STOP_TIMEOUT

CONF = os.path.join(harness.REPO, "conf")


def environment(extra=None):
    """The test process's environment without Wharf settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHARF_")}
    env.update(extra or {})
    return env


def write_config(content):
    """A config file in the run's temp dir; `content` is text or a JSON value."""
    fd, path = tempfile.mkstemp(prefix="config-", suffix=".json", dir=harness.private_tmp())
    with os.fdopen(fd, "w") as f:
        f.write(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


def new_data_dir():
    return tempfile.mkdtemp(prefix="data-", dir=harness.private_tmp())


class Wharf:
    """One wharf process with chosen arguments and environment."""

    def __init__(self, args, env=None):
        self.args = list(args)
        self.env = environment(env)
        self.proc = None
        self.port = None
        self.first_line = None
        self.log_path = None

    def start(self):
        self.log_path = tempfile.mktemp(prefix="wharf-", suffix=".log", dir=harness.private_tmp())
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [harness.server_binary()] + self.args, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=self.env, preexec_fn=harness._set_pdeathsig, close_fds=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                data = f.read(4096)
            if b"\n" in data:
                self.first_line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
                m = LISTEN_RE.search(self.first_line)
                if not m:
                    self.kill()
                    raise AssertionError(f"unexpected first line from wharf: {self.first_line!r}")
                self.port = int(m.group(1))
                return self
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise AssertionError(f"wharf exited with {rc} before listening: {self.log()}")
            time.sleep(0.02)
        self.kill()
        raise AssertionError(f"wharf did not start within {START_TIMEOUT}s: {self.log()}")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.proc = None

    def kill(self):
        if self.proc is None:
            return
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, region=harness.REGION):
        return harness.make_json_client(self.endpoint, region)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def local(data_dir=None):
    """The flags every started server needs here, unless a test puts them elsewhere."""
    return ["--port", "0", "--bind", "127.0.0.1", "--data-dir", data_dir or new_data_dir()]


class ConfigTestCase(unittest.TestCase):
    def refused(self, args, env=None):
        """Runs wharf expecting it to refuse to start; answers its output."""
        try:
            done = subprocess.run([harness.server_binary()] + list(args), env=environment(env),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, timeout=30, preexec_fn=harness._set_pdeathsig)
        except subprocess.TimeoutExpired as e:
            self.fail(f"wharf started instead of refusing {args} {env}: {e.stdout}")
        self.assertEqual(done.returncode, 1, f"{args} {env}: {done.stdout} {done.stderr}")
        self.assertNotIn("listening on", done.stdout)
        return done.stderr

    def arn_of(self, client, url):
        return client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


class PrecedenceTest(ConfigTestCase):
    def test_flag_beats_environment_beats_file_beats_default(self):
        data_dir = new_data_dir()
        config = write_config("""
            // comments are allowed
            {
              "region": "eu-west-1",          // overridden by the environment and a flag
              "account_id": "111111111111",   // overridden by the environment
              "public_url": "http://file.example:1234",  /* only here */
              "port": 9,                      // overridden by WHARF_PORT
              "bind": "127.0.0.1",
              "durability": "fsync",
              "dedup_window_seconds": 10
            }""")
        env = {"WHARF_REGION": "eu-west-2", "WHARF_ACCOUNT_ID": "222222222222", "WHARF_PORT": "0",
               "WHARF_DATA_DIR": data_dir, "WHARF_DURABILITY": "wal"}
        with Wharf(["--config", config, "--region", "eu-west-3", "--durability", "fsync"], env) as server:
            self.assertNotEqual(server.port, 9)
            self.assertIn(f"data dir {data_dir},", server.first_line)
            self.assertIn("durability fsync", server.first_line)
            client = server.client("eu-west-3")  # the default region's queues keep /ACCOUNT/NAME URLs
            url = client.create_queue(QueueName="precedence")["QueueUrl"]
            self.assertEqual(url, "http://file.example:1234/222222222222/precedence")
            self.assertEqual(self.arn_of(client, url), "arn:aws:sqs:eu-west-3:222222222222:precedence")

        # Without the flag, the environment; without either, the file.
        with Wharf(["--config", config], env) as server:
            self.assertIn("durability wal", server.first_line)
            client = server.client("eu-west-2")
            self.assertEqual(self.arn_of(client, client.get_queue_url(QueueName="precedence")["QueueUrl"]),
                             "arn:aws:sqs:eu-west-2:222222222222:precedence")
        with Wharf(["--config", config] + local()) as server:
            self.assertIn("durability fsync", server.first_line)
            client = server.client("eu-west-1")
            url = client.create_queue(QueueName="from-file")["QueueUrl"]
            self.assertEqual(url, "http://file.example:1234/111111111111/from-file")
            self.assertEqual(self.arn_of(client, url), "arn:aws:sqs:eu-west-1:111111111111:from-file")

    def test_defaults_without_any_configuration(self):
        with Wharf(local()) as server:
            self.assertIn("durability wal", server.first_line)
            self.assertIn("auth off", server.first_line)
            # Request threads: one per core, but one for RocksDB on up to 2
            # (os.cpu_count and the server's hardware_concurrency both count
            # the online processors).
            cores = os.cpu_count() or 1
            self.assertIn(f" threads={1 if cores <= 2 else cores} ", server.first_line)
            client = server.client()
            url = client.create_queue(QueueName="defaults")["QueueUrl"]
            self.assertEqual(url, f"{server.endpoint}/000000000000/defaults")
            self.assertEqual(self.arn_of(client, url), "arn:aws:sqs:us-east-1:000000000000:defaults")

    def test_threads_given_win_over_the_default(self):
        with Wharf(local() + ["--threads", "3"]) as server:
            self.assertIn(" threads=3 ", server.first_line)
        with Wharf(local(), {"WHARF_THREADS": "2"}) as server:
            self.assertIn(" threads=2 ", server.first_line)
            client = server.client()
            url = client.create_queue(QueueName="two-threads")["QueueUrl"]
            client.send_message(QueueUrl=url, MessageBody="hello")
            got = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
            self.assertEqual([m["Body"] for m in got], ["hello"])

    def test_config_file_from_environment_and_auth_three_ways(self):
        creds = {"WHARF_CREDENTIALS": "AKIDCONFIG:config-secret"}
        config = write_config({"auth": True})
        with Wharf(local(), dict(creds, WHARF_CONFIG=config)) as server:
            self.assertIn("auth sigv4", server.first_line)
        with Wharf(local() + ["--auth=false"], dict(creds, WHARF_CONFIG=config)) as server:
            self.assertIn("auth off", server.first_line)
        with Wharf(local(), dict(creds, WHARF_AUTH="true")) as server:
            self.assertIn("auth sigv4", server.first_line)
        with Wharf(local() + ["--auth"], creds) as server:
            self.assertIn("auth sigv4", server.first_line)

    def test_help_lists_every_setting_and_version_works(self):
        done = subprocess.run([harness.server_binary(), "--help"], env=environment(), capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 0)
        for flag in ("--port", "--bind", "--data-dir", "--account-id", "--region", "--public-url", "--durability",
                     "--auth", "--credentials-file", "--tls-port", "--tls-cert", "--tls-key", "--threads",
                     "--max-connections", "--max-long-polls", "--idle-timeout", "--dedup-window-seconds",
                     "--config"):
            self.assertIn(flag, done.stdout)
        done = subprocess.run([harness.server_binary(), "--version"], env=environment(), capture_output=True,
                              text=True, timeout=30)
        self.assertEqual(done.returncode, 0)
        self.assertTrue(done.stdout.startswith("wharf "), done.stdout)


class RefusalTest(ConfigTestCase):
    def test_unknown_config_key_is_named(self):
        err = self.refused(["--config", write_config({"port": 0, "prot": 9324})] + local())
        self.assertIn('unknown key "prot"', err)
        err = self.refused(["--config", write_config({"dataDir": "x"})] + local())
        self.assertIn('unknown key "dataDir"', err)
        self.assertIn('did you mean "data_dir"', err)

    def test_bad_values_name_the_setting_and_the_source(self):
        cases = [
            ({"port": "9324"}, None, [], ["port", "config file", "must be an integer"]),
            ({"port": 70000}, None, [], ["port", "config file", "0 to 65535"]),
            ({"auth": "yes"}, None, [], ["auth", "true or false"]),
            ({"idle_timeout": 0}, None, [], ["idle_timeout", "1 to 86400"]),
            ({"public_url": "http://sqs.example.com/prefix"}, None, [], ["public_url", "without a path"]),
            ({"public_url": "sqs.example.com"}, None, [], ["public_url", "http://"]),
            ({"account_id": 123456789012}, None, [], ["account_id", "must be a string"]),
            ({"region": "eu:west"}, None, [], ["region"]),
            (None, {"WHARF_PORT": "http"}, [], ["port", "environment variable WHARF_PORT", '"http"']),
            (None, {"WHARF_DEDUP_WINDOW_SECONDS": "0"}, [], ["dedup_window_seconds", "WHARF_DEDUP_WINDOW_SECONDS"]),
            (None, {"WHARF_MAX_CONNECTIONS": "-1"}, [], ["max_connections", "WHARF_MAX_CONNECTIONS"]),
            (None, {"WHARF_AUTH": "maybe"}, [], ["auth", "WHARF_AUTH"]),
            (None, None, ["--durability", "fast"], ["durability", "flag --durability", "wal or fsync"]),
            (None, None, ["--account-id", "123"], ["account_id", "flag --account-id", "12 digits"]),
            (None, None, ["--threads", "5000"], ["threads", "flag --threads"]),
            # A bad value is refused even where a higher source overrides it.
            ({"durability": "sometimes"}, None, ["--durability", "wal"], ["durability", "config file"]),
        ]
        for config, env, flags, expected in cases:
            with self.subTest(config=config, env=env, flags=flags):
                args = (["--config", write_config(config)] if config is not None else []) + flags
                err = self.refused(local() + args, env)
                for text in expected:
                    self.assertIn(text, err)

    def test_unreadable_or_malformed_files(self):
        err = self.refused(["--config", "/nonexistent/wharf.json"] + local())
        self.assertIn("cannot read config file /nonexistent/wharf.json", err)
        err = self.refused(["--config", write_config('{"port": 0,\n  port: 1}')] + local())
        self.assertIn("line 2", err)
        err = self.refused(["--config", write_config([1, 2])] + local())
        self.assertIn("JSON object", err)
        err = self.refused(local(), {"WHARF_CONFIG": "/nonexistent/from-env.json"})
        self.assertIn("/nonexistent/from-env.json", err)

    def test_tls_cert_and_key_go_together(self):
        err = self.refused(local(), {"WHARF_TLS_CERT": "/tmp/cert.pem"})
        self.assertIn("tls_cert and tls_key", err)

    def test_bad_declared_queues_name_the_queue_and_the_reason(self):
        cases = [
            ([{"QueueName": "too-long-visibility", "Attributes": {"VisibilityTimeout": 99999}}],
             ["declared queue too-long-visibility", "InvalidAttributeValue", "VisibilityTimeout"]),
            ([{"QueueName": "bad name!"}], ["declared queue bad name!", "InvalidParameterValue"]),
            ([{"QueueName": "no-such-dlq", "Attributes": {"RedrivePolicy": {"deadLetterQueue": "missing",
                                                                            "maxReceiveCount": 3}}}],
             ["declared queue no-such-dlq", "Dead letter target does not exist"]),
            ([{"QueueName": "typo", "Attribute": {}}], ["queues[0] (typo)", 'unknown key "Attribute"']),
            ([{"Attributes": {}}], ["queues[0]", "QueueName"]),
            ([{"QueueName": "twice"}, {"QueueName": "twice"}], ["twice is declared twice"]),
            ([{"QueueName": "a", "Attributes": {"RedrivePolicy": {"deadLetterQueue": "b", "maxReceiveCount": 1}}},
              {"QueueName": "b", "Attributes": {"RedrivePolicy": {"deadLetterQueue": "a", "maxReceiveCount": 1}}}],
             ["cycle", "a -> b -> a"]),
            ({"QueueName": "not-a-list"}, ["queues: must be a list"]),
        ]
        for queues, expected in cases:
            with self.subTest(queues=queues):
                err = self.refused(["--config", write_config({"queues": queues})] + local())
                for text in expected:
                    self.assertIn(text, err)


ORDERS_CONFIG = """
// The source first: the dead-letter queue must still be created before it.
{
  "queues": [
    {
      "QueueName": "orders",
      "Attributes": {
        "VisibilityTimeout": 45,
        "DelaySeconds": "2",
        "RedrivePolicy": {"deadLetterQueue": "orders-dlq", "maxReceiveCount": 4}
      },
      "tags": {"team": "shop", "tier": "1"}
    },
    {"QueueName": "orders-dlq", "Attributes": {"MessageRetentionPeriod": 1209600}, "Tags": {"role": "dlq"}},
    {
      "QueueName": "invoices.fifo",
      "Attributes": {
        "FifoQueue": true,
        "ContentBasedDeduplication": true,
        "RedrivePolicy": "{\\"deadLetterTargetArn\\": \\"arn:aws:sqs:us-east-1:000000000000:invoices-dlq.fifo\\", \\"maxReceiveCount\\": \\"7\\"}"
      }
    },
    {"QueueName": "invoices-dlq.fifo", "Attributes": {"FifoQueue": "true"}}
  ]
}
"""


class DeclaredQueuesTest(ConfigTestCase):
    def snapshot(self, client):
        urls = sorted(client.list_queues().get("QueueUrls", []))
        out = {}
        for url in urls:
            attrs = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            counts = sum(int(v) for k, v in attrs.items() if k.startswith("ApproximateNumberOf"))
            attrs = {k: v for k, v in attrs.items() if not k.startswith("ApproximateNumberOf")}
            out[url] = (attrs, counts, client.list_queue_tags(QueueUrl=url).get("Tags", {}))
        return out

    def test_created_at_start_and_idempotent_on_restart(self):
        data_dir = new_data_dir()
        config = write_config(ORDERS_CONFIG)
        with Wharf(["--config", config] + local(data_dir)) as server:
            client = server.client()
            base = f"{server.endpoint}/000000000000"
            self.assertEqual(sorted(client.list_queues()["QueueUrls"]),
                             [f"{base}/{n}" for n in ("invoices-dlq.fifo", "invoices.fifo", "orders", "orders-dlq")])
            attrs = client.get_queue_attributes(QueueUrl=f"{base}/orders", AttributeNames=["All"])["Attributes"]
            self.assertEqual(attrs["VisibilityTimeout"], "45")
            self.assertEqual(attrs["DelaySeconds"], "2")
            self.assertEqual(json.loads(attrs["RedrivePolicy"]),
                             {"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:orders-dlq",
                              "maxReceiveCount": 4})
            self.assertEqual(client.list_queue_tags(QueueUrl=f"{base}/orders")["Tags"], {"team": "shop", "tier": "1"})
            self.assertEqual(client.list_queue_tags(QueueUrl=f"{base}/orders-dlq")["Tags"], {"role": "dlq"})
            self.assertEqual(client.get_queue_attributes(QueueUrl=f"{base}/orders-dlq",
                                                         AttributeNames=["MessageRetentionPeriod"])
                             ["Attributes"]["MessageRetentionPeriod"], "1209600")
            self.assertEqual(client.list_dead_letter_source_queues(QueueUrl=f"{base}/orders-dlq")["queueUrls"],
                             [f"{base}/orders"])
            fifo = client.get_queue_attributes(QueueUrl=f"{base}/invoices.fifo", AttributeNames=["All"])["Attributes"]
            self.assertEqual(fifo["FifoQueue"], "true")
            self.assertEqual(fifo["ContentBasedDeduplication"], "true")
            self.assertEqual(json.loads(fifo["RedrivePolicy"])["maxReceiveCount"], 7)
            client.send_message(QueueUrl=f"{base}/orders", MessageBody="kept across restarts")
            client.send_message(QueueUrl=f"{base}/invoices.fifo", MessageBody="invoice", MessageGroupId="g")
            before = self.snapshot(client)

        time.sleep(1.1)  # a rewrite would show in LastModifiedTimestamp (seconds)
        with Wharf(["--config", config] + local(data_dir)) as server:
            client = server.client()
            after = self.snapshot(client)
            self.assertEqual(len(after), 4)
            for url, expected in before.items():
                url = url.replace(url.split("/000000000000/")[0], server.endpoint)
                # attributes (timestamps included), message count, tags
                self.assertEqual(after[url], expected, url)
            base = f"{server.endpoint}/000000000000"
            self.assertEqual(after[f"{base}/orders"][1], 1)
            # Changed outside the file: left alone by a restart, unless the file names it.
            client.tag_queue(QueueUrl=f"{base}/orders", Tags={"added": "by-api"})
            client.set_queue_attributes(QueueUrl=f"{base}/orders", Attributes={"MaximumMessageSize": "2048"})

        # The file changes: the declared values are applied, the rest kept.
        changed = ORDERS_CONFIG.replace('"VisibilityTimeout": 45', '"VisibilityTimeout": 90').replace(
            '"tier": "1"', '"tier": "2"')
        with Wharf(["--config", write_config(changed)] + local(data_dir)) as server:
            client = server.client()
            base = f"{server.endpoint}/000000000000"
            attrs = client.get_queue_attributes(QueueUrl=f"{base}/orders", AttributeNames=["All"])["Attributes"]
            self.assertEqual(attrs["VisibilityTimeout"], "90")
            self.assertEqual(attrs["MaximumMessageSize"], "2048")
            self.assertEqual(client.list_queue_tags(QueueUrl=f"{base}/orders")["Tags"],
                             {"team": "shop", "tier": "2", "added": "by-api"})
            got = harness.receive_all(client, f"{base}/orders", 1, timeout=10)
            self.assertEqual([m["Body"] for m in got], ["kept across restarts"])

    def test_a_queue_type_cannot_change(self):
        data_dir = new_data_dir()
        with Wharf(["--config", write_config({"queues": [{"QueueName": "kind"}]})] + local(data_dir)):
            pass
        err = self.refused(["--config", write_config({"queues": [{"QueueName": "kind", "Attributes": {
            "FifoQueue": True}}]})] + local(data_dir))
        self.assertIn("declared queue kind", err)

    def test_example_files_start(self):
        with Wharf(["--config", os.path.join(CONF, "wharf.json")] + local()) as server:
            self.assertIn("durability wal", server.first_line)
            self.assertEqual(server.client().list_queues().get("QueueUrls", []), [])
        with Wharf(["--config", os.path.join(CONF, "queues.example.json")] + local()) as server:
            client = server.client()
            names = sorted(u.rsplit("/", 1)[1] for u in client.list_queues()["QueueUrls"])
            self.assertEqual(names, ["orders", "orders-dlq", "payments.fifo"])


class PublicUrlTest(ConfigTestCase):
    def test_public_url_is_the_base_of_queue_urls(self):
        for args, env, base in (
                (["--public-url", "https://sqs.example.com:8443/"], None, "https://sqs.example.com:8443"),
                ([], {"WHARF_PUBLIC_URL": "http://wharf.internal"}, "http://wharf.internal")):
            with self.subTest(base=base), Wharf(local() + args, env) as server:
                client = server.client()
                url = client.create_queue(QueueName="public")["QueueUrl"]
                self.assertEqual(url, f"{base}/000000000000/public")
                self.assertEqual(client.get_queue_url(QueueName="public")["QueueUrl"], url)
                self.assertEqual(client.list_queues()["QueueUrls"], [url])
                # The URL it handed out addresses the queue (matched by path).
                client.send_message(QueueUrl=url, MessageBody="via public url")
                got = harness.receive_all(client, url, 1)
                self.assertEqual([m["Body"] for m in got], ["via public url"])
                query = harness.make_query_client(server.endpoint, post_to_queue_url=False)
                self.assertEqual(query.get_queue_url(QueueName="public")["QueueUrl"], url)


if __name__ == "__main__":
    unittest.main()
