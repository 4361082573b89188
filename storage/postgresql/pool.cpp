#include "storage/postgresql/pool.h"

#include <boost/asio/post.hpp>

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

Pool::Pool(asio::io_context& io, PgOptions options) : io_(io), options_(std::move(options)), timer_(io) {
  if (options_.connections < 1) options_.connections = 1;
}

std::shared_ptr<Pool> Pool::create(asio::io_context& io, PgOptions options) {
  return std::shared_ptr<Pool>(new Pool(io, std::move(options)));
}

Pool::~Pool() = default;

size_t Pool::max_waiters() const {
  return options_.max_waiters ? options_.max_waiters : 64 * static_cast<size_t>(options_.connections);
}

void Pool::acquire(Acquired acquired) {
  asio::post(
      io_, [self = shared_from_this(), acquired = std::move(acquired)]() mutable { self->take(std::move(acquired)); });
}

void Pool::take(Acquired acquired) {
  if (closed_) return acquired(make_error(ErrorCode::ServiceUnavailable, "The database pool is closed."));
  if (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    return hand_over(std::move(connection), std::move(acquired));
  }
  if (waiters_.size() >= max_waiters()) {
    return acquired(make_error(ErrorCode::ServiceUnavailable, "Too many requests are waiting for the database."));
  }
  waiters_.push_back(Waiter{std::move(acquired), std::chrono::steady_clock::now() + options_.wait_timeout});
  if (waiters_.size() == 1) arm_timer();
  // One new connection per waiter beyond those already being made.
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
    if (error) last_connect_error_ = error->message;
    // Nothing in use can come back to the waiters: the database cannot be
    // reached now, and they are told so rather than left to time out.
    if (open_ == 0) {
      fail_waiters(closed_ ? "The database pool is closed." : "The database cannot be reached: " + last_connect_error_);
    }
    return;
  }
  give_back(std::move(connection), false);
}

void Pool::give_back(std::shared_ptr<Connection> connection, bool discard) {
  if (closed_ || discard || !connection->connected() || connection->busy()) {
    connection->close();
    --open_;
    // A lost connection is made again for whoever waits.
    if (!closed_ && !waiters_.empty() && connecting_ < waiters_.size()) connect_one();
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
  for (auto& connection : idle_) connection->close();
  open_ -= idle_.size();
  idle_.clear();
  fail_waiters("The database pool is closed.");
}

}  // namespace wharf::storage::postgresql
