"""Storage failures: a full disk, a read-only data dir, a corrupted RocksDB.
Wharf must answer per-request errors (InternalError / ServiceUnavailable) or
refuse to start with a clear message and a non-zero exit; it must never
acknowledge what it did not store. Needs root (tmpfs and bind mounts); the
tests skip, saying why, where mounting is not allowed."""
import base64
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request

from botocore.exceptions import ClientError

import harness
from harness import WharfServer


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60)


def can_mount():
    if os.geteuid() != 0:
        return False
    probe = tempfile.mkdtemp(prefix="mount-probe-", dir=harness.private_tmp())
    ok = run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe).returncode == 0
    if ok:
        run("umount", probe)
    os.rmdir(probe)
    return ok


MOUNT_OK = can_mount()


def start_fails(data_dir):
    """Runs wharf on data_dir; it must exit (not serve). Returns (code, output)."""
    proc = subprocess.run([harness.server_binary(), "--port", "0", "--bind", "127.0.0.1", "--data-dir", data_dir],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout + proc.stderr


@unittest.skipUnless(MOUNT_OK, "needs root and permission to mount tmpfs / bind mounts")
class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.mount = tempfile.mkdtemp(prefix="full-", dir=harness.private_tmp())
        r = run("mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", self.mount)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.kill()
        run("umount", self.mount)
        shutil.rmtree(self.mount, ignore_errors=True)

    def test_a_full_disk_gives_errors_never_false_acknowledgments(self):
        data = os.path.join(self.mount, "data")
        # Keep 32 MiB free (so a quarter, 8 MiB, for memtables and other writes).
        self.server = WharfServer(data_dir=data, extra_args=["--min-free-disk-mb", "32"]).start()
        sqs = harness.make_json_client(self.server.endpoint)
        url = sqs.create_queue(QueueName="fills")["QueueUrl"]
        body = base64.b64encode(os.urandom(150_000)).decode()  # incompressible, as RocksDB compresses
        acknowledged, failures = [], {}
        for i in range(1000):  # 200 MB into 96 MB: the reserve is reached long before the end
            try:
                acknowledged.append(sqs.send_message(QueueUrl=url, MessageBody=f"{i:05d}{body[i:]}{body[:i]}")["MessageId"])
            except ClientError as e:
                code = e.response["Error"]["Code"]
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                self.assertEqual((code, status), ("ServiceUnavailable", 503), e.response)
                failures[code] = failures.get(code, 0) + 1
                if sum(failures.values()) >= 20:
                    break
        self.assertGreater(sum(failures.values()), 0, "the disk never filled")
        self.assertGreater(len(acknowledged), 0)
        # The server still answers (errors, not a crash).
        with urllib.request.urlopen(self.server.endpoint + "/health", timeout=10) as health:
            self.assertEqual(health.status, 200)
        # Consumers go on: receives and deletes still work on the nearly full disk.
        deleted = set()
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5, VisibilityTimeout=0).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            deleted.add(m["MessageId"])
        self.assertEqual(len(deleted), 5)
        # Make room, restart on the same data: every acknowledged message is there.
        self.server.stop()
        r = run("mount", "-o", "remount,size=256m", self.mount)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.server.start()
        sqs = harness.make_json_client(self.server.endpoint)
        url = sqs.get_queue_url(QueueName="fills")["QueueUrl"]
        received = set()
        for _ in range(200):
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                break
            for m in got:
                received.add(m["MessageId"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(received & deleted, set(), "deleted messages came back")
        missing = set(acknowledged) - received - deleted
        self.assertEqual(missing, set(), f"{len(missing)} acknowledged messages lost of {len(acknowledged)}")
        print(f"\n  disk full: {len(acknowledged)} acknowledged, {failures} refused, all acknowledged kept")


@unittest.skipUnless(MOUNT_OK, "needs root and permission to mount tmpfs / bind mounts")
class ReadOnlyDataDirTest(unittest.TestCase):
    def test_a_read_only_data_dir_stops_the_start(self):
        source = tempfile.mkdtemp(prefix="ro-src-", dir=harness.private_tmp())
        server = WharfServer(data_dir=os.path.join(source, "data")).start()
        harness.make_json_client(server.endpoint).create_queue(QueueName="kept")
        server.stop()
        view = tempfile.mkdtemp(prefix="ro-", dir=harness.private_tmp())
        self.assertEqual(run("mount", "--bind", source, view).returncode, 0)
        try:
            self.assertEqual(run("mount", "-o", "remount,bind,ro", view).returncode, 0)
            code, output = start_fails(os.path.join(view, "data"))
            self.assertEqual(code, 2, output)
            self.assertIn("Read-only file system", output)
        finally:
            run("umount", view)
        # the data is intact: a start on the writable path finds the queue
        server.start()
        try:
            urls = harness.make_json_client(server.endpoint).list_queues().get("QueueUrls", [])
            self.assertTrue(any(u.endswith("/kept") for u in urls), urls)
        finally:
            server.stop()


class CorruptedDataTest(unittest.TestCase):
    def make_data(self):
        data = tempfile.mkdtemp(prefix="corrupt-", dir=harness.private_tmp())
        server = WharfServer(data_dir=data).start()
        sqs = harness.make_json_client(server.endpoint)
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="m")
        server.stop()
        return data

    def test_a_corrupted_current_file_stops_the_start(self):
        data = self.make_data()
        with open(os.path.join(data, "CURRENT"), "w") as f:
            f.write("MANIFEST-999999\n")
        code, output = start_fails(data)
        self.assertEqual(code, 2, output)
        self.assertRegex(output, r"(?i)(corrupt|no such file|not found|IO error)")

    def test_a_corrupted_manifest_stops_the_start(self):
        data = self.make_data()
        with open(os.path.join(data, "CURRENT")) as f:
            manifest = os.path.join(data, f.read().strip())
        size = os.path.getsize(manifest)
        with open(manifest, "r+b") as f:
            f.write(os.urandom(min(size, 4096)))
        code, output = start_fails(data)
        self.assertEqual(code, 2, output)
        self.assertRegex(output, r"(?i)corrupt")


if __name__ == "__main__":
    unittest.main()
