// Conformance: queue names, attributes and the queue lifecycle.
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

// ---------------------------------------------------------------------------
// Queue names and attributes

ENGINE_TEST("queue names are 1-80 characters of [A-Za-z0-9_-]", "[queues]") {
  CHECK(is_valid_queue_name("a"));
  CHECK(is_valid_queue_name("Az09_-"));
  CHECK(is_valid_queue_name(std::string(80, 'x')));
  CHECK_FALSE(is_valid_queue_name(""));
  CHECK_FALSE(is_valid_queue_name(std::string(81, 'x')));
  for (const char* bad : {"a.b", "a b", "a/b", "a:b", "q!", "h\xc3\xa9", "tab\t", "a+b"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_valid_queue_name(bad));
  }

  Fixture f(backend);
  for (const std::string& bad : {std::string(), std::string(81, 'q'), std::string("has space"), std::string("a.b")}) {
    CAPTURE(bad);
    auto r = f->create_queue(bad, {}, {});
    CHECK(code_of(r) == "InvalidParameterValue");
  }
  CHECK(f->list_queues("").empty());
  f.create(std::string(80, 'q'));
  CHECK(f->list_queues("") == std::vector<std::string>{std::string(80, 'q')});
}

ENGINE_TEST("attribute names are checked", "[queues]") {
  CHECK(code_of(validate_queue_attributes({{"NoSuchAttribute", "1"}}, true)) == "InvalidAttributeName");
  CHECK(code_of(validate_queue_attributes({{"visibilitytimeout", "1"}}, true)) == "InvalidAttributeName");
  // FIFO-only attributes on a standard queue.
  CHECK(code_of(check_queue_type_rules(false, {{"ContentBasedDeduplication", "true"}}, {})) == "InvalidAttributeName");
  CHECK(code_of(check_queue_type_rules(false, {{"DeduplicationScope", "queue"}}, {})) == "InvalidAttributeName");
  CHECK(code_of(check_queue_type_rules(false, {{"FifoThroughputLimit", "perQueue"}}, {})) == "InvalidAttributeName");
  CHECK(check_queue_type_rules(true, {{"ContentBasedDeduplication", "true"}}, {}).ok());
  // AWS's words: FifoQueue on a standard queue (even "false") is unknown; a
  // FIFO queue takes "true" again but cannot become standard.
  CHECK(check_queue_type_rules(false, {{"FifoQueue", "false"}}, {}).error().message == "Unknown Attribute FifoQueue.");
  CHECK(check_queue_type_rules(false, {{"DeduplicationScope", "queue"}}, {}).error().message ==
        "You can specify the DeduplicationScope only when FifoQueue is set to true.");
  CHECK(check_queue_type_rules(false, {{"FifoThroughputLimit", "perQueue"}}, {}).error().message ==
        "You can specify the FifoThroughputLimit only when FifoQueue is set to true.");
  CHECK(check_queue_type_rules(true, {{"FifoQueue", "true"}}, {}).ok());
  CHECK(check_queue_type_rules(true, {{"FifoQueue", "false"}}, {}).error().message ==
        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.");
  // A KMS key replaces SQS-managed encryption; "" ends KMS encryption.
  AttributeMap encrypted = default_queue_attributes();
  apply_attributes(encrypted, {{"KmsMasterKeyId", "alias/aws/sqs"}});
  CHECK(encrypted.at("SqsManagedSseEnabled") == "false");
  CHECK(encrypted.at("KmsDataKeyReusePeriodSeconds") == "300");
  apply_attributes(encrypted, {{"KmsMasterKeyId", ""}});
  CHECK(encrypted.count("KmsMasterKeyId") == 0);
  CHECK(encrypted.count("KmsDataKeyReusePeriodSeconds") == 0);
  // perMessageGroupId throughput needs messageGroup scope.
  CHECK(code_of(check_queue_type_rules(true, {{"FifoThroughputLimit", "perMessageGroupId"}},
                                       {{"FifoThroughputLimit", "perMessageGroupId"},
                                        {"DeduplicationScope", "queue"}})) == "InvalidAttributeValue");
  CHECK(check_queue_type_rules(true, {{"FifoThroughputLimit", "perMessageGroupId"}},
                               {{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "messageGroup"}})
            .ok());
  // Values of the FIFO attributes.
  CHECK(code_of(validate_queue_attributes({{"DeduplicationScope", "group"}}, true)) == "InvalidAttributeValue");
  CHECK(code_of(validate_queue_attributes({{"ContentBasedDeduplication", "yes"}}, true)) == "InvalidAttributeValue");
  // Read-only attributes cannot be set.
  CHECK(code_of(validate_queue_attributes({{"QueueArn", "arn:aws:sqs:us-east-1:000000000000:q"}}, false)) ==
        "InvalidAttributeName");
  CHECK(code_of(validate_queue_attributes({{"ApproximateNumberOfMessages", "0"}}, false)) == "InvalidAttributeName");
  // FifoQueue and ContentBasedDeduplication in any letter case; whether
  // FifoQueue fits the queue is check_queue_type_rules' question.
  CHECK(validate_queue_attributes({{"FifoQueue", "True"}}, true).value().at("FifoQueue") == "true");
  CHECK(validate_queue_attributes({{"ContentBasedDeduplication", "FALSE"}}, false)
            .value()
            .at("ContentBasedDeduplication") == "false");
  CHECK(validate_queue_attributes({{"FifoQueue", "false"}}, false).ok());
  // Other value checks.
  CHECK(validate_queue_attributes({{"SqsManagedSseEnabled", "false"}}, true).ok());
  CHECK(code_of(validate_queue_attributes({{"SqsManagedSseEnabled", "maybe"}}, true)) == "InvalidAttributeValue");
  CHECK(validate_queue_attributes({{"Policy", R"({"Version":"2012-10-17","Statement":[]})"}}, true).ok());
  CHECK(code_of(validate_queue_attributes({{"Policy", "{not json"}}, true)) == "InvalidAttributeValue");

  Fixture f(backend);
  CHECK(code_of(f->create_queue("q", {{"ContentBasedDeduplication", "true"}}, {})) == "InvalidAttributeName");
  CHECK(code_of(f->create_queue("q", {{"VisibilityTimeout", "43201"}}, {})) == "InvalidAttributeValue");
  CHECK(code_of(f->get_queue("q")) == "QueueDoesNotExist");  // a failed create creates nothing
}

ENGINE_TEST("a new queue has AWS's default attributes", "[queues]") {
  const AttributeMap defaults = default_queue_attributes();
  CHECK(defaults.at("DelaySeconds") == "0");
  CHECK(defaults.at("MaximumMessageSize") == "1048576");
  CHECK(defaults.at("MessageRetentionPeriod") == "345600");
  CHECK(defaults.at("ReceiveMessageWaitTimeSeconds") == "0");
  CHECK(defaults.at("VisibilityTimeout") == "30");

  Fixture f(backend);
  f.create("q");
  auto info = f->get_queue("q");
  REQUIRE(info.ok());
  CHECK(info->name == "q");
  CHECK(info->attributes.at("DelaySeconds") == "0");
  CHECK(info->attributes.at("MaximumMessageSize") == "1048576");
  CHECK(info->attributes.at("MessageRetentionPeriod") == "345600");
  CHECK(info->attributes.at("ReceiveMessageWaitTimeSeconds") == "0");
  CHECK(info->attributes.at("VisibilityTimeout") == "30");
  CHECK(info->created_s == kStart / 1000);
  CHECK(info->modified_s == kStart / 1000);

  f.create("custom", {{"VisibilityTimeout", "60"}, {"DelaySeconds", "5"}});
  auto custom = f->get_queue("custom");
  REQUIRE(custom.ok());
  CHECK(custom->attributes.at("VisibilityTimeout") == "60");
  CHECK(custom->attributes.at("DelaySeconds") == "5");
  CHECK(custom->attributes.at("MessageRetentionPeriod") == "345600");
}

ENGINE_TEST("set_queue_attributes validates, stores and updates the modified time", "[queues]") {
  Fixture f(backend);
  f.create("q");
  f.advance_s(10);
  REQUIRE(f->set_queue_attributes("q", {{"VisibilityTimeout", "120"}}).ok());
  CHECK(code_of(f->set_queue_attributes("q", {{"VisibilityTimeout", "43201"}})) == "InvalidAttributeValue");
  CHECK(code_of(f->set_queue_attributes("q", {{"Bogus", "1"}})) == "InvalidAttributeName");
  CHECK(code_of(f->set_queue_attributes("nope", {{"VisibilityTimeout", "1"}})) == "QueueDoesNotExist");
  auto info = f->get_queue("q");
  REQUIRE(info.ok());
  CHECK(info->attributes.at("VisibilityTimeout") == "120");
  CHECK(info->created_s == kStart / 1000);
  CHECK(info->modified_s == kStart / 1000 + 10);
}

// ---------------------------------------------------------------------------
// Queue lifecycle

ENGINE_TEST("create_queue is idempotent for equal attributes", "[queues]") {
  Fixture f(backend);
  f.create("q", {{"VisibilityTimeout", "60"}});
  f.advance_s(5);
  auto again = f->create_queue("q", {{"VisibilityTimeout", "60"}}, {});
  INFO(outcome(again));
  REQUIRE(again.ok());
  CHECK(again->created_s == kStart / 1000);  // the same queue, not a new one
  // Attributes not given are not compared.
  CHECK(f->create_queue("q", {}, {}).ok());
  // A different value is QueueNameExists.
  CHECK(code_of(f->create_queue("q", {{"VisibilityTimeout", "30"}}, {})) == "QueueNameExists");
  CHECK(code_of(f->create_queue("q", {{"VisibilityTimeout", "60"}, {"DelaySeconds", "1"}}, {})) == "QueueNameExists");
  CHECK(f->get_queue("q")->attributes.at("VisibilityTimeout") == "60");

  // A default value given explicitly matches a queue created without it.
  f.create("plain");
  CHECK(f->create_queue("plain", {{"VisibilityTimeout", "30"}, {"DelaySeconds", "0"}}, {}).ok());
  CHECK(f->list_queues("") == std::vector<std::string>{"plain", "q"});
}

ENGINE_TEST("a deleted queue's name is reusable only after 60 seconds", "[queues]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "old message");
  REQUIRE(f->delete_queue("q").ok());
  CHECK(code_of(f->get_queue("q")) == "QueueDoesNotExist");
  CHECK(code_of(f->delete_queue("q")) == "QueueDoesNotExist");
  CHECK(code_of(f->queue_counts("q")) == "QueueDoesNotExist");
  CHECK(f->list_queues("").empty());

  f.advance_ms(59'999);
  CHECK(code_of(f->create_queue("q", {}, {})) == "QueueDeletedRecently");
  f.advance_ms(1);
  f.create("q");
  // The new queue is a new queue: nothing of the old one comes back.
  CHECK_COUNTS(f, "q", 0, 0, 0);
  CHECK(f.receive("q").empty());

  // Also after a reopen.
  f.reopen();
  CHECK_COUNTS(f, "q", 0, 0, 0);
  CHECK(f.receive("q").empty());
}

ENGINE_TEST("the name cooldown after DeleteQueue follows queue_delete_cooldown_ms; 0 turns it off", "[queues]") {
  Fixture f(backend);
  f.queue_delete_cooldown_ms = 0;
  f.reopen();
  f.create("q");
  f.send("q", "old message");
  REQUIRE(f->delete_queue("q").ok());
  f.create("q");  // at once, same clock
  CHECK_COUNTS(f, "q", 0, 0, 0);

  f.queue_delete_cooldown_ms = 5'000;
  f.reopen();
  REQUIRE(f->delete_queue("q").ok());
  f.advance_ms(4'999);
  CHECK(code_of(f->create_queue("q", {}, {})) == "QueueDeletedRecently");
  f.advance_ms(1);
  f.create("q");
}

ENGINE_TEST("list_queues filters by prefix, in name order, case-sensitively", "[queues]") {
  Fixture f(backend);
  for (const char* name : {"b", "a2", "a10", "ab", "c", "A1"}) f.create(name);
  CHECK(f->list_queues("") == std::vector<std::string>{"A1", "a10", "a2", "ab", "b", "c"});
  CHECK(f->list_queues("a") == std::vector<std::string>{"a10", "a2", "ab"});
  CHECK(f->list_queues("ab") == std::vector<std::string>{"ab"});
  CHECK(f->list_queues("A") == std::vector<std::string>{"A1"});
  CHECK(f->list_queues("abc").empty());
  CHECK(f->list_queues("z").empty());
}

ENGINE_TEST("operations on a missing queue are QueueDoesNotExist", "[queues]") {
  Fixture f(backend);
  NewMessage m;
  m.body = "x";
  CHECK(code_of(f->send_message("nope", m)) == "QueueDoesNotExist");
  CHECK(code_of(f->receive_messages("nope", 1, std::nullopt)) == "QueueDoesNotExist");
  CHECK(code_of(f->purge_queue("nope")) == "QueueDoesNotExist");
  CHECK(code_of(f->delete_message("nope", "x")) == "QueueDoesNotExist");
  CHECK(code_of(f->change_visibility("nope", "x", 0)) == "QueueDoesNotExist");
}

ENGINE_TEST("queue_int_attribute reads one attribute without the record", "[queues]") {
  Fixture f(backend);
  f.create("sized", {{"MaximumMessageSize", "2048"}});
  auto size = f->queue_int_attribute("sized", "MaximumMessageSize");
  REQUIRE(size.ok());
  CHECK(size.value() == 2048);
  auto wait = f->queue_int_attribute("sized", "ReceiveMessageWaitTimeSeconds");
  REQUIRE(wait.ok());
  CHECK(wait.value() == 0);
  auto missing = f->queue_int_attribute("nope", "MaximumMessageSize");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::QueueDoesNotExist);
}
