// One run of a scenario (scenarios.h runs it): its shared state, its phases
// (scenarios.cpp), its load tasks (scenario_load.cpp, scenario_fifo.cpp) and
// their requests and worker threads (scenario_requests.cpp). Private to
// those files.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http_connection.h"
#include "latency.h"
#include "ledger.h"
#include "options.h"
#include "process_usage.h"
#include "report.h"
#include "sqs_wire.h"

namespace wharf::bench {

using Clock = std::chrono::steady_clock;

// Send timestamps in bodies and latencies use one steady clock of this process.
inline const Clock::time_point kEpoch = Clock::now();
inline int64_t now_us() { return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - kEpoch).count(); }

inline double seconds_between(Clock::time_point a, Clock::time_point b) {
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
  boost::asio::io_context io{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  SigV4Signer signer;
  ThreadStats stats;
  std::thread thread;
};

// Paces a sender to `rate` messages per second in batches of `batch`; a rate
// of 0 is not paced. A sender that falls more than 1 s behind does not burst
// to catch up.
class Pacer {
 public:
  Pacer(boost::asio::io_context& io, unsigned batch, double rate);
  bool paced() const { return rate_ > 0; }
  // Waits for the next batch's turn; false when the timed phase ended
  // during the wait.
  boost::asio::awaitable<bool> wait_turn(const std::atomic<Phase>& phase);

 private:
  double rate_;
  Clock::duration interval_;
  boost::asio::steady_timer timer_;
  Clock::time_point next_;
};

// Process and host samples around the timed phase.
struct RunSamples {
  ProcessSample server_start, server_t0, server_t1, server_end;
  double client_t0 = 0, client_t1 = 0;
  HostSample host_t0, host_t1;
  Clock::time_point t0, t1;
};

class ScenarioRun {
 public:
  ScenarioRun(const BenchOptions& o, const std::atomic<bool>& interrupted);

  RunResult run();

 private:
  // ---- phases (scenarios.cpp) ------------------------------------------------
  RunResult describe_run() const;
  void connect(RunResult& result);
  void resolve_endpoints();
  void open_lanes();
  void prefill(RunResult& result);
  void start_long_polls(unsigned& consumers);
  void start_load(RunResult& result, unsigned& producers, unsigned& consumers);
  void run_timed_phase(RunResult& result, RunSamples& samples);
  bool drains_queue() const;
  void drain(Clock::time_point since);
  void stop_load();
  void check(RunResult& result, bool drained_queue) const;
  void measure(RunResult& result, const RunSamples& samples) const;
  void setup_queue();
  void teardown_queue();
  void wait_until(const std::function<bool()>& done, Clock::duration limit, const char* what);
  void progress_line(const char* what, Clock::time_point since);

  // ---- plumbing and requests (scenario_requests.cpp) ---------------------------
  void start_threads(unsigned count);
  void stop_threads();
  Worker& worker_of(size_t lane) { return *workers_[lane % workers_.size()]; }
  HttpReply call_sync(boost::asio::awaitable<HttpReply> a);
  void spawn(size_t lane, boost::asio::awaitable<void> work);
  void log(const std::string& line);
  void note_error(const char* action, const HttpReply& reply);
  void note_entry_failure(const char* action, const BatchOutcome& outcome);
  boost::asio::awaitable<void> sleep(size_t lane, Clock::duration d);
  boost::asio::awaitable<HttpReply> control(HttpCall call);
  boost::asio::awaitable<HttpReply> call(size_t lane, Action action, HttpCall http, Clock::duration timeout);
  boost::asio::awaitable<uint32_t> send(size_t lane, const std::vector<OutMessage>& messages, bool batch_api);

  // ---- load (scenario_load.cpp, scenario_fifo.cpp) -----------------------------
  struct FifoLane;
  boost::asio::awaitable<void> open_lane(size_t lane);
  boost::asio::awaitable<void> producer(size_t lane, unsigned batch, bool batch_api, double rate);
  boost::asio::awaitable<void> fifo_producer(size_t lane, unsigned index, unsigned producers, unsigned batch,
                                             double rate, bool prefill);
  bool next_fifo_batch(FifoLane& lane, unsigned batch, bool prefill);
  void settle_fifo_batch(FifoLane& lane, uint32_t accepted, bool timed, ThreadStats& stats);
  boost::asio::awaitable<void> prefiller(size_t lane);
  boost::asio::awaitable<void> consumer(size_t lane, int wait_seconds, bool end_to_end);
  bool consumer_should_stop() const;

  const BenchOptions& o_;
  const std::atomic<bool>& interrupted_;
  const bool fifo_;
  uint32_t run_id_ = 0;
  std::vector<Endpoint> endpoints_;  // filled once, before any connection
  std::optional<boost::asio::ssl::context> tls_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<HttpConnection> control_;
  std::vector<std::unique_ptr<HttpConnection>> lanes_;
  std::optional<SqsWire> wire_;
  std::string queue_name_;
  bool created_queue_ = false;
  // Derived from the options when the run starts.
  unsigned cores_ = 1;
  bool longpoll_ = false;
  bool recvdel_ = false;  // recvdel or backlog: consumers of a prefilled queue
  size_t lane_count_ = 0;
  unsigned half_ = 0;   // connections / 2
  unsigned batch_ = 1;  // messages per send request

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

}  // namespace wharf::bench
