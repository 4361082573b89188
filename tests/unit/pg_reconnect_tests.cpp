// The PostgreSQL backend's connections when the database goes away and
// comes back (storage/postgresql/pool.h, connection.h, pg_notify.h): the
// backoff, 503 at once while the database is known to be down, reconnecting
// over a several-host URL, TCP keepalives on every connection, a session a
// failover made read-only dropped, and exceptions thrown by continuations
// on the database thread answered as InternalError. The outage tests stop
// and restart a throwaway cluster of their own (on the same port), not the
// one the other tests share.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "storage/engine.h"
#include "storage/postgresql/connection.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_notify.h"
#include "storage/postgresql/pool.h"
#include "storage/postgresql/transaction.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::storage::postgresql;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kPatience = std::chrono::seconds(30);

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

using testing::OwnCluster;

// A loopback port where nothing listens.
unsigned short closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

PgOptions options_for(const std::string& url, const std::string& schema) {
  PgOptions options;
  options.url = url;
  options.schema = "pgreconnect_" + std::to_string(getpid()) + "_" + schema;
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

Result<std::vector<QueryResult>> run(Pool& pool, const std::string& sql) {
  auto answer = std::make_shared<std::promise<Result<std::vector<QueryResult>>>>();
  auto future = answer->get_future();
  run_statements(pool, {Statement{sql, {}}},
                 [answer](Result<std::vector<QueryResult>> r) { answer->set_value(std::move(r)); });
  return await(std::move(future));
}

Status transact(Pool& pool, std::function<void(std::shared_ptr<Tx>)> body) {
  auto answer = std::make_shared<std::promise<Status>>();
  auto future = answer->get_future();
  run_transaction(pool, std::move(body), [answer](Status s) { answer->set_value(std::move(s)); });
  return await(std::move(future));
}

int socket_option(int fd, int level, int name) {
  int value = -1;
  socklen_t size = sizeof value;
  REQUIRE(getsockopt(fd, level, name, &value, &size) == 0);
  return value;
}

std::shared_ptr<Connection> connect(boost::asio::io_context& io, const std::string& url) {
  auto connection = Connection::create(io);
  std::optional<std::optional<PgError>> outcome;
  connection->async_connect(url, std::chrono::seconds(10), [&](std::optional<PgError> error) { outcome = error; });
  const auto deadline = Clock::now() + kPatience;
  while (!outcome && Clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));
  REQUIRE(outcome);
  INFO((*outcome ? (*outcome)->message : std::string("connected")));
  REQUIRE(!*outcome);
  return connection;
}

}  // namespace

TEST_CASE("backoff: 50 ms doubling to 2 s, jittered between half and all of it", "[pg][reconnect]") {
  ReconnectBackoff backoff;
  int64_t full = 50;
  for (int i = 0; i < 10; ++i) {
    const int64_t wait = backoff.next().count();
    CHECK(wait >= full / 2);
    CHECK(wait <= full);
    full = std::min<int64_t>(full * 2, 2000);
  }
  backoff.reset();
  CHECK(backoff.next().count() <= 50);
}

TEST_CASE("keepalives: every connection gets them, unless its URL sets them", "[pg][reconnect]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  const std::string url = testing::test_postgres().url;
  auto plain = connect(io, url);
  const int fd = plain->native_socket();
  REQUIRE(fd >= 0);
  CHECK(socket_option(fd, SOL_SOCKET, SO_KEEPALIVE) == 1);
  CHECK(socket_option(fd, IPPROTO_TCP, TCP_KEEPIDLE) == 5);
  CHECK(socket_option(fd, IPPROTO_TCP, TCP_KEEPINTVL) == 2);
  CHECK(socket_option(fd, IPPROTO_TCP, TCP_KEEPCNT) == 3);
  CHECK(socket_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 10000);

  auto own = connect(io, url + "?keepalives_idle=30&tcp_user_timeout=0");
  const int own_fd = own->native_socket();
  CHECK(socket_option(own_fd, IPPROTO_TCP, TCP_KEEPIDLE) == 30);
  CHECK(socket_option(own_fd, IPPROTO_TCP, TCP_KEEPINTVL) == 2);  // the rest as before
  CHECK(socket_option(own_fd, IPPROTO_TCP, TCP_USER_TIMEOUT) == 0);

  auto words =
      connect(io, "host=127.0.0.1 port=" + url.substr(url.rfind(':') + 1, url.rfind('/') - url.rfind(':') - 1) +
                      " user=postgres dbname=postgres keepalives_count=7");
  CHECK(socket_option(words->native_socket(), IPPROTO_TCP, TCP_KEEPCNT) == 7);
  CHECK(socket_option(words->native_socket(), IPPROTO_TCP, TCP_KEEPIDLE) == 5);
}

TEST_CASE("outage: 503 at once while the database is down, back within the backoff when it returns",
          "[pg][reconnect]") {
  OwnCluster database;
  // Two hosts, the first with nothing listening: every (re)connect goes
  // through libpq's host list and target_session_attrs, as under Patroni.
  const std::string url = "postgresql://postgres@127.0.0.1:" + std::to_string(closed_port()) +
                          ",127.0.0.1:" + std::to_string(database.port()) + "/postgres?target_session_attrs=read-write";
  auto cluster = open_cluster(options_for(url, "outage"));
  auto notifier = PgNotifier::start(cluster, [](std::string_view, std::string_view, std::string_view) {});
  auto janitor = PgJanitor::start(cluster, 1000);
  Pool& pool = cluster->pool();
  REQUIRE(run(pool, "SELECT 1").ok());
  const auto up = Clock::now() + kPatience;
  while ((!notifier->listening() || !janitor->holds_lease()) && Clock::now() < up)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(notifier->listening());
  REQUIRE(janitor->holds_lease());

  database.stop();
  // The first request finds the pooled session gone and the database
  // refusing: 503, without waiting for the pool's 5 s.
  auto started = Clock::now();
  auto first = run(pool, "SELECT 1");
  REQUIRE(!first.ok());
  CHECK(first.error().code == ErrorCode::ServiceUnavailable);
  CHECK(seconds_since(started) < 1.0);
  CHECK(pool.unreachable());
  // Known down: every request is answered at once, and none tries to connect.
  started = Clock::now();
  for (int i = 0; i < 50; ++i) {
    auto r = run(pool, "SELECT 1");
    REQUIRE(!r.ok());
    CHECK(r.error().code == ErrorCode::ServiceUnavailable);
    CHECK_THAT(r.error().message, Catch::Contains("cannot be reached"));
  }
  const double fifty = seconds_since(started);
  CHECK(fifty < 0.5);
  auto failed = transact(pool, [](std::shared_ptr<Tx> tx) { tx->commit(); });
  CHECK(!failed.ok());
  const auto down = Clock::now() + std::chrono::seconds(5);
  while ((notifier->listening() || janitor->holds_lease()) && Clock::now() < down)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(!notifier->listening());
  CHECK(!janitor->holds_lease());
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the backoff reaches its 2 s ceiling

  database.start_again();
  const auto back = Clock::now();
  double served = -1, listening = -1, leased = -1;
  while (Clock::now() < back + kPatience && (served < 0 || listening < 0 || leased < 0)) {
    if (served < 0 && run(pool, "SELECT 1").ok()) served = seconds_since(back);
    if (listening < 0 && notifier->listening()) listening = seconds_since(back);
    if (leased < 0 && janitor->holds_lease()) leased = seconds_since(back);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf(
      "outage: 50 requests while down answered in %.3f s; after the restart: first success %.2f s, "
      "LISTEN again %.2f s, janitor lease %.2f s\n",
      fifty, served, listening, leased);
  CHECK(served >= 0);
  CHECK(served < 2.5);  // the backoff's ceiling (2 s) and a connect
  CHECK(listening >= 0);
  CHECK(listening < 3.5);
  CHECK(leased >= 0);
  CHECK(!pool.unreachable());
  CHECK(transact(pool, [](std::shared_ptr<Tx> tx) {
          tx->step({Statement{"SELECT 1", {}}}, [tx](std::vector<QueryResult>&) { tx->commit(); });
        }).ok());
  janitor->stop();
  notifier->stop();
  // A janitor step still in flight holds the janitor (and so the cluster):
  // the cluster must not be dropped last on its own thread.
  janitor.reset();
  notifier.reset();
  const auto settled = Clock::now() + kPatience;
  while (cluster.use_count() > 1 && Clock::now() < settled) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(cluster.use_count() == 1);
}

TEST_CASE("failover: a session that became read-only is dropped, the next one is read-write", "[pg][reconnect]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for(testing::test_postgres().url, "readonly");
  options.connections = 1;
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();
  // What a demoted primary's sessions answer: 25006 to every write.
  REQUIRE(run(pool, "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").ok());
  auto refused = run(pool, "CREATE TABLE written (x int)");
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == ErrorCode::ServiceUnavailable);
  CHECK(run(pool, "CREATE TABLE written (x int)").ok());  // a fresh session
}

TEST_CASE("continuations that throw on the database thread answer InternalError", "[pg][reconnect]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  PgOptions options = options_for(testing::test_postgres().url, "throws");
  options.connections = 1;
  auto cluster = open_cluster(options);
  Pool& pool = cluster->pool();

  SECTION("a step's continuation") {
    auto status = transact(pool, [](std::shared_ptr<Tx> tx) {
      tx->step({Statement{"CREATE TABLE half (x int)", {}}},
               [](std::vector<QueryResult>&) { throw std::runtime_error("parsing went wrong"); });
    });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::InternalError);
    CHECK_THAT(status.error().message, Catch::Contains("parsing went wrong"));
    CHECK(run(pool, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'")->front().text(0, 0) == "0");
  }
  SECTION("a step's continuation that started another step first") {
    auto status = transact(pool, [](std::shared_ptr<Tx> tx) {
      tx->step({Statement{"SELECT 1", {}}}, [tx](std::vector<QueryResult>&) {
        tx->step({Statement{"SELECT pg_sleep(0.2)", {}}}, [tx](std::vector<QueryResult>&) { tx->commit(); });
        throw 42;
      });
    });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::InternalError);
  }
  SECTION("a body") {
    auto status = transact(pool, [](std::shared_ptr<Tx>) { throw std::logic_error("body bug"); });
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::InternalError);
  }
  SECTION("a run_statements continuation is called again with InternalError") {
    std::vector<bool> calls;
    auto answer = std::make_shared<std::promise<Status>>();
    auto future = answer->get_future();
    run_statements(pool, {Statement{"SELECT 1", {}}}, [&calls, answer](Result<std::vector<QueryResult>> r) {
      calls.push_back(r.ok());
      if (r.ok()) throw std::out_of_range("row 7");
      answer->set_value(r.error());
    });
    const Status status = await(std::move(future));
    REQUIRE(!status.ok());
    CHECK(status.error().code == ErrorCode::InternalError);
    CHECK(calls == std::vector<bool>{true, false});
  }
  SECTION("any other handler on the cluster's thread") {
    boost::asio::post(cluster->io(), [] { throw std::runtime_error("a timer's bug"); });
  }
  // The process lives, the thread goes on, and the one session is usable;
  // a discarded session is gone once the server has seen it close.
  std::string left;
  for (int i = 0; i < 100 && left != "0"; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto after = run(pool, "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'");
    REQUIRE(after.ok());
    left = std::string(after->front().text(0, 0));
  }
  CHECK(left == "0");
  CHECK(transact(pool, [](std::shared_ptr<Tx> tx) {
          tx->step({Statement{"SELECT 1", {}}}, [tx](std::vector<QueryResult>&) { tx->commit(); });
        }).ok());
}

namespace {

// A cluster of its own (the tests change its settings and end its
// sessions), an engine over it and a standard queue "q".
struct InDoubtSend {
  explicit InDoubtSend(const std::string& schema)
      : options(options_for(own.url(), schema)),
        cluster(open_cluster(options)),
        engine(open_postgresql_engine(cluster, EngineOptions{})) {
    REQUIRE(engine->create_queue("q", {}, {}).ok());
  }
  OwnCluster own;
  PgOptions options;
  std::shared_ptr<PgCluster> cluster;
  std::unique_ptr<Engine> engine;
};

}  // namespace

// A standard send whose connection is lost after its COMMIT was sent
// (pg_send.cpp, transaction.h: run_statements_fenced). Made for real: the
// commit waits for a synchronous standby that does not exist (it is
// already committed locally then, as on a primary that dies before its
// standby confirms), and the test terminates that session.
TEST_CASE("a send lost with its COMMIT in doubt: committed, it answers success and is stored once",
          "[pg][reconnect][in-doubt]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  InDoubtSend setup("doubt_done");
  OwnCluster& own = setup.own;
  const PgOptions& options = setup.options;
  Engine* engine = setup.engine.get();
  own.psql("ALTER SYSTEM SET synchronous_standby_names = 'nobody'");
  own.psql("SELECT pg_reload_conf()");
  std::vector<NewMessage> one(1);
  one[0].body = "in doubt";
  auto sent = std::async(std::launch::async, [&] { return engine->send_messages("q", std::move(one)); });
  const std::string pid = own.await_row("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'");
  REQUIRE(!pid.empty());
  CHECK(own.psql("SELECT pg_terminate_backend(" + pid + ")") == "t");
  // The fence's own write commits only once there is no standby to wait for.
  own.psql("ALTER SYSTEM RESET synchronous_standby_names");
  own.psql("SELECT pg_reload_conf()");
  REQUIRE(sent.wait_for(kPatience) == std::future_status::ready);
  auto answered = sent.get();
  INFO((answered.ok() ? std::string() : answered.error().message));
  REQUIRE(answered.ok());
  REQUIRE(answered->size() == 1);
  REQUIRE(answered->front().ok());
  const std::string id = answered->front()->message_id;
  CHECK(own.psql("SELECT count(*) FROM " + options.schema + ".messages WHERE message_id = '" + id + "'") == "1");
  auto received = engine->receive_messages("q", 10, std::nullopt, "");
  REQUIRE(received.ok());
  REQUIRE(received->size() == 1);
  CHECK(received->front().message_id == id);
}

TEST_CASE("a send lost with its COMMIT in doubt: not committed, it answers 503 and is never stored",
          "[pg][reconnect][in-doubt]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  InDoubtSend setup("doubt_lost");
  OwnCluster& own = setup.own;
  const PgOptions& options = setup.options;
  Engine* engine = setup.engine.get();
  // Holds the send (at its token) until the test ends its session; the
  // fence then waits for the lock too, and finds the token unclaimed.
  const std::string tokens = options.schema + ".send_tokens";
  own.psql("BEGIN; LOCK TABLE " + tokens + " IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;", true);
  REQUIRE(!own.await_row("SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                         "WHERE c.relname = 'send_tokens' AND l.mode = 'AccessExclusiveLock' AND l.granted")
               .empty());
  std::vector<NewMessage> one(1);
  one[0].body = "never stored";
  auto sent = std::async(std::launch::async, [&] { return engine->send_messages("q", std::move(one)); });
  const std::string pid =
      own.await_row("SELECT pid FROM pg_stat_activity WHERE application_name = 'wharf' AND wait_event_type = 'Lock'");
  REQUIRE(!pid.empty());
  CHECK(own.psql("SELECT pg_terminate_backend(" + pid + ")") == "t");
  REQUIRE(sent.wait_for(kPatience) == std::future_status::ready);
  auto answered = sent.get();
  REQUIRE(!answered.ok());
  CHECK(answered.error().code == ErrorCode::ServiceUnavailable);
  CHECK(answered.error().message.find("it was not stored") != std::string::npos);
  CHECK(own.psql("SELECT count(*) FROM " + options.schema + ".messages") == "0");
  CHECK(own.psql("SELECT count(*) FROM " + tokens + " WHERE fenced") == "1");
}
