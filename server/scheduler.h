// The one timer of the process: fires at the engine's next deadline (delay
// ends, visibility expiries, retention) and lets it do its due work
// (async_run_due_work: with a backend that completes later, on another
// thread, at most one run is in flight); relays the engine's "messages
// available" to the long polls.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "server/long_polls.h"
#include "storage/engine.h"

namespace wharf::server {

class Scheduler final : public storage::EngineListener {
 public:
  // The engine of `account_id` in `region`: they qualify the queue names it
  // passes to the long polls.
  Scheduler(boost::asio::io_context& io, storage::Engine& engine, LongPolls& long_polls, std::string account_id,
            std::string region);
  void start();
  void stop();

  void messages_available(const std::string& queue_name) override;
  void deadline_added(int64_t when_ms) override;

 private:
  void run();
  void ran(std::optional<int64_t> next);
  void arm(int64_t when_ms);

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;  // owns timer_
  storage::Engine& engine_;
  LongPolls& long_polls_;
  const std::string account_id_;
  const std::string region_;
  boost::asio::steady_timer timer_;
  std::atomic<int64_t> armed_for_ms_{0};
  std::atomic<bool> stopped_{false};
  bool running_ = false;  // on strand_: a run's work is in flight
  bool again_ = false;    // on strand_: the timer fired meanwhile, run once more after it
};

}  // namespace wharf::server
