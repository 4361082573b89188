// Opening the PostgreSQL backend: the cluster (one per process: the pool
// on its own thread, the receipt secret, the schema migrated) and, over it,
// one engine per (account, region).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <memory>
#include <string>
#include <thread>

#include "storage/engine.h"
#include "storage/postgresql/pool.h"

namespace wharf::storage::postgresql {

// What every engine of a process shares. The cluster owns an io_context run
// by ONE thread of its own: every connection, transaction and completion
// runs there (the server's I/O threads post nothing to it; engine callers
// get their `done` on that thread). Splitting the pool per I/O thread
// (docs/design/postgresql.md section 9) is a later optimisation.
class PgCluster {
 public:
  ~PgCluster();  // fails waiters, closes the connections, joins the thread
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  Pool& pool() { return *pool_; }
  boost::asio::io_context& io() { return io_; }
  const PgOptions& options() const { return options_; }
  // 32 random bytes, the same on every node of the database (meta table).
  const std::string& receipt_secret() const { return receipt_secret_; }

 private:
  explicit PgCluster(PgOptions options);
  friend std::shared_ptr<PgCluster> open_postgresql_cluster(PgOptions options, std::string& error);

  PgOptions options_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::shared_ptr<Pool> pool_;
  std::string receipt_secret_;
  std::thread thread_;
};

// Connects, checks the server (version 15 or newer, UTF8 encoding), runs
// the migrations (section 4: under an advisory transaction lock, refusing a
// schema newer than this Wharf knows), creates or reads the receipt secret
// and starts the cluster's thread. Waits on the calling thread (start-up
// only). nullptr with `error` set when any of it fails (a wrong URL or
// password says so).
std::shared_ptr<PgCluster> open_postgresql_cluster(PgOptions options, std::string& error);

// The engine of options.account_id in options.region over `cluster`
// (defined in pg_engine.cpp). Never fails: the database is reached per call.
std::unique_ptr<Engine> open_postgresql_engine(std::shared_ptr<PgCluster> cluster, const EngineOptions& options);

}  // namespace wharf::storage::postgresql
