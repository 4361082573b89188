// Unit tests of the backend-neutral SQS rules (storage/message_rules.h,
// storage/redrive_rules.h, apply_attributes in storage/queue_attributes.h),
// called directly, without an engine.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "storage/arn.h"
#include "storage/message_rules.h"
#include "storage/redrive_rules.h"

using namespace wharf;
using namespace wharf::storage;

namespace {

SendRules standard_rules(int64_t max_size = 262'144) {
  SendRules rules;
  rules.max_message_size = max_size;
  return rules;
}

SendRules fifo_rules(bool content_based = false, bool per_group = false) {
  SendRules rules = standard_rules();
  rules.fifo = true;
  rules.content_based_deduplication = content_based;
  rules.deduplication_per_group = per_group;
  return rules;
}

NewMessage message(std::string body, std::string group = "", std::string dedup = "") {
  NewMessage m;
  m.body = std::move(body);
  m.group_id = std::move(group);
  m.deduplication_id = std::move(dedup);
  return m;
}

ErrorCode code_of(const Status& status) {
  REQUIRE_FALSE(status.ok());
  return status.error().code;
}

}  // namespace

TEST_CASE("send rules are read from the queue's attributes", "[message_rules]") {
  AttributeMap attributes = default_queue_attributes(true);
  attributes["MaximumMessageSize"] = "1024";
  attributes["DelaySeconds"] = "7";
  attributes["ContentBasedDeduplication"] = "true";
  attributes["DeduplicationScope"] = "messageGroup";
  const SendRules rules = send_rules_of(true, attributes, deduplication_per_group_of(attributes));
  CHECK(rules.fifo);
  CHECK(rules.max_message_size == 1024);
  CHECK(rules.default_delay_seconds == 7);
  CHECK(rules.content_based_deduplication);
  CHECK(rules.deduplication_per_group);

  const SendRules defaults = send_rules_of(false, default_queue_attributes(), false);
  CHECK_FALSE(defaults.fifo);
  CHECK(defaults.max_message_size == 1'048'576);
  CHECK(defaults.default_delay_seconds == 0);
  CHECK_FALSE(defaults.content_based_deduplication);
  CHECK_FALSE(defaults.deduplication_per_group);
}

TEST_CASE("the deduplication scope in effect is the queue's, not the attribute as set later", "[message_rules]") {
  AttributeMap attributes = default_queue_attributes(true);
  CHECK_FALSE(deduplication_per_group_of(attributes));
  attributes["DeduplicationScope"] = "messageGroup";
  CHECK(deduplication_per_group_of(attributes));
  // The scope a queue was created with wins over the attribute now.
  CHECK_FALSE(send_rules_of(true, attributes, /*deduplication_per_group=*/false).deduplication_per_group);
  attributes["DeduplicationScope"] = "queue";
  CHECK(send_rules_of(true, attributes, true).deduplication_per_group);
  CHECK_FALSE(send_rules_of(false, default_queue_attributes(), true).deduplication_per_group);
}

TEST_CASE("a message needs a body of valid characters", "[message_rules]") {
  NewMessage empty = message("");
  CHECK(code_of(validate_new_message(standard_rules(), empty)) == ErrorCode::MissingParameter);
  NewMessage control = message(std::string("a\x01", 2));
  CHECK(code_of(validate_new_message(standard_rules(), control)) == ErrorCode::InvalidMessageContents);
  NewMessage fine = message("hello\t\r\n");
  CHECK(validate_new_message(standard_rules(), fine).ok());
}

TEST_CASE("the size limit counts the body and the attributes, up to the limit inclusive", "[message_rules]") {
  const SendRules rules = standard_rules(1024);
  NewMessage at_limit = message(std::string(1000, 'x'));
  at_limit.attributes_size = 24;
  CHECK(validate_new_message(rules, at_limit).ok());

  NewMessage one_over = message(std::string(1000, 'x'));
  one_over.attributes_size = 25;
  const Status refused = validate_new_message(rules, one_over);
  CHECK(code_of(refused) == ErrorCode::InvalidParameterValue);
  CHECK(refused.error().message ==
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.");

  NewMessage body_only_over = message(std::string(1025, 'x'));
  CHECK(code_of(validate_new_message(rules, body_only_over)) == ErrorCode::InvalidParameterValue);
  NewMessage body_at_limit = message(std::string(1024, 'x'));
  CHECK(validate_new_message(rules, body_at_limit).ok());
}

TEST_CASE("the body is checked before the size", "[message_rules]") {
  NewMessage m = message(std::string("\x01", 1));
  m.attributes_size = 10'000;
  CHECK(code_of(validate_new_message(standard_rules(1024), m)) == ErrorCode::InvalidMessageContents);
}

TEST_CASE("FIFO messages need a group id, no delay of their own, and a deduplication id", "[message_rules]") {
  NewMessage no_group = message("b", "", "d");
  CHECK(code_of(validate_new_message(fifo_rules(), no_group)) == ErrorCode::MissingParameter);

  NewMessage delayed = message("b", "g", "d");
  delayed.delay_seconds = 5;  // any non-zero per-message delay
  const Status refused = validate_new_message(fifo_rules(), delayed);
  CHECK(code_of(refused) == ErrorCode::InvalidParameterValue);
  CHECK(refused.error().message ==
        "Value 5 for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for "
        "this queue type.");
  NewMessage zero_delay = message("b", "g", "d");
  zero_delay.delay_seconds = 0;  // accepted, as on AWS
  CHECK(validate_new_message(fifo_rules(), zero_delay).ok());

  NewMessage no_dedup = message("b", "g");
  CHECK(code_of(validate_new_message(fifo_rules(), no_dedup)) == ErrorCode::InvalidParameterValue);

  NewMessage explicit_dedup = message("b", "g", "d");
  CHECK(validate_new_message(fifo_rules(/*content_based=*/true), explicit_dedup).ok());
  CHECK(explicit_dedup.deduplication_id == "d");  // an explicit id wins over the content
}

TEST_CASE("content-based deduplication fills in the SHA-256 of the body", "[message_rules]") {
  NewMessage m = message("abc", "g");
  REQUIRE(validate_new_message(fifo_rules(/*content_based=*/true), m).ok());
  CHECK(m.deduplication_id == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(content_deduplication_id("abc") == m.deduplication_id);
  CHECK(content_deduplication_id("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(content_deduplication_id(std::string(100'000, 'x')).size() == 64);
}

TEST_CASE("standard queues take group ids (fair queues) but no deduplication id", "[message_rules]") {
  NewMessage fair = message("b", "tenant-1");
  CHECK(validate_new_message(standard_rules(), fair).ok());
  NewMessage delayed = message("b");
  delayed.delay_seconds = 900;
  CHECK(validate_new_message(standard_rules(), delayed).ok());
  NewMessage dedup = message("b", "", "d");
  const Status refused = validate_new_message(standard_rules(), dedup);
  CHECK(code_of(refused) == ErrorCode::InvalidParameterValue);
  CHECK(refused.error().message ==
        "The request include parameter MessageDeduplicationId that is not valid for this queue type.");
}

TEST_CASE("the effective delay is the message's own, else the queue's", "[message_rules]") {
  SendRules rules = standard_rules();
  rules.default_delay_seconds = 5;
  NewMessage m = message("b");
  CHECK(effective_delay_ms(rules, m) == 5000);
  m.delay_seconds = 0;
  CHECK(effective_delay_ms(rules, m) == 0);
  m.delay_seconds = 900;
  CHECK(effective_delay_ms(rules, m) == 900'000);
}

TEST_CASE("FIFO queues apply the queue's delay, also to a message with DelaySeconds 0", "[message_rules]") {
  SendRules rules = fifo_rules();
  rules.default_delay_seconds = 5;
  NewMessage m = message("b", "g", "d");
  CHECK(effective_delay_ms(rules, m) == 5000);
  m.delay_seconds = 0;
  CHECK(effective_delay_ms(rules, m) == 5000);
}

TEST_CASE("a FIFO batch with an entry lacking its group or deduplication id fails as a whole", "[message_rules]") {
  std::vector<NewMessage> fine = {message("a", "g", "d1"), message("b", "h", "d2")};
  CHECK(check_fifo_batch(fifo_rules(), fine).ok());
  CHECK(check_fifo_batch(standard_rules(), {message("a"), message("b", "", "d")}).ok());

  const Status no_group = check_fifo_batch(fifo_rules(), {message("a", "g", "d1"), message("b", "", "d2")});
  CHECK(code_of(no_group) == ErrorCode::InvalidParameterValue);
  CHECK(no_group.error().message == "The request must contain the parameter MessageGroupId.");

  const Status no_dedup = check_fifo_batch(fifo_rules(), {message("a", "g"), message("b", "g", "d2")});
  CHECK(code_of(no_dedup) == ErrorCode::InvalidParameterValue);
  CHECK(no_dedup.error().message ==
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
        "explicitly");
  CHECK(check_fifo_batch(fifo_rules(/*content_based=*/true), {message("a", "g"), message("b", "g", "d2")}).ok());
  // Other faults are each entry's own (validate_new_message).
  CHECK(check_fifo_batch(fifo_rules(), {message("", "g", "d1")}).ok());
}

TEST_CASE("a FIFO receive takes a group's visible messages from its first, up to one that is not", "[message_rules]") {
  const std::vector<bool> states = {true, true, false, true};  // m1, m2 visible, m3 in flight, m4 visible
  auto visible = [](bool v) { return v; };
  CHECK(fifo_receivable_run(states.begin(), states.end(), 10, visible) == 2);
  CHECK(fifo_receivable_run(states.begin(), states.end(), 1, visible) == 1);
  CHECK(fifo_receivable_run(states.begin(), states.end(), 0, visible) == 0);
  const std::vector<bool> head_in_flight = {false, true, true};
  CHECK(fifo_receivable_run(head_in_flight.begin(), head_in_flight.end(), 10, visible) == 0);
  const std::vector<bool> none;
  CHECK(fifo_receivable_run(none.begin(), none.end(), 10, visible) == 0);
  const std::set<int> all = {1, 2, 3};
  CHECK(fifo_receivable_run(all.begin(), all.end(), 10, [](int) { return true; }) == 3);
}

TEST_CASE("the deduplication scope key is per queue or per message group", "[message_rules]") {
  CHECK(deduplication_scope_key(fifo_rules(), "g", "d") == "d");
  CHECK(deduplication_scope_key(fifo_rules(false, /*per_group=*/true), "g", "d") == "g\nd");
  CHECK(deduplication_scope_key(fifo_rules(false, true), "g1", "d") !=
        deduplication_scope_key(fifo_rules(false, true), "g2", "d"));
  // An empty group still gets the separator (FIFO sends always have a group).
  CHECK(deduplication_scope_key(fifo_rules(false, true), "", "d") == "\nd");
}

TEST_CASE("sequence numbers are 20 digits around 1.88e19 that sort as the numbers do", "[message_rules]") {
  // 18849496460467696128 + seq * 65536, as AWS's look; not a padded counter.
  CHECK(sequence_number_text(0) == "18849496460467696128");
  CHECK(sequence_number_text(1) == "18849496460467761664");
  CHECK(sequence_number_text(42) == "18849496460470448640");
  // Carries from the low 18 digits into the leading two, up to 2^48 - 1.
  CHECK(sequence_number_text(2'303'098'000'000) == "19000432290995696128");
  CHECK(sequence_number_text((uint64_t{1} << 48) - 1) == "37296240534177182208");
  CHECK(sequence_number_text(2'303'098'000'000) < sequence_number_text(2'303'099'000'000));
  for (uint64_t seq : {uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{65'535}, uint64_t{65'536},
                       uint64_t{2'303'098'900'000}, uint64_t{1} << 40}) {
    CAPTURE(seq);
    CHECK(sequence_number_text(seq).size() == 20);
    CHECK(sequence_number_text(seq) < sequence_number_text(seq + 1));
  }
}

TEST_CASE("receives stop at 120,000 messages in flight", "[message_rules]") {
  CHECK(check_in_flight_limit(0).ok());
  CHECK(check_in_flight_limit(119'999).ok());
  const Status refused = check_in_flight_limit(120'000);
  CHECK(code_of(refused) == ErrorCode::OverLimit);
  CHECK(refused.error().message == "The maximum number of in flight messages (120000) has been reached.");
  CHECK(code_of(check_in_flight_limit(120'001)) == ErrorCode::OverLimit);
}

TEST_CASE("a receive redrives a message once it has been received maxReceiveCount times", "[redrive_rules]") {
  CHECK_FALSE(redrives_on_receive(0, 1));
  CHECK(redrives_on_receive(1, 1));
  CHECK_FALSE(redrives_on_receive(2, 3));
  CHECK(redrives_on_receive(3, 3));
  CHECK(redrives_on_receive(4, 3));
  CHECK_FALSE(redrives_on_receive(999, 1000));
  CHECK(redrives_on_receive(1000, 1000));
}

TEST_CASE("a dead-lettered message names its source; FIFO ones start anew", "[redrive_rules]") {
  SystemAttributes system;
  system.aws_trace_header = "Root=1";
  system.message_group_id = "g";
  system.message_deduplication_id = "d";

  const DeadLetteredMessage standard =
      dead_lettered(system, 1'000, /*fifo=*/false, "arn:aws:sqs:us-east-1:000000000000:src", "mid", 5'000);
  CHECK(standard.sent_ms == 1'000);
  CHECK(standard.system_attributes.dead_letter_queue_source_arn == "arn:aws:sqs:us-east-1:000000000000:src");
  CHECK(standard.system_attributes.message_deduplication_id == "d");
  CHECK(standard.system_attributes.aws_trace_header == "Root=1");
  CHECK(standard.system_attributes.message_group_id == "g");

  const DeadLetteredMessage fifo =
      dead_lettered(system, 1'000, /*fifo=*/true, "arn:aws:sqs:us-east-1:000000000000:src.fifo", "mid", 5'000);
  CHECK(fifo.sent_ms == 5'000);
  CHECK(fifo.system_attributes.dead_letter_queue_source_arn == "arn:aws:sqs:us-east-1:000000000000:src.fifo");
  CHECK(fifo.system_attributes.message_deduplication_id == "mid");
  CHECK(fifo.system_attributes.message_group_id == "g");

  SystemAttributes returned = fifo.system_attributes;
  returned_from_dead_letters(returned);
  CHECK(returned.dead_letter_queue_source_arn.empty());
  CHECK(returned.message_group_id == "g");
}

namespace {

// Queues by name, for check_redrive_target's lookup.
struct Queues {
  std::map<std::string, AttributeMap> by_name;
  RedriveScope scope() const {
    return RedriveScope{"us-east-1", "000000000000", [this](const std::string& name) -> const AttributeMap* {
                          auto it = by_name.find(name);
                          return it == by_name.end() ? nullptr : &it->second;
                        }};
  }
};

AttributeMap with_policy(AttributeMap attributes, const std::string& target, int max_receive_count = 3) {
  attributes["RedrivePolicy"] = R"({"deadLetterTargetArn":")" + queue_arn("us-east-1", "000000000000", target) +
                                R"(","maxReceiveCount":)" + std::to_string(max_receive_count) + "}";
  return attributes;
}

std::string reason_of(const Status& status) {
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::InvalidParameterValue);
  return status.error().message;
}

}  // namespace

TEST_CASE("a redrive target must exist, differ from the source, match its type and allow it", "[redrive_rules]") {
  Queues queues;
  queues.by_name["dlq"] = default_queue_attributes();
  queues.by_name["dlq.fifo"] = default_queue_attributes(true);
  queues.by_name["closed"] = default_queue_attributes();
  queues.by_name["closed"]["RedriveAllowPolicy"] = R"({"redrivePermission":"denyAll"})";
  const RedriveScope scope = queues.scope();

  CHECK(check_redrive_target(scope, "src", default_queue_attributes()).ok());  // no policy
  AttributeMap cleared = default_queue_attributes();
  cleared["RedrivePolicy"] = "";
  CHECK(check_redrive_target(scope, "src", cleared).ok());

  CHECK(check_redrive_target(scope, "src", with_policy(default_queue_attributes(), "dlq")).ok());
  CHECK(check_redrive_target(scope, "src.fifo", with_policy(default_queue_attributes(true), "dlq.fifo")).ok());

  CHECK_THAT(reason_of(check_redrive_target(scope, "src", with_policy(default_queue_attributes(), "nowhere"))),
             Catch::EndsWith("Reason: Dead letter target does not exist."));
  // The queue itself: AWS accepts it.
  CHECK(check_redrive_target(scope, "dlq", with_policy(default_queue_attributes(), "dlq")).ok());
  CHECK_THAT(reason_of(check_redrive_target(scope, "src", with_policy(default_queue_attributes(), "dlq.fifo"))),
             Catch::EndsWith("Reason: Dead-letter queue must be same type of queue as the source."));
  CHECK_THAT(reason_of(check_redrive_target(scope, "src", with_policy(default_queue_attributes(), "closed"))),
             Catch::Contains("is not allowed to use") && Catch::Contains("(RedriveAllowPolicy)"));

  // Another account's or region's queue of the same name is no target.
  AttributeMap elsewhere = default_queue_attributes();
  elsewhere["RedrivePolicy"] =
      R"({"deadLetterTargetArn":"arn:aws:sqs:eu-west-1:000000000000:dlq","maxReceiveCount":3})";
  CHECK_THAT(reason_of(check_redrive_target(scope, "src", elsewhere)),
             Catch::EndsWith("Reason: Dead letter target does not exist."));
}

TEST_CASE("applying attributes sets them, and removes an emptied one without a default", "[queue_attributes]") {
  AttributeMap attributes = default_queue_attributes();
  attributes["Policy"] = "{}";
  apply_attributes(attributes, {{"VisibilityTimeout", "45"}, {"Policy", ""}, {"DelaySeconds", ""}});
  CHECK(attributes.at("VisibilityTimeout") == "45");
  CHECK_FALSE(attributes.count("Policy"));
  // An attribute with a default keeps its key, with the empty value given.
  REQUIRE(attributes.count("DelaySeconds"));
  CHECK(attributes.at("DelaySeconds").empty());
  apply_attributes(attributes, {{"RedrivePolicy", ""}});
  CHECK_FALSE(attributes.count("RedrivePolicy"));
}
