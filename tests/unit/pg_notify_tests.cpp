// PgNotifier (storage/postgresql/pg_notify.h) against a real PostgreSQL:
// two "nodes" (two clusters on one schema, each with its notifier) hear
// each other's announcements and never their own, and a burst of
// announcements of one queue becomes a few NOTIFYs, not one per message.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_notify.h"
#include "storage/postgresql/transaction.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage::postgresql;

namespace {

struct Heard {
  std::mutex mu;
  std::vector<std::string> queues;  // "account/region/queue", in order heard

  PgNotifier::Heard callback() {
    return [this](std::string_view account, std::string_view region, std::string_view queue) {
      std::lock_guard lock(mu);
      queues.push_back(std::string(account) + "/" + std::string(region) + "/" + std::string(queue));
    };
  }
  size_t count(const std::string& queue) {
    std::lock_guard lock(mu);
    return static_cast<size_t>(std::count(queues.begin(), queues.end(), queue));
  }
};

std::shared_ptr<PgCluster> open_node(const std::string& schema) {
  PgOptions options;
  options.url = testing::test_postgres().url;
  options.schema = schema;
  std::string error;
  auto cluster = open_postgresql_cluster(options, error);
  INFO(error);
  REQUIRE(cluster);
  return cluster;
}

bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace

TEST_CASE("notify: each node hears the other's announcements, not its own; bursts coalesce", "[pg][notify]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = "pgnotify_" + std::to_string(getpid());
  auto cluster_a = open_node(schema);
  auto cluster_b = open_node(schema);
  Heard heard_a, heard_b;
  auto a = PgNotifier::start(cluster_a, heard_a.callback());
  auto b = PgNotifier::start(cluster_b, heard_b.callback());
  REQUIRE(eventually([&] { return a->listening() && b->listening(); }));

  a->announce("000000000000", "us-east-1", "orders");
  REQUIRE(eventually([&] { return heard_b.count("000000000000/us-east-1/orders") == 1; }));
  b->announce("000000000000", "eu-west-1", "mail.fifo");
  REQUIRE(eventually([&] { return heard_a.count("000000000000/eu-west-1/mail.fifo") == 1; }));

  // 2,000 announcements of one queue over ~200 ms: the first at once, then
  // at most one per 10 ms window.
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) {
    a->announce("000000000000", "us-east-1", "busy");
    if (i % 100 == 99) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  REQUIRE(eventually([&] { return heard_b.count("000000000000/us-east-1/busy") >= 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the last window's NOTIFY
  const size_t notified = heard_b.count("000000000000/us-east-1/busy");
  INFO("2000 announcements in " << took.count() << " ms became " << notified << " notifications");
  CHECK(notified >= 2);
  CHECK(notified <= static_cast<size_t>(took.count() / 10 + 3));

  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(heard_a.count("000000000000/us-east-1/orders") == 0);  // never its own
  CHECK(heard_a.count("000000000000/us-east-1/busy") == 0);
  CHECK(heard_b.count("000000000000/eu-west-1/mail.fifo") == 0);

  a->stop();
  b->stop();
  CHECK(!a->listening());
}

TEST_CASE("notify: the control connection comes back after the database ended it", "[pg][notify]") {
  WHARF_REQUIRE_TEST_POSTGRES();
  const std::string schema = "pgnotify_back_" + std::to_string(getpid());
  auto cluster_a = open_node(schema);
  auto cluster_b = open_node(schema);
  Heard heard_a, heard_b;
  auto a = PgNotifier::start(cluster_a, heard_a.callback());
  auto b = PgNotifier::start(cluster_b, heard_b.callback());
  REQUIRE(eventually([&] { return a->listening() && b->listening(); }));

  // End B's control session from another connection, as a restart would.
  std::string error;
  PgOptions admin;
  admin.url = testing::test_postgres().url;
  admin.schema = schema;
  auto killer = open_postgresql_cluster(admin, error);
  REQUIRE(killer);
  auto ended = std::make_shared<std::promise<bool>>();
  auto answer = ended->get_future();
  const std::string listen = "LISTEN \"" + PgNotifier::channel_of(schema) + "\"";
  run_statements(
      killer->pool(),
      {Statement{"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = $1", {listen}}},
      [ended](Result<std::vector<QueryResult>> r) { ended->set_value(r.ok() && r->front().text(0, 0) == "2"); });
  REQUIRE(answer.get());
  // Both control sessions were ended: within the check period (1 s) both
  // are made again and hear each other again.
  std::this_thread::sleep_for(PgNotifier::kCheckEvery + std::chrono::milliseconds(300));
  REQUIRE(eventually([&] { return a->listening() && b->listening(); }));
  a->announce("000000000000", "us-east-1", "again");
  REQUIRE(eventually([&] { return heard_b.count("000000000000/us-east-1/again") == 1; }));
  a->stop();
  b->stop();
}
