// Unit tests of the API-level storage rules: RedrivePolicy and
// RedriveAllowPolicy, redrive to dead-letter queues, batches, message move
// tasks, tags and permissions, and receipt handles across reopen. Each test
// runs the RocksDB engine on a fresh temp dir with an injected clock.
#include <catch2/catch.hpp>

#include "tests/unit/test_support.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/arn.h"
#include "storage/engine.h"
#include "storage/queue_attributes.h"
#include "storage/queue_tags.h"
#include "storage/rocksdb/open.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // ms since the epoch

std::string arn_of(const std::string& name) { return queue_arn("us-east-1", "000000000000", name); }

std::string redrive_to(const std::string& dlq, int max_receive_count) {
  return json{{"deadLetterTargetArn", arn_of(dlq)}, {"maxReceiveCount", max_receive_count}}.dump();
}

// Records what the engine tells its host.
struct Recorder : EngineListener {
  std::vector<std::string> available;
  std::vector<int64_t> deadlines;
  void messages_available(const std::string& queue) override { available.push_back(queue); }
  void deadline_added(int64_t when) override { deadlines.push_back(when); }
};

// A temp data dir, a clock the test advances, and the engine over both.
struct Fixture {
  TempDir dir;
  int64_t now = kStart;
  std::unique_ptr<Engine> engine;

  Fixture() { reopen(); }

  void reopen() {
    engine.reset();  // closes the database first
    EngineOptions options;
    options.now_ms = [this] { return now; };
    RocksOptions rocks;
    rocks.data_dir = (dir.path() / "data").string();
    std::string error;
    engine = open_rocksdb_engine(options, rocks, error);
    INFO(error);
    REQUIRE(engine);
  }

  void advance_ms(int64_t ms) { now += ms; }
  void advance_s(int64_t s) { now += s * 1000; }

  Engine* operator->() { return engine.get(); }

  void create(const std::string& name, const AttributeMap& attributes = {}, const TagMap& tags = {}) {
    auto r = engine->create_queue(name, attributes, tags);
    INFO(outcome(r));
    REQUIRE(r.ok());
  }

  AttributeMap attributes(const std::string& name) {
    auto r = engine->get_queue(name);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r->attributes;
  }

  TagMap tags(const std::string& name) {
    auto r = engine->get_queue(name);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r->tags;
  }

  std::string send(const std::string& queue, const std::string& body, const std::string& message_attributes = "",
                   const std::string& aws_trace_header = "") {
    NewMessage m;
    m.body = body;
    m.message_attributes = message_attributes;
    m.aws_trace_header = aws_trace_header;
    auto r = engine->send_message(queue, std::move(m));
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r->message_id;
  }

  std::vector<ReceivedMessage> receive(const std::string& queue, int max = 10,
                                       std::optional<int> visibility = std::nullopt) {
    auto r = engine->receive_messages(queue, max, visibility);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r.value();
  }

  ReceivedMessage receive_one(const std::string& queue, std::optional<int> visibility = std::nullopt) {
    auto got = receive(queue, 1, visibility);
    REQUIRE(got.size() == 1);
    return got[0];
  }

  QueueCounts counts(const std::string& queue) {
    auto r = engine->queue_counts(queue);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r.value();
  }

  uint64_t total(const std::string& queue) {
    const QueueCounts c = counts(queue);
    return c.visible + c.in_flight + c.delayed;
  }

  // Every message of the queue (left in flight for a long time), by id.
  std::map<std::string, ReceivedMessage> drain(const std::string& queue) {
    std::map<std::string, ReceivedMessage> out;
    for (;;) {
      auto got = receive(queue, 10, 43200);
      if (got.empty()) break;
      for (auto& m : got) {
        INFO("message " << m.message_id << " received twice from " << queue);
        CHECK(out.count(m.message_id) == 0);
        out.emplace(m.message_id, std::move(m));
      }
    }
    return out;
  }

  std::vector<MoveTask> tasks(const std::string& source, size_t max = 10) {
    auto r = engine->list_move_tasks(source, max);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r.value();
  }

  MoveTask latest_task(const std::string& source) {
    auto all = tasks(source, 1);
    REQUIRE(all.size() == 1);
    return all[0];
  }

  std::string start_task(const std::string& source, std::optional<std::string> destination = std::nullopt,
                         std::optional<int> rate = std::nullopt) {
    auto r = engine->start_move_task(source, destination, rate);
    INFO(outcome(r));
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->empty());
    return r.value();
  }

  // Steps the clock 100 ms at a time until the source's newest task ends.
  MoveTask run_task_to_end(const std::string& source, int max_steps = 2000) {
    for (int i = 0; i < max_steps; ++i) {
      advance_ms(100);
      engine->run_due_work();
      MoveTask t = latest_task(source);
      if (t.status != "RUNNING") return t;
    }
    FAIL("the move task on " << source << " did not finish");
    return {};
  }
};

bool counts_are(const QueueCounts& c, uint64_t visible, uint64_t in_flight, uint64_t delayed) {
  return c.visible == visible && c.in_flight == in_flight && c.delayed == delayed;
}

std::string describe(const QueueCounts& c) {
  return "visible=" + std::to_string(c.visible) + " in_flight=" + std::to_string(c.in_flight) +
         " delayed=" + std::to_string(c.delayed);
}

#define CHECK_COUNTS(fixture, queue, v, f, d)                   \
  do {                                                          \
    const QueueCounts counts_ = (fixture).counts(queue);        \
    INFO("counts of " << (queue) << ": " << describe(counts_)); \
    CHECK(counts_are(counts_, (v), (f), (d)));                  \
  } while (false)

// Parses a JSON attribute text ("" -> an empty object).
json parse_json(const std::string& text) {
  if (text.empty()) return json::object();
  auto doc = json::parse(text, nullptr, false);
  INFO("not JSON: " << text);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

// "src" (maxReceiveCount 1) with dead-letter queue "dlq" already made.
// Sends `n` messages to `src` and lets them go to `dlq` (two receives);
// returns their ids in send order.
std::vector<std::string> dead_letter(Fixture& f, const std::string& src, const std::string& dlq, int n,
                                     const std::string& prefix = "m") {
  REQUIRE(n <= 10);
  const uint64_t before = f.total(dlq);
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(f.send(src, prefix + std::to_string(i),
                         R"({"index":{"DataType":"Number","StringValue":")" + std::to_string(i) + R"("}})"));
  }
  REQUIRE(f.receive(src, 10, 0).size() == static_cast<size_t>(n));  // receive count 1, visible again at once
  CHECK(f.receive(src, 10).empty());                                // past maxReceiveCount 1: to the DLQ
  REQUIRE(f.total(dlq) == before + static_cast<uint64_t>(n));
  REQUIRE(f.total(src) == 0);
  return ids;
}

std::set<std::string> bodies_of(const std::map<std::string, ReceivedMessage>& messages) {
  std::set<std::string> out;
  for (const auto& [id, m] : messages) out.insert(m.body);
  return out;
}

// The bodies dead_letter() sends: prefix0 .. prefix(n-1).
std::set<std::string> sent_bodies(int n, const std::string& prefix = "m") {
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

// Moved messages are new messages (AWS: "assigned a new messageID and
// enqueueTime"): their bodies are the ones dead-lettered, none of their ids.
void check_moved(const std::map<std::string, ReceivedMessage>& moved, const std::vector<std::string>& old_ids, int n,
                 const std::string& prefix = "m") {
  CHECK(bodies_of(moved) == sent_bodies(n, prefix));
  for (const auto& id : old_ids) CHECK(moved.count(id) == 0);
}

}  // namespace

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

// ---------------------------------------------------------------------------
// RedrivePolicy in the engine

TEST_CASE("a RedrivePolicy must name another existing queue that accepts the source", "[redrive][engine]") {
  Fixture f;
  f.create("dlq");
  f.create("src");

  SECTION("a missing queue") {
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("missing", 3)}}, {})) ==
          "InvalidParameterValue");
    CHECK(code_of(f->get_queue("new")) == "QueueDoesNotExist");  // a failed create creates nothing
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("missing", 3)}})) ==
          "InvalidParameterValue");
    // An existing queue's name in another region or account is not it.
    for (const std::string& other :
         {queue_arn("eu-west-1", "000000000000", "dlq"), queue_arn("us-east-1", "111122223333", "dlq"),
          std::string("dlq"), std::string("arn:aws:sqs:us-east-1:000000000000:")}) {
      CAPTURE(other);
      const std::string policy = json{{"deadLetterTargetArn", other}, {"maxReceiveCount", 3}}.dump();
      CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", policy}})) == "InvalidParameterValue");
      CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", policy}}, {})) == "InvalidParameterValue");
    }
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
  }
  SECTION("the queue itself") {
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("src", 3)}})) ==
          "InvalidParameterValue");
    CHECK(code_of(f->create_queue("self", {{"RedrivePolicy", redrive_to("self", 3)}}, {})) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("self")) == "QueueDoesNotExist");
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
  }
  SECTION("a dead-letter queue that denies all sources") {
    f.create("deny", {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}});
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("deny", 3)}}, {})) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("new")) == "QueueDoesNotExist");
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("deny", 3)}})) ==
          "InvalidParameterValue");
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
  }
  SECTION("a dead-letter queue that accepts only other sources") {
    f.create("picky",
             {{"RedriveAllowPolicy",
               json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", json::array({arn_of("src")})}}.dump()}});
    CHECK(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("picky", 3)}}).ok());
    f.create("other");
    CHECK(code_of(f->set_queue_attributes("other", {{"RedrivePolicy", redrive_to("picky", 3)}})) ==
          "InvalidParameterValue");
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("picky", 3)}}, {})) == "InvalidParameterValue");
    f.create("allowed", {{"RedriveAllowPolicy", R"({"redrivePermission":"allowAll"})"}});
    CHECK(f->set_queue_attributes("other", {{"RedrivePolicy", redrive_to("allowed", 3)}}).ok());
  }
  SECTION("a valid policy is stored normalised; \"\" removes it") {
    const std::string as_string =
        json{{"deadLetterTargetArn", arn_of("dlq")}, {"maxReceiveCount", "4"}}.dump();  // count as a string
    REQUIRE(f->set_queue_attributes("src", {{"RedrivePolicy", as_string}}).ok());
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));
    // A failed set leaves the policy as it was.
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("missing", 2)}})) ==
          "InvalidParameterValue");
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));
    f.reopen();
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));

    REQUIRE(f->set_queue_attributes("src", {{"RedrivePolicy", ""}}).ok());
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
    f.reopen();
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
    CHECK(f->dead_letter_source_queues("dlq").value().empty());

    // Also on create: the same policy as a number or a string is the same queue.
    f.create("made", {{"RedrivePolicy", as_string}});
    CHECK(f.attributes("made").at("RedrivePolicy") == redrive_to("dlq", 4));
    CHECK(f->create_queue("made", {{"RedrivePolicy", redrive_to("dlq", 4)}}, {}).ok());
    CHECK(code_of(f->create_queue("made", {{"RedrivePolicy", redrive_to("dlq", 5)}}, {})) == "QueueNameExists");
  }
  SECTION("RedriveAllowPolicy \"\" removes it") {
    REQUIRE(f->set_queue_attributes("dlq", {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}}).ok());
    CHECK(f.attributes("dlq").at("RedriveAllowPolicy") == R"({"redrivePermission":"denyAll"})");
    REQUIRE(f->set_queue_attributes("dlq", {{"RedriveAllowPolicy", ""}}).ok());
    CHECK(f.attributes("dlq").count("RedriveAllowPolicy") == 0);
    CHECK(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("dlq", 3)}}).ok());
  }
}

TEST_CASE("dead_letter_source_queues lists the queues naming a DLQ, sorted", "[redrive][engine]") {
  Fixture f;
  f.create("dlq");
  f.create("other-dlq");
  for (const char* source : {"zeta", "alpha", "Mid", "beta"})
    f.create(source, {{"RedrivePolicy", redrive_to("dlq", 3)}});
  f.create("elsewhere", {{"RedrivePolicy", redrive_to("other-dlq", 3)}});
  f.create("plain");

  auto sources = f->dead_letter_source_queues("dlq");
  INFO(outcome(sources));
  REQUIRE(sources.ok());
  CHECK(sources.value() == std::vector<std::string>{"Mid", "alpha", "beta", "zeta"});
  CHECK(f->dead_letter_source_queues("other-dlq").value() == std::vector<std::string>{"elsewhere"});
  CHECK(f->dead_letter_source_queues("plain").value().empty());
  CHECK(f->dead_letter_source_queues("alpha").value().empty());
  CHECK(code_of(f->dead_letter_source_queues("missing")) == "QueueDoesNotExist");

  // Following set_queue_attributes, and across a reopen.
  REQUIRE(f->set_queue_attributes("beta", {{"RedrivePolicy", redrive_to("other-dlq", 2)}}).ok());
  REQUIRE(f->set_queue_attributes("plain", {{"RedrivePolicy", redrive_to("dlq", 2)}}).ok());
  f.reopen();
  CHECK(f->dead_letter_source_queues("dlq").value() == std::vector<std::string>{"Mid", "alpha", "plain", "zeta"});
  CHECK(f->dead_letter_source_queues("other-dlq").value() == std::vector<std::string>{"beta", "elsewhere"});
}

// ---------------------------------------------------------------------------
// Redrive

TEST_CASE("a receive past maxReceiveCount moves the message to the dead-letter queue", "[redrive][messages]") {
  Recorder recorder;
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 2)}});  // VisibilityTimeout 30
  const std::string attributes = R"({"color":{"DataType":"String","StringValue":"red"}})";
  const std::string system = "Root=1-abc";
  const std::string id = f.send("src", "to be dead-lettered", attributes, system);

  const ReceivedMessage first = f.receive_one("src");
  CHECK(first.receive_count == 1);
  f.advance_s(30);  // its visibility expires
  const ReceivedMessage second = f.receive_one("src");
  CHECK(second.receive_count == 2);
  CHECK(second.message_id == id);
  f.advance_s(30);
  CHECK_COUNTS(f, "src", 1, 0, 0);
  CHECK_COUNTS(f, "dlq", 0, 0, 0);

  f->set_listener(&recorder);
  // The third receive returns nothing: the message moved, in the same step.
  CHECK(f.receive("src").empty());
  f->set_listener(nullptr);
  CHECK_COUNTS(f, "src", 0, 0, 0);
  CHECK_COUNTS(f, "dlq", 1, 0, 0);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "dlq") >= 1);

  // Stale handles of the source do nothing to it (and are not the DLQ's).
  CHECK(f->delete_message("src", second.receipt_handle).ok());
  CHECK(code_of(f->delete_message("dlq", second.receipt_handle)) == "ReceiptHandleIsInvalid");
  CHECK_COUNTS(f, "dlq", 1, 0, 0);

  auto check_dead_letter = [&](const ReceivedMessage& m) {
    CHECK(m.message_id == id);
    CHECK(m.body == "to be dead-lettered");
    CHECK(m.message_attributes == attributes);
    CHECK(m.sent_ms == kStart);  // the original send time
    CHECK(m.system_attributes.dead_letter_queue_source_arn == arn_of("src"));
    CHECK(m.system_attributes.dead_letter_queue_source_arn == "arn:aws:sqs:us-east-1:000000000000:src");
    CHECK(m.system_attributes.aws_trace_header == "Root=1-abc");
  };

  SECTION("the dead letter keeps the message") { check_dead_letter(f.receive_one("dlq")); }
  SECTION("and survives close and reopen") {
    f.advance_s(5);
    f.reopen();
    CHECK_COUNTS(f, "src", 0, 0, 0);
    CHECK_COUNTS(f, "dlq", 1, 0, 0);
    check_dead_letter(f.receive_one("dlq"));
    f.advance_s(100);
    CHECK(f.receive("src").empty());  // never resurrected in the source
  }
}

TEST_CASE("a receive that dead-letters one message returns the others", "[redrive][messages]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const std::string old_id = f.send("src", "old");
  CHECK(f.receive_one("src", 0).message_id == old_id);  // visible again at once, receive count 1
  f.send("src", "fresh");
  auto got = f.receive("src", 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "fresh");
  CHECK(got[0].receive_count == 1);
  CHECK_COUNTS(f, "src", 0, 1, 0);
  CHECK_COUNTS(f, "dlq", 1, 0, 0);
  CHECK(f.receive_one("dlq").message_id == old_id);
}

TEST_CASE("with its dead-letter queue deleted, a message past maxReceiveCount is just returned",
          "[redrive][messages]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 2)}});
  const std::string id = f.send("src", "keep me");
  f.receive_one("src");
  f.advance_s(30);
  f.receive_one("src");
  f.advance_s(30);
  REQUIRE(f->delete_queue("dlq").ok());

  const ReceivedMessage third = f.receive_one("src");
  CHECK(third.message_id == id);
  CHECK(third.body == "keep me");
  CHECK(third.receive_count == 3);
  CHECK(third.system_attributes.dead_letter_queue_source_arn.empty());
  CHECK_COUNTS(f, "src", 0, 1, 0);

  // Nothing lost across a reopen either.
  f.reopen();
  CHECK_COUNTS(f, "src", 0, 1, 0);
  f.advance_s(30);
  CHECK(f.receive_one("src").message_id == id);
}

// ---------------------------------------------------------------------------
// Batches

TEST_CASE("send_messages stores the valid entries and reports each invalid one", "[batches]") {
  Fixture f;
  f.create("q", {{"MaximumMessageSize", "1024"}});
  std::vector<NewMessage> batch(6);
  batch[0].body = "first";
  batch[1].body = std::string("bad \x01 char");
  batch[2].body = "second";
  batch[3].body = std::string(1025, 'x');  // too big
  batch[4].body = std::string(1000, 'y');
  batch[4].attributes_size = 24;  // exactly 1024 with its attributes
  batch[4].message_attributes = R"({"a":{"DataType":"String","StringValue":"b"}})";
  batch[5].body = std::string("\xed\xa0\x80");  // a surrogate

  auto results = f->send_messages("q", batch);
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 6);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "InvalidMessageContents");
  CHECK(outcome(r[2]) == "ok");
  CHECK(code_of(r[3]) == "InvalidParameterValue");
  CHECK(outcome(r[4]) == "ok");
  CHECK(code_of(r[5]) == "InvalidMessageContents");
  std::set<std::string> ids;
  for (size_t i : {0, 2, 4}) {
    if (r[i].ok()) ids.insert(r[i]->message_id);
  }
  CHECK(ids.size() == 3);
  CHECK_COUNTS(f, "q", 3, 0, 0);

  // One write: after a reopen, exactly the good ones, in order.
  f.reopen();
  CHECK_COUNTS(f, "q", 3, 0, 0);
  auto got = f.receive("q", 10);
  REQUIRE(got.size() == 3);
  CHECK(got[0].body == "first");
  CHECK(got[0].message_id == r[0]->message_id);
  CHECK(got[1].body == "second");
  CHECK(got[1].message_id == r[2]->message_id);
  CHECK(got[2].body == std::string(1000, 'y'));
  CHECK(got[2].message_id == r[4]->message_id);
  CHECK(got[2].message_attributes == batch[4].message_attributes);

  SECTION("a batch of only invalid entries stores nothing") {
    std::vector<NewMessage> bad(2);
    bad[0].body = std::string("\x02");
    bad[1].body = std::string(2000, 'z');
    auto none = f->send_messages("q", bad);
    REQUIRE(none.ok());
    REQUIRE(none->size() == 2);
    CHECK(code_of(none.value()[0]) == "InvalidMessageContents");
    CHECK(code_of(none.value()[1]) == "InvalidParameterValue");
    CHECK_COUNTS(f, "q", 0, 3, 0);
  }
  SECTION("a batch to a missing queue fails as a whole") {
    CHECK(code_of(f->send_messages("missing", batch)) == "QueueDoesNotExist");
  }
}

TEST_CASE("delete_messages answers per entry for valid, garbage and stale handles", "[batches][handles]") {
  Fixture f;
  f.create("q");
  f.create("other");
  f.send("q", "m0");
  f.send("q", "m1");
  f.send("q", "m2");
  f.send("q", "gone");
  f.send("other", "o");
  const ReceivedMessage m0 = f.receive_one("q", 100);
  const ReceivedMessage m1 = f.receive_one("q", 100);
  const ReceivedMessage m2_old = f.receive_one("q", 10);
  const ReceivedMessage gone = f.receive_one("q", 100);
  REQUIRE(f->delete_message("q", gone.receipt_handle).ok());
  const ReceivedMessage from_other = f.receive_one("other");
  f.advance_s(10);
  const ReceivedMessage m2_new = f.receive_one("q", 100);  // m2 again: m2_old is stale
  REQUIRE(m2_new.message_id == m2_old.message_id);
  CHECK_COUNTS(f, "q", 0, 3, 0);

  auto results =
      f->delete_messages("q", {m0.receipt_handle, "garbage", m2_old.receipt_handle, from_other.receipt_handle,
                               gone.receipt_handle, m1.receipt_handle, m1.receipt_handle, ""});
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 8);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "ReceiptHandleIsInvalid");
  CHECK(outcome(r[2]) == "ok");  // stale: success, but m2 is not deleted
  CHECK(code_of(r[3]) == "ReceiptHandleIsInvalid");
  CHECK(outcome(r[4]) == "ok");  // already deleted
  CHECK(outcome(r[5]) == "ok");
  CHECK(outcome(r[6]) == "ok");  // the same handle twice
  CHECK(code_of(r[7]) == "ReceiptHandleIsInvalid");

  CHECK_COUNTS(f, "q", 0, 1, 0);  // m2, by its current receive
  CHECK_COUNTS(f, "other", 0, 1, 0);
  f.reopen();
  CHECK_COUNTS(f, "q", 0, 1, 0);
  REQUIRE(f->delete_message("q", m2_new.receipt_handle).ok());
  CHECK_COUNTS(f, "q", 0, 0, 0);
  f.advance_s(1000);
  CHECK(f.receive("q").empty());

  CHECK(code_of(f->delete_messages("missing", {m0.receipt_handle})) == "QueueDoesNotExist");
}

TEST_CASE("change_visibilities answers per entry for valid, garbage, stale and not-in-flight handles",
          "[batches][visibility]") {
  Fixture f;
  f.create("q");
  for (const char* body : {"m0", "m1", "m2", "m3", "m4"}) f.send("q", body);
  const ReceivedMessage m0 = f.receive_one("q");
  const ReceivedMessage m1 = f.receive_one("q");
  const ReceivedMessage m2_old = f.receive_one("q", 0);  // visible again at once
  REQUIRE(m2_old.body == "m2");
  const ReceivedMessage m2_new = f.receive_one("q");  // m2 again (send order): m2_old is stale
  REQUIRE(m2_new.message_id == m2_old.message_id);
  const ReceivedMessage m3 = f.receive_one("q");
  REQUIRE(m3.body == "m3");
  const ReceivedMessage m4 = f.receive_one("q", 0);  // visible again, not re-received: not in flight
  REQUIRE(m4.body == "m4");
  CHECK_COUNTS(f, "q", 1, 4, 0);  // m4 visible; m0, m1, m2, m3 in flight until +30 s

  auto results = f->change_visibilities("q", {{m0.receipt_handle, 100},
                                              {"garbage", 10},
                                              {m2_old.receipt_handle, 100},
                                              {m1.receipt_handle, 0},
                                              {m4.receipt_handle, 100},
                                              {m3.receipt_handle, 5}});
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 6);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "ReceiptHandleIsInvalid");
  CHECK(code_of(r[2]) == "InvalidParameterValue");
  CHECK(outcome(r[3]) == "ok");
  CHECK(code_of(r[4]) == "MessageNotInflight");
  CHECK(outcome(r[5]) == "ok");

  // m1 and m4 visible now; m0 until +100 s, m2 (its own receive) +30 s, m3 +5 s.
  CHECK_COUNTS(f, "q", 2, 3, 0);
  f.reopen();  // the changes were stored
  CHECK_COUNTS(f, "q", 2, 3, 0);
  f.advance_s(5);
  CHECK_COUNTS(f, "q", 3, 2, 0);
  f.advance_s(25);
  CHECK_COUNTS(f, "q", 4, 1, 0);
  std::set<std::string> bodies;
  for (const auto& m : f.receive("q", 10, 1000)) bodies.insert(m.body);
  CHECK(bodies == std::set<std::string>{"m1", "m2", "m3", "m4"});
  f.advance_s(69);
  CHECK(f.receive("q", 10, 1000).empty());
  f.advance_s(1);
  auto last = f.receive("q", 10);
  REQUIRE(last.size() == 1);
  CHECK(last[0].body == "m0");

  CHECK(code_of(f->change_visibilities("missing", {{m0.receipt_handle, 1}})) == "QueueDoesNotExist");
}

// ---------------------------------------------------------------------------
// Message move tasks

TEST_CASE("start_move_task checks its source, destination and the tasks running", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("plain");
  dead_letter(f, "src", "dlq", 2);

  CHECK(code_of(f->start_move_task("plain", std::nullopt, std::nullopt)) == "InvalidParameterValue");
  CHECK(code_of(f->start_move_task("src", std::nullopt, std::nullopt)) == "InvalidParameterValue");
  CHECK(code_of(f->start_move_task("missing", std::nullopt, std::nullopt)) == "ResourceNotFoundException");
  CHECK(code_of(f->start_move_task("dlq", std::string("missing"), std::nullopt)) == "ResourceNotFoundException");
  CHECK(code_of(f->list_move_tasks("missing", 10)) == "ResourceNotFoundException");
  CHECK(f.tasks("dlq").empty());

  const std::string handle = f.start_task("dlq", std::nullopt, 1);
  // Only one task per source at a time.
  CHECK_FALSE(f->start_move_task("dlq", std::nullopt, std::nullopt).ok());
  CHECK_FALSE(f->start_move_task("dlq", std::string("plain"), 10).ok());
  REQUIRE(f.tasks("dlq").size() == 1);

  CHECK(code_of(f->cancel_move_task("no-such-task")) == "ResourceNotFoundException");
  auto cancelled = f->cancel_move_task(handle);
  INFO(outcome(cancelled));
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value() == 0);
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
  // Once it is not running, another may start.
  f.advance_s(1);
  const std::string next = f.start_task("dlq", std::string("plain"));
  CHECK(next != handle);
}

TEST_CASE("a move task returns messages to their source at the given rate", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const std::string trace = "Root=1-xyz";
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(f.send("src", "m" + std::to_string(i), R"({"n":{"DataType":"Number","StringValue":"1"}})", trace));
  }
  REQUIRE(f.receive("src", 10, 0).size() == 5);
  CHECK(f.receive("src", 10).empty());
  REQUIRE(f.total("dlq") == 5);

  f.advance_s(7);
  const int64_t started = f.now;
  const std::string handle = f.start_task("dlq", std::nullopt, 2);
  MoveTask t = f.latest_task("dlq");
  CHECK(t.task_handle == handle);
  CHECK(t.status == "RUNNING");
  CHECK(t.source_arn == arn_of("dlq"));
  CHECK(t.destination_arn.empty());
  CHECK(t.max_per_second == 2);
  CHECK(t.moved == 0);
  CHECK(t.to_move == 5);
  CHECK(t.started_ms == started);

  // While a task runs, run_due_work asks to be called again soon.
  auto next = f->run_due_work();  // no time has passed: nothing moved
  REQUIRE(next.has_value());
  CHECK(*next <= f.now + 1000);
  CHECK(f.total("src") == 0);
  f.advance_ms(1000);
  f->run_due_work();
  const uint64_t after_1s = f.total("src");
  CHECK(after_1s <= 2);
  CHECK(after_1s >= 1);
  CHECK(f.total("dlq") == 5 - after_1s);
  CHECK(f.latest_task("dlq").moved == after_1s);

  // In 100 ms steps over the next second: still at most 2 per second.
  for (int i = 0; i < 10; ++i) {
    f.advance_ms(100);
    f->run_due_work();
  }
  const uint64_t after_2s = f.total("src");
  CHECK(after_2s <= 4);
  CHECK(after_2s > after_1s);
  CHECK(f.total("src") + f.total("dlq") == 5);

  t = f.run_task_to_end("dlq");
  CHECK(t.status == "COMPLETED");
  CHECK(t.task_handle.empty());
  CHECK(t.moved == 5);
  CHECK(t.failure_reason.empty());
  CHECK(f.now - started >= 2000);  // 5 messages at 2/s take more than 2 s
  CHECK_COUNTS(f, "dlq", 0, 0, 0);
  CHECK_COUNTS(f, "src", 5, 0, 0);

  auto back = f.drain("src");
  CHECK(back.size() == ids.size());
  for (const auto& id : ids) CHECK(back.count(id) == 0);  // new message ids
  for (const auto& [id, m] : back) {
    CAPTURE(id);
    CHECK(m.body.rfind("m", 0) == 0);
    CHECK(m.message_attributes == R"({"n":{"DataType":"Number","StringValue":"1"}})");
    CHECK(m.system_attributes.dead_letter_queue_source_arn.empty());
    CHECK(m.system_attributes.aws_trace_header == "Root=1-xyz");
    CHECK(m.sent_ms > kStart);  // a new enqueue time: the move's
  }
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
}

TEST_CASE("a move task without a destination returns each message to its own source", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("a", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("b", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const auto from_a = dead_letter(f, "a", "dlq", 3, "a");
  const auto from_b = dead_letter(f, "b", "dlq", 2, "b");
  f.start_task("dlq");
  CHECK(f.run_task_to_end("dlq").status == "COMPLETED");
  auto in_a = f.drain("a");
  auto in_b = f.drain("b");
  check_moved(in_a, from_a, 3, "a");
  check_moved(in_b, from_b, 2, "b");
  for (const auto& [id, m] : in_a) CHECK(m.body[0] == 'a');
  for (const auto& [id, m] : in_b) CHECK(m.body[0] == 'b');
  CHECK(f.total("dlq") == 0);
}

TEST_CASE("a move task with a destination moves there", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("dest");
  const auto ids = dead_letter(f, "src", "dlq", 4);
  Recorder recorder;
  f->set_listener(&recorder);
  f.start_task("dlq", std::string("dest"));
  MoveTask t = f.latest_task("dlq");
  CHECK(t.destination_arn == arn_of("dest"));
  CHECK(t.max_per_second == 0);  // none given
  t = f.run_task_to_end("dlq");
  f->set_listener(nullptr);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "dest") >= 1);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "src") == 0);
  CHECK(t.status == "COMPLETED");
  CHECK(t.moved == 4);
  CHECK(f.total("src") == 0);
  CHECK(f.total("dlq") == 0);
  auto moved = f.drain("dest");
  check_moved(moved, ids, 4);
  for (const auto& [id, m] : moved) {
    CHECK(m.body.rfind("m", 0) == 0);
    CHECK(m.system_attributes.dead_letter_queue_source_arn.empty());
  }
}

TEST_CASE("a move task without a rate moves at most 500 messages a second", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<NewMessage> messages(10);
    for (int i = 0; i < 10; ++i) messages[i].body = "b" + std::to_string(batch) + "-" + std::to_string(i);
    REQUIRE(f->send_messages("src", messages).ok());
  }
  // Each receive dead-letters the messages received before and receives 10 more.
  while (f.total("src") > 0) f.receive("src", 10, 0);
  REQUIRE(f.total("dlq") == 600);

  f.start_task("dlq");
  f.advance_ms(1000);
  f->run_due_work();
  const uint64_t moved = f.total("src");
  CHECK(moved > 0);
  CHECK(moved <= 500);
  CHECK(f.latest_task("dlq").moved == moved);
  CHECK(f.run_task_to_end("dlq").status == "COMPLETED");
  CHECK(f.total("src") == 600);
  CHECK(f.total("dlq") == 0);
}

TEST_CASE("list_move_tasks: newest first, handles only while running, max_results", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  dead_letter(f, "src", "dlq", 6);

  const std::string first = f.start_task("dlq", std::nullopt, 1);
  const int64_t first_started = f.now;
  f.advance_ms(1000);
  f->run_due_work();  // 1 message at 1/s
  auto cancelled = f->cancel_move_task(first);
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value() == 1);
  CHECK(f.total("src") == 1);
  // A cancelled task moves nothing more.
  f.advance_s(5);
  f->run_due_work();
  CHECK(f.total("src") == 1);
  CHECK(f.total("dlq") == 5);

  const std::string second = f.start_task("dlq", std::nullopt, 1);
  f.advance_s(1);
  REQUIRE(f->cancel_move_task(second).ok());
  f.advance_s(1);
  const std::string third = f.start_task("dlq", std::nullopt, 1);
  const int64_t third_started = f.now;

  auto all = f.tasks("dlq", 10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].status == "RUNNING");
  CHECK(all[0].task_handle == third);
  CHECK(all[0].started_ms == third_started);
  CHECK(all[1].status == "CANCELLED");
  CHECK(all[1].task_handle.empty());
  CHECK(all[2].status == "CANCELLED");
  CHECK(all[2].task_handle.empty());
  CHECK(all[2].moved == 1);
  CHECK(all[2].started_ms == first_started);
  CHECK(all[0].started_ms > all[1].started_ms);
  CHECK(all[1].started_ms > all[2].started_ms);

  auto two = f.tasks("dlq", 2);
  REQUIRE(two.size() == 2);
  CHECK(two[0].task_handle == third);
  CHECK(two[1].started_ms == all[1].started_ms);
  auto one = f.tasks("dlq", 1);
  REQUIRE(one.size() == 1);
  CHECK(one[0].task_handle == third);

  // Tasks are listed by their source only.
  CHECK(f.tasks("src").empty());
  // And survive a reopen.
  f.reopen();
  auto again = f.tasks("dlq", 10);
  REQUIRE(again.size() == 3);
  CHECK(again[0].task_handle == third);
  CHECK(again[0].status == "RUNNING");
  CHECK(again[2].status == "CANCELLED");
  CHECK(again[2].moved == 1);
}

TEST_CASE("a move task survives close and reopen mid-way, losing and duplicating nothing", "[move-tasks][durability]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const auto ids = dead_letter(f, "src", "dlq", 7);
  const std::string handle = f.start_task("dlq", std::nullopt, 2);
  f.advance_ms(1000);
  f->run_due_work();
  const MoveTask before = f.latest_task("dlq");
  REQUIRE(before.status == "RUNNING");
  CHECK(before.moved >= 1);
  CHECK(before.moved <= 2);
  CHECK(f.total("src") == before.moved);

  f.advance_ms(50);
  f.reopen();
  MoveTask after = f.latest_task("dlq");
  CHECK(after.status == "RUNNING");
  CHECK(after.task_handle == handle);
  CHECK(after.moved == before.moved);
  CHECK(after.to_move == 7);
  CHECK(after.max_per_second == 2);
  CHECK(f.total("src") + f.total("dlq") == 7);

  after = f.run_task_to_end("dlq");
  CHECK(after.status == "COMPLETED");
  CHECK(after.moved == 7);
  f.reopen();
  CHECK(f.latest_task("dlq").status == "COMPLETED");
  CHECK(f.total("dlq") == 0);
  auto back = f.drain("src");
  CHECK(back.size() == 7);
  for (const auto& id : ids) CHECK(back.count(id) == 0);  // new message ids
}

TEST_CASE("deleting the source queue fails its running move task", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  dead_letter(f, "src", "dlq", 4);
  const std::string handle = f.start_task("dlq", std::nullopt, 1);
  f.advance_ms(1000);
  f->run_due_work();
  REQUIRE(f.total("src") == 1);

  REQUIRE(f->delete_queue("dlq").ok());
  f.advance_s(5);
  f->run_due_work();
  CHECK(f.total("src") == 1);  // nothing more moved out of a deleted queue
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
  f.reopen();
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");

  // The queue made anew under the same name is not blocked by the old task.
  f.advance_s(60);
  f.create("dlq");
  for (const MoveTask& t : f.tasks("dlq", 10)) {
    CAPTURE(t.task_handle, t.started_ms);
    CHECK(t.status == "FAILED");
    CHECK_FALSE(t.failure_reason.empty());
  }
  f.start_task("dlq");
}

TEST_CASE("a move task whose destination is deleted fails and keeps the remaining messages", "[move-tasks]") {
  Fixture f;
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("dest");
  dead_letter(f, "src", "dlq", 4);
  f.start_task("dlq", std::string("dest"), 1);
  f.advance_ms(1000);
  f->run_due_work();
  REQUIRE(f.total("dest") == 1);
  REQUIRE(f->delete_queue("dest").ok());
  f.advance_ms(1000);
  f->run_due_work();
  const MoveTask t = f.latest_task("dlq");
  CHECK(t.status == "FAILED");
  CHECK_FALSE(t.failure_reason.empty());
  CHECK(t.moved == 1);
  CHECK(f.total("dlq") == 3);
}

// ---------------------------------------------------------------------------
// Tags

TEST_CASE("tags: add, overwrite, remove; persisted", "[tags]") {
  Fixture f;
  f.create("q", {}, {{"env", "test"}});
  CHECK(f.tags("q") == TagMap{{"env", "test"}});

  auto add = [&](const TagMap& tags) { return f->modify_queue("q", [&](QueueInfo& q) { return add_tags(q, tags); }); };
  auto remove = [&](const std::vector<std::string>& keys) {
    return f->modify_queue("q", [&](QueueInfo& q) {
      remove_tags(q, keys);
      return Status(Ok{});
    });
  };

  REQUIRE(add({{"team", "core"}, {"cost", ""}}).ok());
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "test"}, {"team", "core"}});
  REQUIRE(add({{"env", "prod"}}).ok());  // overwrite
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}, {"team", "core"}});
  REQUIRE(remove({"team", "no-such-key"}).ok());
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}});
  f.reopen();
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}});
  REQUIRE(remove({"cost", "env"}).ok());
  CHECK(f.tags("q").empty());
  f.reopen();
  CHECK(f.tags("q").empty());
  CHECK(code_of(f->modify_queue("missing", [](QueueInfo&) { return Status(Ok{}); })) == "QueueDoesNotExist");
}

TEST_CASE("tag limits: 50 per queue, keys 1-128, values 0-256, no aws: prefix", "[tags]") {
  Fixture f;
  f.create("q");
  auto add = [&](const TagMap& tags) { return f->modify_queue("q", [&](QueueInfo& q) { return add_tags(q, tags); }); };
  auto many = [](int n, const std::string& prefix) {
    TagMap tags;
    for (int i = 0; i < n; ++i) tags[prefix + std::to_string(i)] = "v";
    return tags;
  };

  CHECK(code_of(add(many(51, "k"))) == "InvalidParameterValue");
  CHECK(f.tags("q").empty());
  CHECK(code_of(add({{std::string(129, 'k'), "v"}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"k", std::string(257, 'v')}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"aws:created-by", "me"}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"", "v"}})) == "InvalidParameterValue");
  // One bad tag fails the whole call.
  CHECK(code_of(add({{"good", "v"}, {"aws:bad", "v"}})) == "InvalidParameterValue");
  CHECK(f.tags("q").empty());

  REQUIRE(add({{std::string(128, 'k'), std::string(256, 'v')}}).ok());
  REQUIRE(add(many(49, "a")).ok());
  CHECK(f.tags("q").size() == 50);
  // A 51st key, added alone, is over the limit; overwriting one is not.
  CHECK(code_of(add({{"one-more", "v"}})) == "InvalidParameterValue");
  CHECK(f.tags("q").size() == 50);
  CHECK(add({{"a0", "changed"}}).ok());
  CHECK(f.tags("q").at("a0") == "changed");

  CHECK(validate_tags(many(50, "x")).ok());
  CHECK(code_of(validate_tags(many(51, "x"))) == "InvalidParameterValue");
  CHECK(validate_tags({{"aws", "v"}, {"my:aws:key", "v"}}).ok());
}

TEST_CASE("create_queue with invalid tags fails and creates nothing", "[tags]") {
  Fixture f;
  TagMap too_many;
  for (int i = 0; i < 51; ++i) too_many["k" + std::to_string(i)] = "v";
  for (const TagMap& bad :
       {too_many, TagMap{{std::string(129, 'k'), "v"}}, TagMap{{"k", std::string(257, 'v')}}, TagMap{{"aws:k", "v"}}}) {
    CHECK(code_of(f->create_queue("q", {}, bad)) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("q")) == "QueueDoesNotExist");
  }
  CHECK(f->list_queues("").empty());
  TagMap fifty = too_many;
  fifty.erase("k0");
  f.create("q", {}, fifty);
  CHECK(f.tags("q") == fifty);
  f.reopen();
  CHECK(f.tags("q") == fifty);
}

// ---------------------------------------------------------------------------
// Permissions

namespace {

Status grant(Fixture& f, const std::string& queue, const Permission& p) {
  const std::string arn = arn_of(queue);
  return f->modify_queue(queue, [&](QueueInfo& q) { return add_permission(q, arn, p); });
}

Status revoke(Fixture& f, const std::string& queue, const std::string& label) {
  return f->modify_queue(queue, [&](QueueInfo& q) { return remove_permission(q, label); });
}

json policy_of(Fixture& f, const std::string& queue) {
  const AttributeMap attributes = f.attributes(queue);
  auto it = attributes.find("Policy");
  REQUIRE(it != attributes.end());
  return parse_json(it->second);
}

const json* statement(const json& policy, const std::string& sid) {
  for (const auto& s : policy.at("Statement")) {
    if (s.value("Sid", "") == sid) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("add_permission builds the queue's Policy document", "[permissions]") {
  Fixture f;
  f.create("q");
  CHECK(f.attributes("q").count("Policy") == 0);

  auto st = grant(f, "q", {"one", {"111122223333"}, {"SendMessage"}});
  INFO(outcome(st));
  REQUIRE(st.ok());
  json policy = policy_of(f, "q");
  CHECK(policy["Version"] == "2012-10-17");
  REQUIRE(policy["Statement"].is_array());
  REQUIRE(policy["Statement"].size() == 1);
  const json& s1 = policy["Statement"][0];
  CHECK(s1["Sid"] == "one");
  CHECK(s1["Effect"] == "Allow");
  CHECK(s1["Principal"]["AWS"] == "arn:aws:iam::111122223333:root");  // a string for one
  CHECK(s1["Action"] == "SQS:SendMessage");                           // a string for one
  CHECK(s1["Resource"] == "arn:aws:sqs:us-east-1:000000000000:q");

  REQUIRE(grant(f, "q", {"several", {"111122223333", "444455556666"}, {"ReceiveMessage", "DeleteMessage"}}).ok());
  REQUIRE(grant(f, "q", {"everything", {"777788889999"}, {"*"}}).ok());
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 3);
  const json* s2 = statement(policy, "several");
  REQUIRE(s2);
  CHECK((*s2)["Principal"]["AWS"] == json::array({"arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"}));
  CHECK((*s2)["Action"] == json::array({"SQS:ReceiveMessage", "SQS:DeleteMessage"}));
  CHECK((*s2)["Effect"] == "Allow");
  CHECK((*s2)["Resource"] == arn_of("q"));
  const json* s3 = statement(policy, "everything");
  REQUIRE(s3);
  CHECK((*s3)["Action"] == "SQS:*");
  REQUIRE(statement(policy, "one"));

  // Seven actions are allowed.
  REQUIRE(grant(f, "q",
                {"seven",
                 {"111122223333"},
                 {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
                  "GetQueueUrl", "PurgeQueue"}})
              .ok());
  policy = policy_of(f, "q");
  REQUIRE(statement(policy, "seven"));
  CHECK((*statement(policy, "seven"))["Action"].size() == 7);

  // Persisted.
  const std::string text = f.attributes("q").at("Policy");
  f.reopen();
  CHECK(f.attributes("q").at("Policy") == text);
}

TEST_CASE("add_permission errors leave the Policy unchanged", "[permissions]") {
  Fixture f;
  f.create("q");
  REQUIRE(grant(f, "q", {"existing", {"111122223333"}, {"SendMessage"}}).ok());
  const std::string before = f.attributes("q").at("Policy");

  CHECK(code_of(grant(f, "q", {"existing", {"444455556666"}, {"ReceiveMessage"}})) == "InvalidParameterValue");
  CHECK(code_of(grant(f, "q",
                      {"eight",
                       {"111122223333"},
                       {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                        "GetQueueAttributes", "GetQueueUrl", "PurgeQueue", "SendMessageBatch"}})) == "OverLimit");
  for (const char* bad_id : {"12345", "abcdefghijkl", "1234567890123", "11112222333x", ""}) {
    CAPTURE(bad_id);
    CHECK(code_of(grant(f, "q", {"bad-account", {bad_id}, {"SendMessage"}})) == "InvalidParameterValue");
  }
  for (const char* owner_only : {"CreateQueue", "DeleteQueue", "SetQueueAttributes", "AddPermission",
                                 "RemovePermission", "TagQueue", "UntagQueue", "NoSuchAction"}) {
    CAPTURE(owner_only);
    CHECK(code_of(grant(f, "q", {"owner-only", {"111122223333"}, {owner_only}})) == "InvalidParameterValue");
  }
  for (const std::string& bad_label :
       {std::string(), std::string("has space"), std::string("dot.ted"), std::string(81, 'l')}) {
    CAPTURE(bad_label);
    CHECK(code_of(grant(f, "q", {bad_label, {"111122223333"}, {"SendMessage"}})) == "InvalidParameterValue");
  }
  CHECK(code_of(grant(f, "q", {"no-accounts", {}, {"SendMessage"}})) == "InvalidParameterValue");
  CHECK(code_of(grant(f, "q", {"no-actions", {"111122223333"}, {}})) == "InvalidParameterValue");
  CHECK(f.attributes("q").at("Policy") == before);
  CHECK(code_of(grant(f, "missing", {"x", {"111122223333"}, {"SendMessage"}})) == "QueueDoesNotExist");
}

TEST_CASE("remove_permission removes the statement, and the Policy when it is empty", "[permissions]") {
  Fixture f;
  f.create("q");
  CHECK(code_of(revoke(f, "q", "none")) == "InvalidParameterValue");  // no Policy at all
  REQUIRE(grant(f, "q", {"a", {"111122223333"}, {"SendMessage"}}).ok());
  REQUIRE(grant(f, "q", {"b", {"444455556666"}, {"ReceiveMessage"}}).ok());

  CHECK(code_of(revoke(f, "q", "missing")) == "InvalidParameterValue");
  CHECK(policy_of(f, "q")["Statement"].size() == 2);

  REQUIRE(revoke(f, "q", "a").ok());
  json policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "b");
  CHECK(code_of(revoke(f, "q", "a")) == "InvalidParameterValue");  // already removed
  f.reopen();
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "b");

  REQUIRE(revoke(f, "q", "b").ok());
  CHECK(f.attributes("q").count("Policy") == 0);
  f.reopen();
  CHECK(f.attributes("q").count("Policy") == 0);

  // The label is free again.
  REQUIRE(grant(f, "q", {"a", {"111122223333"}, {"SendMessage"}}).ok());
  CHECK(policy_of(f, "q")["Statement"].size() == 1);
}

TEST_CASE("permissions keep a Policy set by set_queue_attributes", "[permissions]") {
  Fixture f;
  f.create("q");
  const json own = {{"Version", "2012-10-17"},
                    {"Statement", json::array({json{{"Sid", "Own"},
                                                    {"Effect", "Allow"},
                                                    {"Principal", {{"AWS", "arn:aws:iam::999999999999:root"}}},
                                                    {"Action", "SQS:SendMessage"},
                                                    {"Resource", arn_of("q")}}})}};
  REQUIRE(f->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  REQUIRE(grant(f, "q", {"Added", {"111122223333"}, {"ReceiveMessage"}}).ok());
  json policy = policy_of(f, "q");
  CHECK(policy["Statement"].size() == 2);
  CHECK(statement(policy, "Own"));
  CHECK(statement(policy, "Added"));
  CHECK(code_of(grant(f, "q", {"Own", {"111122223333"}, {"ReceiveMessage"}})) == "InvalidParameterValue");
  REQUIRE(revoke(f, "q", "Own").ok());
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "Added");
}

TEST_CASE("permissions keep a Policy whose Statement is a single object", "[permissions]") {
  // IAM's policy grammar allows "Statement" to be one statement object rather
  // than a list; SetQueueAttributes accepts such a Policy, and AddPermission
  // must not drop the statement already there.
  Fixture f;
  f.create("q");
  const json own = {{"Version", "2012-10-17"},
                    {"Statement",
                     {{"Sid", "Own"},
                      {"Effect", "Allow"},
                      {"Principal", {{"AWS", "arn:aws:iam::999999999999:root"}}},
                      {"Action", "SQS:SendMessage"},
                      {"Resource", arn_of("q")}}}};
  REQUIRE(f->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  REQUIRE(grant(f, "q", {"Added", {"111122223333"}, {"ReceiveMessage"}}).ok());
  json policy = policy_of(f, "q");
  INFO(policy.dump());
  REQUIRE(policy["Statement"].is_array());
  CHECK(policy["Statement"].size() == 2);
  CHECK(statement(policy, "Own"));
  CHECK(statement(policy, "Added"));

  // And RemovePermission finds a single statement by its Sid.
  Fixture g;
  g.create("q");
  REQUIRE(g->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  auto st = revoke(g, "q", "Own");
  INFO(outcome(st));
  CHECK(st.ok());
}

// ---------------------------------------------------------------------------
// Sequence numbers and receipt handles across reopen

TEST_CASE("receipt handles issued after a reopen differ from every handle issued before", "[durability][handles]") {
  Fixture f;
  f.create("q");
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  std::set<std::string> issued;
  auto receive_all_times = [&](const std::string& queue, int times) {
    // Receives every message `times` times (visibility 0), recording handles.
    std::vector<std::string> last;
    for (int i = 0; i < times; ++i) {
      last.clear();
      for (const auto& m : f.receive(queue, 10, 0)) {
        INFO("a handle was issued twice: " << m.receipt_handle);
        CHECK(issued.insert(m.receipt_handle).second);
        last.push_back(m.receipt_handle);
      }
    }
    return last;
  };
  auto delete_all = [&](const std::string& queue, const std::vector<std::string>& handles) {
    auto r = f->delete_messages(queue, handles);
    REQUIRE(r.ok());
    for (const auto& st : r.value()) CHECK(st.ok());
    CHECK(f.total(queue) == 0);
  };

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    for (int i = 0; i < 3; ++i) f.send("q", "r" + std::to_string(round) + "m" + std::to_string(i));
    auto handles = receive_all_times("q", 3);
    REQUIRE(handles.size() == 3);
    delete_all("q", handles);

    // Through a dead-letter queue as well.
    dead_letter(f, "src", "dlq", 2);
    handles = receive_all_times("dlq", 2);
    REQUIRE(handles.size() == 2);
    delete_all("dlq", handles);

    f.advance_s(1);
    f.reopen();
    if (round == 1) f.reopen();  // twice in a row, with nothing sent between
  }
  // Old handles delete nothing new.
  f.send("q", "last");
  const ReceivedMessage last = f.receive_one("q");
  CHECK(issued.count(last.receipt_handle) == 0);
  std::vector<std::string> old(issued.begin(), issued.end());
  auto r = f->delete_messages("q", old);
  REQUIRE(r.ok());
  CHECK_COUNTS(f, "q", 0, 1, 0);
}

TEST_CASE("evaluate_policy: AddPermission's statements allow their accounts and actions only",
          "[permissions][policy]") {
  Fixture f;
  f.create("q");
  REQUIRE(grant(f, "q", {"send", {"111122223333"}, {"SendMessage"}}).ok());
  REQUIRE(grant(f, "q", {"all", {"444455556666"}, {"*"}}).ok());
  const std::string policy = f.attributes("q").at("Policy");
  const std::string arn = "arn:aws:sqs:us-east-1:000000000000:q";
  using wharf::storage::evaluate_policy;
  using wharf::storage::PolicyDecision;
  CHECK(evaluate_policy(policy, "111122223333", "SendMessage", arn) == PolicyDecision::Allow);
  CHECK(evaluate_policy(policy, "111122223333", "SendMessageBatch", arn) == PolicyDecision::Allow);  // its single form
  CHECK(evaluate_policy(policy, "111122223333", "ReceiveMessage", arn) == PolicyDecision::NoMatch);
  CHECK(evaluate_policy(policy, "444455556666", "PurgeQueue", arn) == PolicyDecision::Allow);
  CHECK(evaluate_policy(policy, "999999999999", "SendMessage", arn) == PolicyDecision::NoMatch);
  CHECK(evaluate_policy(policy, "111122223333", "SendMessage", "arn:aws:sqs:us-east-1:000000000000:other") ==
        PolicyDecision::NoMatch);  // Resource names the queue
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

TEST_CASE("peek shows messages in send order with their state and changes nothing", "[peek]") {
  Fixture f;
  f.create("q");
  const std::string first = f.send("q", "one", R"({"k":{"DataType":"String","StringValue":"v"}})");
  const std::string second = f.send("q", "two");
  NewMessage delayed;
  delayed.body = "three";
  delayed.delay_seconds = 60;
  REQUIRE(f->send_message("q", std::move(delayed)).ok());
  const ReceivedMessage taken = f.receive_one("q", 30);  // "one", in flight for 30 s
  REQUIRE(taken.body == "one");
  const QueueCounts before = f.counts("q");

  auto peeked = f->peek_messages("q", 10);
  INFO(outcome(peeked));
  REQUIRE(peeked.ok());
  REQUIRE(peeked->size() == 3);
  const auto& p = peeked.value();
  CHECK(p[0].message_id == first);
  CHECK(p[0].state == "in_flight");
  CHECK(p[0].receive_count == 1);
  CHECK(p[0].visible_at_ms == kStart + 30'000);
  CHECK(p[0].message_attributes.find("StringValue") != std::string::npos);
  CHECK(p[1].message_id == second);
  CHECK(p[1].state == "visible");
  CHECK(p[1].receive_count == 0);
  CHECK(p[2].body == "three");
  CHECK(p[2].state == "delayed");
  CHECK(f->peek_messages("q", 1)->size() == 1);

  // Nothing moved: the same counts, the same next receive, receive counts untouched.
  const QueueCounts after = f.counts("q");
  CHECK(after.visible == before.visible);
  CHECK(after.in_flight == before.in_flight);
  CHECK(after.received == before.received);
  const ReceivedMessage next = f.receive_one("q");
  CHECK(next.body == "two");
  CHECK(next.receive_count == 1);

  // A passed deadline shows as visible, as the next receive sees it.
  f.advance_s(31);
  CHECK(f->peek_messages("q", 1)->at(0).state == "visible");
  CHECK(code_of(f->peek_messages("missing", 1)) == "QueueDoesNotExist");
}

TEST_CASE("a peeked message can be deleted by its position and id, in any state", "[peek]") {
  Fixture f;
  f.create("q");
  f.send("q", "a");
  const std::string b = f.send("q", "b");
  auto peeked = f->peek_messages("q", 10);
  REQUIRE(peeked.ok());
  REQUIRE(peeked->size() == 2);
  const PeekedMessage second = peeked->at(1);
  REQUIRE(second.message_id == b);
  CHECK(code_of(f->delete_peeked_message("q", second.position, "not-its-id")) == "InvalidParameterValue");
  REQUIRE(f->delete_peeked_message("q", second.position, b).ok());
  CHECK(f.counts("q").visible == 1);
  CHECK(f.counts("q").deleted == 1);
  CHECK_FALSE(f->delete_peeked_message("q", second.position, b).ok());  // gone
  CHECK(f.receive("q").size() == 1);

  // FIFO: deleting the in-flight head unlocks its group at once.
  f.create("f.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  for (const char* body : {"first", "second"}) {
    NewMessage m;
    m.body = body;
    m.group_id = "g";
    REQUIRE(f->send_message("f.fifo", std::move(m)).ok());
  }
  REQUIRE(f.receive_one("f.fifo", 300).body == "first");
  CHECK(f.receive("f.fifo").empty());  // the group is locked
  auto head = f->peek_messages("f.fifo", 1);
  REQUIRE(head.ok());
  REQUIRE(head->at(0).state == "in_flight");
  REQUIRE(f->delete_peeked_message("f.fifo", head->at(0).position, head->at(0).message_id).ok());
  CHECK(f.receive_one("f.fifo").body == "second");
  f.reopen();  // the delete is durable
  CHECK(f.total("f.fifo") == 1);
  CHECK(f.total("q") == 1);
}
