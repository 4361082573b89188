#!/usr/bin/env python3
"""Manual benchmark (not part of any suite): how long POST /_wharf/reset takes
on RocksDB with 1,000 queues and 100,000 messages, median of 3 rounds.

Usage: WHARF_BIN=build/wharf bench/reset_time.py [--queues 1000] [--messages 100000] [--rounds 3]
Each round fills the server again (SendMessageBatch over a few threads),
then times the reset from the request to its 200 answer (durable: synced)."""

import argparse
import concurrent.futures
import json
import os
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import harness  # noqa: E402


def fill(server, queues, messages, threads=8):
    clients = [server.json_client() for _ in range(threads)]
    names = [f"bench-{i:04d}" for i in range(queues)]

    def create(index):
        return clients[index % threads].create_queue(QueueName=names[index])["QueueUrl"]

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        urls = list(pool.map(create, range(queues)))
    per_queue = messages // queues
    body = "x" * 100

    def send(index):
        sqs = clients[index % threads]
        for start in range(0, per_queue, 10):
            entries = [{"Id": str(n), "MessageBody": body} for n in range(min(10, per_queue - start))]
            sqs.send_message_batch(QueueUrl=urls[index], Entries=entries)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(queues)))
    return urls


def reset(server):
    request = urllib.request.Request(f"{server.endpoint}/_wharf/reset", data=b"", method="POST")
    started = time.monotonic()
    with urllib.request.urlopen(request, timeout=600) as answer:
        body = json.loads(answer.read())
    return time.monotonic() - started, body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--queues", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = harness.WharfServer(extra_args=["--dev-api"]).start()
    try:
        times = []
        for round_number in range(args.rounds):
            filled = time.monotonic()
            fill(server, args.queues, args.messages)
            fill_s = time.monotonic() - filled
            took, body = reset(server)
            assert body["queues"] == args.queues, body
            assert server.json_client().list_queues().get("QueueUrls", []) == []
            times.append(took)
            print(f"round {round_number + 1}: filled in {fill_s:.1f} s, reset {body['queues']} queues "
                  f"in {took * 1000:.1f} ms", flush=True)
        print(f"reset with {args.queues} queues and {args.messages} messages: median {statistics.median(times) * 1000:.1f} ms "
              f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}) over {len(times)} rounds")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
