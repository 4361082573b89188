// What every engine test shares: a backend to open, a fresh place for its
// state, a clock the test advances, and the send/receive/create/FIFO helpers.
// The conformance suite (tests/unit/conformance/) runs each ENGINE_TEST once
// per backend in conformance_backends(); a backend's own tests build a
// Fixture over a Backend of their choosing.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/arn.h"
#include "storage/engine.h"
#include "tests/unit/test_support.h"

namespace wharf::testing {

constexpr int64_t kStart = 1'700'000'000'000;  // ms since the epoch
constexpr int64_t kWindow = 300'000;           // the default dedup window

// One storage backend as the tests see it.
struct Backend {
  std::string name;  // shown with every failure
  // Opens the backend's engine with `options`, its state kept in (or named
  // by) `place`, a fresh directory the test owns for the test's whole run;
  // opening again over the same place finds the state left there. Returns
  // nullptr and sets `error` when it cannot.
  std::function<std::unique_ptr<storage::Engine>(const storage::EngineOptions& options,
                                                 const std::filesystem::path& place, std::string& error)>
      open;
  // Whether closing and opening again keeps the state (every durable
  // backend). Without it, Fixture::reopen keeps the engine it has.
  bool reopens_with_state = true;
  // While a backend is being built: the tags of the tests it runs (a test
  // runs when every tag it has is listed). Empty: every test.
  std::vector<std::string> only_tags;
};

// Whether `backend` runs a test with these tags ("[a][b]"): only_tags.
bool runs_test(const Backend& backend, std::string_view tags);

// The backends the conformance suite runs on (tests/unit/conformance/backends.cpp).
const std::vector<Backend>& conformance_backends();

// A conformance test: TEST_CASE's name and tags; the body runs once per
// backend with `backend` in scope, and failures name the backend.
#define ENGINE_TEST(test_name, test_tags) \
  WHARF_ENGINE_TEST_(INTERNAL_CATCH_UNIQUE_NAME(wharf_engine_test_), test_name, test_tags)
#define WHARF_ENGINE_TEST_(test_body, test_name, test_tags)                                                    \
  static void test_body(const ::wharf::testing::Backend& backend);                                             \
  TEST_CASE(test_name, "[conformance]" test_tags) {                                                            \
    const ::wharf::testing::Backend backend_ = GENERATE(from_range(::wharf::testing::conformance_backends())); \
    INFO("backend: " << backend_.name);                                                                        \
    if (!::wharf::testing::runs_test(backend_, test_tags)) return;                                             \
    test_body(backend_);                                                                                       \
  }                                                                                                            \
  static void test_body([[maybe_unused]] const ::wharf::testing::Backend& backend)

// Records what the engine tells its host.
struct Recorder : storage::EngineListener {
  std::vector<std::string> available;
  std::vector<int64_t> deadlines;
  void messages_available(const std::string& queue) override { available.push_back(queue); }
  void deadline_added(int64_t when) override { deadlines.push_back(when); }
};

// A fresh place, a clock the test advances, and the backend's engine over both.
struct Fixture {
  Backend backend;
  TempDir dir;
  int64_t now = kStart;
  int64_t dedup_window_ms = kWindow;          // takes effect at the next reopen()
  int64_t queue_delete_cooldown_ms = 60'000;  // likewise
  std::unique_ptr<storage::Engine> engine;

  explicit Fixture(Backend b) : backend(std::move(b)) { open(); }

  // Closes the engine and opens it again over the same state.
  void reopen() {
    if (!backend.reopens_with_state) return;
    engine.reset();  // closes the backend first
    open();
  }

  void advance_ms(int64_t ms) { now += ms; }
  void advance_s(int64_t s) { now += s * 1000; }

  storage::Engine& operator*() { return *engine; }
  storage::Engine* operator->() { return engine.get(); }

  void create(const std::string& name, const storage::AttributeMap& attributes = {}, const storage::TagMap& tags = {});
  storage::AttributeMap attributes(const std::string& name);
  storage::TagMap tags(const std::string& name);

  // Sends a message without group; returns its id.
  std::string send(const std::string& queue, const std::string& body, std::optional<int> delay = std::nullopt);
  // Sends a message with message attributes (JSON text) and an AWSTraceHeader.
  std::string send_with_attributes(const std::string& queue, const std::string& body,
                                   const std::string& message_attributes, const std::string& aws_trace_header = "");
  // Sends a message of a group (FIFO, or a fair standard queue).
  storage::SentMessage send_to_group(const std::string& queue, const std::string& body, const std::string& group,
                                     const std::string& dedup = "");

  std::vector<storage::ReceivedMessage> receive(const std::string& queue, int max = 10,
                                                std::optional<int> visibility = std::nullopt,
                                                const std::string& attempt = "");
  storage::ReceivedMessage receive_one(const std::string& queue, std::optional<int> visibility = std::nullopt);
  void remove(const std::string& queue, const storage::ReceivedMessage& m);
  void change(const std::string& queue, const storage::ReceivedMessage& m, int timeout);

  storage::QueueCounts counts(const std::string& queue);
  uint64_t total(const std::string& queue);

  // Every message of the queue (left in flight for a long time), by id;
  // checks that none comes twice.
  std::map<std::string, storage::ReceivedMessage> drain(const std::string& queue);
  // Every visible message of the queue, left in flight for long, in the order received.
  std::vector<storage::ReceivedMessage> drain_in_order(const std::string& queue);
  // Every message of the queue, each deleted once received (so that FIFO
  // groups unlock), in the order received.
  std::vector<storage::ReceivedMessage> consume(const std::string& queue);

  std::vector<storage::MoveTask> tasks(const std::string& source, size_t max = 10);
  storage::MoveTask latest_task(const std::string& source);
  std::string start_task(const std::string& source, std::optional<std::string> destination = std::nullopt,
                         std::optional<int> rate = std::nullopt);
  // Steps the clock 100 ms at a time until the source's newest task ends.
  storage::MoveTask run_task_to_end(const std::string& source, int max_steps = 2000);

 private:
  void open();
};

bool counts_are(const storage::QueueCounts& c, uint64_t visible, uint64_t in_flight, uint64_t delayed);
std::string describe(const storage::QueueCounts& c);

#define CHECK_COUNTS(fixture, queue, v, f, d)                   \
  do {                                                          \
    const QueueCounts counts_ = (fixture).counts(queue);        \
    INFO("counts of " << (queue) << ": " << describe(counts_)); \
    CHECK(counts_are(counts_, (v), (f), (d)));                  \
  } while (false)

using Bodies = std::vector<std::string>;

inline std::string arn_of(const std::string& name) { return storage::queue_arn("us-east-1", "000000000000", name); }

// A RedrivePolicy naming `dlq`.
std::string redrive_to(const std::string& dlq, int max_receive_count);

// FIFO queue attributes: `extra` with FifoQueue=true.
storage::AttributeMap fifo(storage::AttributeMap extra = {});

// A message of a group, with an explicit deduplication id or none.
storage::NewMessage message(const std::string& body, const std::string& group, const std::string& dedup = "");

// Parses a JSON attribute text ("" -> an empty object).
nlohmann::json parse_json(const std::string& text);

// A String system attribute's value, "" when absent.
std::string system_attribute(const storage::ReceivedMessage& m, const std::string& name);

std::vector<std::string> bodies(const std::vector<storage::ReceivedMessage>& messages);
// The bodies of one group's messages (by MessageGroupId), in the order given.
std::vector<std::string> bodies_of_group(const std::vector<storage::ReceivedMessage>& messages,
                                         const std::string& group);
std::set<std::string> bodies_of(const std::map<std::string, storage::ReceivedMessage>& messages);

bool is_sequence_number(const std::string& s);
// Equal-length decimal strings compare as numbers.
bool sequence_less(const std::string& a, const std::string& b);

// "src" (maxReceiveCount 1) with dead-letter queue "dlq" already made.
// Sends `n` messages to `src` and lets them go to `dlq` (two receives);
// returns their ids in send order.
std::vector<std::string> dead_letter(Fixture& f, const std::string& src, const std::string& dlq, int n,
                                     const std::string& prefix = "m");
// The bodies dead_letter() sends: prefix0 .. prefix(n-1).
std::set<std::string> sent_bodies(int n, const std::string& prefix = "m");
// Moved messages are new messages (AWS: "assigned a new messageID and
// enqueueTime"): their bodies are the ones dead-lettered, none of their ids.
void check_moved(const std::map<std::string, storage::ReceivedMessage>& moved, const std::vector<std::string>& old_ids,
                 int n, const std::string& prefix = "m");

}  // namespace wharf::testing
