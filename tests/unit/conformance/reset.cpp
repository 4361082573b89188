// Conformance: Engine::reset (POST /_wharf/reset, server/dev_api.h) empties
// the engine's account and region, durably, and nothing else.
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

namespace {

// An engine of another account beside the fixture's: over the same database
// (the same place) when the backend keeps every account in one, else in a
// place of its own (RocksDB keeps each account in its own data dir).
std::unique_ptr<Engine> open_other_account(Fixture& f) {
  EngineOptions options;
  options.account_id = "111122223333";
  options.now_ms = [&f] { return f.now; };
  const bool shared = f.backend.name.rfind("postgresql", 0) == 0;
  const auto place = shared ? f.dir.path() : f.dir.path() / "other-account";
  std::filesystem::create_directories(place);
  std::string error;
  auto engine = f.backend.open(options, place, error);
  INFO("opening the other account: " << error);
  REQUIRE(engine);
  return engine;
}

// What the reset must delete: queues (one deleted: its name in cooldown), a
// FIFO queue's deduplication entry and receive attempt, messages in every
// state, a move task.
void fill(Fixture& f) {
  f.create("orders");
  f.create("gone");
  REQUIRE(f->delete_queue("gone").ok());
  REQUIRE(code_of(f->create_queue("gone", {}, {})) == "QueueDeletedRecently");
  f.create("events.fifo", fifo());
  REQUIRE(f->send_message("events.fifo", message("first", "g", "dedup-1")).ok());
  REQUIRE(f.receive("events.fifo", 1, 30, "attempt-1").size() == 1);
  f.send("orders", "visible");
  f.send("orders", "delayed", 600);
  f.receive_one("orders", 600);
  f.send("orders", "visible again");
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  dead_letter(f, "src", "dlq", 3);
  f.start_task("dlq", std::nullopt, 1);
  REQUIRE(f.tasks("dlq").size() == 1);
}

void check_empty(Fixture& f) {
  CHECK(f->list_queues("").empty());
  CHECK(code_of(f->get_queue("orders")) == "QueueDoesNotExist");
  CHECK(code_of(f->receive_messages("orders", 1, std::nullopt)) == "QueueDoesNotExist");
}

}  // namespace

ENGINE_TEST("reset deletes every queue, message, dedup entry, move task and cooldown", "[queues][durability]") {
  Fixture f(backend);
  auto other = open_other_account(f);
  REQUIRE(other->create_queue("orders", {}, {}).ok());
  NewMessage kept_message;
  kept_message.body = "kept";
  REQUIRE(other->send_message("orders", kept_message).ok());
  fill(f);

  REQUIRE(f->reset().ok());
  check_empty(f);
  // No cooldown: a deleted queue's name, and a reset one's, at once.
  CHECK(f->create_queue("gone", {}, {}).ok());
  f.create("orders");
  CHECK(f.counts("orders").visible == 0);
  CHECK(f.receive("orders").empty());
  // The deduplication id is forgotten: the same one is a new message.
  f.create("events.fifo", fifo());
  auto again = f->send_message("events.fifo", message("second", "g", "dedup-1"));
  REQUIRE(again.ok());
  auto got = f.receive("events.fifo", 10, 30, "attempt-1");
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "second");
  // No move task is left, and a new one can start.
  f.create("dlq");
  CHECK(f.tasks("dlq").empty());

  // The other account is untouched.
  CHECK(other->list_queues("") == std::vector<std::string>{"orders"});
  auto kept = other->receive_messages("orders", 10, std::nullopt);
  REQUIRE(kept.ok());
  REQUIRE(kept->size() == 1);
  CHECK(kept->front().body == "kept");

  // Durable: what a reopen finds is the state after the reset.
  REQUIRE(f->reset().ok());
  f.reopen();
  check_empty(f);
  CHECK(f->create_queue("orders", {}, {}).ok());
  CHECK(f.receive("orders").empty());
  CHECK(other->list_queues("") == std::vector<std::string>{"orders"});
}

ENGINE_TEST("reset of an empty engine, and the engine works as new afterwards", "[queues]") {
  Fixture f(backend);
  REQUIRE(f->reset().ok());
  CHECK(f->list_queues("").empty());
  f.create("q");
  f.send("q", "after");
  CHECK(bodies(f.receive("q")) == Bodies{"after"});
  f.reopen();
  CHECK(f->list_queues("") == std::vector<std::string>{"q"});
}

ENGINE_TEST("reset wakes the queue's long polls, which then find it gone", "[queues]") {
  Fixture f(backend);
  Recorder recorder;
  f->set_listener(&recorder);
  f.create("waited");
  REQUIRE(f->reset().ok());
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "waited") >= 1);
  CHECK(code_of(f->receive_messages("waited", 1, std::nullopt)) == "QueueDoesNotExist");
  f->set_listener(nullptr);
}
