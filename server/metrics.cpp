#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "server/accounts.h"
#include "server/log.h"
#include "server/long_polls.h"
#include "server/settings.h"

namespace wharf::server {
namespace {

// The label value of `action` for row i of the counters: the SQS actions
// in the facts' order, then "unknown".
constexpr std::string_view action_label(size_t i) {
  return i < kActionCount ? kActionFacts[i].name : kUnknownActionLabel;
}

constexpr std::array<std::string_view, 3> kOutcomes = {"success", "client_error", "server_error"};

// Upper bounds of the latency buckets, in nanoseconds and as rendered.
constexpr std::array<int64_t, RequestMetrics::kBuckets> kBucketNs = {
    500'000,     1'000'000,   2'500'000,     5'000'000,     10'000'000,    25'000'000,     50'000'000,    100'000'000,
    250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000, 10'000'000'000, 25'000'000'000};
constexpr std::array<std::string_view, RequestMetrics::kBuckets> kBucketLabels = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "25"};

// When the process started (this file's statics are initialised before main).
const double kStartTimeSeconds =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();

std::string number(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

// A label value: backslash, double quote and newline escaped.
void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

void sample(std::string& out, std::string_view name, const Labels& labels, const std::string& value) {
  out.append(name);
  if (!labels.empty()) {
    out += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ',';
      out.append(labels[i].first).append("=\"");
      append_label_value(out, labels[i].second);
      out += '"';
    }
    out += '}';
  }
  out.append(" ").append(value).append("\n");
}

struct QueueRow {
  std::string account;
  std::string region;
  std::string queue;
  storage::QueueCounts counts;
};

}  // namespace

void RequestMetrics::record(const ActionFacts* action, unsigned http_status, std::chrono::nanoseconds elapsed) {
  PerAction& a = actions_[action ? static_cast<size_t>(action->action) : kActionCount];
  const size_t outcome = http_status < 400 ? 0 : http_status < 500 ? 1 : 2;
  a.outcomes[outcome].fetch_add(1, std::memory_order_relaxed);
  const int64_t ns = std::max<int64_t>(0, elapsed.count());
  const size_t bucket =
      static_cast<size_t>(std::lower_bound(kBucketNs.begin(), kBucketNs.end(), ns) - kBucketNs.begin());
  a.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  a.sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

void RequestMetrics::render(std::string& out) const {
  // One snapshot per action, so that a family's samples agree with each
  // other (the count is the buckets' total) even while requests go on.
  struct Snapshot {
    std::array<uint64_t, 3> outcomes{};
    std::array<uint64_t, kBuckets + 1> buckets{};
    uint64_t sum_ns = 0;
    uint64_t total() const { return outcomes[0] + outcomes[1] + outcomes[2]; }
  };
  std::array<Snapshot, kActions> snaps;
  for (size_t i = 0; i < kActions; ++i) {
    for (size_t o = 0; o < 3; ++o) snaps[i].outcomes[o] = actions_[i].outcomes[o].load(std::memory_order_relaxed);
    for (size_t b = 0; b <= kBuckets; ++b) snaps[i].buckets[b] = actions_[i].buckets[b].load(std::memory_order_relaxed);
    snaps[i].sum_ns = actions_[i].sum_ns.load(std::memory_order_relaxed);
  }

  family(out, "wharf_requests_total", "counter",
         "SQS requests answered since start, by action and outcome (by HTTP status: success below 400, "
         "client_error 4xx, server_error 5xx).");
  for (size_t i = 0; i < kActions; ++i) {
    if (snaps[i].total() == 0) continue;
    for (size_t o = 0; o < 3; ++o) {
      sample(out, "wharf_requests_total", {{"action", action_label(i)}, {"outcome", kOutcomes[o]}},
             std::to_string(snaps[i].outcomes[o]));
    }
  }
  family(out, "wharf_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer (long polls included), by action.");
  for (size_t i = 0; i < kActions; ++i) {
    if (snaps[i].total() == 0) continue;
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      cumulative += snaps[i].buckets[b];
      sample(out, "wharf_request_duration_seconds_bucket", {{"action", action_label(i)}, {"le", kBucketLabels[b]}},
             std::to_string(cumulative));
    }
    cumulative += snaps[i].buckets[kBuckets];
    sample(out, "wharf_request_duration_seconds_bucket", {{"action", action_label(i)}, {"le", "+Inf"}},
           std::to_string(cumulative));
    sample(out, "wharf_request_duration_seconds_sum", {{"action", action_label(i)}},
           number(static_cast<double>(snaps[i].sum_ns) / 1e9));
    sample(out, "wharf_request_duration_seconds_count", {{"action", action_label(i)}}, std::to_string(cumulative));
  }
}

namespace {

void render_process(std::string& out, const MetricsSources& sources) {
  family(out, "wharf_build_info", "gauge", "The running Wharf version (always 1).");
  sample(out, "wharf_build_info", {{"version", WHARF_VERSION}}, "1");
  family(out, "wharf_start_time_seconds", "gauge", "When the process started, in seconds since the Unix epoch.");
  sample(out, "wharf_start_time_seconds", {}, number(kStartTimeSeconds));
  family(out, "wharf_open_connections", "gauge", "Open client connections (plain and TLS).");
  sample(out, "wharf_open_connections", {}, std::to_string(sources.open_connections));
  family(out, "wharf_long_polls_waiting", "gauge", "ReceiveMessage long polls waiting for messages.");
  sample(out, "wharf_long_polls_waiting", {}, std::to_string(sources.long_polls.waiting()));
}

void render_queue_gauges(std::string& out, const std::vector<QueueRow>& rows) {
  family(out, "wharf_queue_messages", "gauge",
         "Messages in a queue by state: visible (receivable), in_flight (received, not yet deleted or visible "
         "again), delayed.");
  for (const auto& r : rows) {
    const std::pair<std::string_view, uint64_t> states[] = {
        {"visible", r.counts.visible}, {"in_flight", r.counts.in_flight}, {"delayed", r.counts.delayed}};
    for (const auto& [state, value] : states) {
      sample(out, "wharf_queue_messages",
             {{"account", r.account}, {"region", r.region}, {"queue", r.queue}, {"state", state}},
             std::to_string(value));
    }
  }

  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  family(out, "wharf_queue_oldest_message_age_seconds", "gauge",
         "Age of the queue's oldest message (0 when empty); a message redriven to a standard dead-letter queue "
         "counts from its first send.");
  for (const auto& r : rows) {
    const int64_t age_ms = r.counts.oldest_sent_ms == 0 ? 0 : std::max<int64_t>(0, now_ms - r.counts.oldest_sent_ms);
    sample(out, "wharf_queue_oldest_message_age_seconds",
           {{"account", r.account}, {"region", r.region}, {"queue", r.queue}},
           number(static_cast<double>(age_ms) / 1000.0));
  }
}

void render_queue_counters(std::string& out, const std::vector<QueueRow>& rows) {
  struct Counter {
    std::string_view name;
    std::string_view help;
    uint64_t storage::QueueCounts::*field;
  };
  const Counter counters[] = {
      {"wharf_queue_messages_sent_total",
       "Messages stored in the queue by sends (FIFO duplicates not counted); in memory since the process started "
       "or the queue was created.",
       &storage::QueueCounts::sent},
      {"wharf_queue_messages_received_total",
       "Messages handed out by receives; in memory since the process started or the queue was created.",
       &storage::QueueCounts::received},
      {"wharf_queue_messages_deleted_total",
       "Messages deleted by DeleteMessage(Batch); in memory since the process started or the queue was created.",
       &storage::QueueCounts::deleted},
      {"wharf_queue_messages_moved_to_dead_letter_total",
       "Messages moved from the queue to its dead-letter queue after maxReceiveCount receives; in memory since the "
       "process started or the queue was created.",
       &storage::QueueCounts::moved_to_dead_letter},
  };
  for (const auto& c : counters) {
    family(out, c.name, "counter", c.help);
    for (const auto& r : rows) {
      sample(out, c.name, {{"account", r.account}, {"region", r.region}, {"queue", r.queue}},
             std::to_string(r.counts.*c.field));
    }
  }
}

// What a scrape reports of each account in each region: its storage size
// and its queues.
struct StorageSize {
  std::string account;
  std::string region;
  uint64_t bytes = 0;
};

// One scrape's counts as they arrive: each account's queue names, then each
// queue's counts, asked for all at once. With a backend that completes
// later the answers come on its threads, in any order: each lands in its
// own slot (the order of the exposition stays accounts, then names), and
// the last one renders. `pending` counts the answers still to come, plus
// one while the questions are still being asked.
class Scrape : public std::enable_shared_from_this<Scrape> {
 public:
  explicit Scrape(std::function<void(std::string)> done) : done_(std::move(done)) {}

  // Renders what is in memory at once, then asks each engine.
  void start(const MetricsSources& sources) {
    out_.reserve(8192);
    render_process(out_, sources);
    sources.requests.render(out_);
    std::vector<Account*> accounts;
    sources.accounts.for_each([&](Account& account) {
      if (account.engine) accounts.push_back(&account);
    });
    sizes_.reserve(accounts.size());
    queues_.resize(accounts.size());
    pending_ = accounts.size() + 1;
    for (size_t i = 0; i < accounts.size(); ++i) {
      Account& account = *accounts[i];
      // storage_bytes stays synchronous (RocksDB's own figure; others cache it).
      sizes_.push_back(StorageSize{account.id, account.region, account.engine->storage_bytes()});
      account.engine->async_list_queues(
          "", [self = shared_from_this(), &account, i](Result<std::vector<std::string>> names) {
            self->listed(account, i, std::move(names));
          });
    }
    arrived();
  }

 private:
  struct Slot {
    QueueRow row;
    bool present = false;  // false: the queue was deleted meanwhile
  };

  void listed(Account& account, size_t i, Result<std::vector<std::string>> names) {
    if (!names) {
      log::warn(
          "metrics: cannot list queues",
          log::Fields().add("account", account.id).add("region", account.region).add("error", names.error().message));
      return arrived();
    }
    const std::vector<std::string>& list = names.value();
    {
      std::lock_guard lock(mu_);
      pending_ += list.size();
      queues_[i].reserve(list.size());
      for (const auto& name : list) queues_[i].push_back(Slot{QueueRow{account.id, account.region, name, {}}});
    }
    for (size_t q = 0; q < list.size(); ++q) {
      account.engine->async_queue_counts(list[q],
                                         [self = shared_from_this(), i, q](Result<storage::QueueCounts> counts) {
                                           if (counts) {
                                             std::lock_guard lock(self->mu_);
                                             self->queues_[i][q].row.counts = counts.value();
                                             self->queues_[i][q].present = true;
                                           }
                                           self->arrived();
                                         });
    }
    arrived();
  }

  void arrived() {
    {
      std::lock_guard lock(mu_);
      if (--pending_ != 0) return;
    }
    finish();
  }

  void finish() {
    std::vector<QueueRow> rows;
    for (auto& account : queues_) {
      for (auto& slot : account) {
        if (slot.present) rows.push_back(std::move(slot.row));
      }
    }
    family(out_, "wharf_storage_size_bytes", "gauge",
           "Approximate size of an account's stored queues and messages (the RocksDB backend: SST files and "
           "memtables, the WAL not counted).");
    for (const auto& size : sizes_) {
      sample(out_, "wharf_storage_size_bytes", {{"account", size.account}, {"region", size.region}},
             std::to_string(size.bytes));
    }
    render_queue_gauges(out_, rows);
    render_queue_counters(out_, rows);
    auto done = std::move(done_);
    done(std::move(out_));
  }

  std::function<void(std::string)> done_;
  std::string out_;
  std::vector<StorageSize> sizes_;
  std::mutex mu_;                          // guards what follows
  std::vector<std::vector<Slot>> queues_;  // per account, per queue name
  size_t pending_ = 0;
};

}  // namespace

void render_metrics(const MetricsSources& sources, std::function<void(std::string)> done) {
  std::make_shared<Scrape>(std::move(done))->start(sources);
}

}  // namespace wharf::server
