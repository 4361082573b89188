// Unit tests of the backend-neutral storage rules that need no engine: queue
// attribute ranges, RedrivePolicy and RedriveAllowPolicy, evaluate_policy,
// message text, message ids and receipt handles.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/ids.h"
#include "storage/arn.h"
#include "storage/message_text.h"
#include "storage/queue_attributes.h"
#include "storage/queue_tags.h"
#include "storage/receipt_handle.h"
#include "storage/redrive_rules.h"
#include "tests/unit/test_support.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

namespace {

std::string arn_of(const std::string& name) { return queue_arn("us-east-1", "000000000000", name); }

// Parses a JSON attribute text ("" -> an empty object).
json parse_json(const std::string& text) {
  if (text.empty()) return json::object();
  auto doc = json::parse(text, nullptr, false);
  INFO("not JSON: " << text);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

}  // namespace

TEST_CASE("attribute ranges are inclusive and checked", "[queues]") {
  struct Range {
    const char* name;
    int64_t min, max;
  };
  const Range ranges[] = {
      {"DelaySeconds", 0, 900},
      {"MaximumMessageSize", 1024, 1048576},
      {"MessageRetentionPeriod", 60, 1209600},
      {"ReceiveMessageWaitTimeSeconds", 0, 20},
      {"VisibilityTimeout", 0, 43200},
      {"KmsDataKeyReusePeriodSeconds", 60, 86400},
  };
  for (const Range& r : ranges) {
    CAPTURE(r.name);
    for (int64_t ok : {r.min, r.max, (r.min + r.max) / 2}) {
      CAPTURE(ok);
      auto v = validate_queue_attributes({{r.name, std::to_string(ok)}}, true);
      REQUIRE(v.ok());
      CHECK(v->at(r.name) == std::to_string(ok));
      CHECK(validate_queue_attributes({{r.name, std::to_string(ok)}}, false).ok());
    }
    for (const std::string& bad :
         {std::to_string(r.min - 1), std::to_string(r.max + 1), std::string("abc"), std::string(""), std::string("1.5"),
          std::string("-"), std::string("99999999999999999999999")}) {
      CAPTURE(bad);
      CHECK(code_of(validate_queue_attributes({{r.name, bad}}, true)) == "InvalidAttributeValue");
      CHECK(code_of(validate_queue_attributes({{r.name, bad}}, false)) == "InvalidAttributeValue");
    }
  }
}

// ---------------------------------------------------------------------------
// RedrivePolicy and RedriveAllowPolicy: validation

TEST_CASE("RedrivePolicy is normalised to {deadLetterTargetArn, maxReceiveCount as a number}",
          "[redrive][attributes]") {
  const std::string dlq = arn_of("dlq");
  const std::string normal = R"({"deadLetterTargetArn":")" + dlq + R"(","maxReceiveCount":5})";
  for (const std::string& given : {normal, R"({"maxReceiveCount":5,"deadLetterTargetArn":")" + dlq + R"("})",
                                   R"({ "deadLetterTargetArn" : ")" + dlq + R"(" , "maxReceiveCount" : 5 })",
                                   R"({"deadLetterTargetArn":")" + dlq + R"(","maxReceiveCount":"5"})"}) {
    CAPTURE(given);
    for (bool creating : {true, false}) {
      auto v = validate_queue_attributes({{"RedrivePolicy", given}}, creating);
      INFO(outcome(v));
      REQUIRE(v.ok());
      CHECK(v->at("RedrivePolicy") == normal);
      auto doc = parse_json(v->at("RedrivePolicy"));
      CHECK(doc["maxReceiveCount"].is_number_integer());
    }
  }
  // The bounds, as numbers and as numeric strings.
  for (const char* count : {"1", "1000", "\"1\"", "\"1000\""}) {
    CAPTURE(count);
    auto v = validate_queue_attributes(
        {{"RedrivePolicy", R"({"deadLetterTargetArn":")" + dlq + R"(","maxReceiveCount":)" + count + "}"}}, true);
    INFO(outcome(v));
    REQUIRE(v.ok());
    CHECK(parse_json(v->at("RedrivePolicy"))["maxReceiveCount"].is_number_integer());
  }
  // "" is accepted: it removes the policy.
  auto removal = validate_queue_attributes({{"RedrivePolicy", ""}}, false);
  REQUIRE(removal.ok());
  CHECK(removal->at("RedrivePolicy").empty());
}

TEST_CASE("invalid RedrivePolicy values are InvalidParameterValue", "[redrive][attributes]") {
  const std::string dlq = arn_of("dlq");
  const std::string arn_part = R"("deadLetterTargetArn":")" + dlq + R"(")";
  const std::vector<std::string> invalid = {
      "{" + arn_part + R"(,"maxReceiveCount":0})",
      "{" + arn_part + R"(,"maxReceiveCount":1001})",
      "{" + arn_part + R"(,"maxReceiveCount":-1})",
      "{" + arn_part + R"(,"maxReceiveCount":"0"})",
      "{" + arn_part + R"(,"maxReceiveCount":"1001"})",
      "{" + arn_part + R"(,"maxReceiveCount":"abc"})",
      "{" + arn_part + R"(,"maxReceiveCount":"5x"})",
      "{" + arn_part + R"(,"maxReceiveCount":""})",
      "{" + arn_part + R"(,"maxReceiveCount":2.5})",
      "{" + arn_part + R"(,"maxReceiveCount":true})",
      "{" + arn_part + R"(,"maxReceiveCount":null})",
      "{" + arn_part + R"(,"maxReceiveCount":[5]})",
      "{" + arn_part + "}",                                   // no maxReceiveCount
      R"({"maxReceiveCount":5})",                             // no deadLetterTargetArn
      R"({"deadLetterTargetArn":5,"maxReceiveCount":5})",     // not a string
      "{" + arn_part + R"(,"maxReceiveCount":5,"extra":1})",  // an extra field
      "{" + arn_part + R"(,"maxReceiveCount":5,"DeadLetterTargetArn":"x"})",
      "{}",
      "[]",
      "5",
      R"("text")",
      "not json",
      "{" + arn_part,
  };
  for (const std::string& value : invalid) {
    CAPTURE(value);
    CHECK(code_of(validate_queue_attributes({{"RedrivePolicy", value}}, true)) == "InvalidParameterValue");
    CHECK(code_of(validate_queue_attributes({{"RedrivePolicy", value}}, false)) == "InvalidParameterValue");
  }
}

// Found by fuzzing: a policy nested thousands deep crashed the server when it
// was printed (and a stored one on every later AddPermission).
TEST_CASE("policies nested deeper than 32 levels are refused", "[attributes][fuzz]") {
  const std::string deep = std::string(40, '[') + std::string(40, ']');
  const std::string arn_part = R"("deadLetterTargetArn":")" + arn_of("dlq") + R"(")";
  CHECK(code_of(validate_queue_attributes({{"Policy", R"({"Statement":)" + deep + "}"}}, true)) ==
        "InvalidAttributeValue");
  CHECK(code_of(validate_queue_attributes({{"RedrivePolicy", "{" + arn_part + R"(,"maxReceiveCount":)" + deep + "}"}},
                                          true)) == "InvalidParameterValue");
  CHECK(code_of(validate_queue_attributes(
            {{"RedriveAllowPolicy", R"({"redrivePermission":"allowAll","x":)" + deep + "}"}}, false)) ==
        "InvalidParameterValue");
  const std::string nested = std::string(20, '[') + std::string(20, ']');
  CHECK(validate_queue_attributes({{"Policy", R"({"Statement":[],"x":)" + nested + "}"}}, true).ok());
}

TEST_CASE("RedriveAllowPolicy: allowAll, denyAll, byQueue with 1-10 source ARNs", "[redrive][attributes]") {
  auto sources = [](int n) {
    json arns = json::array();
    for (int i = 0; i < n; ++i) arns.push_back(arn_of("source" + std::to_string(i)));
    return arns;
  };
  for (const char* permission : {"allowAll", "denyAll"}) {
    CAPTURE(permission);
    auto v = validate_queue_attributes({{"RedriveAllowPolicy", json{{"redrivePermission", permission}}.dump()}}, true);
    INFO(outcome(v));
    REQUIRE(v.ok());
    CHECK(parse_json(v->at("RedriveAllowPolicy")) == json{{"redrivePermission", permission}});
  }
  for (int n : {1, 2, 10}) {
    CAPTURE(n);
    const json given = {{"redrivePermission", "byQueue"}, {"sourceQueueArns", sources(n)}};
    auto v = validate_queue_attributes({{"RedriveAllowPolicy", given.dump()}}, false);
    INFO(outcome(v));
    REQUIRE(v.ok());
    CHECK(parse_json(v->at("RedriveAllowPolicy")) == given);
  }
  auto removal = validate_queue_attributes({{"RedriveAllowPolicy", ""}}, false);
  REQUIRE(removal.ok());
  CHECK(removal->at("RedriveAllowPolicy").empty());

  const std::vector<std::string> invalid = {
      json{{"redrivePermission", "byQueue"}}.dump(),                                            // no ARNs
      json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", json::array()}}.dump(),        // empty list
      json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", sources(11)}}.dump(),          // 11 ARNs
      json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", arn_of("a")}}.dump(),          // not a list
      json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", json::array({1, 2})}}.dump(),  // not strings
      json{{"redrivePermission", "allowAll"}, {"sourceQueueArns", sources(1)}}.dump(),
      json{{"redrivePermission", "denyAll"}, {"sourceQueueArns", sources(1)}}.dump(),
      json{{"redrivePermission", "allowSome"}}.dump(),
      json{{"redrivePermission", "AllowAll"}}.dump(),
      json{{"redrivePermission", ""}}.dump(),
      json{{"redrivePermission", 1}}.dump(),
      json{{"sourceQueueArns", sources(1)}}.dump(),  // no redrivePermission
      "{}",
      "[]",
      "allowAll",
      "{not json",
  };
  for (const std::string& value : invalid) {
    CAPTURE(value);
    CHECK(code_of(validate_queue_attributes({{"RedriveAllowPolicy", value}}, true)) == "InvalidParameterValue");
    CHECK(code_of(validate_queue_attributes({{"RedriveAllowPolicy", value}}, false)) == "InvalidParameterValue");
  }
}

TEST_CASE("allows_redrive_from follows RedriveAllowPolicy", "[redrive][attributes]") {
  const std::string a = arn_of("a"), b = arn_of("b"), c = arn_of("c");
  auto with_policy = [](const std::string& policy) {
    auto v = validate_queue_attributes({{"RedriveAllowPolicy", policy}}, true);
    INFO(outcome(v));
    REQUIRE(v.ok());
    return v.value();
  };
  CHECK(allows_redrive_from({}, a));  // no policy: all allowed
  CHECK(allows_redrive_from(default_queue_attributes(), a));
  CHECK(allows_redrive_from({{"RedriveAllowPolicy", ""}}, a));  // removed policy
  const AttributeMap allow_all = with_policy(R"({"redrivePermission":"allowAll"})");
  CHECK(allows_redrive_from(allow_all, a));
  CHECK(allows_redrive_from(allow_all, c));
  const AttributeMap deny_all = with_policy(R"({"redrivePermission":"denyAll"})");
  CHECK_FALSE(allows_redrive_from(deny_all, a));
  CHECK_FALSE(allows_redrive_from(deny_all, c));
  const AttributeMap by_queue =
      with_policy(json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", json::array({a, b})}}.dump());
  CHECK(allows_redrive_from(by_queue, a));
  CHECK(allows_redrive_from(by_queue, b));
  CHECK_FALSE(allows_redrive_from(by_queue, c));
  CHECK_FALSE(allows_redrive_from(by_queue, arn_of("A")));  // ARNs are case-sensitive
  CHECK_FALSE(allows_redrive_from(by_queue, ""));
}

TEST_CASE("evaluate_policy: principals, action globs, Deny, and statements it does not evaluate", "[policy]") {
  using wharf::storage::evaluate_policy;
  using wharf::storage::PolicyDecision;
  const std::string arn = "arn:aws:sqs:us-east-1:000000000000:q";
  auto decide = [&](const std::string& statements, const std::string& account, const std::string& action) {
    return evaluate_policy(R"({"Version":"2012-10-17","Statement":)" + statements + "}", account, action, arn);
  };
  // Principal "*", the account id, an IAM ARN in the account; case-insensitive action globs.
  CHECK(decide(R"({"Effect":"Allow","Principal":"*","Action":"sqs:*"})", "111122223333", "DeleteMessage") ==
        PolicyDecision::Allow);
  CHECK(decide(R"({"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"SQS:Receive*"})", "111122223333",
               "ReceiveMessage") == PolicyDecision::Allow);
  CHECK(
      decide(
          R"({"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/x"]},"Action":["sqs:get?ueueUrl"]})",
          "111122223333", "GetQueueUrl") == PolicyDecision::Allow);
  CHECK(decide(R"({"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::11112222333:root"},"Action":"*"})", "111122223333",
               "GetQueueUrl") == PolicyDecision::NoMatch);  // another (shorter) account
  CHECK(decide(R"({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:Send*","Resource":"arn:aws:sqs:*:*:q"})",
               "111122223333", "SendMessage") == PolicyDecision::Allow);
  CHECK(decide(R"({"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sqs:Send*","Resource":"arn:aws:sqs:*:*:Q"})",
               "111122223333", "SendMessage") == PolicyDecision::NoMatch);  // ARNs are case-sensitive
  // Deny wins over Allow, in either order.
  const std::string allow = R"({"Effect":"Allow","Principal":"*","Action":"sqs:*"})";
  const std::string deny = R"({"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"sqs:PurgeQueue"})";
  CHECK(decide("[" + allow + "," + deny + "]", "111122223333", "PurgeQueue") == PolicyDecision::Deny);
  CHECK(decide("[" + deny + "," + allow + "]", "111122223333", "PurgeQueue") == PolicyDecision::Deny);
  CHECK(decide("[" + deny + "," + allow + "]", "111122223333", "SendMessage") == PolicyDecision::Allow);
  CHECK(decide("[" + deny + "," + allow + "]", "444455556666", "PurgeQueue") == PolicyDecision::Allow);
  // Not evaluated: Condition, NotPrincipal, NotAction, NotResource; malformed shapes match nothing.
  CHECK(decide(R"({"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}})",
               "111122223333", "SendMessage") == PolicyDecision::NoMatch);
  CHECK(decide(R"({"Effect":"Allow","NotPrincipal":{"AWS":"1"},"Action":"*"})", "111122223333", "SendMessage") ==
        PolicyDecision::NoMatch);
  CHECK(decide(R"({"Effect":"Allow","Principal":"*","NotAction":"sqs:PurgeQueue"})", "111122223333", "SendMessage") ==
        PolicyDecision::NoMatch);
  CHECK(decide(R"({"Effect":"Allow","Principal":"*"})", "111122223333", "SendMessage") == PolicyDecision::NoMatch);
  CHECK(decide(R"({"Effect":"allow","Principal":"*","Action":"*"})", "111122223333", "SendMessage") ==
        PolicyDecision::NoMatch);
  CHECK(decide(R"([5, "x", {"Effect":"Allow","Principal":"*","Action":5}])", "111122223333", "SendMessage") ==
        PolicyDecision::NoMatch);
  CHECK(evaluate_policy("", "111122223333", "SendMessage", arn) == PolicyDecision::NoMatch);
  CHECK(evaluate_policy("not json", "111122223333", "SendMessage", arn) == PolicyDecision::NoMatch);
}

TEST_CASE("message ids kept as 16 bytes turn back into the same text", "[records]") {
  for (int i = 0; i < 200; ++i) {
    const std::string id = random_uuid();
    CHECK(id[14] == '4');                                                    // version 4
    CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);  // variant 10
    auto bytes = uuid_bytes(id);
    REQUIRE(bytes.has_value());
    CHECK(uuid_text(*bytes) == id);
  }
  const auto known = uuid_bytes("00112233-4455-6677-8899-aabbccddeeff");
  REQUIRE(known.has_value());
  CHECK((*known)[0] == 0x00);
  CHECK((*known)[5] == 0x55);
  CHECK((*known)[15] == 0xff);
  for (const char* bad : {"", "00112233-4455-6677-8899-aabbccddeef", "00112233-4455-6677-8899-aabbccddeeff0",
                          "00112233+4455-6677-8899-aabbccddeeff", "00112233-4455-6677-8899-AABBCCDDEEFF",
                          "0011223g-4455-6677-8899-aabbccddeeff"}) {
    CAPTURE(bad);
    CHECK_FALSE(uuid_bytes(bad).has_value());
  }
}

TEST_CASE("receipt handles round-trip and are bound to the secret", "[records][handles]") {
  const std::string secret(32, 's');
  const ReceiptHandle h{42, 123456789, 3};
  const std::string text = encode_receipt_handle(h, secret);
  CHECK(text.size() == 48);
  for (char c : text) {
    const bool url_safe =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    CHECK(url_safe);
  }
  auto back = decode_receipt_handle(text, secret);
  REQUIRE(back.has_value());
  CHECK(back->queue_id == 42);
  CHECK(back->seq == 123456789);
  CHECK(back->receive_count == 3);

  CHECK_FALSE(decode_receipt_handle(text, std::string(32, 't')).has_value());
  CHECK(encode_receipt_handle(ReceiptHandle{42, 123456789, 4}, secret) != text);
  CHECK_FALSE(decode_receipt_handle(text.substr(1), secret).has_value());
  CHECK_FALSE(decode_receipt_handle("", secret).has_value());
}

TEST_CASE("receipt handles carry HMAC-SHA256 of their payload (known answers, keys switched)", "[records][handles]") {
  // Expected values from Python's hmac and base64 modules: payload
  // (queue id, seq, receive count, big-endian) + the first 16 bytes of
  // HMAC-SHA256(secret, payload), base64url.
  std::string long_secret;
  for (int i = 0; i < 100; ++i) long_secret.push_back(static_cast<char>(i));  // longer than a SHA-256 block
  for (int round = 0; round < 2; ++round) {
    CHECK(encode_receipt_handle(ReceiptHandle{42, 123456789, 3}, std::string(32, 's')) ==
          "AAAAAAAAACoAAAAAB1vNFQAAAAMqt6hdZIXG_hi0Og1i_YXA");
    CHECK(encode_receipt_handle(ReceiptHandle{7, 1, 1}, long_secret) ==
          "AAAAAAAAAAcAAAAAAAAAAQAAAAGCxT9xdXwAOSLWbha1MrnT");
    CHECK(decode_receipt_handle("AAAAAAAAACoAAAAAB1vNFQAAAAMqt6hdZIXG_hi0Og1i_YXA", std::string(32, 's')).has_value());
  }
}

TEST_CASE("what a receipt handle may still do: standard queues any handle, FIFO the live one", "[handles]") {
  const HandledMessage gone{};
  const HandledMessage live{true, false, true};
  const HandledMessage expired{true, false, false};
  const HandledMessage superseded{true, true, true};
  const HandledMessage superseded_expired{true, true, false};

  // Standard: every handle of a message that exists deletes it and sets its visibility.
  for (const HandledMessage& m : {live, expired, superseded, superseded_expired}) {
    CHECK(judge_delete(false, m) == DeleteVerdict::Delete);
    CHECK(judge_visibility_change(false, m) == VisibilityVerdict::Apply);
  }
  CHECK(judge_delete(false, gone) == DeleteVerdict::AlreadyDeleted);
  CHECK(judge_visibility_change(false, gone) == VisibilityVerdict::MessageUnavailable);

  // FIFO: only the latest receive's handle while in flight.
  CHECK(judge_delete(true, live) == DeleteVerdict::Delete);
  CHECK(judge_delete(true, expired) == DeleteVerdict::Expired);
  CHECK(judge_delete(true, superseded) == DeleteVerdict::Expired);
  CHECK(judge_delete(true, superseded_expired) == DeleteVerdict::Expired);
  CHECK(judge_delete(true, gone) == DeleteVerdict::AlreadyDeleted);
  CHECK(judge_visibility_change(true, live) == VisibilityVerdict::Apply);
  CHECK(judge_visibility_change(true, expired) == VisibilityVerdict::NotInFlight);
  CHECK(judge_visibility_change(true, superseded) == VisibilityVerdict::MessageUnavailable);
  CHECK(judge_visibility_change(true, gone) == VisibilityVerdict::MessageUnavailable);

  // The texts AWS answers.
  CHECK(receipt_handle_expired("H").code == ErrorCode::InvalidParameterValue);
  CHECK(receipt_handle_expired("H").message ==
        "Value H for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.");
  CHECK(message_unavailable("H").code == ErrorCode::InvalidParameterValue);
  CHECK(message_unavailable("H").message ==
        "Value H for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for "
        "visibility timeout change.");
  CHECK(invalid_receipt_handle("H").code == ErrorCode::ReceiptHandleIsInvalid);
  CHECK(invalid_receipt_handle("H").message == "The input receipt handle \"H\" is not a valid receipt handle.");
  CHECK(message_not_in_flight().code == ErrorCode::MessageNotInflight);
}

TEST_CASE("message text: the XML character set in UTF-8, wherever the bad byte sits", "[text]") {
  const std::string ascii = "The quick brown fox jumps over the lazy dog 0123456789 ~!@#$%^&*()";
  CHECK(is_valid_message_text(ascii));
  CHECK(is_valid_message_text("tab\tnew\nline\rhé€😀\x7f"));
  CHECK(is_valid_message_text(""));
  // Every position in and around the 8-byte blocks the fast path reads.
  for (size_t at = 0; at < 20; ++at) {
    for (const std::string& bad : {std::string(1, '\0'), std::string("\x01"), std::string("\x1f"), std::string("\xff"),
                                   std::string("\xc3"), std::string("\xed\xa0\x80"), std::string("\xef\xbf\xbe")}) {
      std::string text = ascii.substr(0, at) + bad + ascii.substr(at);
      INFO(at);
      CHECK_FALSE(is_valid_message_text(text));
    }
    CHECK(is_valid_message_text(ascii.substr(0, at) + "\xc3\xa9" + ascii.substr(at)));
  }
}

TEST_CASE("redrive_target: the policy's queue in this account and region, none for the source itself", "[redrive]") {
  using wharf::storage::AttributeMap;
  using wharf::storage::redrive_target;
  auto policy = [](const std::string& arn) {
    return AttributeMap{{"RedrivePolicy", R"({"deadLetterTargetArn":")" + arn + R"(","maxReceiveCount":2})"}};
  };
  CHECK(!redrive_target({}, "src", "us-east-1", "000000000000"));
  CHECK(redrive_target(policy("arn:aws:sqs:us-east-1:000000000000:dlq"), "src", "us-east-1", "000000000000") ==
        std::optional<std::string>("dlq"));
  // A queue that is its own dead-letter queue redrives nothing.
  CHECK(!redrive_target(policy("arn:aws:sqs:us-east-1:000000000000:src"), "src", "us-east-1", "000000000000"));
  // Another region's or account's queue is none of this engine's.
  CHECK(!redrive_target(policy("arn:aws:sqs:eu-west-1:000000000000:dlq"), "src", "us-east-1", "000000000000"));
  CHECK(!redrive_target(policy("arn:aws:sqs:us-east-1:111111111111:dlq"), "src", "us-east-1", "000000000000"));
}
