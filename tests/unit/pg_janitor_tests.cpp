// The janitor under its lease and move tasks across nodes
// (storage/postgresql/pg_janitor.h, docs/design/postgresql.md sections 6.11
// and 8) against a real PostgreSQL: two "nodes" (two clusters on one
// schema, each with its janitor). One holds the lease; when it closes the
// other takes over; a move task started on one node is finished by the
// other; retention, dropped queues and expired deduplication entries are
// cleaned up by whichever node holds the lease, also for queues it never opened.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "storage/arn.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/postgresql/transaction.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::storage::postgresql;

namespace {

std::string fresh_schema(const std::string& what) {
  static int counter = 0;
  return "pgjanitor_" + what + "_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
}

// A node: its cluster, its janitor (cooldown of dropped queues as given)
// and an engine of the default account and region.
struct Node {
  std::shared_ptr<PgCluster> cluster;
  std::shared_ptr<PgJanitor> janitor;
  std::unique_ptr<Engine> engine;

  Node(const std::string& schema, int64_t cooldown_ms = 60'000) {
    PgOptions options;
    options.url = testing::test_postgres().url;
    options.schema = schema;
    options.connections = 2;
    std::string error;
    cluster = open_postgresql_cluster(options, error);
    INFO(error);
    REQUIRE(cluster);
    EngineOptions engine_options;
    engine_options.queue_delete_cooldown_ms = cooldown_ms;
    engine = open_postgresql_engine(cluster, engine_options);
    janitor = PgJanitor::start(cluster, cooldown_ms);
  }
  ~Node() { close(); }
  void close() {  // the node goes away: its lease connection with it
    if (!cluster) return;
    janitor->stop();
    janitor.reset();
    engine.reset();
    cluster.reset();
  }

  // One statement's first value ("" when no row).
  std::string query(const std::string& text) {
    std::promise<Result<std::vector<QueryResult>>> answered;
    run_statements(cluster->pool(), {Statement{text, {}}},
                   [&answered](Result<std::vector<QueryResult>> r) { answered.set_value(std::move(r)); });
    auto r = answered.get_future().get();
    INFO((r.ok() ? std::string() : r.error().message));
    REQUIRE(r.ok());
    const QueryResult& result = r->front();
    return result.rows() > 0 && result.columns() > 0 ? std::string(result.text(0, 0)) : "";
  }
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::string redrive_to(const std::string& dlq) {
  return R"({"deadLetterTargetArn":")" + queue_arn("us-east-1", "000000000000", dlq) + R"(","maxReceiveCount":1})";
}

// Sends `count` messages to `source` and lets each go to its dead-letter
// queue (received twice, visibility timeout 0, maxReceiveCount 1).
void dead_letter(Engine& engine, const std::string& source, int count) {
  for (int i = 0; i < count; ++i) {
    NewMessage m;
    m.body = "m" + std::to_string(i);
    REQUIRE(engine.send_message(source, m).ok());
  }
  for (int round = 0; round < 10; ++round) {
    auto r = engine.receive_messages(source, 10, 0, "");
    REQUIRE(r.ok());
  }
}

}  // namespace

TEST_CASE("janitor: one node holds the lease; when it closes, the other takes over", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("lease");
  Node a(schema), b(schema);
  REQUIRE(eventually([&] { return a.janitor->holds_lease() || b.janitor->holds_lease(); }));
  // Over a few tries of the other, still exactly one.
  for (int i = 0; i < 15; ++i) {
    CHECK(a.janitor->holds_lease() != b.janitor->holds_lease());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Node& holder = a.janitor->holds_lease() ? a : b;
  Node& other = a.janitor->holds_lease() ? b : a;
  const uint64_t rounds = holder.janitor->rounds();
  CHECK(eventually([&] { return holder.janitor->rounds() > rounds; }));  // a round a second
  CHECK(other.janitor->rounds() == 0);
  holder.close();
  const auto closed = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return other.janitor->holds_lease(); }));
  CHECK(std::chrono::steady_clock::now() - closed < std::chrono::milliseconds(2500));  // the next try, ~1 s
  CHECK(eventually([&] { return other.janitor->rounds() > 0; }));
}

TEST_CASE("janitor: a move task started on node A is finished by node B after A closed", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("move");
  auto a = std::make_unique<Node>(schema);
  a->janitor->stop();  // A never runs the task itself: only its start
  REQUIRE(a->engine->create_queue("dlq", {}, {}).ok());
  REQUIRE(a->engine->create_queue("src", {{"RedrivePolicy", redrive_to("dlq")}}, {}).ok());
  dead_letter(*a->engine, "src", 6);
  REQUIRE(a->query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'dlq'") == "6");
  auto handle = a->engine->start_move_task("dlq", std::nullopt, 10);
  REQUIRE(handle.ok());
  a->cluster.reset();  // A closes (its janitor already stopped)
  a->engine.reset();
  a->janitor.reset();
  a.reset();

  Node b(schema);
  REQUIRE(eventually([&] {
    auto tasks = b.engine->list_move_tasks("dlq", 10);
    return tasks.ok() && tasks->size() == 1 && tasks->front().status == "COMPLETED";
  }));
  auto tasks = b.engine->list_move_tasks("dlq", 10);
  REQUIRE(tasks.ok());
  CHECK(tasks->front().moved == 6);
  CHECK(tasks->front().to_move == 6);
  CHECK(b.query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'src'") == "6");
  CHECK(b.query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'dlq'") == "0");
}

TEST_CASE("janitor: two runners of one move task keep its rate and move each message once", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("tworunners");
  Node a(schema), b(schema);
  a.janitor->stop();
  b.janitor->stop();
  REQUIRE(a.engine->create_queue("dlq", {}, {}).ok());
  REQUIRE(a.engine->create_queue("src", {{"RedrivePolicy", redrive_to("dlq")}}, {}).ok());
  dead_letter(*a.engine, "src", 20);
  REQUIRE(a.engine->start_move_task("dlq", std::nullopt, 5).ok());
  // Both nodes step the task as fast as they can for 1.5 s: 5 a second
  // allows at most 5 + 1.5 * 5 messages (the allowance is in the row).
  std::atomic<bool> stop{false};
  auto runner = [&stop](Engine& engine) {
    while (!stop) engine.run_due_work();
  };
  std::thread ta(runner, std::ref(*a.engine)), tb(runner, std::ref(*b.engine));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  ta.join();
  tb.join();
  const int in_src =
      std::stoi(a.query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'src'"));
  const int in_dlq =
      std::stoi(a.query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'dlq'"));
  CHECK(in_src + in_dlq == 20);
  CHECK(in_src >= 5);
  CHECK(in_src <= 13);
  auto tasks = a.engine->list_move_tasks("dlq", 10);
  REQUIRE(tasks.ok());
  CHECK(tasks->front().moved == static_cast<uint64_t>(in_src));
}

TEST_CASE("janitor: retention expires messages of a queue no open node created", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("retention");
  auto a = std::make_unique<Node>(schema);
  a->janitor->stop();
  REQUIRE(a->engine->create_queue("old", {}, {}).ok());
  REQUIRE(a->engine->create_queue("fresh", {}, {}).ok());
  for (int i = 0; i < 5; ++i) {
    NewMessage m;
    m.body = "x";
    REQUIRE(a->engine->send_message("old", m).ok());
    REQUIRE(a->engine->send_message("fresh", m).ok());
  }
  // The messages of "old" were sent five days ago (retention: four days).
  a->query(
      "UPDATE messages SET sent_ms = sent_ms - 5 * 86400 * 1000 WHERE queue_id = "
      "(SELECT id FROM queues WHERE name = 'old')");
  a.reset();

  // Another node, started after the creator closed, holds the lease.
  Node b(schema);
  auto count = [&b](const std::string& queue) {
    return b.query("SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = '" + queue + "'");
  };
  CHECK(eventually([&] { return count("old") == "0"; }));
  CHECK(count("fresh") == "5");
}

TEST_CASE("janitor: a deleted queue's row and messages are dropped after the cooldown", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("dropped");
  Node a(schema, 1'500);
  REQUIRE(a.engine->create_queue("gone", {}, {}).ok());
  REQUIRE(a.engine->create_queue("kept", {}, {}).ok());
  for (int i = 0; i < 30; ++i) {
    NewMessage m;
    m.body = "x";
    REQUIRE(a.engine->send_message("gone", m).ok());
  }
  REQUIRE(a.engine->delete_queue("gone").ok());
  const auto deleted = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return a.janitor->rounds() > 0; }));
  CHECK(a.query("SELECT count(*) FROM queues WHERE name = 'gone'") == "1");  // the tombstone, in its cooldown
  REQUIRE(eventually([&] { return a.query("SELECT count(*) FROM queues WHERE name = 'gone'") == "0"; }));
  CHECK(std::chrono::steady_clock::now() - deleted >= std::chrono::milliseconds(1'500));
  CHECK(a.query("SELECT count(*) FROM messages") == "0");
  CHECK(a.query("SELECT count(*) FROM queues WHERE name = 'kept'") == "1");
}

TEST_CASE("janitor: expired deduplication entries and receive attempts are removed", "[pg][janitor]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("dedup");
  Node a(schema);
  a.janitor->stop();  // rows first, then the janitor
  REQUIRE(a.engine->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  a.query(
      "INSERT INTO dedup (queue_id, dedup_key, message_id, seq, expires_ms) SELECT id, k, gen_random_uuid(), 1, "
      "CASE WHEN k LIKE 'old%' THEN 1 ELSE now_ms(NULL) + 600000 END FROM queues, "
      "unnest(ARRAY['old1', 'old2', 'new1']) AS k WHERE name = 'q.fifo'");
  a.query(
      "INSERT INTO receive_attempts (queue_id, attempt_id, expires_ms, seqs, receive_counts, deadlines) "
      "SELECT id, k, CASE WHEN k = 'old' THEN 1 ELSE now_ms(NULL) + 600000 END, '{}', '{}', '{}' FROM queues, "
      "unnest(ARRAY['old', 'new']) AS k WHERE name = 'q.fifo'");
  a.janitor = PgJanitor::start(a.cluster, 60'000);
  CHECK(eventually([&] { return a.query("SELECT count(*) FROM dedup") == "1"; }));
  CHECK(a.query("SELECT dedup_key FROM dedup") == "new1");
  CHECK(eventually([&] { return a.query("SELECT count(*) FROM receive_attempts") == "1"; }));
  CHECK(a.query("SELECT attempt_id FROM receive_attempts") == "new");
}

TEST_CASE("janitor: send tokens older than 10 minutes are removed, along the key", "[pg][janitor][in-doubt]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("tokens");
  Node a(schema);
  a.janitor->stop();
  REQUIRE(a.engine->create_queue("q", {}, {}).ok());
  NewMessage m;
  m.body = "fresh";
  REQUIRE(a.engine->send_message("q", m).ok());  // its token: now
  const auto now = std::chrono::system_clock::now();
  const std::string old = sql::send_token(now - std::chrono::minutes(11));
  const std::string recent = sql::send_token(now - std::chrono::minutes(9));
  a.query("INSERT INTO send_tokens (token) VALUES ('" + old + "'), ('" + recent + "')");
  CHECK(a.query("SELECT count(*) FROM send_tokens") == "3");
  a.janitor = PgJanitor::start(a.cluster, 60'000);
  CHECK(eventually([&] { return a.query("SELECT count(*) FROM send_tokens") == "2"; }));
  CHECK(a.query("SELECT count(*) FROM send_tokens WHERE token = '" + old + "'") == "0");
  CHECK(a.query("SELECT count(*) FROM send_tokens WHERE token = '" + recent + "'") == "1");
}

namespace {

// Sends `body` to the FIFO queue `queue`, group `group` (the body is its
// deduplication id).
void send_fifo(Engine& engine, const std::string& queue, const std::string& group, const std::string& body) {
  NewMessage m;
  m.body = body;
  m.group_id = group;
  m.deduplication_id = body;
  auto sent = engine.send_message(queue, m);
  INFO((sent.ok() ? std::string() : sent.error().message));
  REQUIRE(sent.ok());
}

std::vector<std::string> bodies_of(const std::vector<ReceivedMessage>& received) {
  std::vector<std::string> out;
  for (const auto& m : received) out.push_back(m.body);
  return out;
}

bool fifo_janitor_steps(Pool& pool) {
  std::promise<bool> ran;
  run_fifo_janitor_steps(pool, [&ran](bool ok) { ran.set_value(ok); });
  return ran.get_future().get();
}

}  // namespace

TEST_CASE("janitor: FIFO retention deletes expired messages and settles their groups as RocksDB does",
          "[pg][janitor][fifo]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("fiforetention");
  Node a(schema);
  a.janitor->stop();  // rows first, then the janitor
  REQUIRE(a.engine->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  send_fifo(*a.engine, "q.fifo", "old", "old-1");
  send_fifo(*a.engine, "q.fifo", "old", "old-2");
  send_fifo(*a.engine, "q.fifo", "mixed", "mixed-1");
  send_fifo(*a.engine, "q.fifo", "mixed", "mixed-2");
  send_fifo(*a.engine, "q.fifo", "flight", "flight-1");
  send_fifo(*a.engine, "q.fifo", "fresh", "fresh-1");
  // flight-1 stays in flight (5 minutes); the others are visible again.
  auto turns = a.engine->receive_messages("q.fifo", 10, 300, "");  // every group once: old, mixed, flight, fresh
  REQUIRE(turns.ok());
  REQUIRE(turns->size() == 6);
  for (const auto& m : *turns) {
    if (m.body.rfind("flight", 0) != 0) REQUIRE(a.engine->change_visibility("q.fifo", m.receipt_handle, 0).ok());
  }
  send_fifo(*a.engine, "q.fifo", "mixed", "mixed-3");
  send_fifo(*a.engine, "q.fifo", "flight", "flight-2");
  // Retention 4 days: old-*, mixed-1, mixed-2 and flight-1 were sent 5 days ago.
  a.query(
      "UPDATE messages SET sent_ms = sent_ms - 5 * 86400 * 1000 WHERE body IN "
      "('old-1', 'old-2', 'mixed-1', 'mixed-2', 'flight-1')");
  const std::string mixed_before = a.query("SELECT ready_at_ms || '/' || turn FROM groups WHERE group_id = 'mixed'");

  REQUIRE(fifo_janitor_steps(a.cluster->pool()));
  CHECK(a.query("SELECT string_agg(body, ',' ORDER BY seq) FROM messages") == "fresh-1,mixed-3,flight-2");
  // The emptied group's row is gone; the others are receivable now.
  CHECK(a.query("SELECT string_agg(group_id, ',' ORDER BY group_id) FROM groups") == "flight,fresh,mixed");
  CHECK(a.query("SELECT count(*) FROM groups WHERE ready_at_ms IS NULL OR ready_at_ms > now_ms(NULL)") == "0");
  // mixed was receivable and still is: it keeps its place; flight only
  // became receivable now (its first message was in flight): the back.
  CHECK(a.query("SELECT ready_at_ms || '/' || turn FROM groups WHERE group_id = 'mixed'") == mixed_before);
  auto rest = a.engine->receive_messages("q.fifo", 10, 300, "");
  REQUIRE(rest.ok());
  CHECK(bodies_of(*rest) == std::vector<std::string>{"mixed-3", "fresh-1", "flight-2"});
  // Nothing left to sweep: a second run changes nothing.
  REQUIRE(fifo_janitor_steps(a.cluster->pool()));
  CHECK(a.query("SELECT count(*) FROM messages") == "3");
}

TEST_CASE("janitor: FIFO retention runs in the rounds of the lease holder", "[pg][janitor][fifo]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("fiforounds");
  Node a(schema);
  REQUIRE(a.engine->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  for (int i = 0; i < 30; ++i) send_fifo(*a.engine, "q.fifo", "g" + std::to_string(i % 3), "m" + std::to_string(i));
  a.query("UPDATE messages SET sent_ms = sent_ms - 5 * 86400 * 1000");
  CHECK(eventually([&] { return a.query("SELECT count(*) FROM messages") == "0"; }));
  CHECK(eventually([&] { return a.query("SELECT count(*) FROM groups") == "0"; }));
  send_fifo(*a.engine, "q.fifo", "g1", "again");
  auto got = a.engine->receive_messages("q.fifo", 10, 300, "");
  REQUIRE(got.ok());
  CHECK(bodies_of(*got) == std::vector<std::string>{"again"});
}

TEST_CASE("janitor: empty FIFO group rows go, and no message is lost to a send racing the removal",
          "[pg][janitor][fifo][concurrency]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = fresh_schema("fifogroups");
  Node a(schema);
  a.janitor->stop();
  Node b(schema);
  b.janitor->stop();
  REQUIRE(a.engine->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  constexpr int kMessages = 300;
  std::atomic<bool> sending{true};
  std::atomic<int> sweeps{0};
  // Node b removes empty group rows as fast as it can while node a sends
  // to groups it keeps emptying (each message received and deleted).
  std::thread janitor([&] {
    while (sending) {
      if (fifo_janitor_steps(b.cluster->pool())) ++sweeps;
    }
  });
  int received = 0;
  for (int i = 0; i < kMessages; ++i) {
    send_fifo(*a.engine, "q.fifo", "g" + std::to_string(i % 4), "m" + std::to_string(i));
    auto got = a.engine->receive_messages("q.fifo", 10, 300, "");
    REQUIRE(got.ok());
    for (const auto& m : *got) {
      ++received;
      REQUIRE(a.engine->delete_message("q.fifo", m.receipt_handle).ok());
    }
  }
  sending = false;
  janitor.join();
  CHECK(sweeps > 0);
  // A receive may have passed over a group the janitor held for a moment.
  for (int round = 0; round < 20 && received < kMessages; ++round) {
    auto got = a.engine->receive_messages("q.fifo", 10, 300, "");
    REQUIRE(got.ok());
    for (const auto& m : *got) {
      ++received;
      REQUIRE(a.engine->delete_message("q.fifo", m.receipt_handle).ok());
    }
  }
  // Every message was received (a group row lost under a message would
  // have hidden it from every receive), and the last rows go too.
  CHECK(received == kMessages);
  CHECK(a.query("SELECT count(*) FROM messages") == "0");
  REQUIRE(fifo_janitor_steps(a.cluster->pool()));
  CHECK(a.query("SELECT count(*) FROM groups") == "0");
}
