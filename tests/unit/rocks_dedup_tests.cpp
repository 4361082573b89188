// FIFO deduplication on the RocksDB backend: ids are looked up in the dedup
// column family, and memory holds only the claims whose write may still be in
// flight (Queue::pending_dedup, counted by RocksEngine::dedup_in_memory). The
// SQS behaviour every backend must have is in the conformance suite
// (tests/unit/conformance/fifo.cpp, concurrency.cpp); here, what only this
// backend does: where the entries are, and the race between a lookup and a
// send of the same id whose write is held up (RocksOptions::write_fault).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/rocksdb/open.h"
#include "storage/rocksdb/rocks_engine.h"
#include "tests/unit/conformance/rocksdb_backend.h"
#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

namespace {

struct DedupFixture : RocksFaultFixture {
  RocksEngine& rocks() {
    auto* engine = dynamic_cast<RocksEngine*>(this->engine.get());
    REQUIRE(engine);
    return *engine;
  }
  size_t in_memory(const std::string& queue) { return rocks().dedup_in_memory(queue); }
};

// Holds the next write (the first after arm()) until release(), then lets
// it succeed or fail; later writes pass.
struct HeldWrite {
  std::promise<void> writing;
  std::promise<void> go;
  std::shared_future<void> go_future = go.get_future().share();
  std::atomic<bool> armed{false};
  std::atomic<bool> released{false};
  bool fail = false;

  std::function<bool()> hook() {
    return [this] {
      if (!armed.exchange(false)) return false;
      writing.set_value();
      go_future.wait();
      released = true;
      return fail;
    };
  }
  void release() { go.set_value(); }
};

}  // namespace

TEST_CASE("a FIFO duplicate is found on disk after a reopen, with nothing of it in memory", "[fifo][dedup]") {
  DedupFixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  const SentMessage second = f.send_to_group("q.fifo", "second", "h", "d2");
  f.advance_s(100);
  f.reopen();
  CHECK(f.in_memory("q.fifo") == 0);
  const SentMessage again = f.send_to_group("q.fifo", "again", "g", "d1");
  CHECK(again.message_id == first.message_id);
  CHECK(again.sequence_number == first.sequence_number);
  // In a batch too, beside a new id and a duplicate within the batch.
  auto results =
      f->send_messages("q.fifo", {message("x", "h", "d2"), message("y", "h", "d3"), message("z", "g", "d3")});
  REQUIRE(results.ok());
  REQUIRE(results->size() == 3);
  for (const auto& r : *results) REQUIRE(r.ok());
  CHECK((*results)[0]->message_id == second.message_id);
  CHECK((*results)[0]->sequence_number == second.sequence_number);
  CHECK((*results)[2]->message_id == (*results)[1]->message_id);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);
  CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"first", "second", "y"});
}

TEST_CASE("after many FIFO sends memory holds no settled deduplication entries", "[fifo][dedup]") {
  DedupFixture f;
  f.create("q.fifo", fifo());
  constexpr int kIds = 2000;
  std::vector<SentMessage> sent;
  for (int i = 0; i < kIds; i += 10) {
    std::vector<NewMessage> batch;
    for (int j = i; j < i + 10; ++j) batch.push_back(message("m" + std::to_string(j), "g", "d" + std::to_string(j)));
    auto r = f->send_messages("q.fifo", batch);
    REQUIRE(r.ok());
    for (auto& one : *r) {
      REQUIRE(one.ok());
      sent.push_back(one.value());
    }
    // Swept at sends once it doubled: never more than a sweep's worth.
    REQUIRE(f.in_memory("q.fifo") <= 128u);
  }
  f->run_due_work();  // sweeps every settled entry
  CHECK(f.in_memory("q.fifo") == 0);
  // Every id is still a duplicate: answered from disk.
  for (int i = 0; i < kIds; i += 10) {
    std::vector<NewMessage> batch;
    for (int j = i; j < i + 10; ++j) batch.push_back(message("again", "g", "d" + std::to_string(j)));
    auto r = f->send_messages("q.fifo", batch);
    REQUIRE(r.ok());
    for (int j = 0; j < 10; ++j) {
      REQUIRE((*r)[j].ok());
      CHECK((*r)[j]->message_id == sent[i + j].message_id);
      CHECK((*r)[j]->sequence_number == sent[i + j].sequence_number);
    }
  }
  CHECK(f.in_memory("q.fifo") == 0);  // duplicates claim nothing
  CHECK_COUNTS(f, "q.fifo", kIds, 0, 0);
}

// THE race: several senders send the same fresh id at once, round after
// round. Whichever claims it first, every sender is told that message's id
// and sequence number, and it is stored once.
TEST_CASE("concurrent sends of one deduplication id store one message and answer it to all", "[fifo][dedup]") {
  DedupFixture f;
  f.create("race.fifo", fifo());
  constexpr int kThreads = 4, kRounds = 200;
  std::vector<std::vector<std::optional<SentMessage>>> answers(kRounds,
                                                               std::vector<std::optional<SentMessage>>(kThreads));
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        // All threads start a round together.
        arrived.fetch_add(1);
        while (arrived.load() < (round + 1) * kThreads) std::this_thread::yield();
        auto r = f->send_message("race.fifo", message("r" + std::to_string(round) + "t" + std::to_string(t), "g",
                                                      "id" + std::to_string(round)));
        if (r.ok()) answers[round][t] = r.value();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::map<std::string, std::string> answered;  // message id -> sequence number
  for (int round = 0; round < kRounds; ++round) {
    INFO("round " << round);
    for (int t = 0; t < kThreads; ++t) {
      REQUIRE(answers[round][t]);
      CHECK(answers[round][t]->message_id == answers[round][0]->message_id);
      CHECK(answers[round][t]->sequence_number == answers[round][0]->sequence_number);
    }
    answered.emplace(answers[round][0]->message_id, answers[round][0]->sequence_number);
  }
  REQUIRE(answered.size() == static_cast<size_t>(kRounds));
  CHECK_COUNTS(f, "race.fifo", kRounds, 0, 0);
  f->run_due_work();
  CHECK(f.in_memory("race.fifo") == 0);
  // Each id once, as the message its senders were told of.
  const auto stored = f.consume("race.fifo");
  REQUIRE(stored.size() == static_cast<size_t>(kRounds));
  std::set<std::string> seen;
  for (const auto& m : stored) {
    auto it = answered.find(m.message_id);
    REQUIRE(it != answered.end());
    CHECK(it->second == m.sequence_number);
    CHECK(seen.insert(m.message_id).second);
  }
}

TEST_CASE("a duplicate of a send still being written waits for it", "[fifo][dedup][faults]") {
  HeldWrite held;  // outlives the engine that calls it
  DedupFixture f;
  f.create("q.fifo", fifo());
  f.write_fault = held.hook();
  const bool fails = GENERATE(false, true);
  held.fail = fails;
  held.armed = true;
  std::optional<Result<SentMessage>> original;
  std::thread sender([&] { original = f->send_message("q.fifo", message("first", "g", "d1")); });
  held.writing.get_future().wait();
  CHECK(f.in_memory("q.fifo") == 1);  // the claim in flight
  std::optional<Result<SentMessage>> duplicate;
  bool answered_before_release = false;
  std::thread duplicator([&] {
    duplicate = f->send_message("q.fifo", message("dup", "g", "d1"));
    answered_before_release = !held.released.load();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // lets the duplicate look its id up
  held.release();
  sender.join();
  duplicator.join();
  REQUIRE(original);
  REQUIRE(duplicate);
  CHECK_FALSE(answered_before_release);
  if (!fails) {
    REQUIRE(original->ok());
    REQUIRE(duplicate->ok());
    CHECK(duplicate->value().message_id == original->value().message_id);
    CHECK(duplicate->value().sequence_number == original->value().sequence_number);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  } else {
    REQUIRE_FALSE(original->ok());
    REQUIRE_FALSE(duplicate->ok());
    CHECK(duplicate->error().code == ErrorCode::InternalError);
    CHECK(f.in_memory("q.fifo") == 0);  // the failed claim is gone
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
    // The id is free: a later send of it is stored.
    const SentMessage later = f.send_to_group("q.fifo", "later", "g", "d1");
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == later.message_id);
    f.reopen();
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == later.message_id);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"later"});
  }
}

TEST_CASE("a FIFO id past its (short) window is stored again, and the newest claim holds", "[fifo][dedup]") {
  DedupFixture f;
  f.dedup_window_ms = 5'000;
  f.reopen();
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  const bool swept = GENERATE(false, true);  // the first claim still in memory, or only on disk
  if (swept) f->run_due_work();
  f.advance_ms(4'999);
  CHECK(f.send_to_group("q.fifo", "still", "g", "d1").message_id == first.message_id);
  f.advance_ms(1);
  const SentMessage fresh = f.send_to_group("q.fifo", "fresh", "g", "d1");
  CHECK(fresh.message_id != first.message_id);
  CHECK(sequence_less(first.sequence_number, fresh.sequence_number));
  f.advance_ms(1);
  CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == fresh.message_id);  // memory
  f->run_due_work();
  CHECK(f.in_memory("q.fifo") == 0);
  CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == fresh.message_id);  // disk
  f.reopen();
  CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == fresh.message_id);
  f.advance_ms(5'000);
  CHECK(f.send_to_group("q.fifo", "third", "g", "d1").message_id != fresh.message_id);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);
}

TEST_CASE("PurgeQueue clears the deduplication entries in memory and on disk", "[fifo][dedup][purge]") {
  DedupFixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  f.send_to_group("q.fifo", "second", "g", "d2");
  CHECK(f.in_memory("q.fifo") == 2);  // below the sweep threshold: settled, not yet swept
  REQUIRE(f->purge_queue("q.fifo").ok());
  CHECK(f.in_memory("q.fifo") == 0);
  CHECK(f.send_to_group("q.fifo", "again", "g", "d1").message_id != first.message_id);
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
}
