// Unit tests of FIFO queues and fair queues in the storage engine: queue
// type rules, send rules, message groups (order and locks), queue delays,
// deduplication (explicit, content-based, scopes, batches, reopen, expiry),
// ReceiveRequestAttemptId, group locks across reopen, FIFO redrive and move
// tasks, fair turns between groups on standard queues, and a randomised
// comparison of the in-memory index against a simple model. Each test runs
// the RocksDB engine on a fresh temp dir with an injected clock.
#include <catch2/catch.hpp>

#include "tests/unit/test_support.h"

#include <nlohmann/json.hpp>
#include <rocksdb/db.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/arn.h"
#include "storage/engine.h"
#include "storage/queue_attributes.h"
#include "storage/rocksdb/open.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kStart = 1'700'000'000'000;  // ms since the epoch
constexpr int64_t kWindow = 300'000;           // the default dedup window

std::string arn_of(const std::string& name) { return queue_arn("us-east-1", "000000000000", name); }

std::string redrive_to(const std::string& dlq, int max_receive_count) {
  return json{{"deadLetterTargetArn", arn_of(dlq)}, {"maxReceiveCount", max_receive_count}}.dump();
}

AttributeMap fifo(AttributeMap extra = {}) {
  extra["FifoQueue"] = "true";
  return extra;
}

NewMessage message(const std::string& body, const std::string& group, const std::string& dedup = "") {
  NewMessage m;
  m.body = body;
  m.group_id = group;
  m.deduplication_id = dedup;
  return m;
}

json parse_json(const std::string& text) {
  if (text.empty()) return json::object();
  auto doc = json::parse(text, nullptr, false);
  INFO("not JSON: " << text);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

// A String system attribute's value, "" when absent.
std::string system_attribute(const ReceivedMessage& m, const std::string& name) {
  for (const auto& field : kSystemAttributeFields) {
    if (name == field.name) return m.system_attributes.*field.member;
  }
  FAIL("no system attribute " << name);
  return "";
}

std::vector<std::string> bodies(const std::vector<ReceivedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.body);
  return out;
}

// The bodies of one group's messages (by MessageGroupId), in the order given.
std::vector<std::string> bodies_of_group(const std::vector<ReceivedMessage>& messages, const std::string& group) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    if (system_attribute(m, "MessageGroupId") == group) out.push_back(m.body);
  }
  return out;
}

bool is_sequence_number(const std::string& s) {
  return s.size() == 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Equal-length decimal strings compare as numbers.
bool sequence_less(const std::string& a, const std::string& b) {
  return a.size() == b.size() ? a < b : a.size() < b.size();
}

struct Fixture {
  TempDir dir;
  int64_t now = kStart;
  int64_t dedup_window_ms = kWindow;
  std::unique_ptr<Engine> engine;

  Fixture() { reopen(); }

  fs::path data_dir() const { return dir.path() / "data"; }

  void reopen() {
    engine.reset();
    EngineOptions options;
    options.now_ms = [this] { return now; };
    options.dedup_window_ms = dedup_window_ms;
    RocksOptions rocks;
    rocks.data_dir = data_dir().string();
    std::string error;
    engine = open_rocksdb_engine(options, rocks, error);
    INFO(error);
    REQUIRE(engine);
  }

  void advance_ms(int64_t ms) { now += ms; }
  void advance_s(int64_t s) { now += s * 1000; }

  Engine* operator->() { return engine.get(); }

  void create(const std::string& name, const AttributeMap& attributes = {}) {
    auto r = engine->create_queue(name, attributes, {});
    INFO(outcome(r));
    REQUIRE(r.ok());
  }

  AttributeMap attributes(const std::string& name) {
    auto r = engine->get_queue(name);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r->attributes;
  }

  SentMessage send(const std::string& queue, const std::string& body, const std::string& group,
                   const std::string& dedup = "") {
    auto r = engine->send_message(queue, message(body, group, dedup));
    INFO("send " << body << " to " << queue << ": " << outcome(r));
    REQUIRE(r.ok());
    return r.value();
  }

  std::vector<ReceivedMessage> receive(const std::string& queue, int max = 10,
                                       std::optional<int> visibility = std::nullopt, const std::string& attempt = "") {
    auto r = engine->receive_messages(queue, max, visibility, attempt);
    INFO("receive from " << queue << ": " << outcome(r));
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

  void remove(const std::string& queue, const ReceivedMessage& m) {
    auto st = engine->delete_message(queue, m.receipt_handle);
    INFO("delete " << m.body << ": " << outcome(st));
    REQUIRE(st.ok());
  }

  void change(const std::string& queue, const ReceivedMessage& m, int timeout) {
    auto st = engine->change_visibility(queue, m.receipt_handle, timeout);
    INFO("change visibility of " << m.body << ": " << outcome(st));
    REQUIRE(st.ok());
  }

  // Every visible message of the queue, left in flight for long.
  std::vector<ReceivedMessage> drain(const std::string& queue) {
    std::vector<ReceivedMessage> out;
    for (int i = 0; i < 1000; ++i) {
      auto got = receive(queue, 10, 43200);
      if (got.empty()) break;
      out.insert(out.end(), got.begin(), got.end());
    }
    return out;
  }

  // Every message of the queue, each deleted once received (so that FIFO
  // groups unlock), in the order received.
  std::vector<ReceivedMessage> consume(const std::string& queue) {
    std::vector<ReceivedMessage> out;
    for (int i = 0; i < 1000; ++i) {
      auto got = receive(queue, 10, 43200);
      if (got.empty()) break;
      for (const auto& m : got) remove(queue, m);
      out.insert(out.end(), got.begin(), got.end());
    }
    return out;
  }

  MoveTask latest_task(const std::string& source) {
    auto r = engine->list_move_tasks(source, 1);
    INFO(outcome(r));
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    return r->front();
  }

  std::string start_task(const std::string& source, std::optional<std::string> destination = std::nullopt,
                         std::optional<int> rate = std::nullopt) {
    auto r = engine->start_move_task(source, destination, rate);
    INFO(outcome(r));
    REQUIRE(r.ok());
    return r.value();
  }

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

  // The number of FIFO dedup records on disk (the engine is closed and
  // reopened around the look).
  size_t dedup_records_on_disk() {
    engine.reset();
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "queues", "message_content", "message_state", "move_tasks", "dedup"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data_dir().string(), families, &handles, &raw);
    INFO(s.ToString());
    REQUIRE(s.ok());
    size_t n = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[5]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
    reopen();
    return n;
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

using Bodies = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------------------
// Creation and the queue type rules

TEST_CASE("FIFO queues: creation, defaults and the type rules of attributes", "[fifo][queues]") {
  Fixture f;
  auto created = f->create_queue("q.fifo", {{"FifoQueue", "true"}}, {});
  INFO(outcome(created));
  REQUIRE(created.ok());
  for (const AttributeMap& attributes : {created->attributes, f.attributes("q.fifo")}) {
    CHECK(attributes.at("FifoQueue") == "true");
    CHECK(attributes.at("ContentBasedDeduplication") == "false");
    CHECK(attributes.at("DeduplicationScope") == "queue");
    CHECK(attributes.at("FifoThroughputLimit") == "perQueue");
  }
  // Idempotent with equal attributes; a different value is QueueNameExists.
  CHECK(f->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  CHECK(code_of(f->create_queue("q.fifo", fifo({{"ContentBasedDeduplication", "true"}}), {})) == "QueueNameExists");

  // The name and FifoQueue must agree.
  CHECK(code_of(f->create_queue("q", {{"FifoQueue", "true"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue("other.fifo", {}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue("other.fifo", {{"FifoQueue", "false"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue(".fifo", {{"FifoQueue", "true"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue(std::string(76, 'x') + ".fifo", fifo(), {})) == "InvalidParameterValue");
  CHECK(f->create_queue(std::string(75, 'x') + ".fifo", fifo(), {}).ok());
  CHECK(code_of(f->create_queue("q.fifo", {{"FifoQueue", "maybe"}}, {})) == "InvalidAttributeValue");

  // FifoQueue is create-only.
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"FifoQueue", "true"}})) == "InvalidAttributeName");

  // FIFO-only attributes on a standard queue are unknown attributes.
  f.create("std");
  const AttributeMap std_attributes = f.attributes("std");
  CHECK(std_attributes.count("ContentBasedDeduplication") == 0);
  CHECK(std_attributes.count("DeduplicationScope") == 0);
  CHECK(std_attributes.count("FifoThroughputLimit") == 0);
  CHECK((std_attributes.count("FifoQueue") == 0 || std_attributes.at("FifoQueue") == "false"));
  const std::vector<std::pair<std::string, std::string>> fifo_only = {
      {"ContentBasedDeduplication", "false"}, {"DeduplicationScope", "queue"}, {"FifoThroughputLimit", "perQueue"}};
  for (const auto& [name, value] : fifo_only) {
    CAPTURE(name);
    CHECK(code_of(f->create_queue("std2", {{name, value}}, {})) == "InvalidAttributeName");
    CHECK(code_of(f->set_queue_attributes("std", {{name, value}})) == "InvalidAttributeName");
  }
  CHECK(f.attributes("std") == std_attributes);
  CHECK(f->list_queues("std2").empty());

  // perMessageGroupId throughput needs messageGroup deduplication scope.
  CHECK(code_of(f->create_queue("t1.fifo", fifo({{"FifoThroughputLimit", "perMessageGroupId"}}), {})) ==
        "InvalidAttributeValue");
  CHECK(code_of(f->create_queue(
            "t1.fifo", fifo({{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "queue"}}), {})) ==
        "InvalidAttributeValue");
  CHECK(f->list_queues("t1").empty());
  CHECK(f->create_queue("t2.fifo",
                        fifo({{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "messageGroup"}}),
                        {})
            .ok());
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"FifoThroughputLimit", "perMessageGroupId"}})) ==
        "InvalidAttributeValue");
  CHECK(f.attributes("q.fifo").at("FifoThroughputLimit") == "perQueue");
  CHECK(f->set_queue_attributes("q.fifo",
                                {{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "messageGroup"}})
            .ok());
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "queue"}})) == "InvalidAttributeValue");
  CHECK(f.attributes("q.fifo").at("DeduplicationScope") == "messageGroup");
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "group"}})) == "InvalidAttributeValue");
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "yes"}})) == "InvalidAttributeValue");
  CHECK(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "true"}}).ok());

  // All of it persists, and the queue is still FIFO after a reopen.
  f.reopen();
  const AttributeMap after = f.attributes("q.fifo");
  CHECK(after.at("FifoQueue") == "true");
  CHECK(after.at("ContentBasedDeduplication") == "true");
  CHECK(after.at("DeduplicationScope") == "messageGroup");
  CHECK(after.at("FifoThroughputLimit") == "perMessageGroupId");
  CHECK(code_of(f->send_message("q.fifo", message("no group", ""))) == "MissingParameter");
}

// ---------------------------------------------------------------------------
// Send rules

TEST_CASE("FIFO send rules: group required, no per-message delay, dedup id or content-based", "[fifo][send]") {
  Fixture f;
  f.create("q.fifo", fifo());
  f.create("std");

  CHECK(code_of(f->send_message("q.fifo", message("body", "", "d1"))) == "MissingParameter");
  NewMessage delayed = message("body", "g", "d1");
  delayed.delay_seconds = 5;
  CHECK(code_of(f->send_message("q.fifo", delayed)) == "InvalidParameterValue");
  CHECK(code_of(f->send_message("q.fifo", message("body", "g"))) == "InvalidParameterValue");
  CHECK_COUNTS(f, "q.fifo", 0, 0, 0);

  // On a standard queue a dedup id is invalid; a group id makes a fair queue.
  CHECK(code_of(f->send_message("std", message("body", "", "d1"))) == "InvalidParameterValue");
  CHECK(code_of(f->send_message("std", message("body", "g", "d1"))) == "InvalidParameterValue");
  auto fair = f->send_message("std", message("body", "g"));
  CHECK(fair.ok());
  if (fair.ok()) CHECK(fair->sequence_number.empty());
  CHECK_COUNTS(f, "std", 1, 0, 0);

  // In a batch each entry is judged on its own.
  std::vector<NewMessage> batch;
  batch.push_back(message("one", "g", "d-one"));
  batch.push_back(message("no group", "", "d-two"));
  batch.push_back(message("no dedup", "g"));
  batch.push_back(message("four", "g", "d-four"));
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 4);
  CHECK((*results)[0].ok());
  CHECK(code_of((*results)[1]) == "MissingParameter");
  CHECK(code_of((*results)[2]) == "InvalidParameterValue");
  CHECK((*results)[3].ok());
  CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  CHECK(bodies(f.receive("q.fifo")) == Bodies{"one", "four"});
}

TEST_CASE("FIFO sequence numbers: 20 digits, strictly increasing, also across reopen", "[fifo][send][durability]") {
  Fixture f;
  f.create("q.fifo", fifo());
  std::vector<std::string> numbers;
  std::map<std::string, std::string> by_id;
  for (int i = 0; i < 5; ++i) {
    auto sent = f.send("q.fifo", "m" + std::to_string(i), i % 2 ? "odd" : "even", "d" + std::to_string(i));
    numbers.push_back(sent.sequence_number);
    by_id[sent.message_id] = sent.sequence_number;
  }
  // A batch gets numbers too.
  std::vector<NewMessage> batch;
  for (int i = 5; i < 8; ++i) batch.push_back(message("m" + std::to_string(i), "even", "d" + std::to_string(i)));
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  for (auto& r : *results) {
    REQUIRE(r.ok());
    numbers.push_back(r->sequence_number);
    by_id[r->message_id] = r->sequence_number;
  }
  f.reopen();
  for (int i = 8; i < 11; ++i) {
    auto sent = f.send("q.fifo", "m" + std::to_string(i), "even", "d" + std::to_string(i));
    numbers.push_back(sent.sequence_number);
    by_id[sent.message_id] = sent.sequence_number;
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    CAPTURE(i, numbers[i]);
    CHECK(is_sequence_number(numbers[i]));
    if (i > 0) CHECK(sequence_less(numbers[i - 1], numbers[i]));
  }
  // Received messages carry the number their send answered.
  auto got = f.consume("q.fifo");
  CHECK(got.size() == 11);
  for (const auto& m : got) {
    CAPTURE(m.body);
    CHECK(m.sequence_number == by_id[m.message_id]);
  }
  f.reopen();
  auto later = f.send("q.fifo", "after", "g", "d-after");
  CHECK(is_sequence_number(later.sequence_number));
  CHECK(sequence_less(numbers.back(), later.sequence_number));
}

// ---------------------------------------------------------------------------
// Message groups: order and locks

TEST_CASE("FIFO receive returns each group in order, then the groups are locked", "[fifo][groups]") {
  Fixture f;
  f.create("q.fifo", fifo());
  for (const char* body : {"a1", "a2", "a3"}) f.send("q.fifo", body, "a", body);
  for (const char* body : {"b1", "b2", "b3"}) f.send("q.fifo", body, "b", body);

  auto got = f.receive("q.fifo", 10);
  CHECK(bodies(got) == Bodies{"a1", "a2", "a3", "b1", "b2", "b3"});
  for (size_t i = 1; i < got.size(); ++i) CHECK(sequence_less(got[i - 1].sequence_number, got[i].sequence_number));
  for (const auto& m : got) CHECK(system_attribute(m, "MessageGroupId") == std::string(1, m.body[0]));
  CHECK(f.receive("q.fifo", 10).empty());
  CHECK_COUNTS(f, "q.fifo", 0, 6, 0);
}

TEST_CASE("FIFO groups sent interleaved are each delivered in order", "[fifo][groups]") {
  Fixture f;
  f.create("q.fifo", fifo());
  for (int i = 1; i <= 4; ++i) {
    for (const char* g : {"x", "y", "z"}) f.send("q.fifo", g + std::to_string(i), g, g + std::to_string(i));
  }
  auto got = f.receive("q.fifo", 10);
  auto more = f.receive("q.fifo", 10);  // the rest of a group cut off by max 10 is locked
  CHECK(got.size() == 10);
  CHECK(more.empty());
  for (const char* g : {"x", "y", "z"}) {
    auto in_group = bodies_of_group(got, g);
    CAPTURE(g);
    // A prefix of the group's messages.
    const Bodies all = {g + std::string("1"), g + std::string("2"), g + std::string("3"), g + std::string("4")};
    CHECK(in_group == Bodies(all.begin(), all.begin() + static_cast<long>(in_group.size())));
  }
}

TEST_CASE("FIFO receive one at a time: a locked group is skipped, not overtaken", "[fifo][groups][visibility]") {
  Fixture f;
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  for (const char* body : {"a1", "a2", "a3"}) f.send("q.fifo", body, "a", body);
  for (const char* body : {"b1", "b2", "b3"}) f.send("q.fifo", body, "b", body);

  SECTION("a1, then b1 (a is locked), then nothing") {
    CHECK(f.receive_one("q.fifo").body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    CHECK(f.receive("q.fifo", 1).empty());
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 4, 2, 0);
  }

  SECTION("when a1's visibility expires, a1 comes again first") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    f.advance_s(1);
    CHECK(f.receive_one("q.fifo").body == "b1");  // in flight until 31 s
    f.advance_ms(28'999);
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);  // 30 s: a1 is visible again
    CHECK_COUNTS(f, "q.fifo", 5, 1, 0);
    const ReceivedMessage again = f.receive_one("q.fifo");
    CHECK(again.body == "a1");
    CHECK(again.message_id == a1.message_id);
    CHECK(again.receive_count == 2);
    CHECK(again.first_receive_ms == kStart);
    CHECK(again.receipt_handle != a1.receipt_handle);
    CHECK(f.receive("q.fifo", 10).empty());
  }

  SECTION("change_visibility(a1, 0) makes a1 deliverable again before a2") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    f.change("q.fifo", a1, 0);
    CHECK_COUNTS(f, "q.fifo", 5, 1, 0);
    const ReceivedMessage again = f.receive_one("q.fifo");
    CHECK(again.body == "a1");
    CHECK(again.receive_count == 2);
    // And with max 10: still only a1's group, from a1 on.
    f.change("q.fifo", again, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2", "a3"});
  }

  SECTION("deleting a1 unlocks the group: a2 is next") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    f.remove("q.fifo", a1);
    CHECK(f.receive_one("q.fifo").body == "a2");
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 3, 2, 0);
  }

  SECTION("a partly received group stays locked while any of it is in flight") {
    auto got = f.receive("q.fifo", 2);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.remove("q.fifo", got[0]);
    // a2 is still in flight: a3 must wait.
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1", "b2", "b3"});
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 1, 4, 0);
    f.remove("q.fifo", got[1]);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a3"});
  }

  SECTION("a message made visible while a later one is in flight waits for the group") {
    auto got = f.receive("q.fifo", 2);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.change("q.fifo", got[0], 0);  // a1 visible, a2 still in flight
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1", "b2", "b3"});
    CHECK(f.receive("q.fifo", 10).empty());
    f.change("q.fifo", got[1], 0);
    auto again = f.receive("q.fifo", 10);
    CHECK(bodies(again) == Bodies{"a1", "a2", "a3"});
    if (again.size() == 3) {
      CHECK(again[0].receive_count == 2);
      CHECK(again[1].receive_count == 2);
      CHECK(again[2].receive_count == 1);
    }
  }
}

TEST_CASE("queue DelaySeconds on a FIFO queue delays messages without blocking other groups", "[fifo][delay]") {
  Fixture f;
  f.create("q.fifo", fifo({{"DelaySeconds", "10"}}));

  SECTION("a group's messages wait for the queue's delay") {
    f.send("q.fifo", "a1", "a", "a1");
    f.send("q.fifo", "a2", "a", "a2");
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 0, 0, 2);
    f.advance_ms(9'999);
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2"});
  }

  SECTION("a group whose head is delayed blocks neither other groups nor is overtaken by its own later messages") {
    f.send("q.fifo", "a1", "a", "a1");  // visible at 10 s
    REQUIRE(f->set_queue_attributes("q.fifo", {{"DelaySeconds", "0"}}).ok());
    f.advance_s(1);
    f.send("q.fifo", "b1", "b", "b1");  // visible at once
    f.send("q.fifo", "a2", "a", "a2");  // visible at once, but behind a1
    CHECK_COUNTS(f, "q.fifo", 2, 0, 1);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_s(9);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2"});
  }
}

// ---------------------------------------------------------------------------
// Deduplication

TEST_CASE("FIFO dedup: the same id within the window is the same message", "[fifo][dedup]") {
  Fixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send("q.fifo", "first", "g", "d1");
  f.advance_s(10);
  const SentMessage second = f.send("q.fifo", "second", "g", "d1");
  CHECK(second.message_id == first.message_id);
  CHECK(second.sequence_number == first.sequence_number);
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);

  SECTION("also after the first was received and deleted") {
    const ReceivedMessage m = f.receive_one("q.fifo");
    CHECK(m.body == "first");
    CHECK(system_attribute(m, "MessageDeduplicationId") == "d1");
    CHECK(system_attribute(m, "MessageGroupId") == "g");
    f.remove("q.fifo", m);
    const SentMessage third = f.send("q.fifo", "third", "g", "d1");
    CHECK(third.message_id == first.message_id);
    CHECK(third.sequence_number == first.sequence_number);
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
    CHECK(f.receive("q.fifo", 10).empty());
  }

  SECTION("until the window ends; then a new message") {
    f.advance_ms(kWindow - 10'000 - 1);  // 1 ms before the end of the window
    CHECK(f.send("q.fifo", "still", "g", "d1").message_id == first.message_id);
    f.advance_ms(1);
    const SentMessage fresh = f.send("q.fifo", "fresh", "g", "d1");
    CHECK(fresh.message_id != first.message_id);
    CHECK(sequence_less(first.sequence_number, fresh.sequence_number));
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"first", "fresh"});
  }
}

TEST_CASE("FIFO dedup: a message sent again after the window is deduplicated in its own window", "[fifo][dedup]") {
  Fixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send("q.fifo", "first", "g", "d1");
  f.advance_ms(kWindow + 1);  // no run_due_work in between
  const SentMessage second = f.send("q.fifo", "second", "g", "d1");
  REQUIRE(second.message_id != first.message_id);

  SECTION("before the old entry is swept") {
    f.advance_s(1);
    CHECK(f.send("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("after run_due_work swept the old entry") {
    f.advance_s(1);
    f->run_due_work();
    CHECK(f.send("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("run_due_work keeps working after sweeping the old entry") {
    f.advance_s(1);
    CHECK_NOTHROW(f->run_due_work());
    f.advance_s(1);
    CHECK_NOTHROW(f->run_due_work());
    f.advance_ms(kWindow);
    CHECK_NOTHROW(f->run_due_work());
    CHECK(f.send("q.fifo", "after its window", "g", "d1").message_id != second.message_id);
  }
  SECTION("and across a reopen") {
    f.advance_s(1);
    f->run_due_work();
    f.reopen();
    CHECK(f.send("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
}

TEST_CASE("FIFO dedup: content-based deduplication uses the SHA-256 of the body", "[fifo][dedup]") {
  Fixture f;
  f.create("q.fifo", fifo({{"ContentBasedDeduplication", "true"}}));
  const SentMessage hello = f.send("q.fifo", "hello", "g");
  CHECK(f.send("q.fifo", "hello", "h").message_id == hello.message_id);  // queue scope: any group
  const SentMessage other = f.send("q.fifo", "hello!", "g");
  CHECK(other.message_id != hello.message_id);
  // An explicit id takes precedence over the body.
  const SentMessage explicit_id = f.send("q.fifo", "hello", "g", "explicit");
  CHECK(explicit_id.message_id != hello.message_id);
  CHECK(f.send("q.fifo", "different body", "g", "explicit").message_id == explicit_id.message_id);
  // The content-based id equals an explicit id of the same value.
  const std::string sha_hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  CHECK(f.send("q.fifo", "not hello", "g", sha_hello).message_id == hello.message_id);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);

  auto got = f.receive("q.fifo", 10);
  REQUIRE(bodies(got) == Bodies{"hello", "hello!", "hello"});
  CHECK(system_attribute(got[0], "MessageDeduplicationId") == sha_hello);
  CHECK(system_attribute(got[1], "MessageDeduplicationId").size() == 64);
  CHECK(system_attribute(got[2], "MessageDeduplicationId") == "explicit");

  // Turning it off again makes the id required.
  REQUIRE(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "false"}}).ok());
  CHECK(code_of(f->send_message("q.fifo", message("hello", "g"))) == "InvalidParameterValue");
}

TEST_CASE("FIFO dedup scope: queue or message group", "[fifo][dedup]") {
  Fixture f;
  SECTION("queue scope: the same id in another group is a duplicate") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "queue"}}));
    const SentMessage first = f.send("q.fifo", "g-one", "g", "d1");
    CHECK(f.send("q.fifo", "h-one", "h", "d1").message_id == first.message_id);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  }
  SECTION("messageGroup scope: only the same group deduplicates") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "messageGroup"}}));
    const SentMessage g1 = f.send("q.fifo", "g-one", "g", "d1");
    const SentMessage h1 = f.send("q.fifo", "h-one", "h", "d1");
    CHECK(h1.message_id != g1.message_id);
    CHECK(f.send("q.fifo", "g-two", "g", "d1").message_id == g1.message_id);
    CHECK(f.send("q.fifo", "h-two", "h", "d1").message_id == h1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    f.reopen();
    CHECK(f.send("q.fifo", "g-three", "g", "d1").message_id == g1.message_id);
    CHECK(f.send("q.fifo", "h-three", "h", "d1").message_id == h1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("messageGroup scope with content-based deduplication") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "messageGroup"}, {"ContentBasedDeduplication", "true"}}));
    const SentMessage g1 = f.send("q.fifo", "same", "g");
    CHECK(f.send("q.fifo", "same", "h").message_id != g1.message_id);
    CHECK(f.send("q.fifo", "same", "g").message_id == g1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
}

TEST_CASE("FIFO dedup within one send_messages batch", "[fifo][dedup][batches]") {
  Fixture f;
  f.create("q.fifo", fifo());
  const SentMessage before = f.send("q.fifo", "before", "g", "d0");
  std::vector<NewMessage> batch;
  batch.push_back(message("first", "g", "d1"));
  batch.push_back(message("second", "g", "d1"));
  batch.push_back(message("third", "h", "d2"));
  batch.push_back(message("fourth", "h", "d1"));  // queue scope: a duplicate of "first"
  batch.push_back(message("fifth", "h", "d0"));   // a duplicate of a message sent before
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 5);
  for (auto& r : *results) REQUIRE(r.ok());
  const auto& r = *results;
  CHECK(r[1]->message_id == r[0]->message_id);
  CHECK(r[1]->sequence_number == r[0]->sequence_number);
  CHECK(r[2]->message_id != r[0]->message_id);
  CHECK(r[3]->message_id == r[0]->message_id);
  CHECK(r[3]->sequence_number == r[0]->sequence_number);
  CHECK(r[4]->message_id == before.message_id);
  CHECK(r[4]->sequence_number == before.sequence_number);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);
  CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"before", "first", "third"});
  // The batch's entries are in the window like any other.
  CHECK(f.send("q.fifo", "later", "g", "d2").message_id == r[2]->message_id);
}

TEST_CASE("FIFO dedup entries survive reopen within the window and expire after it", "[fifo][dedup][durability]") {
  Fixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send("q.fifo", "first", "g", "d1");

  SECTION("within the window, after a reopen: the same message") {
    f.advance_s(100);
    f.reopen();
    const SentMessage again = f.send("q.fifo", "again", "g", "d1");
    CHECK(again.message_id == first.message_id);
    CHECK(again.sequence_number == first.sequence_number);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
    // Also after the message itself was received and deleted.
    f.remove("q.fifo", f.receive_one("q.fifo"));
    f.reopen();
    CHECK(f.send("q.fifo", "again", "g", "d1").message_id == first.message_id);
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
  }

  SECTION("within the window the record is kept when RocksDB writes it out") {
    f.advance_ms(kWindow - 1);
    f->run_due_work();
    f.reopen();  // the recovery flush writes the WAL out through the compaction filter
    CHECK(f.dedup_records_on_disk() == 1);
    CHECK(f.send("q.fifo", "dup", "g", "d1").message_id == first.message_id);
  }

  SECTION("expired entries leave memory, and disk when RocksDB next writes them out") {
    f.advance_ms(kWindow - 1);
    f->run_due_work();
    CHECK(f.send("q.fifo", "dup", "g", "d1").message_id == first.message_id);
    f.advance_ms(1);
    f->run_due_work();
    f.reopen();  // the recovery flush drops the expired record
    CHECK(f.dedup_records_on_disk() == 0);
    SECTION("a reopen after the sweep does not bring them back") {
      f.reopen();
      const SentMessage fresh = f.send("q.fifo", "fresh", "g", "d1");
      CHECK(fresh.message_id != first.message_id);
      CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    }
    SECTION("without a reopen either") {
      CHECK(f.send("q.fifo", "fresh", "g", "d1").message_id != first.message_id);
      CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    }
  }

  SECTION("a reopen after the window (nothing swept) does not resurrect them") {
    f.advance_ms(kWindow);
    f.reopen();
    const SentMessage fresh = f.send("q.fifo", "fresh", "g", "d1");
    CHECK(fresh.message_id != first.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    // And the new entry holds, across another reopen and sweep.
    f.advance_s(1);
    f->run_due_work();
    f.reopen();
    CHECK(f.send("q.fifo", "dup", "g", "d1").message_id == fresh.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }

  SECTION("a shorter window from EngineOptions") {
    f.dedup_window_ms = 5'000;
    f.reopen();  // the entry on disk keeps the expiry it was written with
    f.advance_ms(4'999);
    const SentMessage second = f.send("q.fifo", "second", "g", "d2");
    CHECK(f.send("q.fifo", "dup", "g", "d2").message_id == second.message_id);
    f.advance_ms(5'000);
    CHECK(f.send("q.fifo", "fresh", "g", "d2").message_id != second.message_id);
  }
}

TEST_CASE("a FIFO queue deleted and created again forgets its dedup entries", "[fifo][dedup]") {
  Fixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send("q.fifo", "first", "g", "d1");
  REQUIRE(f->delete_queue("q.fifo").ok());
  f.advance_s(61);
  f.create("q.fifo", fifo());
  CHECK(f.send("q.fifo", "new queue", "g", "d1").message_id != first.message_id);
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  f.reopen();
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
}

// ---------------------------------------------------------------------------
// ReceiveRequestAttemptId

TEST_CASE("FIFO receive attempt ids: a retry returns the same receive", "[fifo][attempts]") {
  Fixture f;
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  f.send("q.fifo", "a1", "a", "a1");
  f.send("q.fifo", "a2", "a", "a2");
  f.send("q.fifo", "b1", "b", "b1");
  const auto first = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
  REQUIRE(bodies(first) == Bodies{"a1", "a2"});

  SECTION("same ids and receipt handles, receive count unchanged, deadline reset") {
    f.advance_s(10);
    const auto retry = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    REQUIRE(retry.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(retry[i].message_id == first[i].message_id);
      CHECK(retry[i].receipt_handle == first[i].receipt_handle);
      CHECK(retry[i].body == first[i].body);
      CHECK(retry[i].receive_count == 1);
      CHECK(retry[i].sequence_number == first[i].sequence_number);
    }
    CHECK_COUNTS(f, "q.fifo", 1, 2, 0);
    // A second retry works too.
    f.advance_s(10);
    const auto retry2 = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    CHECK(bodies(retry2) == Bodies{"a1", "a2"});
    // In flight until 20 + 30 s, past the first receive's 30 s.
    f.advance_s(29);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});
    CHECK_COUNTS(f, "q.fifo", 0, 3, 0);
    f.advance_s(1);
    auto again = f.receive("q.fifo", 10);
    CHECK(bodies(again) == Bodies{"a1", "a2"});
    if (!again.empty()) CHECK(again[0].receive_count == 2);
  }

  SECTION("the retried receipt handles are valid") {
    const auto retry = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    REQUIRE(retry.size() == 2);
    f.remove("q.fifo", retry[0]);
    f.remove("q.fifo", retry[1]);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  }

  SECTION("another attempt id is a fresh receive") {
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-2")) == Bodies{"b1"});
  }

  SECTION("after a delete of one of its messages, a fresh receive") {
    f.remove("q.fifo", first[0]);
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1"});  // a2 keeps a locked
    CHECK_COUNTS(f, "q.fifo", 0, 2, 0);
  }

  SECTION("after a visibility change of one of its messages, a fresh receive") {
    f.change("q.fifo", first[1], 60);
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1"});
    CHECK_COUNTS(f, "q.fifo", 0, 3, 0);
  }

  SECTION("after a visibility change to 0 of one of its messages, a fresh receive") {
    f.change("q.fifo", first[0], 0);
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1"});  // a2 keeps a locked
    CHECK_COUNTS(f, "q.fifo", 1, 2, 0);
  }
}

TEST_CASE("FIFO receive attempt ids end with the dedup window", "[fifo][attempts]") {
  Fixture f;
  f.create("q.fifo", fifo());
  f.send("q.fifo", "a1", "a", "a1");
  f.send("q.fifo", "b1", "b", "b1");
  // In flight for longer than the window.
  const auto first = f.receive("q.fifo", 1, 1000, "attempt-1");
  REQUIRE(bodies(first) == Bodies{"a1"});
  f.advance_ms(kWindow - 1);
  CHECK(bodies(f.receive("q.fifo", 1, 1000, "attempt-1")) == Bodies{"a1"});
  f.advance_ms(1);
  CHECK(bodies(f.receive("q.fifo", 1, 1000, "attempt-1")) == Bodies{"b1"});
  CHECK_COUNTS(f, "q.fifo", 0, 2, 0);
}

TEST_CASE("standard queues ignore receive attempt ids", "[fifo][attempts]") {
  Fixture f;
  f.create("std");
  f.send("std", "m1", "");
  f.send("std", "m2", "");
  const auto first = f.receive("std", 1, 30, "attempt-1");
  const auto second = f.receive("std", 1, 30, "attempt-1");
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(first[0].message_id != second[0].message_id);
  CHECK(f.receive("std", 1, 30, "attempt-1").empty());
  CHECK_COUNTS(f, "std", 0, 2, 0);
}

// ---------------------------------------------------------------------------
// Group locks across reopen

TEST_CASE("FIFO group locks survive a reopen until the in-flight message's deadline", "[fifo][groups][durability]") {
  Fixture f;
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  f.send("q.fifo", "a1", "a", "a1");
  f.send("q.fifo", "a2", "a", "a2");
  f.send("q.fifo", "b1", "b", "b1");

  SECTION("one message in flight") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    f.advance_s(10);
    f.reopen();
    CHECK_COUNTS(f, "q.fifo", 2, 1, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});  // not a2
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(19'999);
    f.reopen();
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);  // a1's old deadline
    auto again = f.receive("q.fifo", 10);
    REQUIRE(bodies(again) == Bodies{"a1", "a2"});
    CHECK(again[0].receive_count == 2);
    CHECK(again[0].first_receive_ms == kStart);
    CHECK(again[1].receive_count == 1);
  }

  SECTION("the head deleted, the next still in flight") {
    auto got = f.receive("q.fifo", 10, 60);
    REQUIRE(bodies(got) == Bodies{"a1", "a2", "b1"});
    f.remove("q.fifo", got[0]);
    f.change("q.fifo", got[2], 0);
    f.send("q.fifo", "a3", "a", "a3");
    f.reopen();
    CHECK_COUNTS(f, "q.fifo", 2, 1, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});  // not a3
    // The old handle still works after the reopen.
    f.remove("q.fifo", got[1]);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a3"});
  }

  SECTION("a visible head behind which a message is in flight") {
    auto got = f.receive("q.fifo", 2, 60);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.change("q.fifo", got[0], 0);
    f.reopen();
    CHECK(bodies(f.receive("q.fifo", 10, 120)) == Bodies{"b1"});
    f.advance_s(60);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2"});
  }
}

// ---------------------------------------------------------------------------
// FIFO redrive

TEST_CASE("a FIFO queue's dead-letter queue must be FIFO, and a standard queue's standard", "[fifo][redrive]") {
  Fixture f;
  f.create("dlq");
  f.create("dlq.fifo", fifo());
  CHECK(code_of(f->create_queue("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq", 1)}}), {})) ==
        "InvalidParameterValue");
  CHECK(f->list_queues("src").empty());
  CHECK(code_of(f->create_queue("src", {{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}, {})) == "InvalidParameterValue");
  f.create("src.fifo", fifo());
  CHECK(code_of(f->set_queue_attributes("src.fifo", {{"RedrivePolicy", redrive_to("dlq", 1)}})) ==
        "InvalidParameterValue");
  CHECK(f.attributes("src.fifo").count("RedrivePolicy") == 0);
  CHECK(f->set_queue_attributes("src.fifo", {{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}).ok());
}

TEST_CASE("FIFO redrive moves the group's head and delivers the next in order", "[fifo][redrive]") {
  Fixture f;
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));  // VisibilityTimeout 30
  const SentMessage a1 = f.send("src.fifo", "a1", "a", "dedup-a1");
  f.send("src.fifo", "a2", "a", "dedup-a2");
  f.send("src.fifo", "a3", "a", "dedup-a3");
  f.send("src.fifo", "b1", "b", "dedup-b1");

  CHECK(f.receive_one("src.fifo").body == "a1");
  f.advance_s(30);
  const int64_t moved_at = f.now;
  // The second receive of a1 moves it; a2 follows in this or the next receive.
  auto got = f.receive("src.fifo", 1);
  if (got.empty()) got = f.receive("src.fifo", 1);
  REQUIRE(bodies(got) == Bodies{"a2"});
  CHECK(got[0].receive_count == 1);
  CHECK_COUNTS(f, "dlq.fifo", 1, 0, 0);
  CHECK(bodies(f.receive("src.fifo", 10)) == Bodies{"b1"});  // a is locked by a2
  f.remove("src.fifo", got[0]);
  CHECK(bodies(f.receive("src.fifo", 10)) == Bodies{"a3"});

  const ReceivedMessage dead = f.receive_one("dlq.fifo");
  CHECK(dead.message_id == a1.message_id);
  CHECK(dead.body == "a1");
  CHECK(system_attribute(dead, "MessageGroupId") == "a");
  // AWS: "When a message is moved from a FIFO queue to a FIFO DLQ, the
  // original message's deduplication ID will be replaced with the original
  // message's ID" (SQS Developer Guide, dead-letter queue redrive).
  CHECK(system_attribute(dead, "MessageDeduplicationId") == a1.message_id);
  CHECK(system_attribute(dead, "DeadLetterQueueSourceArn") == arn_of("src.fifo"));
  CHECK(is_sequence_number(dead.sequence_number));
  // FIFO queues reset the enqueue time when a message moves to the DLQ.
  CHECK(dead.sent_ms == moved_at);
}

TEST_CASE("a FIFO dead letter's retention counts from its move", "[fifo][redrive][retention]") {
  Fixture f;
  f.create("dlq.fifo", fifo({{"MessageRetentionPeriod", "60"}}));
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.send("src.fifo", "a1", "a", "a1");
  f.receive_one("src.fifo", 0);
  f.advance_s(100);
  CHECK(f.receive("src.fifo", 10).empty());  // moved at 100 s
  CHECK(f.total("dlq.fifo") == 1);
  f.advance_s(59);
  f->run_due_work();
  CHECK(f.total("dlq.fifo") == 1);
  CHECK(bodies(f.receive("dlq.fifo", 10, 0)) == Bodies{"a1"});
  f.reopen();
  CHECK(f.total("dlq.fifo") == 1);
  f.advance_s(1);
  f->run_due_work();
  CHECK(f.total("dlq.fifo") == 0);
}

TEST_CASE("FIFO redrive of several messages keeps each group's order in the DLQ", "[fifo][redrive]") {
  Fixture f;
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  for (const char* body : {"x1", "y1", "x2", "y2", "x3"}) f.send("src.fifo", body, std::string(1, body[0]), body);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == 5);
  CHECK(f.receive("src.fifo", 10).empty());
  CHECK(f.total("src.fifo") == 0);
  auto dead = f.consume("dlq.fifo");
  CHECK(dead.size() == 5);
  CHECK(bodies_of_group(dead, "x") == Bodies{"x1", "x2", "x3"});
  CHECK(bodies_of_group(dead, "y") == Bodies{"y1", "y2"});
}

namespace {

// Sends `bodies` to src.fifo (group: each body's first letter) and lets them
// all go to dlq.fifo (maxReceiveCount 1).
void dead_letter_all(Fixture& f, const std::vector<std::string>& messages) {
  for (const auto& body : messages) f.send("src.fifo", body, body.substr(0, 1), "dedup-" + body);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == messages.size());
  REQUIRE(f.receive("src.fifo", 10).empty());
  REQUIRE(f.total("src.fifo") == 0);
  REQUIRE(f.total("dlq.fifo") == messages.size());
}

}  // namespace

TEST_CASE("a move task from a FIFO DLQ keeps each group's order", "[fifo][move-tasks]") {
  Fixture f;
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo());
  dead_letter_all(f, {"x1", "y1", "x2", "y2", "x3", "y3", "z1"});

  auto check_moved = [&](const std::vector<ReceivedMessage>& got) {
    CHECK(got.size() == 7);
    CHECK(bodies_of_group(got, "x") == Bodies{"x1", "x2", "x3"});
    CHECK(bodies_of_group(got, "y") == Bodies{"y1", "y2", "y3"});
    CHECK(bodies_of_group(got, "z") == Bodies{"z1"});
    for (const auto& m : got) {
      CAPTURE(m.body);
      CHECK(system_attribute(m, "DeadLetterQueueSourceArn").empty());
      CHECK(is_sequence_number(m.sequence_number));
    }
  };

  SECTION("to a destination, two a second") {
    f.start_task("dlq.fifo", std::string("dest.fifo"), 2);
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    CHECK(f.total("dlq.fifo") == 0);
    check_moved(f.consume("dest.fifo"));
  }
  SECTION("back to the source") {
    f.start_task("dlq.fifo");
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    check_moved(f.consume("src.fifo"));
  }
  SECTION("a receiver one message at a time sees each group in order") {
    f.start_task("dlq.fifo", std::string("dest.fifo"), 1);
    std::map<std::string, Bodies> seen;
    for (int step = 0; step < 200 && f.total("dlq.fifo") + f.total("dest.fifo") > 0; ++step) {
      f.advance_ms(100);
      f->run_due_work();
      for (auto& m : f.receive("dest.fifo", 1)) {
        seen[system_attribute(m, "MessageGroupId")].push_back(m.body);
        f.remove("dest.fifo", m);
      }
    }
    CHECK(seen["x"] == Bodies{"x1", "x2", "x3"});
    CHECK(seen["y"] == Bodies{"y1", "y2", "y3"});
    CHECK(seen["z"] == Bodies{"z1"});
  }
}

TEST_CASE("messages moved out of a FIFO DLQ are new messages: new ids and enqueue times", "[fifo][move-tasks]") {
  // AWS: "The redrive task resets the retention period. All redriven messages
  // are considered new messages and are assigned a new messageID and
  // enqueueTime." (SQS Developer Guide, dead-letter queue redrive)
  Fixture f;
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo({{"MessageRetentionPeriod", "60"}}));
  std::set<std::string> old_ids;
  for (const char* body : {"x1", "x2"}) old_ids.insert(f.send("src.fifo", body, "x", body).message_id);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == 2);
  REQUIRE(f.receive("src.fifo", 10).empty());
  f.advance_s(100);
  const int64_t started = f.now;
  f.start_task("dlq.fifo", std::string("dest.fifo"));
  CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
  auto moved = f.receive("dest.fifo", 10, 0);
  REQUIRE(bodies(moved) == Bodies{"x1", "x2"});
  for (const auto& m : moved) {
    CAPTURE(m.body);
    CHECK(old_ids.count(m.message_id) == 0);
    CHECK(m.sent_ms >= started);
  }
  // Retention in the destination counts from the move.
  f.advance_s(59);
  f->run_due_work();
  CHECK(f.total("dest.fifo") == 2);
}

TEST_CASE("a move task does not let a FIFO DLQ group's later messages overtake one in flight", "[fifo][move-tasks]") {
  Fixture f;
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo());
  dead_letter_all(f, {"x1", "x2", "x3", "y1"});
  const ReceivedMessage x1 = f.receive_one("dlq.fifo", 60);
  REQUIRE(x1.body == "x1");
  f.start_task("dlq.fifo", std::string("dest.fifo"));
  for (int i = 0; i < 100; ++i) {  // 10 s
    f.advance_ms(100);
    f->run_due_work();
  }
  CHECK(f.total("dest.fifo") == 1);  // y1 only
  CHECK_COUNTS(f, "dlq.fifo", 2, 1, 0);
  CHECK(bodies(f.receive("dest.fifo", 10, 0)) == Bodies{"y1"});

  SECTION("once x1 is visible again, the group moves in order") {
    CHECK(f.latest_task("dlq.fifo").status == "RUNNING");
    f.advance_s(50);  // x1's deadline
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    auto got = f.consume("dest.fifo");
    CHECK(bodies_of_group(got, "x") == Bodies{"x1", "x2", "x3"});
    CHECK(bodies_of_group(got, "y") == Bodies{"y1"});
  }
  SECTION("once x1 is deleted, the rest of its group moves") {
    f.remove("dlq.fifo", x1);
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    auto got = f.consume("dest.fifo");
    CHECK(bodies_of_group(got, "x") == Bodies{"x2", "x3"});
  }
}

// ---------------------------------------------------------------------------
// Fair queues: standard queues with message groups

TEST_CASE("fair queues: a noisy group does not starve the others", "[fair]") {
  Fixture f;
  f.create("std");
  for (int b = 0; b < 10; ++b) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(message("noisy-" + std::to_string(b * 10 + i), "noisy"));
    auto results = f->send_messages("std", batch);
    REQUIRE(results.ok());
    for (auto& r : *results) REQUIRE(r.ok());
  }
  for (const char* g : {"t1", "t2", "t3"}) {
    for (int i = 0; i < 2; ++i) f.send("std", std::string(g) + "-" + std::to_string(i), g);
  }
  for (int i = 0; i < 3; ++i) f.send("std", "plain-" + std::to_string(i), "");
  CHECK_COUNTS(f, "std", 109, 0, 0);

  const auto first = f.receive("std", 10);
  CHECK(first.size() == 10);
  std::map<std::string, int> first_by_group;
  for (const auto& m : first) ++first_by_group[system_attribute(m, "MessageGroupId")];
  INFO("first receive: " << json(bodies(first)).dump());
  for (const char* g : {"t1", "t2", "t3"}) {
    CAPTURE(g);
    CHECK(first_by_group[g] >= 1);
  }
  // The plain messages are a group of their own and get their turn too.
  CHECK(first_by_group[""] >= 1);
  const auto second = f.receive("std", 10);
  std::map<std::string, int> by_group = first_by_group;
  for (const auto& m : second) ++by_group[system_attribute(m, "MessageGroupId")];
  for (const char* g : {"t1", "t2", "t3"}) {
    CAPTURE(g);
    CHECK(by_group[g] == 2);
  }
  CHECK_COUNTS(f, "std", 109 - first.size() - second.size(), first.size() + second.size(), 0);

  // Everything arrives exactly once; group ids are system attributes.
  const auto rest = f.drain("std");
  std::set<std::string> ids;
  for (const std::vector<ReceivedMessage>* part : {&first, &second, &rest}) {
    for (const auto& m : *part) {
      CHECK(ids.insert(m.message_id).second);
      CHECK(m.sequence_number.empty());
      const std::string group = system_attribute(m, "MessageGroupId");
      if (m.body.rfind("plain", 0) == 0) {
        CHECK(group.empty());
        CHECK(m.system_attributes.message_group_id.empty());
      } else {
        CHECK(group == m.body.substr(0, m.body.find('-')));
      }
      CHECK(m.system_attributes.message_deduplication_id.empty());
    }
  }
  CHECK(ids.size() == 109);
  CHECK_COUNTS(f, "std", 0, 109, 0);
  f.reopen();
  CHECK_COUNTS(f, "std", 0, 109, 0);
}

TEST_CASE("fair queues: the same share after a reopen, and for messages returning from flight", "[fair]") {
  Fixture f;
  f.create("std");
  for (int i = 0; i < 30; ++i) f.send("std", "noisy-" + std::to_string(i), "noisy");
  f.send("std", "quiet-0", "quiet");
  f.reopen();
  auto got = f.receive("std", 5, 0);  // visible again at once
  CHECK(bodies_of_group(got, "quiet") == Bodies{"quiet-0"});
  // The quiet message is visible again and still gets a turn among the noise.
  auto again = f.receive("std", 5);
  CHECK(bodies_of_group(again, "quiet") == Bodies{"quiet-0"});
  CHECK_COUNTS(f, "std", 31 - again.size(), again.size(), 0);
}

// ---------------------------------------------------------------------------
// The in-memory index against a model

namespace {

struct ModelMessage {
  std::string id;
  std::string group;
  std::string sequence_number;
  int64_t visible_at = 0;
  uint32_t receive_count = 0;
  std::string handle;  // from the latest receive
};

struct Model {
  std::map<uint64_t, ModelMessage> messages;  // by send order
  std::map<std::string, std::string> dedup;   // dedup id -> message id (ids never reused after the window)

  bool in_flight(const ModelMessage& m, int64_t now) const { return m.receive_count > 0 && m.visible_at > now; }
  bool delayed(const ModelMessage& m, int64_t now) const { return m.receive_count == 0 && m.visible_at > now; }
  bool visible(const ModelMessage& m, int64_t now) const { return m.visible_at <= now; }

  QueueCounts counts(int64_t now) const {
    QueueCounts c;
    for (const auto& [order, m] : messages) {
      if (in_flight(m, now)) {
        ++c.in_flight;
      } else if (delayed(m, now)) {
        ++c.delayed;
      } else {
        ++c.visible;
      }
    }
    return c;
  }

  // Each group's messages, in send order.
  std::map<std::string, std::vector<uint64_t>> groups() const {
    std::map<std::string, std::vector<uint64_t>> out;
    for (const auto& [order, m] : messages) out[m.group].push_back(order);
    return out;
  }

  bool group_deliverable(const std::vector<uint64_t>& group, int64_t now) const {
    for (uint64_t order : group) {
      if (in_flight(messages.at(order), now)) return false;
    }
    return visible(messages.at(group.front()), now);
  }

  std::optional<uint64_t> find(const std::string& id) const {
    for (const auto& [order, m] : messages) {
      if (m.id == id) return order;
    }
    return std::nullopt;
  }
};

void run_random_sequence(uint32_t seed, int steps) {
  Fixture f;
  f.create("q.fifo", fifo());
  Model model;
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  uint64_t next_order = 1;
  int next_dedup = 0;
  int delay_seconds = 0;
  std::vector<std::pair<std::string, int64_t>> recent_dedup;  // dedup ids sent lately, with their send time
  std::ostringstream log;

  for (int step = 0; step < steps; ++step) {
    const int64_t now = f.now;
    const int op = pick(100);
    std::ostringstream what;
    what << "seed " << seed << " step " << step << " t=" << (now - kStart) << "ms: ";
    if (op < 22) {
      // Send a batch of 1-3, now and then repeating a recent dedup id.
      std::vector<NewMessage> batch;
      std::vector<std::string> dedups;
      const int n = 1 + pick(3);
      for (int i = 0; i < n; ++i) {
        std::string dedup;
        if (!recent_dedup.empty() && pick(10) == 0) {
          const auto& [id, sent] = recent_dedup[static_cast<size_t>(pick(static_cast<int>(recent_dedup.size())))];
          dedup = now - sent < kWindow - 1000 ? id : "d" + std::to_string(next_dedup++);
        } else {
          dedup = "d" + std::to_string(next_dedup++);
        }
        batch.push_back(message("body-" + dedup, "g" + std::to_string(pick(6)), dedup));
        dedups.push_back(dedup);
      }
      what << "send " << n;
      INFO(what.str());
      auto results = f->send_messages("q.fifo", batch);
      REQUIRE(results.ok());
      for (int i = 0; i < n; ++i) {
        auto& r = (*results)[static_cast<size_t>(i)];
        REQUIRE(r.ok());
        auto known = model.dedup.find(dedups[static_cast<size_t>(i)]);
        if (known != model.dedup.end()) {
          REQUIRE(r->message_id == known->second);
          continue;
        }
        ModelMessage m;
        m.id = r->message_id;
        m.group = batch[static_cast<size_t>(i)].group_id;
        m.sequence_number = r->sequence_number;
        m.visible_at = now + delay_seconds * 1000;
        model.messages[next_order++] = m;
        model.dedup[dedups[static_cast<size_t>(i)]] = m.id;
        recent_dedup.emplace_back(dedups[static_cast<size_t>(i)], now);
      }
      if (recent_dedup.size() > 20) recent_dedup.erase(recent_dedup.begin(), recent_dedup.end() - 20);
    } else if (op < 50) {
      const int max = 1 + pick(10);
      const int vt = pick(4) == 0 ? 0 : 1 + pick(40);
      what << "receive max " << max << " vt " << vt;
      INFO(what.str());
      const auto groups = model.groups();
      bool any_deliverable = false;
      for (const auto& [g, members] : groups)
        any_deliverable = any_deliverable || model.group_deliverable(members, now);
      auto got = f.receive("q.fifo", max, vt);
      REQUIRE(static_cast<int>(got.size()) <= max);
      if (any_deliverable) REQUIRE_FALSE(got.empty());
      // Each group's part is a prefix of the group, which was deliverable.
      std::map<std::string, std::vector<uint64_t>> taken;
      for (const auto& r : got) {
        auto order = model.find(r.message_id);
        INFO("received " << r.body);
        REQUIRE(order.has_value());
        const ModelMessage& m = model.messages.at(*order);
        REQUIRE(model.visible(m, now));
        REQUIRE(system_attribute(r, "MessageGroupId") == m.group);
        REQUIRE(r.sequence_number == m.sequence_number);
        REQUIRE(r.receive_count == m.receive_count + 1);
        taken[m.group].push_back(*order);
      }
      for (const auto& [g, orders] : taken) {
        INFO("group " << g);
        const auto& members = groups.at(g);
        REQUIRE(model.group_deliverable(members, now));
        REQUIRE(orders.size() <= members.size());
        REQUIRE(std::equal(orders.begin(), orders.end(), members.begin()));
      }
      for (const auto& r : got) {
        ModelMessage& m = model.messages.at(*model.find(r.message_id));
        m.receive_count += 1;
        m.visible_at = now + vt * 1000;
        m.handle = r.receipt_handle;
      }
    } else if (op < 88) {
      // Delete (op < 74) or change visibility of a received message.
      std::vector<uint64_t> received;
      for (const auto& [order, m] : model.messages) {
        if (!m.handle.empty()) received.push_back(order);
      }
      if (received.empty()) continue;
      const uint64_t order = received[static_cast<size_t>(pick(static_cast<int>(received.size())))];
      ModelMessage& m = model.messages.at(order);
      if (op < 74) {
        what << "delete " << m.id << (model.in_flight(m, now) ? " (in flight)" : " (visible)");
        INFO(what.str());
        auto st = f->delete_message("q.fifo", m.handle);
        INFO(outcome(st));
        REQUIRE(st.ok());
        model.messages.erase(order);
      } else {
        const int vt = pick(3) == 0 ? 0 : pick(30);
        const bool expect_ok = model.in_flight(m, now);
        what << "change visibility of " << m.id << " to " << vt << (expect_ok ? " (in flight)" : " (visible)");
        INFO(what.str());
        auto st = f->change_visibility("q.fifo", m.handle, vt);
        INFO(outcome(st));
        REQUIRE(st.ok() == expect_ok);
        if (st.ok()) m.visible_at = now + vt * 1000;
      }
    } else if (op < 96) {
      const int64_t ms = pick(8000);
      f.advance_ms(ms);
      what << "advance " << ms << " ms";
    } else if (op < 97) {
      delay_seconds = pick(2) == 0 ? 0 : 1 + pick(5);
      what << "DelaySeconds " << delay_seconds;
      INFO(what.str());
      REQUIRE(f->set_queue_attributes("q.fifo", {{"DelaySeconds", std::to_string(delay_seconds)}}).ok());
    } else if (op < 99) {
      what << "run_due_work";
      f->run_due_work();
    } else {
      what << "reopen";
      f.reopen();
    }
    log << what.str() << "\n";
    const QueueCounts expected = model.counts(f.now);
    const QueueCounts actual = f.counts("q.fifo");
    INFO(what.str());
    INFO("expected " << describe(expected) << ", engine " << describe(actual));
    REQUIRE(counts_are(actual, expected.visible, expected.in_flight, expected.delayed));
  }

  // A reopen rebuilds the same index.
  const QueueCounts before = f.counts("q.fifo");
  f.reopen();
  const QueueCounts after = f.counts("q.fifo");
  INFO("seed " << seed << ": before reopen " << describe(before) << ", after " << describe(after));
  CHECK(counts_are(after, before.visible, before.in_flight, before.delayed));
  const QueueCounts expected = model.counts(f.now);
  CHECK(counts_are(after, expected.visible, expected.in_flight, expected.delayed));

  // Draining after everything is visible returns every message once, each
  // group in order.
  f.advance_s(100);
  auto all = f.consume("q.fifo");
  CHECK(all.size() == model.messages.size());
  for (const auto& [g, members] : model.groups()) {
    std::vector<std::string> want, have;
    for (uint64_t order : members) want.push_back(model.messages.at(order).id);
    for (const auto& m : all) {
      if (system_attribute(m, "MessageGroupId") == g) have.push_back(m.message_id);
    }
    CAPTURE(g);
    CHECK(have == want);
  }
}

}  // namespace

TEST_CASE("FIFO index: counts follow a model through a long random sequence", "[fifo][model]") {
  for (uint32_t seed : {1u, 2u, 3u, 42u}) {
    CAPTURE(seed);
    run_random_sequence(seed, 2500);
  }
}

// The group and deduplication ids are stored as JSON text written without a
// JSON library in the common case: it must read back, and be what nlohmann
// would have written, for every character those ids may hold.
TEST_CASE("group and deduplication ids with JSON's special characters are stored as written", "[fifo]") {
  Fixture f;
  f.create("punct.fifo", {{"FifoQueue", "true"}});
  std::string punctuation;
  for (char c = 0x21; c <= 0x7e; ++c) {
    if (!std::isalnum(static_cast<unsigned char>(c))) punctuation += c;
  }
  const std::vector<std::pair<std::string, std::string>> ids = {
      {"plain", "p1"}, {"a\"b\\c", "x\\\"y"}, {punctuation, punctuation + "d"}, {"\\", "\""}};
  for (const auto& [group, dedup] : ids) f.send("punct.fifo", "body of " + group, group, dedup);
  auto got = f.receive("punct.fifo", 10);
  REQUIRE(got.size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& m = got[i];
    const std::string stored = encode_system_attributes(m.system_attributes);
    INFO(stored);
    CHECK(system_attribute(m, "MessageGroupId") == ids[i].first);
    CHECK(system_attribute(m, "MessageDeduplicationId") == ids[i].second);
    CHECK(stored == parse_json(stored).dump());
  }
}
