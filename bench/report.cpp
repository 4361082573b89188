#include "report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace wharf::bench {

namespace {

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string latency_line(const LatencySummary& l) {
  return "p50 " + fixed(l.p50_ms, 2) + "  p99 " + fixed(l.p99_ms, 2) + "  p999 " + fixed(l.p999_ms, 2) + "  max " +
         fixed(l.max_ms, 2) + " ms  (" + std::to_string(l.count) + ")";
}

nlohmann::json latency_json(const LatencySummary& l) {
  auto round3 = [](double v) { return static_cast<double>(static_cast<long long>(v * 1000 + 0.5)) / 1000; };
  return {{"count", l.count},
          {"p50_ms", round3(l.p50_ms)},
          {"p99_ms", round3(l.p99_ms)},
          {"p999_ms", round3(l.p999_ms)},
          {"max_ms", round3(l.max_ms)}};
}

double round1(double v) { return static_cast<double>(static_cast<long long>(v * 10 + 0.5)) / 10; }

}  // namespace

int verdict(const RunResult& r) {
  return (r.lost.value_or(0) || r.duplicates || r.order_violations || r.corrupt) ? 1 : 0;
}

void print_text(std::ostream& out, const RunResult& r) {
  out << "scenario     " << r.scenario << " (" << r.protocol << ")  " << r.endpoint << "\n";
  out << "setup        " << r.connections << " connections (" << r.producers << " producing, " << r.consumers
      << " consuming), " << r.threads << " client threads, " << r.size << " B bodies, batch " << r.batch;
  if (r.scenario == "fifo") out << ", " << r.groups << " groups";
  out << "\n";
  if (r.prefilled) {
    out << "prefill      " << r.prefilled << " messages in " << fixed(r.prefill_s, 1) << " s ("
        << fixed(r.prefill_s > 0 ? double(r.prefilled) / r.prefill_s : 0, 0) << " msg/s)\n";
  }
  out << "duration     " << fixed(r.duration_s, 2) << " s" << (r.interrupted ? " (interrupted)" : "") << "\n";
  out << "throughput   " << fixed(r.messages_per_s, 0) << " msg/s  (" << r.messages << " messages; sent "
      << fixed(r.sent_per_s, 0) << "/s, received " << fixed(r.received_per_s, 0) << "/s)  "
      << fixed(r.requests_per_s, 0) << " req/s\n";
  bool waits = false;
  for (const auto& entry : r.by_action) waits |= entry.first == "ReceiveMessageWait";
  out << "latency      " << latency_line(r.request) << (waits ? "  (requests, long polls excluded)" : "  (requests)")
      << "\n";
  if (r.by_action.size() > 1) {
    for (const auto& [name, l] : r.by_action) {
      out << "  " << name << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') << latency_line(l) << "\n";
    }
  }
  if (r.end_to_end) out << "send->recv   " << latency_line(*r.end_to_end) << "\n";
  out << "errors       " << r.errors << " (transport " << r.transport_errors << ", batch entries " << r.entry_failures
      << ")\n";
  const bool sending = r.scenario == "send" || r.scenario == "sendbatch";
  out << "checks       lost "
      << (r.lost ? std::to_string(*r.lost)
                 : std::string(sending ? "n/a (nothing received)" : "unchecked (not drained)"))
      << ", duplicates " << r.duplicates << ", order violations " << r.order_violations << ", corrupt " << r.corrupt
      << "  [acknowledged " << r.acknowledged << ", received " << r.received_unique;
  if (r.received_unacknowledged) out << ", received but unacknowledged " << r.received_unacknowledged;
  if (r.other_bodies) out << ", foreign bodies " << r.other_bodies;
  out << "]\n";
  if (r.server) {
    out << "server       cpu " << fixed(r.server->cpu_s, 2) << " s (" << fixed(r.server->cpu_pct, 0) << "% of a core, "
        << fixed(r.server->cpu_us_per_message, 1) << " us/msg), whole run " << fixed(r.server->cpu_total_s, 2)
        << " s; peak rss " << fixed(r.server->peak_rss_mb, 1) << " MB, rss " << fixed(r.server->rss_mb, 1) << " MB\n";
  }
  out << "client       cpu " << fixed(r.client_cpu_s, 2) << " s (" << fixed(r.client_cpu_pct, 0) << "% of a core"
      << (r.client_cpu_pct > 85.0 * r.threads ? "; its threads are saturated: try more --threads" : "") << ")\n";
  if (r.host_busy_pct) {
    out << "host         " << r.host_cores << " cores, " << fixed(*r.host_busy_pct, 0) << "% busy";
    if (r.others_cpu_pct) out << "; other processes " << fixed(*r.others_cpu_pct, 0) << "% of a core";
    out << "\n";
  }
  out << "verdict      " << (verdict(r) ? "FAIL" : "ok") << "\n";
}

void print_json(std::ostream& out, const RunResult& r) {
  nlohmann::json j = {
      {"scenario", r.scenario},
      {"protocol", r.protocol},
      {"endpoint", r.endpoint},
      {"queue", r.queue},
      {"connections", r.connections},
      {"producers", r.producers},
      {"consumers", r.consumers},
      {"threads", r.threads},
      {"size", r.size},
      {"batch", r.batch},
      {"groups", r.groups},
      {"duration_s", static_cast<double>(static_cast<long long>(r.duration_s * 1000)) / 1000},
      {"prefilled", r.prefilled},
      {"prefill_s", round1(r.prefill_s)},
      {"messages", r.messages},
      {"messages_per_s", round1(r.messages_per_s)},
      {"sent_per_s", round1(r.sent_per_s)},
      {"received_per_s", round1(r.received_per_s)},
      {"requests", r.requests},
      {"requests_per_s", round1(r.requests_per_s)},
      {"latency", latency_json(r.request)},
      {"errors", r.errors},
      {"transport_errors", r.transport_errors},
      {"entry_failures", r.entry_failures},
      {"empty_receives", r.empty_receives},
      {"lost", r.lost ? nlohmann::json(*r.lost) : nlohmann::json(nullptr)},
      {"duplicates", r.duplicates},
      {"order_violations", r.order_violations},
      {"corrupt", r.corrupt},
      {"foreign_bodies", r.other_bodies},
      {"acknowledged", r.acknowledged},
      {"received_unique", r.received_unique},
      {"received_unacknowledged", r.received_unacknowledged},
      {"drained", r.drained},
      {"client_cpu_s", round1(r.client_cpu_s * 10) / 10},
      {"client_cpu_pct", round1(r.client_cpu_pct)},
      {"interrupted", r.interrupted},
      {"host_cores", r.host_cores},
      {"host_busy_pct", r.host_busy_pct ? nlohmann::json(round1(*r.host_busy_pct)) : nlohmann::json(nullptr)},
      {"others_cpu_pct", r.others_cpu_pct ? nlohmann::json(round1(*r.others_cpu_pct)) : nlohmann::json(nullptr)},
      {"ok", verdict(r) == 0},
  };
  nlohmann::json actions = nlohmann::json::object();
  for (const auto& [name, l] : r.by_action) actions[name] = latency_json(l);
  j["latency_by_action"] = actions;
  j["end_to_end"] = r.end_to_end ? latency_json(*r.end_to_end) : nlohmann::json(nullptr);
  if (r.server) {
    j["server"] = {{"cpu_s", round1(r.server->cpu_s * 100) / 100},
                   {"cpu_pct", round1(r.server->cpu_pct)},
                   {"cpu_total_s", round1(r.server->cpu_total_s * 100) / 100},
                   {"cpu_us_per_message", round1(r.server->cpu_us_per_message)},
                   {"peak_rss_mb", round1(r.server->peak_rss_mb)},
                   {"rss_mb", round1(r.server->rss_mb)}};
  } else {
    j["server"] = nullptr;
  }
  out << j.dump() << "\n";
}

}  // namespace wharf::bench
