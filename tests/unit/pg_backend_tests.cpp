// The PostgreSQL backend's infrastructure against a real PostgreSQL
// (tests/unit/pg_test_cluster.h): the migrations, the pool and the
// transaction layer. Each test works in a schema of its own. The cluster's
// thread runs everything; the test thread waits for answers with futures.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "storage/arn.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pool.h"
#include "storage/postgresql/schema.h"
#include "storage/postgresql/transaction.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage::postgresql;

namespace {

constexpr auto kPatience = std::chrono::seconds(30);

PgOptions options_for(const std::string& schema) {
  static std::atomic<int> counter{0};
  PgOptions options;
  options.url = testing::test_postgres().url;
  options.schema = "pgtest_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + schema;
  return options;
}

std::shared_ptr<PgCluster> open_cluster(const PgOptions& options) {
  std::string error;
  auto cluster = open_postgresql_cluster(options, error);
  INFO(error);
  REQUIRE(cluster);
  return cluster;
}

template <typename T>
T await(std::future<T> future) {
  REQUIRE(future.wait_for(kPatience) == std::future_status::ready);
  return future.get();
}

// Runs statements as one implicit transaction and waits for the answer.
Result<std::vector<QueryResult>> run(Pool& pool, std::vector<Statement> statements) {
  auto answer = std::make_shared<std::promise<Result<std::vector<QueryResult>>>>();
  auto future = answer->get_future();
  run_statements(pool, std::move(statements),
                 [answer](Result<std::vector<QueryResult>> r) { answer->set_value(std::move(r)); });
  return await(std::move(future));
}

Result<std::vector<QueryResult>> run(Pool& pool, const std::string& sql, std::vector<PgParam> params = {}) {
  std::vector<Statement> statements;
  statements.push_back(Statement{sql, std::move(params)});
  return run(pool, std::move(statements));
}

std::string first_value(Pool& pool, const std::string& sql, std::vector<PgParam> params = {}) {
  auto result = run(pool, sql, std::move(params));
  INFO((result.ok() ? std::string() : result.error().message));
  REQUIRE(result.ok());
  REQUIRE(result->front().rows() >= 1);
  return std::string(result->front().text(0, 0));
}

// "1,2,...": every version this Wharf knows, as schema_version lists them.
std::string every_version() {
  std::string out;
  for (const Migration& m : migrations()) out += (out.empty() ? "" : ",") + std::to_string(m.version);
  return out;
}

Status transact(Pool& pool, std::function<void(std::shared_ptr<Tx>)> body) {
  auto answer = std::make_shared<std::promise<Status>>();
  auto future = answer->get_future();
  run_transaction(pool, std::move(body), [answer](Status s) { answer->set_value(std::move(s)); });
  return await(std::move(future));
}

Result<Lease> acquire(Pool& pool) {
  auto answer = std::make_shared<std::promise<Result<Lease>>>();
  auto future = answer->get_future();
  pool.acquire([answer](Result<Lease> lease) { answer->set_value(std::move(lease)); });
  return await(std::move(future));
}

std::vector<Statement> one(const std::string& sql, std::vector<PgParam> params = {}) {
  std::vector<Statement> statements;
  statements.push_back(Statement{sql, std::move(params)});
  return statements;
}

}  // namespace

TEST_CASE("migrations: a fresh schema gets every table, versions 1 and 2 and a receipt secret", "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const PgOptions options = options_for("fresh");
  auto cluster = open_cluster(options);
  CHECK(cluster->receipt_secret().size() == 32);
  Pool& pool = cluster->pool();
  CHECK(first_value(pool, "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", {options.schema}) ==
        "13");  // version 4 adds queue_placements and placement_groups, version 5 outbox and transfer_keys
  CHECK(first_value(pool, "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version") ==
        every_version());
  CHECK(first_value(pool, "SELECT now_ms(42)") == "42");
  const int64_t db_now = std::stoll(first_value(pool, "SELECT now_ms(NULL)"));
  const int64_t here =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  CHECK(std::llabs(db_now - here) < 60'000);
  // Unqualified names resolve to the schema (search_path), never to public.
  CHECK(first_value(pool, "SELECT current_schema()") == options.schema);
}

TEST_CASE("migrations: running again changes nothing and keeps the secret", "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const PgOptions options = options_for("again");
  std::string secret;
  {
    auto first = open_cluster(options);
    secret = first->receipt_secret();
  }
  auto second = open_cluster(options);
  CHECK(second->receipt_secret() == secret);
  CHECK(first_value(second->pool(), "SELECT count(*) FROM schema_version") == std::to_string(migrations().size()));
}

TEST_CASE("migrations: two clusters migrating one schema at once end with one schema and one secret",
          "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const PgOptions options = options_for("race");
  std::shared_ptr<PgCluster> a, b;
  std::string error_a, error_b;
  std::thread other([&] { b = open_postgresql_cluster(options, error_b); });
  a = open_postgresql_cluster(options, error_a);
  other.join();
  INFO(error_a << " / " << error_b);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->receipt_secret() == b->receipt_secret());
  CHECK(first_value(a->pool(), "SELECT count(*) FROM schema_version") == std::to_string(migrations().size()));
}

TEST_CASE("migrations: a schema at version 1 reaches the newest, also with several nodes at once", "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const PgOptions options = options_for("v1");
  const std::string v2_indexes =
      "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
      "AND indexname IN ('messages_group_ready', 'groups_empty')";
  {
    auto cluster = open_cluster(options);
    CHECK(first_value(cluster->pool(), v2_indexes) == "2");
    // Back to what a Wharf that knew only version 1 left.
    REQUIRE(run(cluster->pool(), "DROP INDEX messages_group_ready").ok());
    REQUIRE(run(cluster->pool(), "DROP INDEX groups_empty").ok());
    REQUIRE(run(cluster->pool(), "DROP TABLE send_tokens").ok());  // version 3's
    REQUIRE(run(cluster->pool(), "DROP TABLE outbox").ok());       // version 5's
    REQUIRE(run(cluster->pool(), "DROP TABLE transfer_keys").ok());
    REQUIRE(run(cluster->pool(), "DELETE FROM schema_version WHERE version >= 2").ok());
    CHECK(first_value(cluster->pool(), v2_indexes) == "0");
  }
  std::vector<std::shared_ptr<PgCluster>> nodes(3);
  std::vector<std::string> errors(3);
  std::vector<std::thread> starting;
  for (size_t i = 0; i < nodes.size(); ++i) {
    starting.emplace_back([&, i] { nodes[i] = open_postgresql_cluster(options, errors[i]); });
  }
  for (auto& t : starting) t.join();
  for (size_t i = 0; i < nodes.size(); ++i) {
    INFO(errors[i]);
    REQUIRE(nodes[i]);
  }
  CHECK(first_value(nodes[0]->pool(), "SELECT string_agg(version::text, ',' ORDER BY version) FROM schema_version") ==
        every_version());
  CHECK(first_value(nodes[0]->pool(), v2_indexes) == "2");
}

TEST_CASE("migrations: a schema newer than this Wharf is refused", "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const PgOptions options = options_for("newer");
  {
    auto cluster = open_cluster(options);
    REQUIRE(run(cluster->pool(), "INSERT INTO schema_version VALUES (99, 0, 'the future')").ok());
  }
  std::string error;
  CHECK(!open_postgresql_cluster(options, error));
  CHECK_THAT(error, Catch::Contains("database schema version 99 is newer than this Wharf (knows up to " +
                                    std::to_string(newest_schema_version()) + "): upgrade Wharf"));
}

TEST_CASE("open: a database that cannot be reached is a clear error", "[pg][migrations]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for("unreachable");
  SECTION("no server at that port") { options.url = "postgresql://postgres@127.0.0.1:1/postgres"; }
  SECTION("an unknown user") {
    const std::string url = testing::test_postgres().url;
    options.url = url + (url.find('?') == std::string::npos ? "?" : "&") + "user=nobody_here";
  }
  std::string error;
  CHECK(!open_postgresql_cluster(options, error));
  CHECK_THAT(error, Catch::Contains("cannot be reached"));
}

TEST_CASE("pool: at most `connections` at once, waiters served in order, 503 after the wait", "[pg][pool]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for("pool");
  options.connections = 2;
  options.wait_timeout = std::chrono::milliseconds(300);
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();
  auto a = acquire(pool);
  auto b = acquire(pool);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  // Two waiters; giving one connection back serves the first of them.
  std::vector<int> served;
  std::mutex mutex;
  std::promise<void> first_served;
  std::vector<Lease> kept;
  for (int i = 0; i < 2; ++i) {
    pool.acquire([&, i](Result<Lease> lease) {
      std::lock_guard lock(mutex);
      served.push_back(lease.ok() ? i : -1 - i);
      if (lease.ok()) kept.push_back(std::move(lease.value()));
      if (served.size() == 1) first_served.set_value();
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  a = make_error(ErrorCode::InternalError, "given back");  // drops the lease
  await(first_served.get_future());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the second waits in vain
  {
    std::lock_guard lock(mutex);
    CHECK(served == std::vector<int>{0, -2});
    kept.clear();
  }
  auto late = acquire(pool);
  REQUIRE(late.ok());
}

TEST_CASE("pool: a burst of 2,000 requests on 2 connections waits its turn, none refused", "[pg][pool]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for("burst");
  options.connections = 2;
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();
  // Both connections are taken while the burst arrives: all of it waits.
  auto a = acquire(pool);
  auto b = acquire(pool);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  constexpr int kRequests = 2000;
  std::mutex mutex;
  int ok = 0, refused = 0;
  std::promise<void> all_done;
  for (int i = 0; i < kRequests; ++i) {
    pool.acquire([&](Result<Lease> lease) {
      std::lock_guard lock(mutex);
      (lease.ok() ? ok : refused) += 1;
      if (ok + refused == kRequests) all_done.set_value();
      // The lease goes back at once: the next waiter is served.
    });
  }
  a = make_error(ErrorCode::InternalError, "given back");
  b = make_error(ErrorCode::InternalError, "given back");
  await(all_done.get_future());
  CHECK(ok == kRequests);
  CHECK(refused == 0);
}

TEST_CASE("pool: a lost connection is made again", "[pg][pool]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for("loss");
  options.connections = 1;
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();
  const std::string pid = first_value(pool, "SELECT pg_backend_pid()");
  // The server ends that session from another one.
  {
    auto killer = open_cluster(options_for("killer"));
    CHECK(first_value(killer->pool(), "SELECT pg_terminate_backend($1, 5000)", {pid}) == "t");
  }
  SECTION("a pipeline on it answers 503 (it may have committed), and the pool makes another") {
    auto lost = run(pool, "SELECT 1");
    if (!lost.ok()) CHECK(lost.error().code == ErrorCode::ServiceUnavailable);
  }
  SECTION("a transaction on it runs again on another (no COMMIT was sent)") {
    int runs = 0;
    auto status = transact(pool, [&runs](std::shared_ptr<Tx> tx) {
      ++runs;
      tx->step(one("SELECT 1"), [tx](std::vector<QueryResult>&) { tx->commit(); });
    });
    CHECK(status.ok());
    CHECK(runs <= 2);  // 1 when the pool saw the session end while it was idle
  }
  const std::string again = first_value(pool, "SELECT pg_backend_pid()");
  CHECK(again != pid);
}

TEST_CASE("pool: a closed cluster leaves no session behind", "[pg][pool]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto observer = open_cluster(options_for("observer"));
  const std::string sessions = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wharf'";
  const std::string before = first_value(observer->pool(), sessions);
  for (int i = 0; i < 3; ++i) {
    PgOptions options = options_for("closed");
    options.connections = 3;
    auto cluster = open_cluster(options);
    // Three sessions at once, all idle when the cluster goes.
    std::vector<Lease> held;
    for (int j = 0; j < 3; ++j) held.push_back(acquire(cluster->pool()).value());
    held.clear();
  }
  std::string after;
  for (int tries = 0; tries < 50 && (after = first_value(observer->pool(), sessions)) != before; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(after == before);
}

TEST_CASE("transactions: the answer comes after COMMIT, with every step's results", "[pg][transactions]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto cluster = open_cluster(options_for("commit"));
  Pool& pool = cluster->pool();
  REQUIRE(run(pool, "CREATE TABLE t (v int)").ok());
  std::string seen;
  auto status = transact(pool, [&](std::shared_ptr<Tx> tx) {
    tx->step(one("INSERT INTO t VALUES (1) RETURNING v"), [&, tx](std::vector<QueryResult>& results) {
      REQUIRE(results.size() == 1);
      seen = std::string(results[0].text(0, 0));
      tx->commit_with(one("INSERT INTO t VALUES (2)"), [](std::vector<QueryResult>& r) { CHECK(r.size() == 1); });
    });
  });
  CHECK(status.ok());
  CHECK(seen == "1");
  CHECK(first_value(pool, "SELECT string_agg(v::text, ',' ORDER BY v) FROM t") == "1,2");
}

TEST_CASE("transactions: a failed statement rolls everything back and maps its error", "[pg][transactions]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto cluster = open_cluster(options_for("rollback"));
  Pool& pool = cluster->pool();
  REQUIRE(run(pool, "CREATE TABLE t (v int)").ok());
  bool continued = false;
  SECTION("in a later step") {
    auto status = transact(pool, [&](std::shared_ptr<Tx> tx) {
      tx->step(one("INSERT INTO t VALUES (1)"), [&, tx](std::vector<QueryResult>&) {
        tx->step(one("SELECT 1 / 0"), [&](std::vector<QueryResult>&) { continued = true; });
      });
    });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::InternalError);
    CHECK_THAT(status.error().message, Catch::Contains("22012"));
  }
  SECTION("the body gives up") {
    auto status = transact(pool, [&](std::shared_ptr<Tx> tx) {
      tx->step(one("INSERT INTO t VALUES (1)"),
               [&, tx](std::vector<QueryResult>&) { tx->fail(make_error(ErrorCode::QueueNameExists, "no")); });
    });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::QueueNameExists);
  }
  SECTION("a foreign key names a queue that is gone: QueueDoesNotExist") {
    auto status = transact(pool, [&](std::shared_ptr<Tx> tx) {
      tx->step(one("INSERT INTO t VALUES (1)"), [&, tx](std::vector<QueryResult>&) {
        tx->commit_with(one("INSERT INTO groups (queue_id, group_id, turn) VALUES (123456, 'g', 1)"),
                        [&](std::vector<QueryResult>&) { continued = true; });
      });
    });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::QueueDoesNotExist);
  }
  CHECK(!continued);
  CHECK(first_value(pool, "SELECT count(*) FROM t") == "0");
  // The connection is clean for the next transaction (no aborted block left).
  CHECK(first_value(pool, "SELECT 7") == "7");
}

TEST_CASE("transactions: a body that drops its Tx unfinished still gets an answer", "[pg][transactions]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for("dropped");
  options.connections = 1;
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();
  REQUIRE(run(pool, "CREATE TABLE t (v int)").ok());
  auto status = transact(pool, [](std::shared_ptr<Tx> tx) {
    tx->step(one("INSERT INTO t VALUES (1)"), [](std::vector<QueryResult>&) {});  // neither commit nor fail
  });
  REQUIRE(!status.ok());
  CHECK(status.error().code == ErrorCode::InternalError);
  // The only connection was closed with its transaction; the next one is new and sees nothing.
  CHECK(first_value(pool, "SELECT count(*) FROM t") == "0");
}

TEST_CASE("transactions: 40001 and 40P01 run the body again, then give 503", "[pg][transactions]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto cluster = open_cluster(options_for("retry"));
  Pool& pool = cluster->pool();
  REQUIRE(run(pool, "CREATE TABLE t (v int)").ok());
  REQUIRE(run(pool, "CREATE SEQUENCE failures").ok());
  // Fails with `state` while the sequence is below `times`.
  REQUIRE(run(pool,
              "CREATE FUNCTION flaky(state text, times int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN"
              " IF nextval('failures') <= times THEN RAISE EXCEPTION 'flaky' USING ERRCODE = state; END IF;"
              " RETURN 1; END $$")
              .ok());
  const std::string state = GENERATE(as<std::string>{}, "40001", "40P01");
  REQUIRE(run(pool, "SELECT setval('failures', 1, false)").ok());
  SECTION("a transaction") {
    const int times = GENERATE(1, 3, 4);
    int runs = 0;
    auto status = transact(pool, [&](std::shared_ptr<Tx> tx) {
      ++runs;
      CHECK(tx->attempt() == runs);
      tx->step(one("INSERT INTO t VALUES (1)"), [tx, &state, times](std::vector<QueryResult>&) {
        tx->commit_with(one("SELECT flaky($1, $2)", {state, std::to_string(times)}), nullptr);
      });
    });
    if (times < kTransactionAttempts) {
      CHECK(status.ok());
      CHECK(runs == times + 1);
      CHECK(first_value(pool, "SELECT count(*) FROM t") == "1");
    } else {
      REQUIRE(!status.ok());
      CHECK(status.error().code == ErrorCode::ServiceUnavailable);
      CHECK(runs == kTransactionAttempts);
      CHECK(first_value(pool, "SELECT count(*) FROM t") == "0");
    }
  }
  SECTION("one pipeline") {
    auto result = run(pool, "SELECT flaky($1, 2)", {state});
    CHECK(result.ok());
  }
}

TEST_CASE("transactions: how errors map to SQS errors", "[pg][transactions]") {
  auto code = [](std::string state, bool lost = false) { return map_pg_error(PgError{state, "m", lost}).code; };
  CHECK(code("", true) == ErrorCode::ServiceUnavailable);
  CHECK(code("08006") == ErrorCode::ServiceUnavailable);
  CHECK(code("57P01") == ErrorCode::ServiceUnavailable);
  CHECK(code("53300") == ErrorCode::ServiceUnavailable);
  CHECK(code("57014") == ErrorCode::ServiceUnavailable);
  CHECK(code("25006") == ErrorCode::ServiceUnavailable);
  CHECK(code("40001") == ErrorCode::ServiceUnavailable);
  CHECK(code("23503") == ErrorCode::QueueDoesNotExist);
  CHECK(code("42P01") == ErrorCode::InternalError);
  CHECK(is_retryable(PgError{"40P01", "", false}));
  CHECK(!is_retryable(PgError{"23505", "", false}));
}

// ---------------------------------------------------------------------------
// The queue family where PostgreSQL differs from one process: two nodes
// (two clusters over one schema) at once, and names no queue can have.

namespace {

using storage::AttributeMap;
using storage::Engine;

struct TwoNodes {
  std::shared_ptr<PgCluster> a_cluster, b_cluster;
  std::unique_ptr<Engine> a, b;

  explicit TwoNodes(const std::string& schema, const std::string& b_region = "us-east-1") {
    const PgOptions options = options_for(schema);
    a_cluster = open_cluster(options);
    b_cluster = open_cluster(options);
    storage::EngineOptions engine_options;
    a = open_postgresql_engine(a_cluster, engine_options);
    engine_options.region = b_region;
    b = open_postgresql_engine(b_cluster, engine_options);
  }
};

// Runs `first` and `second` on two threads started together.
void at_once(const std::function<void()>& first, const std::function<void()>& second) {
  std::atomic<int> ready{0};
  auto run = [&ready](const std::function<void()>& f) {
    ++ready;
    while (ready < 2) std::this_thread::yield();
    f();
  };
  std::thread other([&] { run(second); });
  run(first);
  other.join();
}

std::string redrive_policy_to(const std::string& arn) {
  return R"({"deadLetterTargetArn":")" + arn + R"(","maxReceiveCount":"3"})";
}

}  // namespace

TEST_CASE("queues: two nodes creating one queue at once end with one queue", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  TwoNodes nodes("create_race");
  for (int i = 0; i < 10; ++i) {
    const std::string name = "q" + std::to_string(i);
    const bool same = i % 2 == 0;
    std::optional<Result<storage::QueueInfo>> from_a, from_b;
    at_once(
        [&] {
          from_a = nodes.a->create_queue(name, {{"VisibilityTimeout", "40"}}, {});
        },
        [&] {
          from_b = nodes.b->create_queue(name, {{"VisibilityTimeout", same ? "40" : "50"}}, {});
        });
    CAPTURE(name);
    if (same) {
      REQUIRE(from_a->ok());
      REQUIRE(from_b->ok());
      CHECK(from_a->value().created_s == from_b->value().created_s);
    } else {
      // Whichever came second meets the first's queue and its other value.
      CHECK(from_a->ok() != from_b->ok());
      const auto& loser = from_a->ok() ? *from_b : *from_a;
      if (!loser.ok()) CHECK(loser.error().code == ErrorCode::QueueNameExists);
    }
  }
  CHECK(nodes.a->list_queues("q").size() == 10);
  CHECK(nodes.b->list_queues("q") == nodes.a->list_queues("q"));
}

TEST_CASE("queues: a queue deleted on one node is gone, and its name cooling down, on the other", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  TwoNodes nodes("tombstone");
  REQUIRE(nodes.a->create_queue("q", {}, {}).ok());
  REQUIRE(nodes.b->get_queue("q").ok());
  REQUIRE(nodes.a->delete_queue("q").ok());
  CHECK(nodes.b->get_queue("q").error().code == ErrorCode::QueueDoesNotExist);
  CHECK(nodes.b->delete_queue("q").error().code == ErrorCode::QueueDoesNotExist);
  CHECK(nodes.b->create_queue("q", {}, {}).error().code == ErrorCode::QueueDeletedRecently);
  CHECK(nodes.b->list_queues("").empty());
}

TEST_CASE("queues: the regions of one account do not meet", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  TwoNodes nodes("regions", "eu-west-1");
  for (auto* engine : {nodes.a.get(), nodes.b.get()}) {
    REQUIRE(engine->create_queue("dlq", {}, {}).ok());
  }
  REQUIRE(
      nodes.a
          ->create_queue(
              "src", {{"RedrivePolicy", redrive_policy_to(storage::queue_arn("us-east-1", "000000000000", "dlq"))}}, {})
          .ok());
  CHECK(nodes.a->dead_letter_source_queues("dlq").value() == std::vector<std::string>{"src"});
  CHECK(nodes.b->dead_letter_source_queues("dlq").value().empty());
  CHECK(nodes.b->list_queues("") == std::vector<std::string>{"dlq"});
  // A policy naming the other region's queue names no queue of this one.
  auto other_region = nodes.b->create_queue(
      "src", {{"RedrivePolicy", redrive_policy_to(storage::queue_arn("us-east-1", "000000000000", "src"))}}, {});
  REQUIRE(!other_region.ok());
  CHECK(other_region.error().code == ErrorCode::InvalidParameterValue);
}

TEST_CASE("queues: names no queue can have answer without the database", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto cluster = open_cluster(options_for("odd_names"));
  auto engine = open_postgresql_engine(cluster, storage::EngineOptions{});
  REQUIRE(engine->create_queue("dlq", {}, {}).ok());
  for (const std::string& odd : {std::string("dlq\0x", 5), std::string("bad\xff"), std::string("a b")}) {
    CAPTURE(odd);
    CHECK(engine->get_queue(odd).error().code == ErrorCode::QueueDoesNotExist);
    CHECK(engine->queue_counts(odd).error().code == ErrorCode::QueueDoesNotExist);
    CHECK(engine->delete_queue(odd).error().code == ErrorCode::QueueDoesNotExist);
    CHECK(engine->set_queue_attributes(odd, {{"DelaySeconds", "1"}}).error().code == ErrorCode::QueueDoesNotExist);
    CHECK(engine->list_queues(odd).empty());
  }
  CHECK(engine->list_queues("dl") == std::vector<std::string>{"dlq"});
  // A RedrivePolicy whose target has a NUL in its name is not "dlq".
  auto nul_target = engine->create_queue(
      "src",
      {{"RedrivePolicy", redrive_policy_to(storage::queue_arn("us-east-1", "000000000000", "dlq") + "\\u0000x")}}, {});
  REQUIRE(!nul_target.ok());
  CHECK_THAT(nul_target.error().message, Catch::Contains("does not exist"));
}

TEST_CASE("queues: a FIFO queue's row keeps its type and the deduplication scope it was created with", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  auto cluster = open_cluster(options_for("fifo_row"));
  auto engine = open_postgresql_engine(cluster, storage::EngineOptions{});
  auto& pg = dynamic_cast<PgEngine&>(*engine);
  REQUIRE(engine->create_queue("f.fifo", {{"FifoQueue", "true"}, {"DeduplicationScope", "messageGroup"}}, {}).ok());
  REQUIRE(engine->create_queue("s", {}, {}).ok());
  auto row = [&pg](const std::string& name) {
    auto answer = std::make_shared<std::promise<Result<PgQueue>>>();
    auto future = answer->get_future();
    pg.find_queue(name, [answer](Result<PgQueue> q) { answer->set_value(std::move(q)); });
    return await(std::move(future));
  };
  auto fifo = row("f.fifo");
  REQUIRE(fifo.ok());
  CHECK(fifo->fifo);
  CHECK(fifo->dedup_per_group);
  CHECK(fifo->attributes.at("FifoQueue") == "true");
  // Changing the scope later does not change the one in effect (as RocksDB).
  REQUIRE(engine->set_queue_attributes("f.fifo", {{"DeduplicationScope", "queue"}}).ok());
  CHECK(row("f.fifo")->dedup_per_group);
  CHECK(row("f.fifo")->attributes.at("DeduplicationScope") == "queue");
  auto standard = row("s");
  REQUIRE(standard.ok());
  CHECK(!standard->fifo);
  CHECK(!standard->dedup_per_group);
  CHECK(!standard->has_groups);
  CHECK(standard->dead_letter_target.empty());
}

TEST_CASE("queues: tags added on two nodes at once are all kept (read-modify-write under FOR UPDATE)", "[pg][queues]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  TwoNodes nodes("tag_race");
  REQUIRE(nodes.a->create_queue("q", {}, {}).ok());
  for (int i = 0; i < 10; ++i) {
    auto tag = [i](const std::string& node) {
      return [key = node + std::to_string(i)](storage::QueueInfo& info) {
        info.tags[key] = "v";
        return Status(Ok{});
      };
    };
    Status from_a = Ok{}, from_b = Ok{};
    at_once([&] { from_a = nodes.a->modify_queue("q", tag("a")); },
            [&] { from_b = nodes.b->modify_queue("q", tag("b")); });
    CHECK(from_a.ok());
    CHECK(from_b.ok());
  }
  CHECK(nodes.a->get_queue("q")->tags.size() == 20);
}
