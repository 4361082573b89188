#include "server/scheduler.h"

#include <boost/asio/post.hpp>

#include <chrono>

namespace wharf::server {
namespace {

// With nothing due, still look once a second (retention of new messages).
constexpr int64_t kIdleMs = 1000;

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Scheduler::Scheduler(boost::asio::io_context& io, storage::Engine& engine, LongPolls& long_polls,
                     std::string account_id, std::string region)
    : strand_(boost::asio::make_strand(io)),
      engine_(engine),
      long_polls_(long_polls),
      account_id_(std::move(account_id)),
      region_(std::move(region)),
      timer_(strand_) {}

void Scheduler::start() {
  engine_.set_listener(this);
  boost::asio::post(strand_, [this] { run(); });
}

void Scheduler::stop() {
  stopped_ = true;
  engine_.set_listener(nullptr);
  boost::asio::post(strand_, [this] { timer_.cancel(); });
}

void Scheduler::messages_available(const std::string& queue_name) {
  long_polls_.notify(long_poll_key(account_id_, region_, queue_name));
}

void Scheduler::deadline_added(int64_t when_ms) {
  const int64_t armed = armed_for_ms_.load();
  if (armed == 0 || when_ms < armed) {
    boost::asio::post(strand_, [this, when_ms] { arm(when_ms); });
  }
}

// Runs on strand_. The engine answers inline (RocksDB) or later on one of
// its own threads: then the answer comes back through strand_, which owns
// timer_ and these flags.
void Scheduler::run() {
  if (stopped_) return;
  if (running_) {
    again_ = true;
    return;
  }
  running_ = true;
  engine_.async_run_due_work([this](std::optional<int64_t> next) {
    if (strand_.running_in_this_thread()) return ran(next);
    boost::asio::post(strand_, [this, next] { ran(next); });
  });
}

void Scheduler::ran(std::optional<int64_t> next) {
  running_ = false;
  if (again_) {
    again_ = false;
    return run();
  }
  const int64_t now = system_now_ms();
  arm(next ? std::min(*next, now + kIdleMs) : now + kIdleMs);
}

// Runs on strand_, like everything that touches timer_.
void Scheduler::arm(int64_t when_ms) {
  if (stopped_) return;
  const int64_t current = armed_for_ms_.load();
  if (current != 0 && current <= when_ms && timer_.expiry() > std::chrono::steady_clock::now()) return;
  armed_for_ms_ = when_ms;
  const int64_t delay = std::max<int64_t>(0, when_ms - system_now_ms());
  timer_.expires_after(std::chrono::milliseconds(delay));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed or stopped
    armed_for_ms_ = 0;
    run();
  });
}

}  // namespace wharf::server
