"""Message attribute values and types hold only the characters a message body
may (what XML 1.0 can carry), else the query protocol's answers would be
unparsable. Found by fuzzing."""

import unittest

from botocore.exceptions import ClientError

from harness import WharfServer, error_code, make_json_client


class AttributeCharactersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = WharfServer().start()
        cls.client = make_json_client(cls.server.endpoint)
        cls.url = cls.client.create_queue(QueueName="attribute-characters")["QueueUrl"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def send(self, attribute):
        return self.client.send_message(QueueUrl=self.url, MessageBody="x", MessageAttributes={"a": attribute})

    def test_control_characters_are_refused(self):
        for attribute in ({"DataType": "String", "StringValue": "bad\x01value"},
                          {"DataType": "String.\x02", "StringValue": "ok"}):
            with self.subTest(attribute=attribute):
                with self.assertRaises(ClientError) as failure:
                    self.send(attribute)
                self.assertEqual(error_code(failure.exception), "InvalidParameterValue")

    def test_allowed_characters_pass(self):
        self.send({"DataType": "String.custom-type", "StringValue": "tab\there\nnewline \u00e9 \U0001F600"})


if __name__ == "__main__":
    unittest.main()
