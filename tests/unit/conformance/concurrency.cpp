// Conformance: sends, receives and deletes from several threads at once.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

// ---------------------------------------------------------------------------
// Concurrency: sends, receives and deletes from several threads at once.
// A backend may write after letting the next operation in (RocksDB does), so
// a receive can pick a message whose send is still being written; it must
// still get the message's content, every message exactly once.

namespace {

struct Traffic {
  std::vector<std::string> sent;      // bodies acknowledged
  std::vector<std::string> received;  // bodies received (and deleted)
  std::vector<std::string> problems;  // checked on the main thread (Catch2 is not thread-safe)
};

// Two producers (batches of 10, `groups` naming a group per producer) and
// two consumers (receive 10, delete the batch) until every message is back
// or 20 s pass.
Traffic run_traffic(Engine& engine, const std::string& queue, bool fifo) {
  constexpr int kPerProducer = 1500;
  Traffic t;
  std::vector<std::vector<std::string>> sent(2), received(2), problems(4);
  std::atomic<int> done_producers{0};
  std::atomic<size_t> received_total{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < 2; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; i += 10) {
        std::vector<NewMessage> batch;
        for (int j = i; j < i + 10; ++j) {
          NewMessage m;
          m.body = "p" + std::to_string(p) + "-" + std::to_string(j);
          if (fifo) {
            m.group_id = "g" + std::to_string(p);
            m.deduplication_id = m.body;
          }
          batch.push_back(std::move(m));
        }
        std::vector<std::string> bodies;
        for (const auto& m : batch) bodies.push_back(m.body);
        auto r = engine.send_messages(queue, std::move(batch));
        if (!r.ok()) {
          problems[p].push_back("send failed: " + r.error().message);
          break;
        }
        for (size_t k = 0; k < bodies.size(); ++k) {
          if (r.value()[k].ok()) sent[p].push_back(bodies[k]);
        }
      }
      ++done_producers;
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int c = 0; c < 2; ++c) {
    threads.emplace_back([&, c] {
      std::map<std::string, int> last_in_group;  // FIFO: per group, the last number seen by this consumer
      while (std::chrono::steady_clock::now() < deadline &&
             (done_producers.load() < 2 || received_total.load() < 2u * kPerProducer)) {
        auto got = engine.receive_messages(queue, 10, std::nullopt, "");
        if (!got.ok()) {
          problems[2 + c].push_back("receive failed: " + got.error().message);
          return;
        }
        if (got->empty()) {
          if (done_producers.load() == 2 && received_total.load() >= 2u * kPerProducer) return;
          std::this_thread::yield();
          continue;
        }
        std::vector<std::string> handles;
        for (const auto& m : got.value()) {
          if (m.body.empty()) problems[2 + c].push_back("a message without its body: " + m.message_id);
          received[c].push_back(m.body);
          handles.push_back(m.receipt_handle);
          if (fifo) {
            const auto dash = m.body.find('-');
            const std::string group = m.body.substr(0, dash);
            const int number = std::stoi(m.body.substr(dash + 1));
            auto last = last_in_group.find(group);
            if (last != last_in_group.end() && number <= last->second) {
              problems[2 + c].push_back("out of order in " + group + ": " + m.body);
            }
            last_in_group[group] = number;
          }
        }
        received_total += got->size();
        auto deleted = engine.delete_messages(queue, handles);
        if (!deleted.ok()) problems[2 + c].push_back("delete failed: " + deleted.error().message);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto* parts : {&sent, &received, &problems}) {
    auto& into = parts == &sent ? t.sent : parts == &received ? t.received : t.problems;
    for (auto& part : *parts) into.insert(into.end(), part.begin(), part.end());
  }
  return t;
}

}  // namespace

ENGINE_TEST("concurrent sends, receives and deletes: every message once, with its body", "[concurrency]") {
  Fixture f(backend);
  const bool fifo = GENERATE(false, true);
  const std::string queue = fifo ? "busy.fifo" : "busy";
  f.create(queue, fifo ? AttributeMap{{"FifoQueue", "true"}} : AttributeMap{});
  Traffic t = run_traffic(*f, queue, fifo);
  INFO(t.problems.size() << " problems; first: " << (t.problems.empty() ? "" : t.problems.front()));
  CHECK(t.problems.empty());
  REQUIRE(t.sent.size() == 3000u);
  std::multiset<std::string> sent(t.sent.begin(), t.sent.end());
  std::multiset<std::string> received(t.received.begin(), t.received.end());
  CHECK(received == sent);  // none lost, none twice (FIFO, also no redelivery: nothing expired)
  CHECK_COUNTS(f, queue, 0, 0, 0);
  // And on disk: nothing comes back after a reopen.
  f.reopen();
  CHECK_COUNTS(f, queue, 0, 0, 0);
}

// Four senders send the same deduplication ids at once (batches of 10, in the
// same order): deduplication entries are published before the write, and a
// duplicate that finds one still being written waits for it. Each id must be
// stored once, and every sender must be told that one message's id.
ENGINE_TEST("concurrent duplicate FIFO sends: one message per deduplication id", "[concurrency]") {
  Fixture f(backend);
  f.create("dups.fifo", {{"FifoQueue", "true"}});
  constexpr int kSenders = 4, kIds = 600;
  std::vector<std::vector<std::string>> ids(kSenders, std::vector<std::string>(kIds));
  std::vector<std::string> problems[kSenders];
  std::vector<std::thread> threads;
  for (int s = 0; s < kSenders; ++s) {
    threads.emplace_back([&, s] {
      for (int i = 0; i < kIds; i += 10) {
        std::vector<NewMessage> batch;
        for (int j = i; j < i + 10; ++j) {
          NewMessage m;
          m.body = "m" + std::to_string(j);
          m.group_id = "g" + std::to_string(j % 3);
          m.deduplication_id = m.body;
          batch.push_back(std::move(m));
        }
        auto r = f->send_messages("dups.fifo", std::move(batch));
        if (!r.ok()) {
          problems[s].push_back("send failed: " + r.error().message);
          return;
        }
        for (int k = 0; k < 10; ++k) {
          if (r.value()[k].ok()) {
            ids[s][i + k] = r.value()[k].value().message_id;
          } else {
            problems[s].push_back("entry failed: " + r.value()[k].error().message);
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& p : problems) {
    INFO(p.size() << " problems; first: " << (p.empty() ? "" : p.front()));
    CHECK(p.empty());
  }
  for (int i = 0; i < kIds; ++i) {
    for (int s = 1; s < kSenders; ++s) CHECK(ids[s][i] == ids[0][i]);
  }
  CHECK_COUNTS(f, "dups.fifo", kIds, 0, 0);
  f.reopen();
  CHECK_COUNTS(f, "dups.fifo", kIds, 0, 0);
  // Each body once, with the id its senders were given.
  std::map<std::string, std::string> stored;  // body -> message id
  for (int round = 0; round < kIds; ++round) {
    auto got = f->receive_messages("dups.fifo", 10, std::nullopt, "");
    REQUIRE(got.ok());
    if (got->empty()) break;
    std::vector<std::string> handles;
    for (const auto& m : got.value()) {
      CHECK(stored.emplace(m.body, m.message_id).second);
      handles.push_back(m.receipt_handle);
    }
    REQUIRE(f->delete_messages("dups.fifo", handles).ok());
  }
  REQUIRE(stored.size() == static_cast<size_t>(kIds));
  for (int i = 0; i < kIds; ++i) CHECK(stored["m" + std::to_string(i)] == ids[0][i]);
}
