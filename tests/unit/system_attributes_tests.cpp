// Unit tests of storage/system_attributes: the typed system attributes and
// their stored text, which must stay what earlier releases wrote and read.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "storage/system_attributes.h"

using namespace wharf::storage;
using nlohmann::json;

namespace {

SystemAttributes all_four(std::string trace, std::string source, std::string dedup, std::string group) {
  SystemAttributes a;
  a.aws_trace_header = std::move(trace);
  a.dead_letter_queue_source_arn = std::move(source);
  a.message_deduplication_id = std::move(dedup);
  a.message_group_id = std::move(group);
  return a;
}

// What earlier releases stored: nlohmann's dump of the wire shape.
std::string library_text(const SystemAttributes& a) {
  json doc = json::object();
  for (const auto& field : kSystemAttributeFields) {
    const std::string& value = a.*field.member;
    if (!value.empty()) doc[field.name] = {{"DataType", "String"}, {"StringValue", value}};
  }
  return doc.empty() ? std::string() : doc.dump();
}

// How earlier releases read it back: each name's StringValue.
SystemAttributes library_read(const std::string& text) {
  SystemAttributes out;
  const auto doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) return out;
  for (const auto& field : kSystemAttributeFields) {
    if (doc.contains(field.name) && doc[field.name].is_object() && doc[field.name].contains("StringValue") &&
        doc[field.name]["StringValue"].is_string()) {
      out.*field.member = doc[field.name]["StringValue"].get<std::string>();
    }
  }
  return out;
}

}  // namespace

TEST_CASE("no system attributes are stored as no text", "[system_attributes]") {
  CHECK(encode_system_attributes(SystemAttributes{}).empty());
  CHECK(decode_system_attributes("").empty());
  CHECK(SystemAttributes{}.empty());
  CHECK_FALSE(all_four("", "", "", "g").empty());
}

TEST_CASE("the stored text is byte for byte what earlier releases wrote", "[system_attributes]") {
  const std::vector<SystemAttributes> cases = {
      all_four("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", "", "", ""),
      all_four("", "", "dedup-1", "group-1"),
      all_four("", "", "", "fair-group"),
      all_four("", "arn:aws:sqs:us-east-1:000000000000:source", "", ""),
      all_four("Root=1-a", "arn:aws:sqs:us-east-1:000000000000:source.fifo", "id-1", "g"),
      all_four("quote \" and backslash \\ and both \\\"", "", "a\"b", "c\\d"),
      all_four("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "", "", "g"),
      all_four("tab\tnew line\ncarriage\rbell\x07 del\x7f", "", "", ""),
      all_four("", "", "!#$%&'()*+,-./0123456789:;<=>?@[]^_`{|}~", "ABCxyz"),
  };
  for (const auto& a : cases) {
    const std::string text = encode_system_attributes(a);
    INFO(text);
    CHECK(text == library_text(a));
    CHECK(decode_system_attributes(text) == a);
    CHECK(library_read(text) == a);
  }
}

TEST_CASE("stored forms of earlier releases read back as typed fields", "[system_attributes]") {
  // SendMessage with an AWSTraceHeader (the server's dump of the validated attribute).
  CHECK(decode_system_attributes(R"({"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1-a"}})") ==
        all_four("Root=1-a", "", "", ""));
  // A FIFO send (the engine's fast path: names in order, printable ASCII).
  CHECK(decode_system_attributes(R"({"MessageDeduplicationId":{"DataType":"String","StringValue":"d-1"},)"
                                 R"("MessageGroupId":{"DataType":"String","StringValue":"g-1"}})") ==
        all_four("", "", "d-1", "g-1"));
  // A fair queue's group; a redriven FIFO message, all four.
  CHECK(decode_system_attributes(R"({"MessageGroupId":{"DataType":"String","StringValue":"tenant-7"}})") ==
        all_four("", "", "", "tenant-7"));
  CHECK(decode_system_attributes(
            R"({"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1-b"},)"
            R"("DeadLetterQueueSourceArn":{"DataType":"String","StringValue":"arn:aws:sqs:us-east-1:1:q.fifo"},)"
            R"("MessageDeduplicationId":{"DataType":"String","StringValue":"6f1c"},)"
            R"("MessageGroupId":{"DataType":"String","StringValue":"g"}})") ==
        all_four("Root=1-b", "arn:aws:sqs:us-east-1:1:q.fifo", "6f1c", "g"));
  // Escaped quote and backslash, as the fast path wrote them.
  CHECK(decode_system_attributes(R"({"MessageGroupId":{"DataType":"String","StringValue":"a\"b\\c"}})") ==
        all_four("", "", "", "a\"b\\c"));
}

TEST_CASE("escapes, non-ASCII and other JSON spellings read as JSON reads them", "[system_attributes]") {
  CHECK(decode_system_attributes(R"({"AWSTraceHeader":{"DataType":"String","StringValue":"caf\u00e9\n\/x"}})")
            .aws_trace_header == "caf\xc3\xa9\n/x");
  CHECK(decode_system_attributes("{\"AWSTraceHeader\":{\"DataType\":\"String\",\"StringValue\":\"\xe6\x97\xa5\"}}")
            .aws_trace_header == "\xe6\x97\xa5");
  CHECK(decode_system_attributes(R"({"AWSTraceHeader":{"DataType":"String","StringValue":"\ud83d\ude00"}})")
            .aws_trace_header == "\xf0\x9f\x98\x80");
  // Another order, white space, other members, unknown names: still read.
  CHECK(decode_system_attributes(R"({"MessageGroupId":{"DataType":"String","StringValue":"g"},)"
                                 R"("MessageDeduplicationId":{"DataType":"String","StringValue":"d"}})") ==
        all_four("", "", "d", "g"));
  CHECK(decode_system_attributes(R"( { "MessageGroupId" : { "StringValue" : "g", "DataType" : "String" } } )") ==
        all_four("", "", "", "g"));
  CHECK(decode_system_attributes(R"({"Other":{"DataType":"String","StringValue":"x"},)"
                                 R"("MessageGroupId":{"DataType":"String","StringValue":"g"}})") ==
        all_four("", "", "", "g"));
}

TEST_CASE("text of another shape reads as no attributes, without throwing", "[system_attributes]") {
  for (const char* text :
       {"{}", "[]", "null", "not json", "{", R"({"MessageGroupId":"g"})", R"({"MessageGroupId":{"DataType":"String"}})",
        R"({"MessageGroupId":{"DataType":"String","StringValue":7}})",
        R"({"MessageGroupId":{"DataType":"String","StringValue":"g"})", "{\"MessageGroupId\":{\"DataType\""}) {
    INFO(text);
    CHECK(decode_system_attributes(text).empty());
  }
}

TEST_CASE("every prefix and every one-byte change reads as JSON reads it", "[system_attributes]") {
  const std::string text = encode_system_attributes(all_four("Root=1-a", "arn:x", "d\"1", "g\\1"));
  for (size_t n = 0; n <= text.size(); ++n) {
    const std::string prefix = text.substr(0, n);
    INFO(prefix);
    CHECK(decode_system_attributes(prefix) == library_read(prefix));
  }
  for (size_t i = 0; i < text.size(); ++i) {
    for (char c : {'"', '\\', ',', '}', '{', 'x', ' ', '\n', '\x01', '\x80'}) {
      std::string changed = text;
      changed[i] = c;
      INFO(changed);
      CHECK(decode_system_attributes(changed) == library_read(changed));
    }
  }
}

TEST_CASE("random values survive the round trip", "[system_attributes]") {
  std::mt19937 random(16);
  // Printable ASCII most of the time (the fast paths), sometimes escapes and UTF-8.
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "0",
                                           "-",
                                           "=",
                                           ";",
                                           " ",
                                           "\"",
                                           "\\",
                                           "/",
                                           "\n",
                                           "\t",
                                           "\x7f",
                                           "\xc3\xa9",
                                           "\xe2\x82\xac",
                                           "\xf0\x9f\x98\x80"};
  auto value = [&](size_t max_pieces) {
    std::string out;
    const size_t n = random() % (max_pieces + 1);
    for (size_t i = 0; i < n; ++i) out += pieces[random() % (random() % 4 == 0 ? pieces.size() : 10)];
    return out;
  };
  for (int round = 0; round < 2000; ++round) {
    const SystemAttributes a = all_four(value(20), value(5), value(10), value(10));
    const std::string text = encode_system_attributes(a);
    INFO(text);
    REQUIRE(text == library_text(a));
    REQUIRE(decode_system_attributes(text) == a);
  }
}
