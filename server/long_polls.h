// Long polls: ReceiveMessage calls that found nothing wait here, holding no
// thread, until the queue may have messages (the engine says so) or their
// deadline passes.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::server {

// Long polls wait on a queue of an account in a region: "REGION/ACCOUNT/NAME".
inline std::string long_poll_key(std::string_view account_id, std::string_view region, std::string_view queue) {
  std::string key;
  key.reserve(region.size() + account_id.size() + queue.size() + 2);
  key.append(region).append("/").append(account_id).append("/").append(queue);
  return key;
}

class LongPolls {
 public:
  // Told when an attempt ends: true when it answered the caller (messages
  // or an error).
  using AttemptDone = std::function<void(bool answered)>;
  // Tries once, asynchronously: calls `done` exactly once, perhaps before it
  // returns, perhaps later on another thread.
  using Attempt = std::function<void(AttemptDone done)>;
  // Answers the caller with no messages.
  using Expire = std::function<void()>;

  LongPolls(boost::asio::io_context& io, size_t max_waiting) : io_(io), max_waiting_(max_waiting) {}

  // Runs `attempt` now and again whenever `queue` may have messages, until it
  // answers; at `deadline`, or at shutdown, calls `expire` instead. One
  // attempt at a time: a notify during an attempt makes it try again once
  // it has found nothing; a deadline during an attempt waits for it, and
  // whatever it answered stands (messages it received are in flight and
  // must reach the caller; when it found none, `expire` answers). False
  // (and nothing called) when max_waiting polls already wait.
  bool wait(const std::string& queue, std::chrono::steady_clock::time_point deadline, Attempt attempt, Expire expire);

  // The queue may have messages: wakes its longest-waiting poll. A woken
  // poll that answers with messages wakes the next one in turn (there may
  // be more); one that finds nothing waits again, and so do the others, so
  // a message wakes one poll rather than all of them. Thread-safe; only
  // posts work (callable with the engine's lock held).
  void notify(const std::string& queue);

  // Answers every waiter at once (once its attempt in flight, if any, has
  // ended), and every later one immediately.
  void shutdown();

  size_t waiting() const;

 private:
  struct Waiter;
  using WaiterList = std::list<std::shared_ptr<Waiter>>;
  void try_waiter(const std::shared_ptr<Waiter>& waiter, bool woken);
  void attempt_ended(const std::shared_ptr<Waiter>& waiter, bool woken, uint64_t seen, bool answered);
  void deadline_reached(const std::shared_ptr<Waiter>& waiter);
  void release(Waiter& waiter);     // no longer waiting: unregistered and uncounted
  void unregister(Waiter& waiter);  // with mu_ held

  boost::asio::io_context& io_;
  const size_t max_waiting_;
  mutable std::mutex mu_;
  bool stopped_ = false;
  // Per queue, bumped by every notify: an attempt that sees it changed when
  // it ends found nothing perhaps just before a message came, so it tries
  // again rather than sleep through it.
  std::map<std::string, uint64_t> generation_;
  std::map<std::string, WaiterList> waiting_;  // by queue, longest waiting first
  size_t count_ = 0;
};

}  // namespace wharf::server
