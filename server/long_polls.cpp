#include "server/long_polls.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <vector>

namespace wharf::server {

struct LongPolls::Waiter {
  Waiter(boost::asio::io_context& io, std::string q, Attempt a, Expire e)
      : queue(std::move(q)), attempt(std::move(a)), expire(std::move(e)), timer(io) {}
  std::string queue;
  Attempt attempt;
  Expire expire;
  boost::asio::steady_timer timer;
  std::mutex mu;      // serialises attempts and expiry of this waiter
  bool done = false;  // answered; guarded by mu
  // Its place in LongPolls::waiting_ while registered; guarded by LongPolls::mu_.
  bool registered = false;
  WaiterList::iterator position;
};

bool LongPolls::wait(const std::string& queue, std::chrono::steady_clock::time_point deadline, Attempt attempt,
                     Expire expire) {
  auto waiter = std::make_shared<Waiter>(io_, queue, std::move(attempt), std::move(expire));
  {
    std::lock_guard lock(mu_);
    if (count_ >= max_waiting_) return false;
    if (stopped_) {
      waiter->expire();
      return true;
    }
    ++count_;
  }
  waiter->timer.expires_at(deadline);
  waiter->timer.async_wait([this, waiter](const boost::system::error_code&) { finish(waiter, /*expire=*/true); });
  try_waiter(waiter, /*woken=*/false);
  return true;
}

void LongPolls::try_waiter(const std::shared_ptr<Waiter>& waiter, bool woken) {
  // A notify that lands between a failed attempt and re-registering bumps the
  // generation; seeing that, try again instead of sleeping through it.
  for (int round = 0; round < 1000; ++round) {
    uint64_t seen;
    {
      std::lock_guard lock(mu_);
      seen = generation_[waiter->queue];
    }
    bool answered = false;
    bool was_done = false;
    {
      std::lock_guard wl(waiter->mu);
      was_done = waiter->done;
      if (!was_done) answered = waiter->done = waiter->attempt();
    }
    if (was_done || answered) {
      // Answered (or expired meanwhile): a woken poll hands its wake-up on,
      // as there may be messages left for the next one.
      if (answered) finish(waiter, /*expire=*/false);
      if (woken) notify(waiter->queue);
      return;
    }
    std::lock_guard lock(mu_);
    if (generation_[waiter->queue] != seen) continue;
    auto& list = waiting_[waiter->queue];
    waiter->position = list.insert(list.end(), waiter);
    waiter->registered = true;
    return;
  }
}

void LongPolls::unregister(Waiter& waiter) {
  if (!waiter.registered) return;
  auto it = waiting_.find(waiter.queue);
  it->second.erase(waiter.position);
  if (it->second.empty()) waiting_.erase(it);
  waiter.registered = false;
}

void LongPolls::finish(const std::shared_ptr<Waiter>& waiter, bool expire) {
  bool answer_empty = false;
  {
    std::lock_guard wl(waiter->mu);
    if (expire && !waiter->done) {
      waiter->done = true;
      answer_empty = true;
    } else if (expire) {
      return;  // the timer of a waiter that already answered
    }
  }
  {
    std::lock_guard lock(mu_);
    unregister(*waiter);
    --count_;
  }
  if (answer_empty) {
    waiter->expire();
  } else {
    waiter->timer.cancel();
  }
}

void LongPolls::notify(const std::string& queue) {
  std::shared_ptr<Waiter> woken;
  {
    std::lock_guard lock(mu_);
    auto gen = generation_.find(queue);
    if (gen == generation_.end()) return;  // nobody has ever waited on it
    ++gen->second;
    auto it = waiting_.find(queue);
    if (it == waiting_.end()) return;
    woken = it->second.front();
    unregister(*woken);
  }
  boost::asio::post(io_, [this, woken] { try_waiter(woken, /*woken=*/true); });
}

void LongPolls::shutdown() {
  std::vector<std::shared_ptr<Waiter>> all;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    for (auto& [queue, list] : waiting_) all.insert(all.end(), list.begin(), list.end());
  }
  for (auto& waiter : all) boost::asio::post(io_, [waiter] { waiter->timer.cancel(); });
}

size_t LongPolls::waiting() const {
  std::lock_guard lock(mu_);
  return count_;
}

}  // namespace wharf::server
