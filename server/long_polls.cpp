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
  std::mutex mu;                 // guards the three below
  bool done = false;             // answered, or expired
  bool attempting = false;       // an attempt is in flight
  bool deadline_passed = false;  // during that attempt: its outcome is the answer
  // Its place in LongPolls::waiting_ while registered; guarded by LongPolls::mu_.
  bool registered = false;
  WaiterList::iterator position;
};

bool LongPolls::wait(const std::string& queue, std::chrono::steady_clock::time_point deadline, Attempt attempt,
                     Expire expire) {
  auto waiter = std::make_shared<Waiter>(io_, queue, std::move(attempt), std::move(expire));
  bool stopped = false;
  {
    std::lock_guard lock(mu_);
    if (count_ >= max_waiting_) return false;
    stopped = stopped_;
    if (!stopped) ++count_;
  }
  if (stopped) {
    waiter->expire();
    return true;
  }
  waiter->timer.expires_at(deadline);
  waiter->timer.async_wait([this, waiter](const boost::system::error_code&) { deadline_reached(waiter); });
  try_waiter(waiter, /*woken=*/false);
  return true;
}

void LongPolls::try_waiter(const std::shared_ptr<Waiter>& waiter, bool woken) {
  uint64_t seen;
  {
    std::lock_guard lock(mu_);
    seen = generation_[waiter->queue];
  }
  bool was_done;
  {
    std::lock_guard wl(waiter->mu);
    was_done = waiter->done;
    if (!was_done && waiter->attempting) return;  // not registered while attempting: cannot happen
    waiter->attempting = !was_done;
  }
  if (was_done) {
    // Expired meanwhile: a woken poll hands its wake-up on, as there may be
    // messages for the next one.
    if (woken) notify(waiter->queue);
    return;
  }
  waiter->attempt([this, waiter, woken, seen](bool answered) { attempt_ended(waiter, woken, seen, answered); });
}

void LongPolls::attempt_ended(const std::shared_ptr<Waiter>& waiter, bool woken, uint64_t seen, bool answered) {
  bool expire = false;
  {
    std::lock_guard wl(waiter->mu);
    waiter->attempting = false;
    if (answered) {
      waiter->done = true;
    } else if (waiter->deadline_passed) {
      waiter->done = expire = true;
    }
  }
  if (answered || expire) {
    release(*waiter);
    if (expire) return waiter->expire();
    waiter->timer.cancel();
    // A woken poll that answered hands its wake-up on: there may be more.
    if (woken) notify(waiter->queue);
    return;
  }
  // Found nothing: wait to be woken, unless a notify came during the
  // attempt (again), the deadline has just passed (then it answered), or the
  // shutdown has begun (then answer now).
  bool again;
  bool stopping = false;
  {
    std::lock_guard lock(mu_);
    again = generation_[waiter->queue] != seen;
    if (!again) {
      std::lock_guard wl(waiter->mu);
      if (!waiter->done && stopped_) {
        waiter->done = stopping = true;
      } else if (!waiter->done) {
        auto& list = waiting_[waiter->queue];
        waiter->position = list.insert(list.end(), waiter);
        waiter->registered = true;
      }
    }
  }
  if (stopping) {
    release(*waiter);
    waiter->timer.cancel();
    return waiter->expire();
  }
  // Posted: an attempt that completes inline must not recurse.
  if (again) boost::asio::post(io_, [this, waiter, woken] { try_waiter(waiter, woken); });
}

void LongPolls::deadline_reached(const std::shared_ptr<Waiter>& waiter) {
  {
    std::lock_guard wl(waiter->mu);
    if (waiter->done) return;  // the timer of a waiter that answered
    if (waiter->attempting) {
      waiter->deadline_passed = true;  // attempt_ended answers
      return;
    }
    waiter->done = true;
  }
  release(*waiter);
  waiter->expire();
}

void LongPolls::release(Waiter& waiter) {
  std::lock_guard lock(mu_);
  unregister(waiter);
  --count_;
}

void LongPolls::unregister(Waiter& waiter) {
  if (!waiter.registered) return;
  auto it = waiting_.find(waiter.queue);
  it->second.erase(waiter.position);
  if (it->second.empty()) waiting_.erase(it);
  waiter.registered = false;
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
