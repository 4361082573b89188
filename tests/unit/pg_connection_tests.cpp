// storage/postgresql/connection: one libpq connection on an io_context,
// against a real PostgreSQL (tests/unit/pg_test_cluster.h). Everything runs
// on this test's one thread: the io_context is run only while a test waits
// for an answer, which shows that nothing inside blocks on the database.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/postgresql/connection.h"
#include "tests/unit/pg_test_cluster.h"

using wharf::storage::postgresql::Connection;
using wharf::storage::postgresql::PgError;
using wharf::storage::postgresql::PgParam;
using wharf::storage::postgresql::QueryResult;

namespace {

constexpr auto kPatience = std::chrono::seconds(20);

// Runs `io` until `done()` holds, for at most kPatience.
template <class Done>
bool run_until(boost::asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  io.restart();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.run_one_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::shared_ptr<Connection> connect(boost::asio::io_context& io, const std::string& url) {
  auto connection = Connection::create(io);
  std::optional<std::optional<PgError>> outcome;
  connection->async_connect(url, std::chrono::seconds(10), [&](std::optional<PgError> error) { outcome = error; });
  CHECK(!outcome);  // never answered inline
  REQUIRE(run_until(io, [&] { return outcome.has_value(); }));
  INFO((*outcome ? (*outcome)->message : std::string("connected")));
  REQUIRE(!*outcome);
  REQUIRE(connection->connected());
  return connection;
}

QueryResult query(boost::asio::io_context& io, Connection& connection, const std::string& sql,
                  const std::vector<PgParam>& params = {}) {
  std::optional<QueryResult> result;
  connection.async_query(sql, params, [&](QueryResult r) { result = std::move(r); });
  CHECK(!result);  // never answered inline
  REQUIRE(run_until(io, [&] { return result.has_value(); }));
  return std::move(*result);
}

std::string describe(const QueryResult& r) {
  return r.ok() ? std::string("ok") : r.error().sqlstate + " " + r.error().message;
}

// A loopback port where nothing listens.
unsigned short closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();  // closed again when `acceptor` goes
}

}  // namespace

TEST_CASE("a connection runs parameterised statements and answers their rows", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);

  auto r = query(io, *c, "SELECT $1::int + $2::int AS sum, $3::text IS NULL AS missing, $4::text AS echo",
                 {"2", "3", std::nullopt, "h\xc3\xa9llo 'quoted' \"and\" $1"});
  INFO(describe(r));
  REQUIRE(r.ok());
  CHECK(r.rows() == 1);
  CHECK(r.columns() == 3);
  CHECK(r.column("sum") == 0);
  CHECK(r.column("echo") == 2);
  CHECK(r.column("nothing") == -1);
  CHECK(r.text(0, 0) == "5");
  CHECK(r.text(0, 1) == "t");
  CHECK(r.text(0, 2) == "h\xc3\xa9llo 'quoted' \"and\" $1");

  SECTION("many rows") {
    auto rows = query(io, *c, "SELECT g, g * 2 FROM generate_series(1, $1::int) AS g", {"1000"});
    REQUIRE(rows.ok());
    REQUIRE(rows.rows() == 1000);
    CHECK(rows.text(0, 0) == "1");
    CHECK(rows.text(999, 1) == "2000");
  }
  SECTION("NULL values") {
    auto nulls = query(io, *c, "SELECT NULL::text, ''::text");
    REQUIRE(nulls.ok());
    CHECK(nulls.is_null(0, 0));
    CHECK_FALSE(nulls.is_null(0, 1));
    CHECK(nulls.text(0, 1).empty());
  }
  SECTION("a parameter bigger than the socket's buffers") {
    const std::string big(4 << 20, 'x');
    auto sized =
        query(io, *c, "SELECT length($1), md5($1) = md5(repeat('x', $2::int))", {big, std::to_string(big.size())});
    INFO(describe(sized));
    REQUIRE(sized.ok());
    CHECK(sized.text(0, 0) == std::to_string(big.size()));
    CHECK(sized.text(0, 1) == "t");
  }
  SECTION("writes: rows touched, and a transaction over several statements") {
    REQUIRE(query(io, *c, "CREATE TEMP TABLE t (id int PRIMARY KEY, body text NOT NULL)").ok());
    auto inserted = query(io, *c, "INSERT INTO t SELECT g, 'b' || g FROM generate_series(1, $1::int) AS g", {"5"});
    REQUIRE(inserted.ok());
    CHECK(inserted.affected_rows() == 5);
    REQUIRE(query(io, *c, "BEGIN").ok());
    CHECK(query(io, *c, "DELETE FROM t WHERE id > $1::int", {"2"}).affected_rows() == 3);
    REQUIRE(query(io, *c, "ROLLBACK").ok());
    auto count = query(io, *c, "SELECT count(*) FROM t");
    REQUIRE(count.ok());
    CHECK(count.text(0, 0) == "5");
  }
}

TEST_CASE("errors arrive through the handler, and the connection stays usable", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);

  auto syntax = query(io, *c, "SELEC 1");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().sqlstate == "42601");
  CHECK(syntax.error().message.find("syntax error") != std::string::npos);
  CHECK_FALSE(syntax.error().connection_lost);
  CHECK(c->connected());

  auto division = query(io, *c, "SELECT 1 / $1::int", {"0"});
  REQUIRE_FALSE(division.ok());
  CHECK(division.error().sqlstate == "22012");

  auto bad_parameter = query(io, *c, "SELECT $1::int", {"not a number"});
  REQUIRE_FALSE(bad_parameter.ok());
  CHECK(bad_parameter.error().sqlstate == "22P02");

  REQUIRE(query(io, *c, "CREATE TEMP TABLE u (id int PRIMARY KEY)").ok());
  REQUIRE(query(io, *c, "INSERT INTO u VALUES (1)").ok());
  auto duplicate = query(io, *c, "INSERT INTO u VALUES (1)");
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().sqlstate == "23505");

  auto fine = query(io, *c, "SELECT 'still here'");
  REQUIRE(fine.ok());
  CHECK(fine.text(0, 0) == "still here");
}

TEST_CASE("a second statement while one runs is refused, and the first completes", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  std::optional<QueryResult> first, second;
  c->async_query("SELECT pg_sleep(0.2), 'first'", {}, [&](QueryResult r) { first = std::move(r); });
  c->async_query("SELECT 'second'", {}, [&](QueryResult r) { second = std::move(r); });
  REQUIRE(run_until(io, [&] { return first && second; }));
  REQUIRE_FALSE(second->ok());
  CHECK_FALSE(second->error().connection_lost);
  REQUIRE(first->ok());
  CHECK(first->text(0, 1) == "first");
}

TEST_CASE("statements on several connections run at once on one thread", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  std::vector<std::shared_ptr<Connection>> connections;
  for (int i = 0; i < 6; ++i) connections.push_back(connect(io, wharf::testing::test_postgres().url));
  int answered = 0;
  const auto started = std::chrono::steady_clock::now();
  for (auto& c : connections) {
    c->async_query("SELECT pg_sleep(0.3)", {}, [&](QueryResult r) {
      CHECK(r.ok());
      ++answered;
    });
  }
  REQUIRE(run_until(io, [&] { return answered == 6; }));
  // One after the other would take 1.8 s.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1200));
}

TEST_CASE("a connection the server ends reports it as lost", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  auto killer = connect(io, wharf::testing::test_postgres().url);
  auto pid = query(io, *c, "SELECT pg_backend_pid()");
  REQUIRE(pid.ok());
  const std::string backend(pid.text(0, 0));

  SECTION("while a statement runs") {
    std::optional<QueryResult> waiting;
    c->async_query("SELECT pg_sleep(30)", {}, [&](QueryResult r) { waiting = std::move(r); });
    auto ended = query(io, *killer, "SELECT pg_terminate_backend($1::int)", {backend});
    REQUIRE(ended.ok());
    REQUIRE(run_until(io, [&] { return waiting.has_value(); }));
    REQUIRE_FALSE(waiting->ok());
    CHECK(waiting->error().connection_lost);
  }
  SECTION("between statements") {
    REQUIRE(query(io, *killer, "SELECT pg_terminate_backend($1::int)", {backend}).ok());
    // The idle connection notices the close as it happens (it is always
    // watched for reading), or at the latest with the next statement.
    run_until(io, [&] { return !c->connected(); });
    auto after = query(io, *c, "SELECT 1");
    REQUIRE_FALSE(after.ok());
    CHECK(after.error().connection_lost);
  }
  CHECK_FALSE(c->connected());
}

TEST_CASE("connecting fails through the handler", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  std::string url;
  SECTION("nothing listens on the port") {
    url = "postgresql://postgres@127.0.0.1:" + std::to_string(closed_port()) + "/postgres";
  }
  SECTION("no such database") {
    const std::string good = wharf::testing::test_postgres().url;
    url = good.substr(0, good.rfind('/')) + "/no_such_database";
  }
  SECTION("not a connection string") { url = "postgresql://[not a host"; }
  auto c = Connection::create(io);
  std::optional<std::optional<PgError>> outcome;
  c->async_connect(url, std::chrono::seconds(10), [&](std::optional<PgError> error) { outcome = error; });
  CHECK(!outcome);
  REQUIRE(run_until(io, [&] { return outcome.has_value(); }));
  REQUIRE(*outcome);
  INFO((*outcome)->message);
  CHECK((*outcome)->connection_lost);
  CHECK_FALSE((*outcome)->message.empty());
  CHECK_FALSE(c->connected());
}

TEST_CASE("notifications arrive between statements", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto listener = connect(io, wharf::testing::test_postgres().url);
  auto sender = connect(io, wharf::testing::test_postgres().url);
  std::vector<std::pair<std::string, std::string>> heard;
  listener->on_notification([&](std::string channel, std::string payload) { heard.emplace_back(channel, payload); });
  REQUIRE(query(io, *listener, "LISTEN wharf_test").ok());
  REQUIRE(query(io, *sender, "SELECT pg_notify('wharf_test', $1)", {"m42"}).ok());
  REQUIRE(run_until(io, [&] { return !heard.empty(); }));
  CHECK(heard.front() == std::make_pair(std::string("wharf_test"), std::string("m42")));
}

TEST_CASE("the server's notices go to the notice handler", "[postgresql][connection]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  std::vector<std::string> notices;
  c->on_notice([&](std::string message) { notices.push_back(std::move(message)); });
  REQUIRE(query(io, *c, "DO $$ BEGIN RAISE NOTICE 'heard %', 42; END $$").ok());
  REQUIRE(run_until(io, [&] { return !notices.empty(); }));
  CHECK(notices.front().find("heard 42") != std::string::npos);
}

namespace {

std::vector<QueryResult> pipeline(boost::asio::io_context& io, Connection& connection,
                                  std::vector<wharf::storage::postgresql::Statement> statements) {
  std::optional<std::vector<QueryResult>> results;
  connection.async_pipeline(std::move(statements), [&](std::vector<QueryResult> r) { results = std::move(r); });
  CHECK(!results);  // never answered inline
  REQUIRE(run_until(io, [&] { return results.has_value(); }));
  return std::move(*results);
}

}  // namespace

TEST_CASE("a pipeline sends several statements at once and answers each", "[postgresql][connection][pipeline]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  REQUIRE(query(io, *c, "CREATE TEMP TABLE p (id int PRIMARY KEY, body text)").ok());

  SECTION("a transaction in one round trip") {
    auto results = pipeline(io, *c,
                            {{"BEGIN", {}},
                             {"INSERT INTO p SELECT g, $1 FROM generate_series(1, $2::int) AS g", {"x", "3"}},
                             {"SELECT count(*), min(body) FROM p", {}},
                             {"COMMIT", {}}});
    REQUIRE(results.size() == 4);
    for (const auto& r : results) CHECK(describe(r) == "ok");
    CHECK(results[1].affected_rows() == 3);
    CHECK(results[2].text(0, 0) == "3");
    CHECK(results[2].text(0, 1) == "x");
    CHECK(query(io, *c, "SELECT count(*) FROM p").text(0, 0) == "3");
  }
  SECTION("a failed statement skips the rest, and its transaction is rolled back") {
    REQUIRE(query(io, *c, "INSERT INTO p VALUES (1, 'old')").ok());
    auto results = pipeline(io, *c,
                            {{"BEGIN", {}},
                             {"INSERT INTO p VALUES (2, 'new')", {}},
                             {"INSERT INTO p VALUES ($1::int, 'duplicate')", {"1"}},
                             {"SELECT 'not run'", {}},
                             {"COMMIT", {}}});
    REQUIRE(results.size() == 5);
    CHECK(results[0].ok());
    CHECK(results[1].ok());
    REQUIRE_FALSE(results[2].ok());
    CHECK(results[2].error().sqlstate == "23505");
    CHECK_FALSE(results[3].ok());
    CHECK_FALSE(results[4].ok());
    CHECK(c->connected());
    // The transaction is left failed, as after an error outside a pipeline:
    // the caller ends it.
    CHECK(query(io, *c, "ROLLBACK").ok());
    CHECK(query(io, *c, "SELECT string_agg(body, ',' ORDER BY id) FROM p").text(0, 0) == "old");
  }
  SECTION("without BEGIN, the pipeline is one implicit transaction: all or nothing") {
    auto results = pipeline(io, *c,
                            {{"INSERT INTO p VALUES (10, 'a')", {}},
                             {"INSERT INTO p VALUES (10, 'again')", {}},
                             {"INSERT INTO p VALUES (11, 'skipped')", {}}});
    REQUIRE(results.size() == 3);
    CHECK(results[0].ok());
    CHECK(results[1].error().sqlstate == "23505");
    CHECK_FALSE(results[2].ok());
    CHECK(query(io, *c, "SELECT count(*) FROM p").text(0, 0) == "0");
  }
  SECTION("a big pipeline") {
    std::vector<wharf::storage::postgresql::Statement> many;
    const std::string body(64 << 10, 'b');
    for (int i = 0; i < 100; ++i) many.push_back({"INSERT INTO p VALUES ($1::int, $2)", {std::to_string(i), body}});
    auto results = pipeline(io, *c, std::move(many));
    REQUIRE(results.size() == 100);
    for (const auto& r : results) CHECK(r.ok());
    CHECK(query(io, *c, "SELECT count(*), sum(length(body)) FROM p").text(0, 1) == std::to_string(100 * body.size()));
  }
  // Afterwards the connection runs single statements as before.
  CHECK(query(io, *c, "SELECT 'after'").text(0, 0) == "after");
}

TEST_CASE("a pipeline on a connection the server ends fails as a whole", "[postgresql][connection][pipeline]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  auto killer = connect(io, wharf::testing::test_postgres().url);
  const std::string backend(query(io, *c, "SELECT pg_backend_pid()").text(0, 0));
  std::optional<std::vector<QueryResult>> results;
  c->async_pipeline({{"BEGIN", {}}, {"SELECT pg_sleep(30)", {}}, {"COMMIT", {}}},
                    [&](std::vector<QueryResult> r) { results = std::move(r); });
  REQUIRE(query(io, *killer, "SELECT pg_terminate_backend($1::int)", {backend}).ok());
  REQUIRE(run_until(io, [&] { return results.has_value(); }));
  REQUIRE(results->size() == 3);
  // What the server answered before it ended the connection may be
  // success (BEGIN); the statement it was running, and the rest, are lost.
  CHECK_FALSE((*results)[1].ok());
  CHECK_FALSE((*results)[2].ok());
  CHECK((*results)[2].error().connection_lost);
  CHECK_FALSE(c->connected());
}

TEST_CASE("named statements are prepared once per connection", "[postgresql][connection][pipeline]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  boost::asio::io_context io;
  auto c = connect(io, wharf::testing::test_postgres().url);
  using wharf::storage::postgresql::Statement;
  auto prepared_count = [&](const std::string& name) {
    return std::string(query(io, *c, "SELECT count(*) FROM pg_prepared_statements WHERE name = $1", {name}).text(0, 0));
  };
  const Statement add{"SELECT $1::int + $2::int", {"1", "2"}, "wharf_add"};

  std::optional<QueryResult> single;
  c->async_query(add, [&](QueryResult r) { single = std::move(r); });
  REQUIRE(run_until(io, [&] { return single.has_value(); }));
  REQUIRE(single->ok());
  CHECK(single->text(0, 0) == "3");
  CHECK(prepared_count("wharf_add") == "1");

  // Used twice in one pipeline, and again after: prepared no more.
  auto results = pipeline(io, *c,
                          {{add.sql, {"10", "20"}, add.name},
                           {"SELECT 'unnamed'", {}},
                           {add.sql, {"100", "200"}, add.name},
                           {"SELECT $1::text", {"new"}, "wharf_echo"}});
  REQUIRE(results.size() == 4);
  for (const auto& r : results) REQUIRE(describe(r) == "ok");
  CHECK(results[0].text(0, 0) == "30");
  CHECK(results[1].text(0, 0) == "unnamed");
  CHECK(results[2].text(0, 0) == "300");
  CHECK(results[3].text(0, 0) == "new");
  CHECK(prepared_count("wharf_add") == "1");
  CHECK(prepared_count("wharf_echo") == "1");

  SECTION("a statement that does not parse fails with the server's reason, and is not remembered") {
    auto bad = pipeline(io, *c, {{"SELEC 1", {}, "wharf_bad"}, {"SELECT 'after'", {}}});
    REQUIRE(bad.size() == 2);
    REQUIRE_FALSE(bad[0].ok());
    CHECK(bad[0].error().sqlstate == "42601");
    CHECK_FALSE(bad[1].ok());
    CHECK(prepared_count("wharf_bad") == "0");
    auto again = pipeline(io, *c, {{"SELEC 1", {}, "wharf_bad"}});
    REQUIRE(again.size() == 1);
    CHECK(again[0].error().sqlstate == "42601");
  }
  SECTION("a prepared statement survives a rolled-back transaction") {
    auto rolled = pipeline(io, *c, {{"BEGIN", {}}, {"SELECT $1::int", {"7"}, "wharf_in_tx"}, {"SELECT 1/0", {}}});
    REQUIRE(rolled.size() == 3);
    CHECK(rolled[1].ok());
    CHECK(rolled[2].error().sqlstate == "22012");
    REQUIRE(query(io, *c, "ROLLBACK").ok());
    auto reused = pipeline(io, *c, {{"SELECT $1::int", {"8"}, "wharf_in_tx"}});
    INFO(describe(reused[0]));
    REQUIRE(reused[0].ok());
    CHECK(reused[0].text(0, 0) == "8");
  }
}
