// The end-of-run report: a compact text block or one JSON line.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace wharf::bench {

struct LatencySummary {
  uint64_t count = 0;
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;
};

struct ServerUsage {
  double cpu_s = 0;        // during the timed phase
  double cpu_pct = 0;      // of one core, during the timed phase
  double cpu_total_s = 0;  // the whole run: prefill, timed phase, drain
  double cpu_us_per_message = 0;
  double peak_rss_mb = 0;  // VmHWM at the end
  double rss_mb = 0;       // VmRSS at the end
};

struct RunResult {
  std::string scenario, protocol, endpoint, queue;
  unsigned connections = 0, producers = 0, consumers = 0, threads = 0, batch = 0, groups = 0;
  size_t size = 0;
  double duration_s = 0;
  uint64_t prefilled = 0;
  double prefill_s = 0;
  uint64_t messages = 0;  // the scenario's unit of work in the timed phase
  double messages_per_s = 0, sent_per_s = 0, received_per_s = 0;
  uint64_t requests = 0;
  double requests_per_s = 0;
  LatencySummary request;
  std::vector<std::pair<std::string, LatencySummary>> by_action;
  std::optional<LatencySummary> end_to_end;  // send -> receive
  uint64_t errors = 0, transport_errors = 0, entry_failures = 0, empty_receives = 0;
  std::optional<uint64_t> lost;  // unset when the run did not drain the queue
  uint64_t duplicates = 0, order_violations = 0, other_bodies = 0, corrupt = 0, received_unacknowledged = 0;
  uint64_t acknowledged = 0, received_unique = 0;
  bool drained = false;
  std::optional<ServerUsage> server;
  double client_cpu_s = 0, client_cpu_pct = 0;
  // The machine during the timed phase: how much CPU everything else took
  // (other processes compete with the server and the client).
  unsigned host_cores = 0;
  std::optional<double> host_busy_pct;   // of all cores
  std::optional<double> others_cpu_pct;  // of one core: host busy - server - this client
  bool interrupted = false;
};

void print_text(std::ostream& out, const RunResult& r);
void print_json(std::ostream& out, const RunResult& r);
// 1 when a check failed (lost, duplicates, order, corrupt bodies), else 0.
int verdict(const RunResult& r);

}  // namespace wharf::bench
