"""Issue 17, "Validation and messages": what Amazon SQS answers (recorded from
AWS) for queue-type attributes, encryption, self-redrive, batch sizes, message
attribute names and values, the texts of parameter errors, a missing queue
over each protocol, move-task handles and the X-Amzn-Trace-Id header. One
mixin, run by boto3 over JSON and over the query protocol."""

import base64
import json
import unittest
import uuid

from api_behaviour import RawQuery
from harness import ACCOUNT, REGION, make_json_client, make_query_client, unique_name, wait_until
from sqs_behaviour import SqsTestBase


def arn_of(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


class ParityValidation(SqsTestBase):
    def assertSqsMessage(self, code, text, fn, *, status=400, **kwargs):
        error = self.assertSqsError(code, fn, status=status, **kwargs)
        self.assertEqual(error.response["Error"]["Message"], text)
        return error

    # --- CreateQueue / SetQueueAttributes: queue type ---------------------
    def test_fifo_flags_accept_any_letter_case(self):
        name = unique_name("case") + ".fifo"
        url = self.client.create_queue(
            QueueName=name, Attributes={"FifoQueue": "True", "ContentBasedDeduplication": "TRUE"})["QueueUrl"]
        attributes = self.attrs(url)
        self.assertEqual(attributes["FifoQueue"], "true")
        self.assertEqual(attributes["ContentBasedDeduplication"], "true")
        # The same attributes again, in another case: the same queue.
        again = self.client.create_queue(
            QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
        self.assertEqual(again, url)

    def test_standard_queue_knows_no_fifo_attributes(self):
        for value in ("false", "False"):
            with self.subTest(FifoQueue=value):
                self.assertSqsMessage("InvalidAttributeName", "Unknown Attribute FifoQueue.",
                                      self.client.create_queue, QueueName=unique_name("std"),
                                      Attributes={"FifoQueue": value})
        _, url = self.new_queue()
        self.assertSqsMessage("InvalidAttributeName", "Unknown Attribute FifoQueue.",
                              self.client.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "false"})
        for name, value in (("DeduplicationScope", "queue"), ("FifoThroughputLimit", "perQueue")):
            with self.subTest(attribute=name):
                self.assertSqsMessage("InvalidAttributeName",
                                      f"You can specify the {name} only when FifoQueue is set to true.",
                                      self.client.create_queue, QueueName=unique_name("std"),
                                      Attributes={name: value})
                _, url = self.new_queue()
                self.assertSqsMessage("InvalidAttributeName",
                                      f"You can specify the {name} only when FifoQueue is set to true.",
                                      self.client.set_queue_attributes, QueueUrl=url, Attributes={name: value})

    def test_set_fifo_queue_true_is_a_no_op_false_is_refused(self):
        url = self.client.create_queue(QueueName=unique_name("type") + ".fifo",
                                       Attributes={"FifoQueue": "true"})["QueueUrl"]
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"FifoQueue": "true"})
        self.assertEqual(self.attrs(url)["FifoQueue"], "true")
        self.assertSqsMessage("InvalidAttributeValue",
                              "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not "
                              "supported.",
                              self.client.set_queue_attributes, QueueUrl=url, Attributes={"FifoQueue": "false"})
        self.assertEqual(self.attrs(url)["FifoQueue"], "true")

    # --- SetQueueAttributes: encryption, redrive --------------------------
    def test_kms_key_replaces_sqs_managed_encryption(self):
        _, url = self.new_queue()
        self.assertEqual(self.attrs(url)["SqsManagedSseEnabled"], "true")
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": "alias/aws/sqs"})
        attributes = self.attrs(url)
        self.assertEqual(attributes["KmsMasterKeyId"], "alias/aws/sqs")
        self.assertEqual(attributes["SqsManagedSseEnabled"], "false")
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"KmsDataKeyReusePeriodSeconds": "600"})
        self.assertEqual(self.attrs(url)["KmsDataKeyReusePeriodSeconds"], "600")
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": ""})
        attributes = self.attrs(url)
        self.assertNotIn("KmsMasterKeyId", attributes)
        self.assertNotIn("KmsDataKeyReusePeriodSeconds", attributes)

    def test_queue_may_be_its_own_dead_letter_queue(self):
        name, url = self.new_queue()
        policy = json.dumps({"deadLetterTargetArn": arn_of(name), "maxReceiveCount": 2})
        self.client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
        stored = json.loads(self.attrs(url)["RedrivePolicy"])
        self.assertEqual(stored["deadLetterTargetArn"], arn_of(name))
        # Messages keep flowing through it.
        self.client.send_message(QueueUrl=url, MessageBody="round")
        for _ in range(3):
            got = self.client.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])
            self.assertEqual([m["Body"] for m in got], ["round"])

    # --- SendMessageBatch sizes -------------------------------------------
    def test_batch_total_is_one_mebibyte_whatever_maximum_message_size(self):
        _, url = self.new_queue({"MaximumMessageSize": "1024"})
        # 2 x 900 bytes: over the queue's 1024 together, each under it.
        answer = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "a", "MessageBody": "a" * 900}, {"Id": "b", "MessageBody": "b" * 900}])
        self.assertEqual(sorted(e["Id"] for e in answer["Successful"]), ["a", "b"])
        self.assertEqual(answer.get("Failed", []), [])
        # Over 1,048,576 bytes together: the whole request fails.
        _, big = self.new_queue()
        entries = [{"Id": f"e{i}", "MessageBody": "x" * 200_000} for i in range(6)]
        self.assertSqsMessage("AWS.SimpleQueueService.BatchRequestTooLong",
                              "Batch requests cannot be longer than 1048576 bytes. You have sent 1200000 bytes.",
                              self.client.send_message_batch, QueueUrl=big, Entries=entries)

    def test_batch_entry_over_maximum_message_size_fails_alone(self):
        _, url = self.new_queue({"MaximumMessageSize": "1024"})
        answer = self.client.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "small", "MessageBody": "fits"},
            {"Id": "large", "MessageBody": "L" * 1025},
            {"Id": "other", "MessageBody": "fits too"}])
        self.assertEqual(sorted(e["Id"] for e in answer["Successful"]), ["other", "small"])
        self.assertEqual(len(answer["Failed"]), 1)
        failed = answer["Failed"][0]
        self.assertEqual(failed["Id"], "large")
        self.assertEqual(failed["Code"], "InvalidParameterValue")
        self.assertIs(failed["SenderFault"], True)
        self.assertEqual(failed["Message"],
                         "One or more parameters cannot be validated. Reason: Message must be shorter than 1024 "
                         "bytes.")
        self.assertEqual(self.attrs(url, ["ApproximateNumberOfMessages"])["ApproximateNumberOfMessages"], "2")

    # --- message attributes -----------------------------------------------
    def send_attributes(self, url, attributes):
        return self.client.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)

    def test_empty_string_attribute_value(self):
        _, url = self.new_queue()
        self.assertSqsMessage("InvalidParameterValue",
                              "Message (user) attribute 'empty' must contain a non-empty value of type 'String'.",
                              self.send_attributes, url=url,
                              attributes={"empty": {"DataType": "String", "StringValue": ""}})

    def test_attribute_names_may_hold_letters_of_any_script(self):
        _, url = self.new_queue()
        name = "attr.1\u00f8\u00df\u00e4"
        self.send_attributes(url, {name: {"DataType": "String", "StringValue": "v"}})  # boto3 checks the MD5
        got = self.client.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
        self.assertEqual(got[0]["MessageAttributes"][name]["StringValue"], "v")

    def test_invalid_attribute_names(self):
        _, url = self.new_queue()
        bad = ["a!b", 'a"b', "a\u00a7b", "a(b", "a?b", ".lead", "AWS.x", "aws.x", "Amazon.x", "AMAZON.x",
               "n" * 257]
        for name in bad:
            with self.subTest(name=name[:20]):
                self.assertSqsError("InvalidParameterValue", self.send_attributes, url=url,
                                    attributes={name: {"DataType": "String", "StringValue": "v"}})
        self.send_attributes(url, {"n" * 256: {"DataType": "String", "StringValue": "v"}})

    def test_invalid_attribute_data_type(self):
        _, url = self.new_queue()
        self.assertSqsMessage("InvalidParameterValue",
                              "The type of message (user) attribute 'kind' is invalid. You must use only the "
                              "following supported type prefixes: Binary, Number, String.",
                              self.send_attributes, url=url,
                              attributes={"kind": {"DataType": "Strin", "StringValue": "v"}})

    # --- parameter texts --------------------------------------------------
    def test_wait_time_seconds_out_of_range(self):
        _, url = self.new_queue()
        self.assertSqsMessage("InvalidParameterValue",
                              "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, "
                              "if provided.",
                              self.client.receive_message, QueueUrl=url, WaitTimeSeconds=21)

    def test_delay_seconds_out_of_range(self):
        _, url = self.new_queue()
        self.assertSqsMessage("InvalidParameterValue",
                              "Value 901 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 "
                              "and <= 900.",
                              self.client.send_message, QueueUrl=url, MessageBody="m", DelaySeconds=901)

    def test_permission_texts_and_policy_version(self):
        _, url = self.new_queue()
        self.client.add_permission(QueueUrl=url, Label="one", AWSAccountIds=["111122223333"],
                                   Actions=["SendMessage"])
        policy = json.loads(self.attrs(url, ["Policy"])["Policy"])
        self.assertEqual(policy["Version"], "2008-10-17")
        self.assertSqsMessage("InvalidParameterValue",
                              "Value nobody for parameter Label is invalid. Reason: can't find label.",
                              self.client.remove_permission, QueueUrl=url, Label="nobody")
        self.assertSqsMessage("MissingParameter", "The request must contain the parameter Actions.",
                              self.client.add_permission, QueueUrl=url, Label="none",
                              AWSAccountIds=["111122223333"], Actions=[])
        eight = ["SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
                 "GetQueueUrl", "PurgeQueue", "ListQueueTags"]
        self.assertSqsMessage("OverLimit", "8 Actions were found, maximum allowed is 7.",
                              self.client.add_permission, status=403, QueueUrl=url, Label="eight",
                              AWSAccountIds=["111122223333"], Actions=eight)

    def test_tag_texts(self):
        name, url = self.new_queue()
        self.assertSqsMessage("MissingParameter", "The request must contain the parameter Tags.",
                              self.client.tag_queue, QueueUrl=url, Tags={})
        self.client.tag_queue(QueueUrl=url, Tags={f"k{i}": "v" for i in range(50)})
        self.assertSqsMessage("InvalidParameterValue", f"Too many tags added for queue {name}.",
                              self.client.tag_queue, QueueUrl=url, Tags={"k50": "v"})
        self.assertSqsMessage("InvalidParameterValue", "Tag keys must be between 1 and 128 characters in length.",
                              self.client.untag_queue, QueueUrl=url, TagKeys=[])

    # --- a missing queue, per protocol ------------------------------------
    def test_missing_queue_message_per_protocol(self):
        text = ("The specified queue does not exist." if self.protocol == "json"
                else "The specified queue does not exist for this wsdl version.")
        self.assertSqsMessage("AWS.SimpleQueueService.NonExistentQueue", text,
                              self.client.get_queue_url, QueueName=unique_name("missing"))
        missing_url = self.server.queue_url(unique_name("missing"))
        self.assertSqsMessage("AWS.SimpleQueueService.NonExistentQueue", text,
                              self.client.send_message, QueueUrl=missing_url, MessageBody="m")

    # --- message move tasks -----------------------------------------------
    def move_tasks(self):
        return self.client if self.protocol == "json" else RawQuery(self.server)

    def test_cancel_move_task_of_a_missing_source_queue(self):
        handle = base64.b64encode(json.dumps(
            {"taskId": str(uuid.uuid4()), "sourceArn": arn_of(unique_name("gone"))}).encode()).decode()
        self.assertSqsMessage("ResourceNotFoundException",
                              "The resource that you specified for the SourceArn parameter doesn't exist.",
                              self.move_tasks().cancel_message_move_task, status=404, TaskHandle=handle)

    def test_failed_move_task_reason_is_an_error_code(self):
        dlq_name, dlq_url = self.new_queue(prefix="dlq")
        redrive = json.dumps({"deadLetterTargetArn": arn_of(dlq_name), "maxReceiveCount": 1})
        _, source_url = self.new_queue({"RedrivePolicy": redrive}, prefix="src")
        self.new_queue({"RedrivePolicy": redrive}, prefix="other-src")  # keeps dlq a dead-letter queue
        self.client.send_message(QueueUrl=source_url, MessageBody="dead")
        self.client.receive_message(QueueUrl=source_url, VisibilityTimeout=0)
        self.client.receive_message(QueueUrl=source_url, VisibilityTimeout=0)  # moves it to the DLQ
        self.assertEqual(self.attrs(dlq_url, ["ApproximateNumberOfMessages"])["ApproximateNumberOfMessages"], "1")
        self.client.delete_queue(QueueUrl=source_url)
        self.move_tasks().start_message_move_task(SourceArn=arn_of(dlq_name))

        def failed():
            results = self.move_tasks().list_message_move_tasks(SourceArn=arn_of(dlq_name))["Results"]
            return results if results and results[0]["Status"] == "FAILED" else None

        results = wait_until(failed, 5, what="the move task to fail")
        self.assertEqual(results[0]["FailureReason"], "AWS.SimpleQueueService.NonExistentQueue")

    # --- X-Amzn-Trace-Id --------------------------------------------------
    def test_trace_header_becomes_aws_trace_header(self):
        _, url = self.new_queue()
        traced = self.make_client(self.server)
        header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

        def add_trace_header(request, **kwargs):
            request.headers["X-Amzn-Trace-Id"] = header

        traced.meta.events.register("before-send.sqs", add_trace_header)
        traced.send_message(QueueUrl=url, MessageBody="header")
        traced.send_message(QueueUrl=url, MessageBody="explicit", MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=explicit"}})
        traced.send_message_batch(QueueUrl=url, Entries=[{"Id": "b", "MessageBody": "batch"}])
        got = {}
        for _ in range(10):
            for m in self.receive(url, system=["AWSTraceHeader"], MaxNumberOfMessages=10):
                got[m["Body"]] = m.get("Attributes", {}).get("AWSTraceHeader")
            if len(got) == 3:
                break
        self.assertEqual(got, {"header": header, "explicit": "Root=explicit", "batch": header})
        # Without the header, no AWSTraceHeader.
        self.client.send_message(QueueUrl=url, MessageBody="plain")
        plain = self.receive(url, system=["All"])
        self.assertEqual([m["Body"] for m in plain], ["plain"])
        self.assertNotIn("AWSTraceHeader", plain[0].get("Attributes", {}))


class JsonParityValidationTest(ParityValidation, unittest.TestCase):
    protocol = "json"

    @classmethod
    def make_client(cls, server):
        return make_json_client(server.endpoint)


class QueryParityValidationTest(ParityValidation, unittest.TestCase):
    protocol = "query"

    @classmethod
    def make_client(cls, server):
        return make_query_client(server.endpoint, post_to_queue_url=True)


if __name__ == "__main__":
    unittest.main()
