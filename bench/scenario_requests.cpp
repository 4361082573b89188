// The plumbing of a run: worker threads, load tasks, requests, error notes.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <exception>
#include <iostream>

#include "scenario_run.h"

namespace wharf::bench {

namespace net = boost::asio;
using namespace std::chrono_literals;

Pacer::Pacer(net::io_context& io, unsigned batch, double rate)
    : rate_(rate),
      interval_(rate > 0 ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(batch / rate))
                         : Clock::duration::zero()),
      timer_(io),
      next_(Clock::now()) {}

net::awaitable<bool> Pacer::wait_turn(const std::atomic<Phase>& phase) {
  const auto now = Clock::now();
  if (now - next_ > 1s) next_ = now;  // fell far behind: do not burst to catch up
  if (next_ > now) {
    timer_.expires_at(next_);
    boost::system::error_code ec;
    co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    if (phase.load() != Phase::Timed) co_return false;
  }
  next_ += interval_;
  co_return true;
}

void ScenarioRun::start_threads(unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    auto w = std::make_unique<Worker>(o_.credentials);
    w->guard.emplace(w->io.get_executor());
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    w->thread = std::thread([&io = w->io] { io.run(); });
  }
}

void ScenarioRun::stop_threads() {
  for (auto& w : workers_) w->guard.reset();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

HttpReply ScenarioRun::call_sync(net::awaitable<HttpReply> a) {
  return net::co_spawn(workers_[0]->io, std::move(a), net::use_future).get();
}

void ScenarioRun::spawn(size_t lane, net::awaitable<void> work) {
  ++active_;
  net::co_spawn(worker_of(lane).io, std::move(work), [this](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log(std::string("internal error in a load task: ") + ex.what());
        ++errors_;
      }
    }
    --active_;
  });
}

void ScenarioRun::log(const std::string& line) {
  std::lock_guard lock(print_mutex_);
  std::cerr << "wharf-bench: " << line << std::endl;
}

void ScenarioRun::note_error(const char* action, const HttpReply& reply) {
  ++errors_;
  if (reply.transport_error) ++transport_errors_;
  if (printed_.fetch_add(1) >= 5) return;
  if (reply.transport_error) {
    log(std::string("error: ") + action + ": " + reply.transport_error.message());
  } else {
    log(std::string("error: ") + action + " HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300));
  }
}

void ScenarioRun::note_entry_failure(const char* action, const BatchOutcome& outcome) {
  entry_failures_ += outcome.failed_ids.size();
  if (printed_.fetch_add(1) >= 5) return;
  log(std::string("error: ") + action + ": " + std::to_string(outcome.failed_ids.size()) +
      " entries failed, first: " + outcome.first_failure);
}

net::awaitable<void> ScenarioRun::sleep(size_t lane, Clock::duration d) {
  net::steady_timer timer(worker_of(lane).io, d);
  boost::system::error_code ec;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
}

net::awaitable<HttpReply> ScenarioRun::control(HttpCall http) { co_return co_await control_->exchange(http, 60s); }

net::awaitable<HttpReply> ScenarioRun::call(size_t lane, Action action, HttpCall http, Clock::duration timeout) {
  const auto start = Clock::now();
  HttpReply reply = co_await lanes_[lane]->exchange(http, timeout);
  const Phase phase = phase_.load(std::memory_order_relaxed);
  if (phase == Phase::Timed) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    ThreadStats& stats = worker_of(lane).stats;
    if (action != kReceiveWait) stats.all.record(us);
    stats.by_action[action].record(us);
  }
  if (!reply.ok() && phase != Phase::Done) note_error(kActionNames[action], reply);
  co_return reply;
}

// Bit i of the result: messages[i] was acknowledged.
net::awaitable<uint32_t> ScenarioRun::send(size_t lane, const std::vector<OutMessage>& messages, bool batch_api) {
  if (!batch_api) {
    HttpReply r = co_await call(lane, kSend, wire_->send_message(messages.front()), 30s);
    co_return r.ok() ? 1u : 0u;
  }
  HttpReply r = co_await call(lane, kSendBatch, wire_->send_message_batch(messages), 30s);
  if (!r.ok()) co_return 0u;
  BatchOutcome outcome;
  if (!wire_->parse_batch(r.body, outcome)) {
    note_error("SendMessageBatch (unreadable answer)", r);
    co_return 0u;
  }
  if (!outcome.failed_ids.empty()) note_entry_failure("SendMessageBatch", outcome);
  uint32_t accepted = 0;
  for (const auto& id : outcome.successful_ids) {
    for (size_t i = 0; i < messages.size(); ++i) {
      if (messages[i].entry_id == id) accepted |= 1u << i;
    }
  }
  co_return accepted;
}

}  // namespace wharf::bench
