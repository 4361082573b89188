#include "storage/postgresql/pool.h"

#include <boost/asio/post.hpp>

#include <cstdio>
#include <utility>

namespace wharf::storage::postgresql {

namespace asio = boost::asio;

std::string quote_identifier(const std::string& name) {
  std::string quoted = "\"";
  for (const char c : name) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::vector<Statement> session_setup(const PgOptions& options) {
  std::vector<Statement> setup;
  setup.push_back(
      Statement{"SELECT set_config('search_path', $1, false), set_config('statement_timeout', '30s', false),"
                " set_config('idle_in_transaction_session_timeout', '60s', false),"
                " set_config('application_name', $2, false)",
                {quote_identifier(options.schema), options.application_name}});
  return setup;
}

PoolLease::PoolLease(std::shared_ptr<Pool> pool, std::shared_ptr<Connection> connection)
    : pool_(std::move(pool)), connection_(std::move(connection)) {}

PoolLease::~PoolLease() {
  // The pool's state belongs to its thread: a lease dropped elsewhere goes
  // back through a post.
  if (pool_->io_.get_executor().running_in_this_thread()) {
    pool_->give_back(std::move(connection_), discard_);
    return;
  }
  asio::post(pool_->io_, [pool = pool_, connection = std::move(connection_), discard = discard_]() mutable {
    pool->give_back(std::move(connection), discard);
  });
}

Pool::Pool(asio::io_context& io, PgOptions options)
    : io_(io), options_(std::move(options)), timer_(io), retry_timer_(io) {
  if (options_.connections < 1) options_.connections = 1;
}

std::shared_ptr<Pool> Pool::create(asio::io_context& io, PgOptions options) {
  return std::shared_ptr<Pool>(new Pool(io, std::move(options)));
}

Pool::~Pool() = default;

size_t Pool::max_waiters() const {
  constexpr size_t kDefaultMaxWaiters = 65536;  // a closure each: a few MB at most
  return options_.max_waiters ? options_.max_waiters : kDefaultMaxWaiters;
}

void Pool::acquire(Acquired acquired) {
  asio::post(
      io_, [self = shared_from_this(), acquired = std::move(acquired)]() mutable { self->take(std::move(acquired)); });
}

void Pool::take(Acquired acquired) {
  if (closed_) return acquired(make_error(ErrorCode::ServiceUnavailable, "The database pool is closed."));
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    if (connection->connected() && !connection->busy()) return hand_over(std::move(connection), std::move(acquired));
    connection->close();  // the server ended it while it was idle (a restart, a failover)
    --open_;
  }
  if (down_) {
    return acquired(
        make_error(ErrorCode::ServiceUnavailable, "The database cannot be reached: " + last_connect_error_));
  }
  if (waiters_.size() >= max_waiters()) {
    return acquired(make_error(ErrorCode::ServiceUnavailable, "Too many requests are waiting for the database."));
  }
  waiters_.push_back(Waiter{std::move(acquired), std::chrono::steady_clock::now() + options_.wait_timeout});
  if (waiters_.size() == 1) arm_timer();
  connect_for_waiters();
}

// One new connection per waiter beyond those already being made; none
// while a failed connect's backoff runs (its timer connects).
void Pool::connect_for_waiters() {
  if (closed_ || down_ || retry_armed_) return;
  if (open_ < static_cast<size_t>(options_.connections) && connecting_ < waiters_.size()) connect_one();
}

void Pool::connect_one() {
  ++open_;
  ++connecting_;
  auto connection = Connection::create(io_);
  connection->async_connect(
      options_.url, options_.connect_timeout, [self = shared_from_this(), connection](std::optional<PgError> error) {
        if (error) return self->connected(connection, std::move(error));
        // The session settings, in one round trip, before first use.
        connection->async_pipeline(session_setup(self->options_), [self, connection](std::vector<QueryResult> results) {
          std::optional<PgError> failed;
          if (results.empty() || !results.front().ok()) {
            failed = results.empty() ? PgError{"", "no answer to the session setup", true} : results.front().error();
          }
          self->connected(connection, std::move(failed));
        });
      });
}

void Pool::connected(std::shared_ptr<Connection> connection, std::optional<PgError> error) {
  --connecting_;
  if (error || closed_) {
    connection->close();
    --open_;
    if (closed_) return;
    last_connect_error_ = error->message;
    // Nothing in use can come back to the waiters: the database cannot be
    // reached now, and they are told so rather than left to time out.
    if (open_ == 0 && !down_) {
      down_ = true;
      std::fprintf(stderr, "wharf: PostgreSQL cannot be reached (%s): answering 503, reconnecting with backoff\n",
                   last_connect_error_.c_str());
    }
    if (down_) fail_waiters("The database cannot be reached: " + last_connect_error_);
    return arm_retry();
  }
  if (down_) std::fprintf(stderr, "wharf: PostgreSQL is reachable again\n");
  down_ = false;
  backoff_.reset();
  give_back(std::move(connection), false);
}

void Pool::arm_retry() {
  if (retry_armed_ || closed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(backoff_.next());
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->retry_armed_ = false;
    self->retry();
  });
}

// The backoff's wait is over: while down, one probe in the background
// (nobody waits: callers were answered 503); otherwise for the waiters.
void Pool::retry() {
  if (closed_) return;
  if (!down_) return connect_for_waiters();
  if (connecting_ == 0) connect_one();
}

void Pool::give_back(std::shared_ptr<Connection> connection, bool discard) {
  if (closed_ || discard || !connection->connected() || connection->busy()) {
    connection->close();
    --open_;
    // A lost connection is made again for whoever waits.
    connect_for_waiters();
    return;
  }
  if (waiters_.empty()) {
    idle_.push_back(std::move(connection));
    return;
  }
  Acquired acquired = std::move(waiters_.front().acquired);
  waiters_.pop_front();
  hand_over(std::move(connection), std::move(acquired));
}

void Pool::hand_over(std::shared_ptr<Connection> connection, Acquired acquired) {
  acquired(std::make_shared<PoolLease>(shared_from_this(), std::move(connection)));
}

void Pool::arm_timer() {
  if (waiters_.empty()) return;
  timer_.expires_at(waiters_.front().deadline);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->expire_waiters();
  });
}

void Pool::expire_waiters() {
  const auto now = std::chrono::steady_clock::now();
  while (!waiters_.empty() && waiters_.front().deadline <= now) {
    Acquired acquired = std::move(waiters_.front().acquired);
    waiters_.pop_front();
    acquired(make_error(ErrorCode::ServiceUnavailable, "No database connection became free in time."));
  }
  arm_timer();
}

void Pool::fail_waiters(const std::string& why) {
  std::deque<Waiter> failed;
  failed.swap(waiters_);
  timer_.cancel();
  for (auto& waiter : failed) waiter.acquired(make_error(ErrorCode::ServiceUnavailable, why));
}

void Pool::close() {
  closed_ = true;
  retry_timer_.cancel();
  for (auto& connection : idle_) connection->close();
  open_ -= idle_.size();
  idle_.clear();
  fail_waiters("The database pool is closed.");
}

}  // namespace wharf::storage::postgresql
