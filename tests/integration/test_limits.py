"""Limits that protect the server from hostile or runaway clients: each one
answers with a clear error and leaves the server serving others."""

import http.client
import socket
import threading
import time
import unittest

from harness import WharfServer


def post(server, body, path="/", timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


class LimitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer(extra_args=["--max-connections", "3", "--max-long-polls", "1", "--idle-timeout", "2"])
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_connections_past_the_cap_get_503_and_others_keep_working(self):
        # Connections are opened one at a time, each answered once (and kept
        # alive) so that the server has surely counted it, until one gets
        # the 503. Connections of earlier tests that the server has not yet
        # seen close may still count, so the cap (3) is reached after 1 to 3.
        held, answers = [], []
        try:
            for _ in range(6):
                s = socket.create_connection(("127.0.0.1", self.server.port))
                s.settimeout(5)
                held.append(s)
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = s.recv(200)
                answers.append(answer[:12])
                if not answer.startswith(b"HTTP/1.1 200"):
                    break
            self.assertTrue(answers[-1].startswith(b"HTTP/1.1 503"), answers)
            self.assertTrue(1 <= len(answers) - 1 <= 3, answers)
        finally:
            for s in held:
                s.close()
        # Once they are closed, requests are served again (the server sees
        # the closes a moment later).
        deadline = time.monotonic() + 10
        while True:
            try:
                status, body = post(self.server, "Action=ListQueues")
            except (OSError, http.client.HTTPException) as e:
                status, body = None, repr(e)
            if status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(status, 200, body)

    def test_a_slow_client_is_closed_after_the_idle_timeout(self):
        slow = socket.create_connection(("127.0.0.1", self.server.port))
        slow.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")  # an unfinished request, then nothing
        slow.settimeout(10)
        started = time.monotonic()
        data = slow.recv(100)
        waited = time.monotonic() - started
        slow.close()
        self.assertEqual(data, b"", "the server closes the connection without an answer")
        self.assertGreater(waited, 1.5)
        self.assertLess(waited, 6)

    def test_long_polls_past_the_cap_get_service_unavailable(self):
        status, body = post(self.server, "Action=CreateQueue&QueueName=limits-lp")
        self.assertEqual(status, 200, body)
        first = {}
        poller = threading.Thread(target=lambda: first.setdefault(
            "answer", post(self.server, "Action=ReceiveMessage&WaitTimeSeconds=3", "/000000000000/limits-lp")))
        poller.start()
        time.sleep(0.5)  # the first poll is waiting
        status, body = post(self.server, "Action=ReceiveMessage&WaitTimeSeconds=3", "/000000000000/limits-lp")
        poller.join(10)
        self.assertEqual(status, 503, body)
        self.assertIn("<Code>ServiceUnavailable</Code>", body)
        self.assertEqual(first["answer"][0], 200, first["answer"][1])
        # A short poll is not a long poll: it is never refused.
        status, body = post(self.server, "Action=ReceiveMessage", "/000000000000/limits-lp")
        self.assertEqual(status, 200, body)

    def test_oversized_headers_get_431(self):
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.settimeout(5)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n" + b"X-Filler: " + b"a" * 70000 + b"\r\n\r\n")
        answer = s.recv(200)
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 431"), answer)

    def test_an_oversized_body_is_refused_from_its_headers(self):
        # The server answers 413 as soon as it reads a Content-Length over its
        # limit, without waiting for (or buffering) the body, then closes.
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.settimeout(5)
        s.sendall(b"POST /000000000000/limits-lp HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 9437184\r\n\r\nAction=SendMessage&MessageBody=aaaa")
        answer = b""
        while b"</ErrorResponse>" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        s.close()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413"), answer[:200])
        self.assertIn(b"RequestEntityTooLarge", answer)
        status, body = post(self.server, "Action=ListQueues")
        self.assertEqual(status, 200, body)


if __name__ == "__main__":
    unittest.main()
