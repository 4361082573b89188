"""Regions, as in AWS: a queue lives in one region of one account. The region
of a request is the one its signature is scoped to (boto3's region_name);
unsigned requests get the server's --region. The same name in two regions is
two queues with their own URLs (/queue/REGION/ACCOUNT/NAME outside the
server's default region), ARNs, ListQueues, dead-letter relations and move
tasks. A QueueUrl of another region than the request's answers
QueueDoesNotExist, as AWS does; a bare queue name in QueueUrl is the caller's
queue in the request's region. Through boto3 in both protocols, and the AWS
CLI with --region."""
import http.client
import json
import os
import shutil
import subprocess
import threading
import time
import unittest
import urllib.parse
import urllib.request

from botocore.exceptions import ClientError

from api_behaviour import RawQuery
from harness import (ACCOUNT, REGION, WharfServer, error_code, make_json_client, make_query_client,
                     start_with_credentials, unique_name)

EU = "eu-west-1"
US = "us-west-2"
AWS = shutil.which("aws")


def arn(region, name, account=ACCOUNT):
    return f"arn:aws:sqs:{region}:{account}:{name}"


class RegionBehaviour:
    protocol = None

    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def client(self, region, server=None):
        server = server or self.server
        if self.protocol == "json":
            return make_json_client(server.endpoint, region)
        # to "/" when signed: the harness moves requests to the queue's path after signing them
        return make_query_client(server.endpoint, post_to_queue_url=server is self.server, region=region)

    def move_tasks(self, region):
        """The move task calls in `region` (the query-era model lacks them)."""
        if self.protocol == "json":
            return self.client(region)
        return RawQuery(self.server, region)

    def url_in(self, region, name, account=ACCOUNT):
        prefix = "" if region == REGION else f"/queue/{region}"
        return f"{self.server.endpoint}{prefix}/{account}/{name}"

    def queue_arn_of(self, client, url):
        return client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def assertNoQueue(self, fn, **kwargs):
        with self.assertRaises(ClientError) as refused:
            fn(**kwargs)
        self.assertEqual(error_code(refused.exception), "AWS.SimpleQueueService.NonExistentQueue")

    def bodies(self, client, url, wait=0):
        got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                     VisibilityTimeout=30).get("Messages", [])
        return sorted(m["Body"] for m in got)

    # --- one name, two regions: two queues ---------------------------------
    def test_same_name_in_two_regions_is_two_queues(self):
        eu, us = self.client(EU), self.client(US)
        name = unique_name("twin")
        eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
        us_url = us.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(eu_url, self.url_in(EU, name))
        self.assertEqual(us_url, self.url_in(US, name))
        self.assertEqual(eu.get_queue_url(QueueName=name)["QueueUrl"], eu_url)
        self.assertEqual(us.get_queue_url(QueueName=name)["QueueUrl"], us_url)
        self.assertEqual(self.queue_arn_of(eu, eu_url), arn(EU, name))
        self.assertEqual(self.queue_arn_of(us, us_url), arn(US, name))
        # the default region has no queue of that name
        self.assertNoQueue(self.client(REGION).get_queue_url, QueueName=name)

        eu.send_message(QueueUrl=eu_url, MessageBody="only in eu")
        self.assertEqual(self.bodies(us, us_url), [])
        self.assertEqual(self.bodies(eu, eu_url, wait=1), ["only in eu"])
        # attributes are each queue's own
        us.set_queue_attributes(QueueUrl=us_url, Attributes={"DelaySeconds": "7"})
        get = dict(AttributeNames=["DelaySeconds"])
        self.assertEqual(eu.get_queue_attributes(QueueUrl=eu_url, **get)["Attributes"]["DelaySeconds"], "0")
        self.assertEqual(us.get_queue_attributes(QueueUrl=us_url, **get)["Attributes"]["DelaySeconds"], "7")
        # deleting one leaves the other
        us.delete_queue(QueueUrl=us_url)
        self.assertEqual(eu.get_queue_url(QueueName=name)["QueueUrl"], eu_url)

    def test_list_queues_lists_only_the_regions_queues(self):
        prefix = unique_name("listed")
        by_region = {}
        for region in (EU, US, REGION):
            client = self.client(region)
            by_region[region] = [client.create_queue(QueueName=f"{prefix}-{region}-{i}")["QueueUrl"]
                                 for i in range(2)]
        for region, urls in by_region.items():
            listed = self.client(region).list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
            self.assertEqual(sorted(listed), sorted(urls), region)

    def test_queue_url_of_another_region_is_no_queue(self):
        eu, us, home = self.client(EU), self.client(US), self.client(REGION)
        name = unique_name("elsewhere")
        eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
        home_url = home.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(home_url, self.url_in(REGION, name))
        # as AWS answers a queue URL of another region than the signature's
        self.assertNoQueue(us.send_message, QueueUrl=eu_url, MessageBody="x")
        self.assertNoQueue(us.get_queue_attributes, QueueUrl=eu_url, AttributeNames=["All"])
        self.assertNoQueue(home.send_message, QueueUrl=eu_url, MessageBody="x")
        self.assertNoQueue(eu.send_message, QueueUrl=home_url, MessageBody="x")
        # the default region's queue also answers to /queue/<default region>/...
        home.send_message(QueueUrl=self.url_in(EU, name).replace(f"/queue/{EU}/", f"/queue/{REGION}/"),
                          MessageBody="home")
        self.assertEqual(self.bodies(home, home_url, wait=1), ["home"])
        self.assertEqual(self.bodies(eu, eu_url), [])

    def test_long_poll_wakes_on_its_regions_queue_only(self):
        eu, us = self.client(EU), self.client(US)
        name = unique_name("poll")
        eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
        us_url = us.create_queue(QueueName=name)["QueueUrl"]
        got = {}

        def poll():
            started = time.monotonic()
            got["bodies"] = self.bodies(self.client(EU), eu_url, wait=5)
            got["took"] = time.monotonic() - started

        waiter = threading.Thread(target=poll)
        waiter.start()
        time.sleep(0.3)
        us.send_message(QueueUrl=us_url, MessageBody="us")
        time.sleep(0.3)
        eu.send_message(QueueUrl=eu_url, MessageBody="eu")
        waiter.join(timeout=10)
        self.assertEqual(got.get("bodies"), ["eu"])
        self.assertLess(got["took"], 3.0)
        self.assertEqual(self.bodies(us, us_url), ["us"])

    # --- bare names ---------------------------------------------------------
    def test_bare_queue_name_is_the_callers_queue_in_its_region(self):
        eu, home = self.client(EU), self.client(REGION)
        name = unique_name("bare")
        eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
        home_url = home.create_queue(QueueName=name)["QueueUrl"]
        eu.send_message(QueueUrl=name, MessageBody="eu by name")
        home.send_message(QueueUrl=name, MessageBody="home by name")
        eu.send_message_batch(QueueUrl=name, Entries=[{"Id": "1", "MessageBody": "eu batch"}])
        self.assertEqual(eu.get_queue_attributes(QueueUrl=name, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"],
                         arn(EU, name))
        eu.set_queue_attributes(QueueUrl=name, Attributes={"VisibilityTimeout": "40"})
        eu.tag_queue(QueueUrl=name, Tags={"team": "eu"})
        self.assertEqual(eu.list_queue_tags(QueueUrl=name).get("Tags"), {"team": "eu"})
        eu.untag_queue(QueueUrl=name, TagKeys=["team"])
        self.assertEqual(eu.list_dead_letter_source_queues(QueueUrl=name).get("queueUrls", []), [])

        got = eu.receive_message(QueueUrl=name, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        self.assertEqual(sorted(m["Body"] for m in got), ["eu batch", "eu by name"])
        eu.change_message_visibility(QueueUrl=name, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=60)
        eu.change_message_visibility_batch(
            QueueUrl=name, Entries=[{"Id": "1", "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 60}])
        eu.delete_message(QueueUrl=name, ReceiptHandle=got[0]["ReceiptHandle"])
        eu.delete_message_batch(QueueUrl=name, Entries=[{"Id": "1", "ReceiptHandle": got[1]["ReceiptHandle"]}])
        self.assertEqual(self.bodies(home, name, wait=1), ["home by name"])
        eu.purge_queue(QueueUrl=name)
        eu.delete_queue(QueueUrl=name)
        self.assertNoQueue(eu.get_queue_url, QueueName=name)
        self.assertEqual(home.get_queue_url(QueueName=name)["QueueUrl"], home_url)
        self.assertNoQueue(eu.send_message, QueueUrl=unique_name("missing"), MessageBody="x")
        self.assertNotEqual(eu_url, home_url)

    # --- dead-letter relations and move tasks ------------------------------
    def test_redrive_to_a_dlq_in_another_region_is_refused_like_a_missing_one(self):
        eu, us = self.client(EU), self.client(US)
        dlq = unique_name("dlq")
        us.create_queue(QueueName=dlq)

        def refusal(target_arn, create):
            policy = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": target_arn, "maxReceiveCount": 2})}
            with self.assertRaises(ClientError) as refused:
                if create:
                    eu.create_queue(QueueName=unique_name("src"), Attributes=policy)
                else:
                    url = eu.create_queue(QueueName=unique_name("src"))["QueueUrl"]
                    eu.set_queue_attributes(QueueUrl=url, Attributes=policy)
            e = refused.exception.response
            message = e["Error"]["Message"].replace(target_arn, "ARN")
            return error_code(refused.exception), message, e["ResponseMetadata"]["HTTPStatusCode"]

        for create in (True, False):
            with self.subTest(create=create):
                self.assertEqual(refusal(arn(US, dlq), create), refusal(arn(EU, unique_name("nowhere")), create))
        # the same name in the caller's region is a fine target
        eu_dlq_url = eu.create_queue(QueueName=dlq)["QueueUrl"]
        policy = json.dumps({"deadLetterTargetArn": arn(EU, dlq), "maxReceiveCount": 2})
        src_url = eu.create_queue(QueueName=unique_name("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
        self.assertEqual(eu.list_dead_letter_source_queues(QueueUrl=eu_dlq_url)["queueUrls"], [src_url])
        self.assertEqual(us.list_dead_letter_source_queues(QueueUrl=self.url_in(US, dlq)).get("queueUrls", []), [])

    def test_move_task_arns_are_in_the_region(self):
        eu = self.client(EU)
        dlq, src = unique_name("mdlq"), unique_name("msrc")
        dlq_url = eu.create_queue(QueueName=dlq)["QueueUrl"]
        policy = json.dumps({"deadLetterTargetArn": arn(EU, dlq), "maxReceiveCount": 1})
        src_url = eu.create_queue(QueueName=src, Attributes={"RedrivePolicy": policy})["QueueUrl"]
        eu.send_message(QueueUrl=src_url, MessageBody="dead")
        for _ in range(2):  # the second receive dead-letters it
            eu.receive_message(QueueUrl=src_url, VisibilityTimeout=0, WaitTimeSeconds=1)
        self.assertEqual(self.bodies(eu, dlq_url, wait=1), ["dead"])
        tasks = self.move_tasks(EU)
        # another region does not know the DLQ's ARN
        with self.assertRaises(ClientError) as refused:
            self.move_tasks(US).start_message_move_task(SourceArn=arn(EU, dlq), DestinationArn=arn(EU, src))
        self.assertEqual(error_code(refused.exception), "ResourceNotFoundException")
        started = tasks.start_message_move_task(SourceArn=arn(EU, dlq), DestinationArn=arn(EU, src))
        self.assertTrue(started["TaskHandle"])
        listed = tasks.list_message_move_tasks(SourceArn=arn(EU, dlq))["Results"]
        self.assertGreaterEqual(len(listed), 1)
        self.assertEqual(listed[0]["SourceArn"], arn(EU, dlq))
        self.assertEqual(listed[0]["DestinationArn"], arn(EU, src))
        with self.assertRaises(ClientError) as refused:
            self.move_tasks(US).list_message_move_tasks(SourceArn=arn(EU, dlq))
        self.assertEqual(error_code(refused.exception), "ResourceNotFoundException")

    # --- signatures ---------------------------------------------------------
    def test_region_with_auth_is_the_signatures(self):
        server = start_with_credentials("x:x:111111111111")
        self.addCleanup(server.stop)
        eu = self.client(EU, server)
        name = unique_name("signed")
        url = eu.create_queue(QueueName=name)["QueueUrl"]
        self.assertEqual(url, f"{server.endpoint}/queue/{EU}/111111111111/{name}")
        self.assertEqual(self.queue_arn_of(eu, url), arn(EU, name, "111111111111"))
        self.assertNoQueue(self.client(REGION, server).get_queue_url, QueueName=name)

    def test_a_scope_that_is_no_region_is_refused(self):
        with self.assertRaises(ClientError) as refused:
            self.client("EU-WEST-1").list_queues()
        self.assertEqual(error_code(refused.exception), "SignatureDoesNotMatch")
        self.assertEqual(refused.exception.response["Error"]["Message"],
                         "Credential should be scoped to a valid region, not 'EU-WEST-1'.")

    def test_metrics_name_the_region(self):
        name = unique_name("metered")
        self.client(EU).create_queue(QueueName=name)
        with urllib.request.urlopen(f"{self.server.endpoint}/metrics", timeout=10) as answer:
            text = answer.read().decode()
        self.assertIn(f'wharf_queue_messages{{account="{ACCOUNT}",region="{EU}",queue="{name}",state="visible"}} 0',
                      text)
        self.assertIn(f'wharf_storage_size_bytes{{account="{ACCOUNT}",region="{EU}"}}', text)


class RegionJsonTest(RegionBehaviour, unittest.TestCase):
    protocol = "json"


class RegionQueryTest(RegionBehaviour, unittest.TestCase):
    protocol = "query"


class RegionServerTest(unittest.TestCase):
    """What does not depend on the client's protocol: unsigned requests,
    restarts, the AWS CLI."""

    def test_unsigned_requests_get_the_servers_region(self):
        server = WharfServer(extra_args=["--region", EU]).start()
        self.addCleanup(server.stop)
        name = unique_name("unsigned")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("POST", "/", body=json.dumps({"QueueName": name}),
                     headers={"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AmazonSQS.CreateQueue"})
        answer = json.loads(conn.getresponse().read())
        conn.close()
        self.assertEqual(answer["QueueUrl"], f"{server.endpoint}/{ACCOUNT}/{name}")
        signed = make_json_client(server.endpoint, EU)
        self.assertEqual(signed.get_queue_url(QueueName=name)["QueueUrl"], answer["QueueUrl"])
        attributes = signed.get_queue_attributes(QueueUrl=name, AttributeNames=["QueueArn"])["Attributes"]
        self.assertEqual(attributes["QueueArn"], arn(EU, name))

    def test_queues_of_every_region_survive_a_restart(self):
        server = WharfServer()
        server.start()
        self.addCleanup(server.stop)
        name = unique_name("kept")
        home, eu = make_json_client(server.endpoint), make_json_client(server.endpoint, EU)
        home_url = home.create_queue(QueueName=name)["QueueUrl"]
        eu_url = eu.create_queue(QueueName=name)["QueueUrl"]
        home.send_message(QueueUrl=home_url, MessageBody="home")
        eu.send_message(QueueUrl=eu_url, MessageBody="eu")
        # data written before regions: the default region's, in the data dir itself
        self.assertTrue(os.path.isdir(os.path.join(server.data_dir, "regions", EU, ACCOUNT)))
        server.restart(hard=True)
        for region, url, body in ((REGION, home_url, "home"), (EU, eu_url, "eu")):
            client = make_json_client(server.endpoint, region)
            url = server.endpoint + urllib.parse.urlsplit(url).path  # a new port
            with self.subTest(region=region):
                self.assertEqual(client.get_queue_url(QueueName=name)["QueueUrl"], url)
                got = client.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
                self.assertEqual([m["Body"] for m in got], [body])
                self.assertEqual(client.list_queues(QueueNamePrefix=name)["QueueUrls"], [url])

    @unittest.skipIf(AWS is None, "aws CLI not installed")
    def test_aws_cli_with_region(self):
        from test_cli import cli_env
        server = WharfServer().start()
        self.addCleanup(server.stop)
        env = cli_env()

        def aws(region, *args):
            p = subprocess.run([AWS, "--endpoint-url", server.endpoint, "--region", region, "--output", "json",
                                "sqs"] + list(args), env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            return json.loads(p.stdout) if p.stdout.strip() else None

        name = unique_name("cli")
        eu_url = aws(EU, "create-queue", "--queue-name", name)["QueueUrl"]
        us_url = aws(US, "create-queue", "--queue-name", name)["QueueUrl"]
        self.assertEqual(eu_url, f"{server.endpoint}/queue/{EU}/{ACCOUNT}/{name}")
        self.assertEqual(us_url, f"{server.endpoint}/queue/{US}/{ACCOUNT}/{name}")
        aws(EU, "send-message", "--queue-url", eu_url, "--message-body", "from the cli")
        got = aws(US, "receive-message", "--queue-url", us_url)
        self.assertFalse(got and got.get("Messages"))
        got = aws(EU, "receive-message", "--queue-url", name, "--wait-time-seconds", "1")
        self.assertEqual([m["Body"] for m in got["Messages"]], ["from the cli"])
        attributes = aws(EU, "get-queue-attributes", "--queue-url", eu_url, "--attribute-names", "QueueArn")
        self.assertEqual(attributes["Attributes"]["QueueArn"], arn(EU, name))
        self.assertEqual(aws(US, "list-queues", "--queue-name-prefix", name)["QueueUrls"], [us_url])


if __name__ == "__main__":
    unittest.main()
