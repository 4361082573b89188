"""boto3 made to speak the query protocol (Debian's query-era model, POSTing
queue actions to the queue URL) against Wharf: batches, dead-letter queues,
tags, permissions and limits (api_behaviour.py).

That model has no StartMessageMoveTask / CancelMessageMoveTask /
ListMessageMoveTasks: the move-task tests send those as raw, signed form
POSTs to "/" and parse the XML (api_behaviour.RawQuery)."""

import unittest

from harness import make_query_client
from api_behaviour import ApiBehaviour, RetentionScenario


def setUpModule():
    # starts the ~62 s retention scenario early; test_api_cli.RetentionTest checks it
    RetentionScenario.get()


class Boto3QueryApiTest(ApiBehaviour, unittest.TestCase):
    protocol = "query"

    @classmethod
    def make_client(cls, server):
        return make_query_client(server.endpoint, post_to_queue_url=True)


if __name__ == "__main__":
    unittest.main()
