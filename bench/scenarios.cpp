#include "scenarios.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "http_connection.h"
#include "latency.h"
#include "ledger.h"
#include "process_usage.h"
#include "sqs_wire.h"

namespace wharf::bench {

namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Send timestamps in bodies and latencies use one steady clock of this process.
const Clock::time_point kEpoch = Clock::now();
int64_t now_us() { return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - kEpoch).count(); }

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

enum class Phase { Setup, Prefill, Settle, Timed, Drain, Done };

// Receives with WaitTimeSeconds > 0 (kReceiveWait) mostly measure waiting:
// they are kept apart and out of the overall request latency.
enum Action : size_t { kSend, kSendBatch, kReceive, kReceiveWait, kDeleteBatch, kActionCount };
constexpr std::array<const char*, kActionCount> kActionNames = {"SendMessage", "SendMessageBatch", "ReceiveMessage",
                                                                "ReceiveMessageWait", "DeleteMessageBatch"};

// Counted by the connections of one I/O thread, merged at the end; only
// requests that complete during the timed phase count.
struct ThreadStats {
  LatencyHistogram all;
  std::array<LatencyHistogram, kActionCount> by_action;
  LatencyHistogram end_to_end;
  uint64_t sent = 0, received = 0, empty_receives = 0;
};

struct Worker {
  explicit Worker(const Credentials& credentials) : signer(credentials) {}
  net::io_context io{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  SigV4Signer signer;
  ThreadStats stats;
  std::thread thread;
};

LatencySummary summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50_ms = h.percentile(0.50) / 1000;
  s.p99_ms = h.percentile(0.99) / 1000;
  s.p999_ms = h.percentile(0.999) / 1000;
  s.max_ms = h.max() / 1000;
  return s;
}

class Bench {
 public:
  Bench(const BenchOptions& o, const std::atomic<bool>& interrupted)
      : o_(o),
        interrupted_(interrupted),
        fifo_(o.scenario == Scenario::Fifo),
        ledger_(2 * o.connections + 8),
        order_(o.groups),
        fifo_next_seq_(o.groups, 0) {
    std::random_device rd;
    run_id_ = rd() & 0x7fffffff;
  }

  RunResult run();

 private:
  // ---- plumbing ------------------------------------------------------------
  void start_threads(unsigned count);
  void stop_threads();
  Worker& worker_of(size_t lane) { return *workers_[lane % workers_.size()]; }
  template <class T>
  T call_sync(net::awaitable<T> a) {
    return net::co_spawn(workers_[0]->io, std::move(a), net::use_future).get();
  }
  void spawn(size_t lane, net::awaitable<void> work);
  void log(const std::string& line);
  void note_error(const char* action, const HttpReply& reply);
  void note_entry_failure(const char* action, const BatchOutcome& outcome);
  net::awaitable<void> sleep(size_t lane, Clock::duration d);

  // ---- requests --------------------------------------------------------------
  net::awaitable<HttpReply> control(HttpCall call);
  net::awaitable<HttpReply> call(size_t lane, Action action, HttpCall http, Clock::duration timeout);
  net::awaitable<uint32_t> send(size_t lane, const std::vector<OutMessage>& messages, bool batch_api);

  // ---- load ----------------------------------------------------------------
  net::awaitable<void> open_lane(size_t lane);
  net::awaitable<void> producer(size_t lane, unsigned batch, bool batch_api, double rate);
  net::awaitable<void> fifo_producer(size_t lane, unsigned index, unsigned producers, unsigned batch, double rate,
                                     bool prefill);
  net::awaitable<void> prefiller(size_t lane);
  net::awaitable<void> consumer(size_t lane, int wait_seconds, bool end_to_end);
  bool consumer_should_stop() const;

  // ---- phases ----------------------------------------------------------------
  void setup_queue();
  void teardown_queue();
  void wait_until(const std::function<bool()>& done, Clock::duration limit, const char* what);
  void progress_line(const char* what, Clock::time_point since);

  const BenchOptions& o_;
  const std::atomic<bool>& interrupted_;
  const bool fifo_;
  uint32_t run_id_ = 0;
  Endpoint endpoint_;
  std::optional<net::ssl::context> tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<HttpConnection> control_;
  std::vector<std::unique_ptr<HttpConnection>> lanes_;
  std::optional<SqsWire> wire_;
  std::string queue_name_;
  bool created_queue_ = false;

  std::atomic<Phase> phase_{Phase::Setup};
  Ledger ledger_;
  GroupOrder order_;
  std::atomic<int> active_{0};
  std::atomic<int> producers_active_{0};
  std::atomic<int> consumers_active_{0};
  std::atomic<int> polls_started_{0};
  std::atomic<uint64_t> prefill_left_{0};
  // fifo: the next sequence number of each group, shared by the prefill and the
  // timed producers (one at a time per group) so that order checks span both.
  std::vector<uint64_t> fifo_next_seq_;
  std::atomic<uint64_t> errors_{0}, transport_errors_{0}, entry_failures_{0}, corrupt_{0}, other_bodies_{0};
  std::atomic<int> printed_{0};
  std::mutex print_mutex_;
};

// ---- plumbing ----------------------------------------------------------------

void Bench::start_threads(unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    auto w = std::make_unique<Worker>(o_.credentials);
    w->guard.emplace(w->io.get_executor());
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    w->thread = std::thread([&io = w->io] { io.run(); });
  }
}

void Bench::stop_threads() {
  for (auto& w : workers_) w->guard.reset();
  for (auto& w : workers_) {
    w->io.stop();
    if (w->thread.joinable()) w->thread.join();
  }
}

void Bench::spawn(size_t lane, net::awaitable<void> work) {
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

void Bench::log(const std::string& line) {
  std::lock_guard lock(print_mutex_);
  std::cerr << "wharf-bench: " << line << std::endl;
}

void Bench::note_error(const char* action, const HttpReply& reply) {
  ++errors_;
  if (reply.transport_error) ++transport_errors_;
  if (printed_.fetch_add(1) >= 5) return;
  if (reply.transport_error) {
    log(std::string("error: ") + action + ": " + reply.transport_error.message());
  } else {
    log(std::string("error: ") + action + " HTTP " + std::to_string(reply.status) + ": " + reply.body.substr(0, 300));
  }
}

void Bench::note_entry_failure(const char* action, const BatchOutcome& outcome) {
  entry_failures_ += outcome.failed_ids.size();
  if (printed_.fetch_add(1) >= 5) return;
  log(std::string("error: ") + action + ": " + std::to_string(outcome.failed_ids.size()) +
      " entries failed, first: " + outcome.first_failure);
}

net::awaitable<void> Bench::sleep(size_t lane, Clock::duration d) {
  net::steady_timer timer(worker_of(lane).io, d);
  boost::system::error_code ec;
  co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
}

// ---- requests ----------------------------------------------------------------

net::awaitable<HttpReply> Bench::control(HttpCall http) { co_return co_await control_->exchange(http, 60s); }

net::awaitable<HttpReply> Bench::call(size_t lane, Action action, HttpCall http, Clock::duration timeout) {
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
net::awaitable<uint32_t> Bench::send(size_t lane, const std::vector<OutMessage>& messages, bool batch_api) {
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

// ---- load --------------------------------------------------------------------

net::awaitable<void> Bench::open_lane(size_t lane) {
  auto ec = co_await lanes_[lane]->open(10s);
  if (ec) note_error("connect", HttpReply{ec, 0, {}});
}

net::awaitable<void> Bench::producer(size_t lane, unsigned batch, bool batch_api, double rate) {
  const uint32_t slot = ledger_.open_slot();
  ThreadStats& stats = worker_of(lane).stats;
  std::vector<OutMessage> messages(batch);
  std::vector<uint64_t> ids(batch);
  for (unsigned i = 0; i < batch; ++i) messages[i].entry_id = std::to_string(i);
  const auto interval = rate > 0
                            ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(batch / rate))
                            : Clock::duration::zero();
  net::steady_timer timer(worker_of(lane).io);
  auto next = Clock::now();
  while (phase_.load() == Phase::Timed) {
    if (rate > 0) {
      const auto now = Clock::now();
      if (now - next > 1s) next = now;  // fell far behind: do not burst to catch up
      if (next > now) {
        timer.expires_at(next);
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (phase_.load() != Phase::Timed) break;
      }
      next += interval;
    }
    for (unsigned i = 0; i < batch; ++i) {
      ids[i] = ledger_.reserve(slot);
      messages[i].body = make_body(run_id_, MessageTag{ids[i], now_us(), 0, 0}, o_.size);
    }
    const uint32_t accepted = co_await send(lane, messages, batch_api);
    const bool timed = phase_.load() == Phase::Timed;
    for (unsigned i = 0; i < batch; ++i) {
      if (accepted & (1u << i)) {
        ledger_.acked(ids[i]);
        if (timed) ++stats.sent;
      } else {
        ledger_.failed(ids[i]);
      }
    }
    if (accepted == 0) co_await sleep(lane, 5ms);  // the server is failing: do not spin
  }
  --producers_active_;
}

// Owns the groups g with g % producers == index, so that each group has one
// sender and its order is the order of that sender's acknowledged sends. A
// batch takes its slots from the groups in turn, so with fewer groups than
// slots it holds several messages of one group, in order (as FIFO producers
// batch in practice). A send that fails is retried with the same
// deduplication id but a new sequence number: later messages of its group in
// the same batch may have been stored, so the retry is a later message. With
// prefill set it runs in the prefill phase instead: it sends its share of the
// --prefill messages (taken from prefill_left_) and ends when all are
// acknowledged.
net::awaitable<void> Bench::fifo_producer(size_t lane, unsigned index, unsigned producers, unsigned batch, double rate,
                                          bool prefill) {
  struct Pending {
    uint64_t id = 0;
    OutMessage message;
    bool acked = false;
  };
  struct Group {
    uint32_t number = 0;
    std::deque<Pending> pending;  // oldest first; the failed ones of the last batch
    size_t taken = 0;             // of pending, in the batch being built
  };
  const uint32_t slot = ledger_.open_slot();
  ThreadStats& stats = worker_of(lane).stats;
  std::vector<Group> groups;
  for (uint32_t g = index; g < o_.groups; g += producers) groups.push_back(Group{g, {}, 0});
  batch = std::max(1u, batch);
  const auto interval = rate > 0
                            ? std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(batch / rate))
                            : Clock::duration::zero();
  net::steady_timer timer(worker_of(lane).io);
  auto next = Clock::now();
  size_t cursor = 0;
  std::vector<OutMessage> messages;
  std::vector<size_t> chosen;  // group index of each entry
  size_t pending_count = 0;
  const Phase phase = prefill ? Phase::Prefill : Phase::Timed;
  auto number = [&](Group& g, Pending& p) {
    p.message.body = make_body(run_id_, MessageTag{p.id, now_us(), g.number, fifo_next_seq_[g.number]++}, o_.size);
  };
  while (phase_.load() == phase) {
    if (rate > 0) {
      const auto now = Clock::now();
      if (now - next > 1s) next = now;
      if (next > now) {
        timer.expires_at(next);
        boost::system::error_code ec;
        co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
        if (phase_.load() != Phase::Timed) break;
      }
      next += interval;
    }
    messages.clear();
    chosen.clear();
    for (auto& g : groups) g.taken = 0;
    for (unsigned k = 0; k < batch; ++k) {
      const size_t gi = cursor;
      cursor = (cursor + 1) % groups.size();
      Group& g = groups[gi];
      if (g.taken == g.pending.size()) {
        if (prefill) {
          uint64_t left = prefill_left_.load();
          while (left > 0 && !prefill_left_.compare_exchange_weak(left, left - 1)) {
          }
          if (left == 0) continue;  // this producer's share is sent
        }
        ++pending_count;
        Pending p;
        p.id = ledger_.reserve(slot);
        p.message.group_id = "g" + std::to_string(g.number);
        char dedup[32];
        std::snprintf(dedup, sizeof dedup, "d%016llx", static_cast<unsigned long long>(p.id));
        p.message.dedup_id = dedup;
        g.pending.push_back(std::move(p));
      }
      Pending& p = g.pending[g.taken++];
      number(g, p);  // new, or a retry: later than anything of its group sent so far
      p.message.entry_id = std::to_string(messages.size());
      messages.push_back(p.message);
      chosen.push_back(gi);
    }
    if (messages.empty()) {  // prefill: nothing new to send in this window
      if (pending_count == 0) break;
      continue;
    }
    const uint32_t accepted = co_await send(lane, messages, batch > 1);
    const bool timed = !prefill && phase_.load() == Phase::Timed;
    // Entries of one group are in pending order; keep the failed ones.
    for (auto& g : groups) g.taken = 0;
    for (size_t k = 0; k < chosen.size(); ++k) {
      Group& g = groups[chosen[k]];
      const size_t at = g.taken++;
      if (accepted & (1u << k)) {
        ledger_.acked(g.pending[at].id);
        g.pending[at].acked = true;
        --pending_count;
        if (timed) ++stats.sent;
      }
    }
    for (auto& g : groups) {
      std::erase_if(g.pending, [](const Pending& p) { return p.acked; });
    }
    if (accepted != (1u << chosen.size()) - 1) co_await sleep(lane, 5ms);
  }
  for (auto& g : groups) {
    for (auto& p : g.pending) ledger_.failed(p.id);  // never acknowledged; may still arrive
  }
  --producers_active_;
}

net::awaitable<void> Bench::prefiller(size_t lane) {
  const uint32_t slot = ledger_.open_slot();
  std::vector<OutMessage> messages;
  std::vector<uint64_t> ids;
  for (;;) {
    if (phase_.load() == Phase::Done) break;
    uint64_t left = prefill_left_.load();
    uint64_t take = 0;
    do {
      if (left == 0) break;
      take = std::min<uint64_t>(left, 10);
    } while (!prefill_left_.compare_exchange_weak(left, left - take));
    if (left == 0) break;
    messages.resize(take);
    ids.resize(take);
    for (size_t i = 0; i < take; ++i) {
      ids[i] = ledger_.reserve(slot);
      messages[i].entry_id = std::to_string(i);
      messages[i].body = make_body(run_id_, MessageTag{ids[i], now_us(), 0, 0}, o_.size);
    }
    const uint32_t accepted = co_await send(lane, messages, true);
    for (size_t i = 0; i < take; ++i) {
      if (accepted & (1u << i)) {
        ledger_.acked(ids[i]);
      } else {
        ledger_.failed(ids[i]);
      }
    }
    if (accepted == 0) co_await sleep(lane, 5ms);
  }
}

bool Bench::consumer_should_stop() const {
  const Phase phase = phase_.load();
  if (phase == Phase::Done) return true;
  switch (o_.scenario) {
    case Scenario::RecvDel:
    case Scenario::Backlog:
      return ledger_.outstanding() <= 0;
    case Scenario::Pipeline:
    case Scenario::Fifo:
    case Scenario::LongPoll:
      return phase == Phase::Drain && producers_active_.load() == 0 && ledger_.outstanding() <= 0;
    default:
      return true;
  }
}

net::awaitable<void> Bench::consumer(size_t lane, int wait_seconds, bool end_to_end) {
  ThreadStats& stats = worker_of(lane).stats;
  std::vector<ReceivedMessage> got;
  std::vector<std::string> handles;
  bool first = true;
  const auto timeout = std::chrono::seconds(wait_seconds) + 30s;
  while (!consumer_should_stop()) {
    if (first) {
      ++polls_started_;
      first = false;
    }
    HttpReply r = co_await call(lane, wait_seconds > 0 ? kReceiveWait : kReceive,
                                wire_->receive_message(10, wait_seconds, o_.visibility_timeout), timeout);
    if (!r.ok()) {
      if (phase_.load() == Phase::Done) break;
      co_await sleep(lane, 10ms);
      continue;
    }
    if (!wire_->parse_receive(r.body, got)) {
      note_error("ReceiveMessage (unreadable answer)", r);
      continue;
    }
    const bool timed = phase_.load() == Phase::Timed;
    if (got.empty()) {
      if (timed) ++stats.empty_receives;
      if (wait_seconds == 0) co_await sleep(lane, 2ms);  // the rest is in flight at other consumers
      continue;
    }
    const int64_t arrived = now_us();
    handles.clear();
    for (auto& m : got) {
      handles.push_back(std::move(m.receipt_handle));
      MessageTag tag;
      switch (parse_body(m.body, run_id_, o_.size, tag)) {
        case BodyCheck::OtherRun:
          ++other_bodies_;
          continue;
        case BodyCheck::Corrupt:
          if (corrupt_.fetch_add(1) < 3) log("corrupt body: " + m.body.substr(0, 120));
          continue;
        case BodyCheck::Ok:
          break;
      }
      const auto receipt = ledger_.received(tag.id);
      if (fifo_) order_.check(tag.group, tag.seq, receipt == Ledger::Receipt::Duplicate);
      if (timed) {
        ++stats.received;
        if (end_to_end) stats.end_to_end.record(arrived - tag.sent_us);
      }
    }
    HttpReply d = co_await call(lane, kDeleteBatch, wire_->delete_message_batch(handles), 30s);
    if (d.ok()) {
      BatchOutcome outcome;
      if (!wire_->parse_batch(d.body, outcome)) {
        note_error("DeleteMessageBatch (unreadable answer)", d);
      } else if (!outcome.failed_ids.empty()) {
        note_entry_failure("DeleteMessageBatch", outcome);
      }
    }
  }
  --consumers_active_;
}

// ---- phases ------------------------------------------------------------------

void Bench::setup_queue() {
  SqsWire bootstrap(o_.protocol, "");
  HttpReply r;
  if (!o_.queue.empty()) {
    queue_name_ = o_.queue;
    r = call_sync(control(bootstrap.get_queue_url(queue_name_)));
  } else {
    char name[64];
    std::snprintf(name, sizeof name, "wharf-bench-%s-%08x%s", to_string(o_.scenario), run_id_, fifo_ ? ".fifo" : "");
    queue_name_ = name;
    r = call_sync(control(bootstrap.create_queue(queue_name_, fifo_)));
    created_queue_ = r.ok();
  }
  if (!r.ok()) {
    throw std::runtime_error("cannot " + std::string(o_.queue.empty() ? "create" : "find") + " queue " + queue_name_ +
                             ": " +
                             (r.transport_error ? r.transport_error.message()
                                                : "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300)));
  }
  std::string url;
  if (!bootstrap.parse_queue_url(r.body, url)) throw std::runtime_error("no QueueUrl in: " + r.body.substr(0, 300));
  wire_.emplace(o_.protocol, url);
  if (fifo_ && queue_name_.size() < 5) throw std::runtime_error("the fifo scenario needs a .fifo queue");
}

void Bench::teardown_queue() {
  if (!created_queue_ || o_.keep_queue) return;
  HttpReply r = call_sync(control(wire_->delete_queue()));
  if (!r.ok()) {
    log("could not delete queue " + queue_name_ + ": " +
        (r.transport_error ? r.transport_error.message() : "HTTP " + std::to_string(r.status)));
  }
}

void Bench::wait_until(const std::function<bool()>& done, Clock::duration limit, const char* what) {
  const auto start = Clock::now();
  auto last_line = start;
  while (!done()) {
    if (Clock::now() - start > limit) {
      log(std::string("timed out waiting for ") + what);
      return;
    }
    std::this_thread::sleep_for(5ms);
    if (!o_.quiet && Clock::now() - last_line >= 5s) {
      last_line = Clock::now();
      progress_line(what, start);
    }
  }
}

void Bench::progress_line(const char* what, Clock::time_point since) {
  std::ostringstream line;
  line << what << ": " << static_cast<int>(seconds_between(since, Clock::now())) << " s, acknowledged "
       << ledger_.acked_count() << ", received " << ledger_.received_unique() << ", errors " << errors_.load();
  log(line.str());
}

RunResult Bench::run() {
  RunResult result;
  result.scenario = to_string(o_.scenario);
  result.protocol = to_string(o_.protocol);
  result.endpoint = o_.endpoint;
  result.size = o_.size;
  result.groups = fifo_ ? o_.groups : 0;

  endpoint_ = parse_endpoint(o_.endpoint);
  {
    net::io_context resolver_io;
    net::ip::tcp::resolver resolver(resolver_io);
    boost::system::error_code ec;
    endpoint_.addresses = resolver.resolve(endpoint_.host, endpoint_.port, ec);
    if (ec) throw std::runtime_error("cannot resolve " + endpoint_.host + ": " + ec.message());
  }
  if (endpoint_.tls) {
    tls_.emplace(net::ssl::context::tls_client);
    tls_->set_default_verify_paths();
    tls_->set_verify_mode(net::ssl::verify_peer);
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = o_.threads ? o_.threads : std::clamp(cores / 2, 1u, 4u);
  start_threads(threads);
  result.threads = threads;

  control_ = std::make_unique<HttpConnection>(workers_[0]->io, endpoint_, workers_[0]->signer, tls_ ? &*tls_ : nullptr);
  try {
    setup_queue();
  } catch (...) {
    stop_threads();
    throw;
  }
  result.queue = queue_name_;

  // Lanes: one per connection, plus the producer's for longpoll.
  const bool longpoll = o_.scenario == Scenario::LongPoll;
  const size_t lane_count = o_.connections + (longpoll ? 1 : 0);
  for (size_t i = 0; i < lane_count; ++i) {
    Worker& w = worker_of(i);
    lanes_.push_back(std::make_unique<HttpConnection>(w.io, endpoint_, w.signer, tls_ ? &*tls_ : nullptr));
  }
  for (size_t i = 0; i < lane_count; ++i) spawn(i, open_lane(i));
  wait_until([this] { return active_.load() == 0 || interrupted_.load(); }, 60s, "connections");
  if (errors_.load() > 0) log("some connections failed to open; continuing");

  const ProcessSample server_start = sample_process(o_.server_pid);
  if (o_.server_pid && !server_start.ok) log("cannot read /proc/" + std::to_string(o_.server_pid));

  // Prefill.
  const bool recvdel = o_.scenario == Scenario::RecvDel || o_.scenario == Scenario::Backlog;
  const unsigned half = o_.connections / 2;
  const unsigned batch_default = o_.scenario == Scenario::SendBatch ? 10 : 1;
  const unsigned batch = o_.batch ? o_.batch : batch_default;
  if (recvdel || (fifo_ && o_.prefill_set && o_.prefill > 0)) {
    const uint64_t prefill = o_.prefill_set ? o_.prefill : (o_.scenario == Scenario::Backlog ? 1000000 : 100000);
    phase_ = Phase::Prefill;
    prefill_left_ = prefill;
    const auto start = Clock::now();
    if (fifo_) {
      // Batches of 10 distinct groups where there are that many.
      const unsigned producers = std::min(std::max(half, 1u), o_.groups);
      for (unsigned i = 0; i < producers; ++i) spawn(i, fifo_producer(i, i, producers, 10, 0, true));
    } else {
      for (size_t i = 0; i < lane_count; ++i) spawn(i, prefiller(i));
    }
    if (!o_.quiet) log("prefilling " + std::to_string(prefill) + " messages");
    wait_until([this] { return active_.load() == 0 || interrupted_.load(); }, 24h, "prefill");
    if (interrupted_.load()) {
      phase_ = Phase::Done;
      wait_until([this] { return active_.load() == 0; }, 60s, "prefill to stop");
    }
    result.prefill_s = seconds_between(start, Clock::now());
    result.prefilled = ledger_.acked_count();
  }

  // Long polls first, then the producer.
  unsigned producers = 0, consumers = 0;
  if (longpoll) {
    phase_ = Phase::Settle;
    consumers = o_.connections;
    consumers_active_ = static_cast<int>(consumers);
    for (size_t i = 0; i < consumers; ++i) spawn(i, consumer(i, 20, true));
    wait_until([&] { return polls_started_.load() >= static_cast<int>(consumers) || interrupted_.load(); }, 30s,
               "long polls to start");
    std::this_thread::sleep_for(1s);  // let the polls reach the server and settle
  }

  // The timed phase.
  const ProcessSample server_t0 = sample_process(o_.server_pid);
  const double client_t0 = own_cpu_seconds();
  const HostSample host_t0 = sample_host();
  const auto t0 = Clock::now();
  phase_ = Phase::Timed;
  switch (o_.scenario) {
    case Scenario::Send:
    case Scenario::SendBatch: {
      producers = o_.connections;
      const bool batch_api = o_.scenario == Scenario::SendBatch;
      const unsigned b = batch_api ? batch : 1;
      result.batch = b;
      producers_active_ = static_cast<int>(producers);
      for (size_t i = 0; i < producers; ++i) spawn(i, producer(i, b, batch_api, o_.rate / producers));
      break;
    }
    case Scenario::RecvDel:
    case Scenario::Backlog:
      consumers = o_.connections;
      result.batch = 10;
      consumers_active_ = static_cast<int>(consumers);
      for (size_t i = 0; i < consumers; ++i) spawn(i, consumer(i, 0, false));
      break;
    case Scenario::Pipeline:
      producers = half;
      consumers = o_.connections - half;
      result.batch = batch;
      producers_active_ = static_cast<int>(producers);
      consumers_active_ = static_cast<int>(consumers);
      for (size_t i = 0; i < producers; ++i) spawn(i, producer(i, batch, batch > 1, o_.rate / producers));
      for (size_t i = producers; i < o_.connections; ++i) spawn(i, consumer(i, 1, true));
      break;
    case Scenario::Fifo: {
      producers = std::min(half, o_.groups);
      consumers = o_.connections - half;
      result.batch = batch;
      producers_active_ = static_cast<int>(producers);
      consumers_active_ = static_cast<int>(consumers);
      for (unsigned i = 0; i < producers; ++i)
        spawn(i, fifo_producer(i, i, producers, batch, o_.rate / producers, false));
      for (size_t i = half; i < o_.connections; ++i) spawn(i, consumer(i, 1, true));
      break;
    }
    case Scenario::LongPoll: {
      producers = 1;
      result.batch = 1;
      producers_active_ = 1;
      spawn(lane_count - 1, producer(lane_count - 1, 1, false, o_.rate > 0 ? o_.rate : 100));
      break;
    }
  }
  result.producers = producers;
  result.consumers = consumers;
  result.connections = o_.connections;

  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration_s));
  auto last_line = t0;
  while (Clock::now() - t0 < limit && !interrupted_.load()) {
    if (recvdel && consumers_active_.load() == 0) break;  // drained
    std::this_thread::sleep_for(2ms);
    if (!o_.quiet && Clock::now() - last_line >= 5s) {
      last_line = Clock::now();
      progress_line("running", t0);
    }
  }
  const auto t1 = Clock::now();
  const ProcessSample server_t1 = sample_process(o_.server_pid);
  const double client_t1 = own_cpu_seconds();
  const HostSample host_t1 = sample_host();
  result.interrupted = interrupted_.load();

  // Drain: producers stop, consumers take what is left.
  const bool drains = o_.scenario == Scenario::Pipeline || o_.scenario == Scenario::Fifo || longpoll ||
                      (recvdel && (o_.verify_drain || consumers_active_.load() == 0));
  if (drains && !result.interrupted && consumers_active_.load() > 0) {
    phase_ = Phase::Drain;
    uint64_t last_received = ledger_.received_unique();
    auto last_progress = Clock::now();
    auto drain_line = last_progress;
    const auto patience =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.drain_timeout_s));
    while (consumers_active_.load() > 0 && !interrupted_.load()) {
      std::this_thread::sleep_for(5ms);
      const auto now = Clock::now();
      if (ledger_.received_unique() != last_received || producers_active_.load() > 0) {
        last_received = ledger_.received_unique();
        last_progress = now;
      }
      if (longpoll && producers_active_.load() == 0 && ledger_.outstanding() <= 0) break;
      if (now - last_progress > patience) {
        log("drain: no progress for " + std::to_string(o_.drain_timeout_s) + " s; giving up");
        break;
      }
      if (!o_.quiet && now - drain_line >= 5s) {
        drain_line = now;
        progress_line("draining", t1);
      }
    }
  }
  phase_ = Phase::Done;
  // Pipeline consumers' 1 s polls end by themselves; 20 s long polls are cut.
  if (!longpoll) wait_until([this] { return active_.load() == 0; }, 3s, "load tasks to finish; cancelling them");
  if (active_.load() > 0) {
    for (auto& lane : lanes_) lane->cancel();
    wait_until([this] { return active_.load() == 0; }, 60s, "cancelled load tasks");
  }

  // Checks.
  result.acknowledged = ledger_.acked_count();
  result.received_unique = ledger_.received_unique();
  result.drained = producers_active_.load() == 0 && ledger_.outstanding() <= 0;
  if (drains && !result.interrupted) result.lost = ledger_.count_lost();
  result.duplicates = ledger_.duplicates();
  result.order_violations = order_.violations();
  result.corrupt = corrupt_.load();
  result.other_bodies = other_bodies_.load() + ledger_.unknown();
  result.received_unacknowledged = ledger_.received_unacknowledged();
  result.errors = errors_.load();
  result.transport_errors = transport_errors_.load();
  result.entry_failures = entry_failures_.load();

  teardown_queue();
  const ProcessSample server_end = sample_process(o_.server_pid);
  stop_threads();

  // Numbers of the timed phase.
  ThreadStats total;
  for (auto& w : workers_) {
    total.all.merge(w->stats.all);
    for (size_t a = 0; a < kActionCount; ++a) total.by_action[a].merge(w->stats.by_action[a]);
    total.end_to_end.merge(w->stats.end_to_end);
    total.sent += w->stats.sent;
    total.received += w->stats.received;
    total.empty_receives += w->stats.empty_receives;
  }
  const double elapsed = seconds_between(t0, t1);
  result.duration_s = elapsed;
  result.requests = 0;
  for (const auto& h : total.by_action) result.requests += h.count();
  result.requests_per_s = elapsed > 0 ? double(result.requests) / elapsed : 0;
  result.sent_per_s = elapsed > 0 ? double(total.sent) / elapsed : 0;
  result.received_per_s = elapsed > 0 ? double(total.received) / elapsed : 0;
  const bool sending = o_.scenario == Scenario::Send || o_.scenario == Scenario::SendBatch;
  result.messages = sending ? total.sent : total.received;
  result.messages_per_s = sending ? result.sent_per_s : result.received_per_s;
  result.empty_receives = total.empty_receives;
  result.request = summarize(total.all);
  for (size_t a = 0; a < kActionCount; ++a) {
    if (total.by_action[a].count()) result.by_action.emplace_back(kActionNames[a], summarize(total.by_action[a]));
  }
  if (total.end_to_end.count()) result.end_to_end = summarize(total.end_to_end);
  result.client_cpu_s = client_t1 - client_t0;
  result.client_cpu_pct = elapsed > 0 ? 100 * result.client_cpu_s / elapsed : 0;
  result.host_cores = cores;
  if (host_t0.ok && host_t1.ok && elapsed > 0) {
    const double busy = host_t1.busy_seconds - host_t0.busy_seconds;
    result.host_busy_pct = 100 * busy / elapsed / cores;
    if (server_t0.ok && server_t1.ok) {
      const double others = busy - (server_t1.cpu_seconds - server_t0.cpu_seconds) - result.client_cpu_s;
      result.others_cpu_pct = std::max(0.0, 100 * others / elapsed);
    }
  }
  if (server_t0.ok && server_t1.ok) {
    ServerUsage u;
    u.cpu_s = server_t1.cpu_seconds - server_t0.cpu_seconds;
    u.cpu_pct = elapsed > 0 ? 100 * u.cpu_s / elapsed : 0;
    u.cpu_us_per_message = result.messages ? 1e6 * u.cpu_s / double(result.messages) : 0;
    const ProcessSample& last = server_end.ok ? server_end : server_t1;
    u.cpu_total_s = last.cpu_seconds - server_start.cpu_seconds;
    u.peak_rss_mb = double(last.peak_rss_kb) / 1024;
    u.rss_mb = double(last.rss_kb) / 1024;
    result.server = u;
  }
  return result;
}

}  // namespace

RunResult run_scenario(const BenchOptions& options, const std::atomic<bool>& interrupted) {
  Bench bench(options, interrupted);
  return bench.run();
}

}  // namespace wharf::bench
