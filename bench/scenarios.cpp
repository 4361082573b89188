#include "scenarios.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "common/hex.h"
#include "scenario_run.h"

namespace wharf::bench {

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

LatencySummary summarize(const LatencyHistogram& h) {
  LatencySummary s;
  s.count = h.count();
  s.p50_ms = h.percentile(0.50) / 1000;
  s.p99_ms = h.percentile(0.99) / 1000;
  s.p999_ms = h.percentile(0.999) / 1000;
  s.max_ms = h.max() / 1000;
  return s;
}

}  // namespace

ScenarioRun::ScenarioRun(const BenchOptions& o, const std::atomic<bool>& interrupted)
    : o_(o),
      interrupted_(interrupted),
      fifo_(o.scenario == Scenario::Fifo),
      ledger_(2 * o.connections + 8),
      order_(o.groups),
      fifo_next_seq_(o.groups, 0) {
  std::random_device rd;
  run_id_ = rd() & 0x7fffffff;
}

RunResult ScenarioRun::run() {
  RunResult result = describe_run();
  connect(result);
  RunSamples samples;
  samples.server_start = sample_processes(o_.server_pids);
  if (!o_.server_pids.empty() && !samples.server_start.ok) log("cannot read /proc of every --server-pid");
  prefill(result);
  run_timed_phase(result, samples);
  const bool drained_queue = drains_queue();
  if (drained_queue && !result.interrupted && consumers_active_.load() > 0) drain(samples.t1);
  stop_load();
  check(result, drained_queue);
  teardown_queue();
  samples.server_end = sample_processes(o_.server_pids);
  stop_threads();
  measure(result, samples);
  return result;
}

RunResult ScenarioRun::describe_run() const {
  RunResult result;
  result.scenario = to_string(o_.scenario);
  result.protocol = to_string(o_.protocol);
  result.endpoint = o_.endpoint;
  result.size = o_.size;
  result.groups = fifo_ ? o_.groups : 0;
  return result;
}

// The endpoint, the worker threads, the queue and the lanes' connections.
void ScenarioRun::connect(RunResult& result) {
  resolve_endpoints();
  if (std::any_of(endpoints_.begin(), endpoints_.end(), [](const Endpoint& e) { return e.tls; })) {
    tls_.emplace(net::ssl::context::tls_client);
    tls_->set_default_verify_paths();
    tls_->set_verify_mode(net::ssl::verify_peer);
  }
  cores_ = std::max(1u, std::thread::hardware_concurrency());
  const unsigned threads = o_.threads ? o_.threads : std::clamp(cores_ / 2, 1u, 4u);
  start_threads(threads);
  result.threads = threads;

  control_ = std::make_unique<HttpConnection>(workers_[0]->io, endpoints_.front(), workers_[0]->signer,
                                              tls_ ? &*tls_ : nullptr);
  try {
    setup_queue();
  } catch (...) {
    stop_threads();
    throw;
  }
  result.queue = queue_name_;
  open_lanes();
}

// --endpoint's URLs, resolved once: the connections keep references to them.
void ScenarioRun::resolve_endpoints() {
  net::io_context resolver_io;
  net::ip::tcp::resolver resolver(resolver_io);
  std::string_view list = o_.endpoint;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    Endpoint e = parse_endpoint(std::string(list.substr(0, comma)));
    boost::system::error_code ec;
    e.addresses = resolver.resolve(e.host, e.port, ec);
    if (ec) throw std::runtime_error("cannot resolve " + e.host + ": " + ec.message());
    endpoints_.push_back(std::move(e));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  if (endpoints_.empty()) throw std::runtime_error("--endpoint is empty");
}

// Lanes: one per connection, plus the producer's for longpoll.
void ScenarioRun::open_lanes() {
  longpoll_ = o_.scenario == Scenario::LongPoll;
  lane_count_ = o_.connections + (longpoll_ ? 1 : 0);
  for (size_t i = 0; i < lane_count_; ++i) {
    Worker& w = worker_of(i);
    lanes_.push_back(
        std::make_unique<HttpConnection>(w.io, endpoints_[i % endpoints_.size()], w.signer, tls_ ? &*tls_ : nullptr));
  }
  for (size_t i = 0; i < lane_count_; ++i) spawn(i, open_lane(i));
  wait_until([this] { return active_.load() == 0 || interrupted_.load(); }, 60s, "connections");
  if (errors_.load() > 0) log("some connections failed to open; continuing");
}

void ScenarioRun::prefill(RunResult& result) {
  recvdel_ = o_.scenario == Scenario::RecvDel || o_.scenario == Scenario::Backlog;
  half_ = o_.connections / 2;
  const unsigned batch_default = o_.scenario == Scenario::SendBatch ? 10 : 1;
  batch_ = o_.batch ? o_.batch : batch_default;
  if (!recvdel_ && !(fifo_ && o_.prefill_set && o_.prefill > 0)) return;
  const uint64_t prefill = o_.prefill_set ? o_.prefill : (o_.scenario == Scenario::Backlog ? 1000000 : 100000);
  phase_ = Phase::Prefill;
  prefill_left_ = prefill;
  const auto start = Clock::now();
  if (fifo_) {
    // Batches of 10 distinct groups where there are that many.
    const unsigned producers = std::min(std::max(half_, 1u), o_.groups);
    for (unsigned i = 0; i < producers; ++i) spawn(i, fifo_producer(i, i, producers, 10, 0, true));
  } else {
    for (size_t i = 0; i < lane_count_; ++i) spawn(i, prefiller(i));
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
void ScenarioRun::start_long_polls(unsigned& consumers) {
  phase_ = Phase::Settle;
  consumers = o_.connections;
  consumers_active_ = static_cast<int>(consumers);
  for (size_t i = 0; i < consumers; ++i) spawn(i, consumer(i, 20, true));
  wait_until([&] { return polls_started_.load() >= static_cast<int>(consumers) || interrupted_.load(); }, 30s,
             "long polls to start");
  std::this_thread::sleep_for(1s);  // let the polls reach the server and settle
}

// The scenario's producers and consumers, in the timed phase.
void ScenarioRun::start_load(RunResult& result, unsigned& producers, unsigned& consumers) {
  switch (o_.scenario) {
    case Scenario::Send:
    case Scenario::SendBatch: {
      producers = o_.connections;
      const bool batch_api = o_.scenario == Scenario::SendBatch;
      const unsigned b = batch_api ? batch_ : 1;
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
      producers = half_;
      consumers = o_.connections - half_;
      result.batch = batch_;
      producers_active_ = static_cast<int>(producers);
      consumers_active_ = static_cast<int>(consumers);
      for (size_t i = 0; i < producers; ++i) spawn(i, producer(i, batch_, batch_ > 1, o_.rate / producers));
      for (size_t i = producers; i < o_.connections; ++i) spawn(i, consumer(i, 1, true));
      break;
    case Scenario::Fifo: {
      producers = std::min(half_, o_.groups);
      consumers = o_.connections - half_;
      result.batch = batch_;
      producers_active_ = static_cast<int>(producers);
      consumers_active_ = static_cast<int>(consumers);
      for (unsigned i = 0; i < producers; ++i)
        spawn(i, fifo_producer(i, i, producers, batch_, o_.rate / producers, false));
      for (size_t i = half_; i < o_.connections; ++i) spawn(i, consumer(i, 1, true));
      break;
    }
    case Scenario::LongPoll: {
      producers = 1;
      result.batch = 1;
      producers_active_ = 1;
      spawn(lane_count_ - 1, producer(lane_count_ - 1, 1, false, o_.rate > 0 ? o_.rate : 100));
      break;
    }
  }
}

void ScenarioRun::run_timed_phase(RunResult& result, RunSamples& samples) {
  unsigned producers = 0, consumers = 0;
  if (longpoll_) start_long_polls(consumers);
  samples.server_t0 = sample_processes(o_.server_pids);
  samples.client_t0 = own_cpu_seconds();
  samples.host_t0 = sample_host();
  const auto t0 = samples.t0 = Clock::now();
  phase_ = Phase::Timed;
  start_load(result, producers, consumers);
  result.producers = producers;
  result.consumers = consumers;
  result.connections = o_.connections;

  const auto limit = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.duration_s));
  auto last_line = t0;
  while (Clock::now() - t0 < limit && !interrupted_.load()) {
    if (recvdel_ && consumers_active_.load() == 0) break;  // drained
    std::this_thread::sleep_for(2ms);
    if (!o_.quiet && Clock::now() - last_line >= 5s) {
      last_line = Clock::now();
      progress_line("running", t0);
    }
  }
  samples.t1 = Clock::now();
  samples.server_t1 = sample_processes(o_.server_pids);
  samples.client_t1 = own_cpu_seconds();
  samples.host_t1 = sample_host();
  result.interrupted = interrupted_.load();
}

// Whether the run drains the queue after the timed phase (and so can count
// lost messages).
bool ScenarioRun::drains_queue() const {
  return o_.scenario == Scenario::Pipeline || o_.scenario == Scenario::Fifo || longpoll_ ||
         (recvdel_ && (o_.verify_drain || consumers_active_.load() == 0));
}

// Producers stop, consumers take what is left.
void ScenarioRun::drain(Clock::time_point since) {
  phase_ = Phase::Drain;
  uint64_t last_received = ledger_.received_unique();
  auto last_progress = Clock::now();
  auto drain_line = last_progress;
  const auto patience = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.drain_timeout_s));
  while (consumers_active_.load() > 0 && !interrupted_.load()) {
    std::this_thread::sleep_for(5ms);
    const auto now = Clock::now();
    if (ledger_.received_unique() != last_received || producers_active_.load() > 0) {
      last_received = ledger_.received_unique();
      last_progress = now;
    }
    if (longpoll_ && producers_active_.load() == 0 && ledger_.outstanding() <= 0) break;
    if (now - last_progress > patience) {
      log("drain: no progress for " + std::to_string(o_.drain_timeout_s) + " s; giving up");
      break;
    }
    if (!o_.quiet && now - drain_line >= 5s) {
      drain_line = now;
      progress_line("draining", since);
    }
  }
}

void ScenarioRun::stop_load() {
  phase_ = Phase::Done;
  // Pipeline consumers' 1 s polls end by themselves; 20 s long polls are cut.
  if (!longpoll_) wait_until([this] { return active_.load() == 0; }, 3s, "load tasks to finish; cancelling them");
  if (active_.load() > 0) {
    for (auto& lane : lanes_) lane->cancel();
    wait_until([this] { return active_.load() == 0; }, 60s, "cancelled load tasks");
  }
}

void ScenarioRun::check(RunResult& result, bool drained_queue) const {
  result.acknowledged = ledger_.acked_count();
  result.received_unique = ledger_.received_unique();
  result.drained = producers_active_.load() == 0 && ledger_.outstanding() <= 0;
  if (drained_queue && !result.interrupted) result.lost = ledger_.count_lost();
  result.duplicates = ledger_.duplicates();
  result.order_violations = order_.violations();
  result.corrupt = corrupt_.load();
  result.other_bodies = other_bodies_.load() + ledger_.unknown();
  result.received_unacknowledged = ledger_.received_unacknowledged();
  result.errors = errors_.load();
  result.transport_errors = transport_errors_.load();
  result.entry_failures = entry_failures_.load();
}

// The numbers of the timed phase.
void ScenarioRun::measure(RunResult& result, const RunSamples& s) const {
  ThreadStats total;
  for (auto& w : workers_) {
    total.all.merge(w->stats.all);
    for (size_t a = 0; a < kActionCount; ++a) total.by_action[a].merge(w->stats.by_action[a]);
    total.end_to_end.merge(w->stats.end_to_end);
    total.sent += w->stats.sent;
    total.received += w->stats.received;
    total.empty_receives += w->stats.empty_receives;
  }
  const double elapsed = seconds_between(s.t0, s.t1);
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
  result.client_cpu_s = s.client_t1 - s.client_t0;
  result.client_cpu_pct = elapsed > 0 ? 100 * result.client_cpu_s / elapsed : 0;
  result.host_cores = cores_;
  if (s.host_t0.ok && s.host_t1.ok && elapsed > 0) {
    const double busy = s.host_t1.busy_seconds - s.host_t0.busy_seconds;
    result.host_busy_pct = 100 * busy / elapsed / cores_;
    if (s.server_t0.ok && s.server_t1.ok) {
      const double others = busy - (s.server_t1.cpu_seconds - s.server_t0.cpu_seconds) - result.client_cpu_s;
      result.others_cpu_pct = std::max(0.0, 100 * others / elapsed);
    }
  }
  if (s.server_t0.ok && s.server_t1.ok) {
    ServerUsage u;
    u.cpu_s = s.server_t1.cpu_seconds - s.server_t0.cpu_seconds;
    u.cpu_pct = elapsed > 0 ? 100 * u.cpu_s / elapsed : 0;
    u.cpu_us_per_message = result.messages ? 1e6 * u.cpu_s / double(result.messages) : 0;
    const ProcessSample& last = s.server_end.ok ? s.server_end : s.server_t1;
    u.cpu_total_s = last.cpu_seconds - s.server_start.cpu_seconds;
    u.peak_rss_mb = double(last.peak_rss_kb) / 1024;
    u.rss_mb = double(last.rss_kb) / 1024;
    result.server = u;
  }
}

void ScenarioRun::setup_queue() {
  SqsWire bootstrap(o_.protocol, "");
  HttpReply r;
  if (!o_.queue.empty()) {
    queue_name_ = o_.queue;
    r = call_sync(control(bootstrap.get_queue_url(queue_name_)));
  } else {
    queue_name_ = std::string("wharf-bench-") + to_string(o_.scenario) + "-";
    append_hex_number(queue_name_, run_id_, 8);
    if (fifo_) queue_name_ += ".fifo";
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

void ScenarioRun::teardown_queue() {
  if (!created_queue_ || o_.keep_queue) return;
  HttpReply r = call_sync(control(wire_->delete_queue()));
  if (!r.ok()) {
    log("could not delete queue " + queue_name_ + ": " +
        (r.transport_error ? r.transport_error.message() : "HTTP " + std::to_string(r.status)));
  }
}

void ScenarioRun::wait_until(const std::function<bool()>& done, Clock::duration limit, const char* what) {
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

void ScenarioRun::progress_line(const char* what, Clock::time_point since) {
  std::ostringstream line;
  line << what << ": " << static_cast<int>(seconds_between(since, Clock::now())) << " s, acknowledged "
       << ledger_.acked_count() << ", received " << ledger_.received_unique() << ", errors " << errors_.load();
  log(line.str());
}

RunResult run_scenario(const BenchOptions& options, const std::atomic<bool>& interrupted) {
  ScenarioRun run(options, interrupted);
  return run.run();
}

}  // namespace wharf::bench
