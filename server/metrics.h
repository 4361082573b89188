// Observability: what the HTTP front end counts per SQS action, and the
// Prometheus text exposition (format 0.0.4) of it together with each
// account's queues and the process's figures, for `GET /metrics`.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/action_facts.h"

namespace wharf::server {

class Accounts;
class LongPolls;
struct Settings;

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// Requests per SQS action: answers by outcome and a latency histogram.
// Recorded on every request from any I/O thread, so relaxed atomics only.
// Actions outside the SQS API (and requests refused before their action was
// known) count as "unknown", so that callers cannot grow the label set.
class RequestMetrics {
 public:
  static constexpr size_t kBuckets = 15;  // finite upper bounds; +Inf besides

  // One answered request of `action` (nullptr: "unknown"): its HTTP status
  // (below 400 success, below 500 a client error, else a server error) and
  // the time from the request's arrival to its answer.
  void record(const ActionFacts* action, unsigned http_status, std::chrono::nanoseconds elapsed);

  // Appends the wharf_requests_total and wharf_request_duration_seconds
  // families (actions that were asked for at least once).
  void render(std::string& out) const;

 private:
  struct alignas(64) PerAction {
    std::array<std::atomic<uint64_t>, 3> outcomes{};            // success, client error, server error
    std::array<std::atomic<uint64_t>, kBuckets + 1> buckets{};  // not cumulative; the last is +Inf
    std::atomic<uint64_t> sum_ns{0};
  };
  static constexpr size_t kActions = kActionCount + 1;  // the SQS actions and "unknown"
  std::array<PerAction, kActions> actions_;
};

// What one scrape reads.
struct MetricsSources {
  const Settings& settings;
  Accounts& accounts;
  const LongPolls& long_polls;
  const RequestMetrics& requests;
  unsigned open_connections;
};

// The whole exposition: process, requests, storage and per-queue families.
// The queues' counts come from the engines' asynchronous operations; `done`
// gets the text when all have arrived: before render_metrics returns when
// every engine completes inline (RocksDB), else later on an engine's
// thread. `sources` is read before render_metrics returns, except the
// accounts, which must outlive the scrape (they live until shutdown).
void render_metrics(const MetricsSources& sources, std::function<void(std::string)> done);

}  // namespace wharf::server
