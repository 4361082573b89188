// The bounded pool of PostgreSQL connections a node's transactions run on,
// and the options every part of the backend reads (PgOptions).
//
// The pool lives on one io_context (the PgCluster's own thread, for now:
// docs/design/postgresql.md section 9 splits it per I/O thread later). Its
// state is touched only from that thread; acquire() may be called from any
// thread (it posts). Connections are made lazily, up to
// PgOptions::connections, and re-made when one was lost. A caller that
// finds none free waits in FIFO order; after PgOptions::wait_timeout, when
// the wait queue is full, or when the database cannot be reached, it gets
// ServiceUnavailable.
//
// Reconnecting: once a connect fails, the next one waits for a
// ReconnectBackoff (50 ms doubling to 2 s, jittered) however many callers
// arrive. When it failed with no connection open, the database is "down":
// every caller gets ServiceUnavailable at once (not after the wait), and
// one probe connection at a time is tried on the backoff's timer, in the
// background, until one succeeds and the pool serves again. A lost
// connection is dropped when it comes back (or when an idle one is found
// dead) and made again by whoever needs one; each connect reads the whole
// URL again, so with several hosts and target_session_attrs=read-write it
// finds whichever host is the primary now.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/sqs_error.h"
#include "storage/postgresql/connection.h"

namespace wharf::storage::postgresql {

struct PgOptions {
  std::string url;               // libpq's URL or key=value words
  std::string schema = "wharf";  // every table lives in it (search_path)
  int connections = 4;           // at most this many open at once
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds wait_timeout{5000};  // waiting for a free connection: then 503
  // 0: kDefaultMaxWaiters. Only a memory bound: wait_timeout is what sheds
  // load. A burst of requests (1,000 long polls opening at once, each with
  // its first receive) must queue here, not fail.
  size_t max_waiters = 0;
  std::string application_name = "wharf";
};

class Pool;

// A connection taken from the pool, for one transaction. It goes back to
// the pool when the last copy of its shared_ptr goes away: dropped if it
// was lost (or left mid-transaction), kept for the next caller otherwise.
// A lease must not outlive its pool's io_context (the cluster).
class PoolLease {
 public:
  PoolLease(std::shared_ptr<Pool> pool, std::shared_ptr<Connection> connection);
  ~PoolLease();
  PoolLease(const PoolLease&) = delete;
  PoolLease& operator=(const PoolLease&) = delete;

  Connection& connection() { return *connection_; }
  // The session may hold state it must not (a transaction left open after
  // an unknown outcome): close it instead of reusing it.
  void discard() { discard_ = true; }

 private:
  std::shared_ptr<Pool> pool_;
  std::shared_ptr<Connection> connection_;
  bool discard_ = false;
};
using Lease = std::shared_ptr<PoolLease>;

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  using Acquired = std::function<void(Result<Lease>)>;

  static std::shared_ptr<Pool> create(boost::asio::io_context& io, PgOptions options);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Answers a connected connection, or ServiceUnavailable; always later, on
  // the pool's io_context, never inline. Callable from any thread.
  void acquire(Acquired acquired);

  // Closes every idle connection and fails every waiter; connections in use
  // close when they come back. Call on the pool's thread (or after it stopped).
  void close();

  boost::asio::io_context& io() { return io_; }
  const PgOptions& options() const { return options_; }

  // For tests and /ready: connections open (idle or in use), idle, callers waiting.
  size_t open_connections() const { return open_; }
  size_t idle_connections() const { return idle_.size(); }
  size_t waiting() const { return waiters_.size(); }
  // The last connect failed with none open: callers get 503 at once.
  bool unreachable() const { return down_.load(); }

 private:
  struct Waiter {
    Acquired acquired;
    std::chrono::steady_clock::time_point deadline;
  };

  Pool(boost::asio::io_context& io, PgOptions options);
  void take(Acquired acquired);
  void serve_waiters();
  void connect_one();
  void connect_for_waiters();  // one more connection when waiters need it and no backoff runs
  void arm_retry();
  void retry();
  void connected(std::shared_ptr<Connection> connection, std::optional<PgError> error);
  void give_back(std::shared_ptr<Connection> connection, bool discard);
  void hand_over(std::shared_ptr<Connection> connection, Acquired acquired);
  void arm_timer();
  void expire_waiters();
  void fail_waiters(const std::string& why);
  size_t max_waiters() const;
  friend class PoolLease;

  boost::asio::io_context& io_;
  PgOptions options_;
  std::vector<std::shared_ptr<Connection>> idle_;
  std::deque<Waiter> waiters_;
  boost::asio::steady_timer timer_;
  size_t open_ = 0;        // connected or connecting, idle or leased
  size_t connecting_ = 0;  // of open_, still connecting
  bool closed_ = false;
  std::string last_connect_error_;
  ReconnectBackoff backoff_;
  boost::asio::steady_timer retry_timer_;
  bool retry_armed_ = false;       // a connect failed: the next one waits for retry_timer_
  std::atomic<bool> down_{false};  // see unreachable()
};

// The session settings every pooled connection gets at connect (one round
// trip): search_path to the schema, statement and idle-in-transaction timeouts.
std::vector<Statement> session_setup(const PgOptions& options);

// "schema" quoted as an SQL identifier ("a""b" for a"b).
std::string quote_identifier(const std::string& name);

}  // namespace wharf::storage::postgresql
