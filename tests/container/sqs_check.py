#!/usr/bin/env python3
"""Drives a Wharf container from the host with boto3 (AWS JSON 1.0 protocol).

  sqs_check.py ENDPOINT send QUEUE N      create QUEUE, send N messages
  sqs_check.py ENDPOINT receive QUEUE N   receive exactly those N messages, delete them
  sqs_check.py ENDPOINT wait-health T0 S  poll GET /health until 200, for up to S seconds;
                                          print the ms since T0 (epoch ns, e.g. `date +%s%N`
                                          taken just before `podman run`/`start`)

Exits non-zero (with a message) on any failure.
"""
import sys
import time
import urllib.request

REGION = "us-east-1"


def client(endpoint):
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(aws_access_key_id="AKIAWHARFTEST", aws_secret_access_key="wharf-secret",
                                    region_name=REGION)
    c = session.client("sqs", endpoint_url=endpoint, region_name=REGION,
                       config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
    if c.meta.service_model.protocol != "json":
        sys.exit("botocore %s speaks %s, want json (install a newer boto3)"
                 % (c.meta.service_model.api_version, c.meta.service_model.protocol))
    return c


def body(i):
    return "container message %d: persisted across a restart" % i


def send(endpoint, queue, n):
    sqs = client(endpoint)
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    print("created", url)
    for i in range(n):
        sqs.send_message(QueueUrl=url, MessageBody=body(i))
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    if attrs["ApproximateNumberOfMessages"] != str(n):
        sys.exit("after %d sends ApproximateNumberOfMessages is %s" % (n, attrs["ApproximateNumberOfMessages"]))
    print("sent", n)


def receive(endpoint, queue, n):
    sqs = client(endpoint)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    got = []
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for m in answer.get("Messages", []):
            got.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if sorted(got) != sorted(body(i) for i in range(n)):
        sys.exit("received %r, want the %d sent messages" % (got, n))
    print("received", len(got), "of", n, "after the restart")


def wait_health(endpoint, t0_ns, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(endpoint + "/health", timeout=1) as r:
                if r.status == 200:
                    print((time.time_ns() - t0_ns) // 1_000_000)
                    return
        except OSError:
            pass
        time.sleep(0.01)
    sys.exit("no 200 from %s/health within %ss" % (endpoint, seconds))


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    endpoint, command, arg, number = sys.argv[1:]
    if command == "send":
        send(endpoint, arg, int(number))
    elif command == "receive":
        receive(endpoint, arg, int(number))
    elif command == "wait-health":
        wait_health(endpoint, int(arg), float(number))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
