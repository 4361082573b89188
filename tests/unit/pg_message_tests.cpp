// The PostgreSQL backend's message operations (standard and FIFO queues), where
// they do what only this backend does (the conformance suite checks the
// behaviour every backend shares): the receipt-handle rules that license
// one-statement deletes and visibility changes, the array parameters, and
// several nodes (engines) over one database. Runs against a real PostgreSQL
// (tests/unit/pg_test_cluster.h); each test has a schema of its own.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/arn.h"
#include "storage/postgresql/connection.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/receipt_handle.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::storage::postgresql;

namespace {

constexpr int64_t kStart = 1'700'000'000'000;

// Runs one statement on a connection of its own, waiting for the answer.
QueryResult run_one(const std::string& url, const std::string& sql, const std::vector<PgParam>& params = {}) {
  boost::asio::io_context io;
  auto connection = Connection::create(io);
  std::optional<std::optional<PgError>> connected;
  connection->async_connect(url, std::chrono::seconds(10), [&](std::optional<PgError> e) { connected = e; });
  while (!connected) io.run_one();
  INFO((*connected ? (*connected)->message : std::string("connected")));
  REQUIRE(!*connected);
  std::optional<QueryResult> result;
  connection->async_query(sql, params, [&](QueryResult r) { result = std::move(r); });
  while (!result) io.run_one();
  connection->close();
  return std::move(*result);
}

// A schema of its own, the cluster over it, and engines ("nodes") sharing
// it, all on one clock the test advances. The schema is dropped at the end.
struct Nodes {
  std::string url;
  std::string schema;
  int64_t now = kStart;
  std::shared_ptr<PgCluster> cluster;

  Nodes() {
    static std::atomic<int> count{0};
    url = testing::test_postgres().url;
    schema = "wharf_message_tests_" + std::to_string(getpid()) + "_" + std::to_string(count++);
    PgOptions options;
    options.url = url;
    options.schema = schema;
    std::string error;
    cluster = open_postgresql_cluster(options, error);
    INFO(error);
    REQUIRE(cluster);
  }
  ~Nodes() {
    cluster.reset();
    run_one(url, "DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE");
  }

  std::unique_ptr<Engine> node() {
    EngineOptions options;
    options.now_ms = [this] { return now; };
    options.queue_delete_cooldown_ms = 0;
    return open_postgresql_engine(cluster, options);
  }
};

std::string send(Engine& engine, const std::string& queue, const std::string& body, const std::string& group = "") {
  NewMessage m;
  m.body = body;
  m.group_id = group;
  auto sent = engine.send_message(queue, std::move(m));
  INFO((sent.ok() ? std::string("sent") : sent.error().message));
  REQUIRE(sent.ok());
  return sent->message_id;
}

std::vector<ReceivedMessage> receive(Engine& engine, const std::string& queue, int max = 10,
                                     std::optional<int> visibility = std::nullopt) {
  auto got = engine.receive_messages(queue, max, visibility);
  INFO((got.ok() ? std::string("received") : got.error().message));
  REQUIRE(got.ok());
  return std::move(got.value());
}

std::vector<std::string> bodies(const std::vector<ReceivedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.body);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// What licenses the one-statement paths of pg_handles.cpp

TEST_CASE("standard queues: a delete never answers Expired, a visibility change depends only on existence",
          "[pg][handles]") {
  for (int bits = 0; bits < 8; ++bits) {
    HandledMessage m;
    m.exists = bits & 1;
    m.received_since = bits & 2;
    m.in_flight = bits & 4;
    CAPTURE(m.exists, m.received_since, m.in_flight);
    CHECK(judge_delete(false, m) == (m.exists ? DeleteVerdict::Delete : DeleteVerdict::AlreadyDeleted));
    CHECK(judge_visibility_change(false, m) ==
          (m.exists ? VisibilityVerdict::Apply : VisibilityVerdict::MessageUnavailable));
  }
}

// ---------------------------------------------------------------------------
// Array parameters

TEST_CASE("array parameters reach PostgreSQL element for element", "[pg][arrays]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string url = testing::test_postgres().url;
  const std::vector<std::string> texts = {"",
                                          "plain",
                                          "with \"quotes\"",
                                          "back\\slash\\",
                                          "a,b",
                                          "{braces}",
                                          "NULL",
                                          " spaced ",
                                          "new\nline\ttab",
                                          "h\xc3\xa9llo \xf0\x9f\x98\x80",
                                          R"({"MessageGroupId":{"DataType":"String","StringValue":"g\"1"}})"};
  std::vector<std::string_view> views(texts.begin(), texts.end());
  const QueryResult result =
      run_one(url, "SELECT u, u IS NULL FROM unnest($1::text[]) WITH ORDINALITY AS t (u, i) ORDER BY i",
              {sql::text_array(views)});
  INFO((result.ok() ? std::string() : result.error().message));
  REQUIRE(result.ok());
  REQUIRE(result.rows() == static_cast<int>(texts.size()));
  for (size_t i = 0; i < texts.size(); ++i) {
    CAPTURE(i);
    CHECK(result.text(static_cast<int>(i), 0) == texts[i]);
    CHECK(result.text(static_cast<int>(i), 1) == "f");
  }

  const std::vector<int64_t> numbers = {0, 1, -5, 9'007'199'254'740'993, INT64_MAX};
  const QueryResult sum =
      run_one(url, "SELECT count(*), sum(u)::text FROM unnest($1::bigint[]) AS u", {sql::bigint_array(numbers)});
  REQUIRE(sum.ok());
  CHECK(sum.text(0, 0) == "5");
  CHECK(sum.text(0, 1) == "9232379236109516796");  // every element, exactly
  CHECK(run_one(url, "SELECT cardinality($1::bigint[])", {sql::bigint_array({})}).text(0, 0) == "0");
}

// ---------------------------------------------------------------------------
// Sends

TEST_CASE("a send of more than ten messages is one transaction, stored in order", "[pg][batches]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto engine = nodes.node();
  REQUIRE(engine->create_queue("q", {}, {}).ok());
  std::vector<NewMessage> batch(25);
  for (size_t i = 0; i < batch.size(); ++i) batch[i].body = "m" + std::to_string(100 + i);
  batch[13].body = std::string("bad \x01");
  auto sent = engine->send_messages("q", batch);
  REQUIRE(sent.ok());
  REQUIRE(sent->size() == 25);
  CHECK_FALSE(sent->at(13).ok());
  std::vector<std::string> expected;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i != 13) expected.push_back(batch[i].body);
  }
  std::vector<std::string> got;
  for (int round = 0; round < 3; ++round) {
    for (const auto& m : receive(*engine, "q")) got.push_back(m.body);
  }
  CHECK(got == expected);
  CHECK(engine->queue_counts("q")->sent == 24);
}

// ---------------------------------------------------------------------------
// Several nodes over one database

TEST_CASE("nodes share messages and receipt handles", "[pg][nodes]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q", {}, {}).ok());
  const std::string id = send(*a, "q", "hello");
  const auto got = receive(*b, "q");
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == id);
  CHECK(receive(*a, "q").empty());  // in flight, whichever node asks

  SECTION("a handle from one node changes visibility on the other") {
    REQUIRE(a->change_visibility("q", got[0].receipt_handle, 0).ok());
    const auto again = receive(*b, "q");
    REQUIRE(again.size() == 1);
    CHECK(again[0].receive_count == 2);
  }
  SECTION("a handle from one node deletes on the other") {
    REQUIRE(a->delete_message("q", got[0].receipt_handle).ok());
    nodes.now += 3'600'000;
    CHECK(receive(*b, "q").empty());
    CHECK(a->queue_counts("q")->deleted == 1);  // counted by the node that deleted
    CHECK(b->queue_counts("q")->deleted == 0);
  }
}

TEST_CASE("concurrent receives on two nodes take each message once", "[pg][nodes][concurrency]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const bool fair = GENERATE(false, true);  // fair: groups take turns (receive_fair), some messages without one
  CAPTURE(fair);
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q", {}, {}).ok());
  constexpr int kMessages = 300;
  for (int i = 0; i < kMessages; i += 10) {
    std::vector<NewMessage> batch(10);
    for (int j = 0; j < 10; ++j) {
      batch[j].body = "m" + std::to_string(i + j);
      if (fair && j % 4 != 0) batch[j].group_id = "g" + std::to_string(j % 3);
    }
    REQUIRE(a->send_messages("q", batch).ok());
  }
  std::vector<std::string> seen[2];
  std::vector<std::string> problems[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Engine& engine = t == 0 ? *a : *b;
      for (int empty = 0; empty < 3;) {
        auto got = engine.receive_messages("q", 10, 600, "");
        if (!got.ok()) {
          problems[t].push_back(got.error().message);
          return;
        }
        if (got->empty()) ++empty;
        for (const auto& m : *got) seen[t].push_back(m.body);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(problems[0].empty());
  CHECK(problems[1].empty());
  std::multiset<std::string> all(seen[0].begin(), seen[0].end());
  all.insert(seen[1].begin(), seen[1].end());
  CHECK(all.size() == kMessages);
  CHECK(std::set<std::string>(all.begin(), all.end()).size() == kMessages);
}

TEST_CASE("fair queues: the groups' turns are the database's, shared by the nodes", "[pg][nodes][fair]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q", {}, {}).ok());
  for (int i = 0; i < 20; ++i) send(*a, "q", "noisy-" + std::to_string(i), "noisy");
  send(*a, "q", "quiet-0", "quiet");
  send(*a, "q", "quiet-1", "quiet");
  // One message per group per round, in turn order: noisy joined first.
  CHECK(bodies(receive(*a, "q", 3)) == std::vector<std::string>{"noisy-0", "noisy-1", "quiet-0"});
  // Both groups went to the back, noisy (its last take was later) after quiet.
  CHECK(bodies(receive(*b, "q", 2)) == std::vector<std::string>{"noisy-2", "quiet-1"});
  CHECK(bodies(receive(*a, "q", 2)) == std::vector<std::string>{"noisy-3", "noisy-4"});
}

// ---------------------------------------------------------------------------
// The documented difference (docs/design/postgresql.md section 3)

TEST_CASE("standard queues deliver by the time messages became visible, then send order", "[pg][order]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto engine = nodes.node();
  REQUIRE(engine->create_queue("q", {}, {}).ok());
  send(*engine, "q", "first");
  REQUIRE(receive(*engine, "q", 1, 5).size() == 1);  // "first" visible again at +5 s
  nodes.now += 1'000;
  send(*engine, "q", "second");  // visible at +1 s
  nodes.now += 10'000;           // both visible now: "second" since +1 s, "first" since +5 s
  // With room for one, the one visible longer is taken (RocksDB would take
  // "first", in send order: SQS promises no order on standard queues).
  CHECK(bodies(receive(*engine, "q", 1)) == std::vector<std::string>{"second"});
  CHECK(bodies(receive(*engine, "q", 1)) == std::vector<std::string>{"first"});
}

// ---------------------------------------------------------------------------
// Time-driven work (docs/design/postgresql.md section 7.4)

TEST_CASE("run_due_work reports what any node made visible, and sweeps expired rows", "[pg][nodes][scheduler]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  struct Recorder : EngineListener {
    std::vector<std::string> available;
    void messages_available(const std::string& queue) override { available.push_back(queue); }
    void deadline_added(int64_t) override {}
  } recorder;
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q", {{"MessageRetentionPeriod", "60"}}, {}).ok());
  b->set_listener(&recorder);
  CHECK_FALSE(b->run_due_work().has_value());  // nothing anywhere
  NewMessage later;
  later.body = "later";
  later.delay_seconds = 10;
  REQUIRE(a->send_message("q", std::move(later)).ok());
  CHECK(b->run_due_work() == kStart + 10'000);  // sent on the other node
  CHECK(recorder.available.empty());
  nodes.now += 10'000;
  CHECK(b->run_due_work() == kStart + 60'000);  // its retention expiry
  CHECK(recorder.available == std::vector<std::string>{"q"});
  recorder.available.clear();
  nodes.now += 50'000;
  CHECK_FALSE(b->run_due_work().has_value());
  CHECK(recorder.available.empty());  // reported once
  const QueryResult rows = run_one(nodes.url, "SELECT count(*) FROM \"" + nodes.schema + "\".messages");
  REQUIRE(rows.ok());
  CHECK(rows.text(0, 0) == "0");  // swept, not only hidden
  b->set_listener(nullptr);
}

// ---------------------------------------------------------------------------
// FIFO queues across nodes (docs/design/postgresql.md sections 6.3, 6.6)

namespace {

SentMessage send_fifo(Engine& engine, const std::string& queue, const std::string& body, const std::string& group,
                      const std::string& dedup) {
  NewMessage m;
  m.body = body;
  m.group_id = group;
  m.deduplication_id = dedup;
  auto sent = engine.send_message(queue, std::move(m));
  INFO((sent.ok() ? std::string("sent") : sent.error().message));
  REQUIRE(sent.ok());
  return std::move(sent.value());
}

}  // namespace

TEST_CASE("FIFO: a group locked by a receive on one node is locked on the other", "[pg][nodes][fifo]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  send_fifo(*a, "q.fifo", "a1", "a", "a1");
  send_fifo(*b, "q.fifo", "a2", "a", "a2");
  send_fifo(*a, "q.fifo", "b1", "b", "b1");
  const auto first = receive(*a, "q.fifo", 1);
  REQUIRE(bodies(first) == std::vector<std::string>{"a1"});
  CHECK(bodies(receive(*b, "q.fifo", 10)) == std::vector<std::string>{"b1"});  // not a2
  CHECK(receive(*a, "q.fifo", 10).empty());
  REQUIRE(b->delete_message("q.fifo", first[0].receipt_handle).ok());  // a's handle, deleted on b
  CHECK(bodies(receive(*a, "q.fifo", 10)) == std::vector<std::string>{"a2"});
}

TEST_CASE("FIFO: two nodes sending at once store one message per deduplication id, each group in order",
          "[pg][nodes][fifo][concurrency]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  constexpr int kIds = 150;
  std::vector<SentMessage> answers[2];
  std::vector<std::string> problems[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Engine& engine = t == 0 ? *a : *b;
      for (int i = 0; i < kIds; ++i) {
        NewMessage m;
        m.body = "m" + std::to_string(i) + "-from-" + std::to_string(t);
        m.group_id = "g" + std::to_string(i % 3);
        m.deduplication_id = "d" + std::to_string(i);
        auto sent = engine.send_message("q.fifo", std::move(m));
        if (!sent.ok()) {
          problems[t].push_back(sent.error().message);
          return;
        }
        answers[t].push_back(std::move(sent.value()));
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(problems[0].empty());
  CHECK(problems[1].empty());
  REQUIRE(answers[0].size() == kIds);
  REQUIRE(answers[1].size() == kIds);
  for (int i = 0; i < kIds; ++i) {
    CHECK(answers[0][i].message_id == answers[1][i].message_id);
    CHECK(answers[0][i].sequence_number == answers[1][i].sequence_number);
  }
  // Each group delivers its messages in the order of their ids (each thread
  // sent them in that order) and of their sequence numbers.
  std::vector<ReceivedMessage> all;
  for (;;) {
    auto got = receive(*a, "q.fifo", 10, 600);
    if (got.empty()) break;
    for (auto& m : got) {
      REQUIRE(a->delete_message("q.fifo", m.receipt_handle).ok());
      all.push_back(std::move(m));
    }
  }
  CHECK(all.size() == kIds);
  std::map<std::string, std::pair<int, std::string>> last;  // group -> (id number, sequence number)
  for (const auto& m : all) {
    const std::string group = m.system_attributes.message_group_id;
    const int number = std::stoi(m.body.substr(1, m.body.find('-') - 1));
    auto found = last.find(group);
    if (found != last.end()) {
      CHECK(number > found->second.first);
      CHECK(m.sequence_number > found->second.second);
    }
    last[group] = {number, m.sequence_number};
  }
}

TEST_CASE("fair queues with a RedrivePolicy take turns too, and still redrive", "[pg][fair][redrive]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  REQUIRE(a->create_queue("dlq", {}, {}).ok());
  const std::string policy =
      R"({"deadLetterTargetArn":")" + queue_arn("us-east-1", "000000000000", "dlq") + R"(","maxReceiveCount":1})";
  REQUIRE(a->create_queue("q", {{"RedrivePolicy", policy}}, {}).ok());
  for (int i = 0; i < 20; ++i) send(*a, "q", "noisy-" + std::to_string(i), "noisy");
  send(*a, "q", "quiet-0", "quiet");
  send(*a, "q", "quiet-1", "quiet");
  // As without the policy: one message per group per round, in turn order
  // (the plain pick would answer noisy-0, noisy-1, noisy-2).
  CHECK(bodies(receive(*a, "q", 3)) == std::vector<std::string>{"noisy-0", "noisy-1", "quiet-0"});
  nodes.now += 31'000;  // those three are visible again, received once
  // quiet (at the front now) gets its two rounds among the noisy backlog;
  // quiet-0, past maxReceiveCount, goes to the dead-letter queue instead.
  CHECK(bodies(receive(*b, "q", 10)) == std::vector<std::string>{"noisy-2", "noisy-3", "noisy-4", "noisy-5", "noisy-6",
                                                                 "noisy-7", "noisy-8", "noisy-9", "quiet-1"});
  CHECK(bodies(receive(*a, "dlq", 10)) == std::vector<std::string>{"quiet-0"});
}

// ---------------------------------------------------------------------------
// Move tasks out of FIFO queues across nodes (docs/design/postgresql.md 6.11)

namespace {

// A connection of its own inside an open transaction, as a node in the
// middle of a step holds one; close() without COMMIT is that node dying
// (PostgreSQL rolls its transaction back and releases its locks).
struct OpenTransaction {
  boost::asio::io_context io;
  std::shared_ptr<Connection> connection = Connection::create(io);

  explicit OpenTransaction(const std::string& url) {
    std::optional<std::optional<PgError>> connected;
    connection->async_connect(url, std::chrono::seconds(10), [&](std::optional<PgError> e) { connected = e; });
    while (!connected) io.run_one();
    REQUIRE(!*connected);
    REQUIRE(run("BEGIN").ok());
  }
  QueryResult run(const std::string& sql) {
    std::optional<QueryResult> result;
    connection->async_query(sql, {}, [&](QueryResult r) { result = std::move(r); });
    while (!result) io.run_one();
    return std::move(*result);
  }
  void close() { connection->close(); }
};

}  // namespace

TEST_CASE("FIFO move task: a node that dies mid-step leaves the task to another node, each group kept in order",
          "[pg][nodes][fifo][move-tasks]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  Nodes nodes;
  auto a = nodes.node();
  auto b = nodes.node();
  const std::string s = "\"" + nodes.schema + "\".";
  auto count_in = [&](const std::string& queue) {
    return run_one(nodes.url, "SELECT count(*) FROM " + s + "messages m JOIN " + s +
                                  "queues q ON q.id = m.queue_id WHERE q.name = '" + queue + "'")
        .text(0, 0);
  };
  REQUIRE(a->create_queue("dlq.fifo", {{"FifoQueue", "true"}}, {}).ok());
  const std::string policy =
      R"({"deadLetterTargetArn":")" + queue_arn("us-east-1", "000000000000", "dlq.fifo") + R"(","maxReceiveCount":1})";
  REQUIRE(a->create_queue("src.fifo", {{"FifoQueue", "true"}, {"RedrivePolicy", policy}}, {}).ok());
  std::map<std::string, std::string> first_ids;  // body -> the id its send answered
  for (int i = 1; i <= 4; ++i) {
    for (const char* group : {"x", "y"}) {
      const std::string body = group + std::to_string(i);
      first_ids[body] = send_fifo(i % 2 ? *a : *b, "src.fifo", body, group, body).message_id;
    }
  }
  for (int round = 0; round < 4; ++round) receive(*a, "src.fifo", 10, 0);  // received once, then dead-lettered
  REQUIRE(count_in("src.fifo") == "0");
  REQUIRE(count_in("dlq.fifo") == "8");

  REQUIRE(a->start_move_task("dlq.fifo", std::nullopt, 2).ok());
  nodes.now += 1'000;
  a->run_due_work();  // two a second: x1, y1
  CHECK(count_in("src.fifo") == "2");

  // A is in the middle of its next step (the task row held, a message taken
  // out of the DLQ) when it dies: B skips the task while A holds it, then
  // carries on from the row, with nothing lost or moved twice.
  OpenTransaction dying(nodes.url);
  REQUIRE(dying.run("SELECT id FROM " + s + "move_tasks FOR UPDATE").ok());
  REQUIRE(dying
              .run("DELETE FROM " + s + "messages WHERE seq = (SELECT min(seq) FROM " + s + "messages m JOIN " + s +
                   "queues q ON q.id = m.queue_id WHERE q.name = 'dlq.fifo')")
              .ok());
  nodes.now += 1'000;
  b->run_due_work();
  CHECK(count_in("src.fifo") == "2");
  dying.close();
  std::string status;
  for (int i = 0; i < 100 && status != "COMPLETED"; ++i) {
    nodes.now += 1'000;
    b->run_due_work();
    auto tasks = b->list_move_tasks("dlq.fifo", 10);
    REQUIRE(tasks.ok());
    status = tasks->front().status;
    if (status != "COMPLETED") std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(status == "COMPLETED");
  auto tasks = b->list_move_tasks("dlq.fifo", 10);
  CHECK(tasks->front().moved == 8);
  CHECK(count_in("dlq.fifo") == "0");

  // Each group in order, with new ids and increasing sequence numbers.
  std::map<std::string, std::vector<std::string>> bodies_of;
  std::map<std::string, std::string> last_sequence;
  for (int round = 0; round < 10; ++round) {
    for (const auto& m : receive(*b, "src.fifo", 10, 600)) {
      const std::string group = m.system_attributes.message_group_id;
      bodies_of[group].push_back(m.body);
      CHECK(m.message_id != first_ids[m.body]);
      CHECK(m.system_attributes.dead_letter_queue_source_arn.empty());
      CHECK(m.sequence_number > last_sequence[group]);
      last_sequence[group] = m.sequence_number;
      REQUIRE(a->delete_message("src.fifo", m.receipt_handle).ok());
    }
  }
  CHECK(bodies_of["x"] == std::vector<std::string>{"x1", "x2", "x3", "x4"});
  CHECK(bodies_of["y"] == std::vector<std::string>{"y1", "y2", "y3", "y4"});
  // Both queues' groups are empty (the invariant of section 6.6), and the
  // moves neither took nor were stopped by deduplication ids: a send with an
  // original id within the window is still a duplicate of its first send.
  CHECK(run_one(nodes.url, "SELECT count(*) FROM " + s + "groups WHERE ready_at_ms IS NOT NULL").text(0, 0) == "0");
  CHECK(send_fifo(*b, "src.fifo", "x1", "x", "x1").message_id == first_ids["x1"]);
  CHECK(count_in("src.fifo") == "0");
}
