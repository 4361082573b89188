// Starting the PostgreSQL backend: the cluster's thread, the server checks,
// the migrations and the receipt secret (docs/design/postgresql.md section 4).
#include "storage/postgresql/open.h"

#include <openssl/rand.h>

#include <boost/asio/post.hpp>

#include <cstdio>
#include <exception>
#include <future>
#include <string_view>
#include <utility>

#include "storage/postgresql/schema.h"
#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {

namespace asio = boost::asio;

namespace {

constexpr int kOldestServer = 150000;  // server_version_num of PostgreSQL 15

std::string hex_of(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string hex = "\\x";
  for (const unsigned char c : bytes) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  return hex;
}

// bytea in its text form ("\x" and hex digits) to bytes; "" when malformed.
std::string bytes_of(std::string_view text) {
  if (text.substr(0, 2) != "\\x" || text.size() % 2 != 0) return "";
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  std::string bytes;
  for (size_t i = 2; i + 1 < text.size(); i += 2)
    bytes += static_cast<char>(nibble(text[i]) * 16 + nibble(text[i + 1]));
  return bytes;
}

// The cluster's thread. An exception escaping a handler (caller code the
// transaction layer does not wrap: a `finished` callback, a timer's) would
// end the process from here: it is logged and the loop goes on.
void run_cluster_thread(asio::io_context& io) {
  for (;;) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "wharf: PostgreSQL: a handler on the database thread threw: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "wharf: PostgreSQL: a handler on the database thread threw a non-std exception\n");
    }
  }
}

SqsError start_error(std::string message) { return make_error(ErrorCode::ServiceUnavailable, std::move(message)); }

// What the migrating transaction found out, for the caller.
struct Migrating {
  std::string secret;
};

// The second round trip: the missing migrations, the secret, COMMIT.
void apply_migrations(const std::shared_ptr<Tx>& tx, const std::shared_ptr<Migrating>& out, int current) {
  std::vector<Statement> statements;
  for (const auto& migration : migrations()) {
    if (migration.version <= current) continue;
    for (const auto& sql : migration.statements) statements.push_back(Statement{sql, {}});
    statements.push_back(
        Statement{"INSERT INTO schema_version (version, applied_ms, by_wharf) VALUES ($1, now_ms(NULL), $2)",
                  {std::to_string(migration.version), migration.description}});
  }
  std::string fresh(32, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(fresh.data()), static_cast<int>(fresh.size()));
  statements.push_back(
      Statement{"INSERT INTO meta (key, value) VALUES ('receipt_secret', $1::bytea) ON CONFLICT (key) DO NOTHING",
                {hex_of(fresh)}});
  statements.push_back(Statement{"SELECT value FROM meta WHERE key = 'receipt_secret'", {}});
  tx->commit_with(std::move(statements), [out](std::vector<QueryResult>& results) {
    const QueryResult& secret = results.back();
    if (secret.rows() == 1) out->secret = bytes_of(secret.text(0, 0));
  });
}

// The migrating transaction (section 4): checks, lock, version, migrations.
void migrate(Pool& pool, const std::string& schema, std::shared_ptr<Migrating> out,
             std::function<void(Status)> finished) {
  run_transaction(
      pool,
      [schema, out](std::shared_ptr<Tx> tx) {
        std::vector<Statement> first;
        first.push_back(
            Statement{"SELECT current_setting('server_version_num')::int, current_setting('server_encoding')", {}});
        first.push_back(Statement{"SELECT pg_advisory_xact_lock($1)", {std::to_string(migration_lock_key(schema))}});
        first.push_back(Statement{"CREATE SCHEMA IF NOT EXISTS " + quote_identifier(schema), {}});
        first.push_back(Statement{"SET LOCAL search_path TO " + quote_identifier(schema), {}});
        first.push_back(
            Statement{"CREATE TABLE IF NOT EXISTS schema_version (version int PRIMARY KEY,"
                      " applied_ms bigint NOT NULL, by_wharf text NOT NULL)",
                      {}});
        first.push_back(Statement{"SELECT coalesce(max(version), 0) FROM schema_version", {}});
        tx->step(std::move(first), [tx, out](std::vector<QueryResult>& results) {
          const int server = std::stoi(std::string(results[0].text(0, 0)));
          const std::string encoding(results[0].text(0, 1));
          const int current = std::stoi(std::string(results.back().text(0, 0)));
          if (server < kOldestServer) {
            return tx->fail(start_error("PostgreSQL " + std::to_string(server / 10000) +
                                        " is too old: Wharf needs PostgreSQL 15 or newer."));
          }
          if (encoding != "UTF8") {
            return tx->fail(start_error("The database's encoding is " + encoding + ": Wharf needs UTF8."));
          }
          if (current > newest_schema_version()) {
            return tx->fail(start_error("database schema version " + std::to_string(current) +
                                        " is newer than this Wharf (knows up to " +
                                        std::to_string(newest_schema_version()) + "): upgrade Wharf"));
          }
          apply_migrations(tx, out, current);
        });
      },
      std::move(finished));
}

}  // namespace

PgCluster::PgCluster(PgOptions options)
    : options_(std::move(options)), work_(asio::make_work_guard(io_)), pool_(Pool::create(io_, options_)) {}

PgCluster::~PgCluster() {
  if (thread_.joinable()) {
    asio::post(io_, [this] {
      pool_->close();
      io_.stop();
    });
    thread_.join();
  }
}

std::shared_ptr<PgCluster> open_postgresql_cluster(PgOptions options, std::string& error) {
  std::shared_ptr<PgCluster> cluster(new PgCluster(std::move(options)));
  cluster->thread_ = std::thread([io = &cluster->io_] { run_cluster_thread(*io); });

  auto out = std::make_shared<Migrating>();
  std::promise<Status> migrated;
  migrate(cluster->pool(), cluster->options_.schema, out, [&migrated](Status status) { migrated.set_value(status); });
  const Status status = migrated.get_future().get();
  if (!status.ok()) {
    error = "PostgreSQL (" + cluster->options_.schema + "): " + status.error().message;
    return nullptr;
  }
  if (out->secret.size() != 32) {
    error = "PostgreSQL (" + cluster->options_.schema + "): the receipt secret in table meta is malformed";
    return nullptr;
  }
  cluster->receipt_secret_ = std::move(out->secret);
  return cluster;
}

}  // namespace wharf::storage::postgresql
