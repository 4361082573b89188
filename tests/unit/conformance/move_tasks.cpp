// Conformance: message move tasks, from standard and FIFO dead-letter queues.
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Message move tasks

ENGINE_TEST("start_move_task checks its source, destination and the tasks running", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("plain");
  dead_letter(f, "src", "dlq", 2);

  CHECK(code_of(f->start_move_task("plain", std::nullopt, std::nullopt)) == "InvalidParameterValue");
  CHECK(code_of(f->start_move_task("src", std::nullopt, std::nullopt)) == "InvalidParameterValue");
  CHECK(code_of(f->start_move_task("missing", std::nullopt, std::nullopt)) == "ResourceNotFoundException");
  CHECK(code_of(f->start_move_task("dlq", std::string("missing"), std::nullopt)) == "ResourceNotFoundException");
  CHECK(code_of(f->list_move_tasks("missing", 10)) == "ResourceNotFoundException");
  CHECK(f.tasks("dlq").empty());

  const std::string handle = f.start_task("dlq", std::nullopt, 1);
  // Only one task per source at a time.
  CHECK_FALSE(f->start_move_task("dlq", std::nullopt, std::nullopt).ok());
  CHECK_FALSE(f->start_move_task("dlq", std::string("plain"), 10).ok());
  REQUIRE(f.tasks("dlq").size() == 1);

  CHECK(code_of(f->cancel_move_task("no-such-task")) == "ResourceNotFoundException");
  auto cancelled = f->cancel_move_task(handle);
  INFO(outcome(cancelled));
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value() == 0);
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
  // Once it is not running, another may start.
  f.advance_s(1);
  const std::string next = f.start_task("dlq", std::string("plain"));
  CHECK(next != handle);
}

ENGINE_TEST("a move task returns messages to their source at the given rate", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const std::string trace = "Root=1-xyz";
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(f.send_with_attributes("src", "m" + std::to_string(i),
                                         R"({"n":{"DataType":"Number","StringValue":"1"}})", trace));
  }
  REQUIRE(f.receive("src", 10, 0).size() == 5);
  CHECK(f.receive("src", 10).empty());
  REQUIRE(f.total("dlq") == 5);

  f.advance_s(7);
  const int64_t started = f.now;
  const std::string handle = f.start_task("dlq", std::nullopt, 2);
  MoveTask t = f.latest_task("dlq");
  CHECK(t.task_handle == handle);
  CHECK(t.status == "RUNNING");
  CHECK(t.source_arn == arn_of("dlq"));
  CHECK(t.destination_arn.empty());
  CHECK(t.max_per_second == 2);
  CHECK(t.moved == 0);
  CHECK(t.to_move == 5);
  CHECK(t.started_ms == started);

  // While a task runs, run_due_work asks to be called again soon.
  auto next = f->run_due_work();  // no time has passed: nothing moved
  REQUIRE(next.has_value());
  CHECK(*next <= f.now + 1000);
  CHECK(f.total("src") == 0);
  f.advance_ms(1000);
  f->run_due_work();
  const uint64_t after_1s = f.total("src");
  CHECK(after_1s <= 2);
  CHECK(after_1s >= 1);
  CHECK(f.total("dlq") == 5 - after_1s);
  CHECK(f.latest_task("dlq").moved == after_1s);

  // In 100 ms steps over the next second: still at most 2 per second.
  for (int i = 0; i < 10; ++i) {
    f.advance_ms(100);
    f->run_due_work();
  }
  const uint64_t after_2s = f.total("src");
  CHECK(after_2s <= 4);
  CHECK(after_2s > after_1s);
  CHECK(f.total("src") + f.total("dlq") == 5);

  t = f.run_task_to_end("dlq");
  CHECK(t.status == "COMPLETED");
  CHECK(t.task_handle.empty());
  CHECK(t.moved == 5);
  CHECK(t.failure_reason.empty());
  CHECK(f.now - started >= 2000);  // 5 messages at 2/s take more than 2 s
  CHECK_COUNTS(f, "dlq", 0, 0, 0);
  CHECK_COUNTS(f, "src", 5, 0, 0);

  auto back = f.drain("src");
  CHECK(back.size() == ids.size());
  for (const auto& id : ids) CHECK(back.count(id) == 0);  // new message ids
  for (const auto& [id, m] : back) {
    CAPTURE(id);
    CHECK(m.body.rfind("m", 0) == 0);
    CHECK(m.message_attributes == R"({"n":{"DataType":"Number","StringValue":"1"}})");
    CHECK(m.system_attributes.dead_letter_queue_source_arn.empty());
    CHECK(m.system_attributes.aws_trace_header == "Root=1-xyz");
    CHECK(m.sent_ms > kStart);  // a new enqueue time: the move's
  }
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
}

ENGINE_TEST("a move task without a destination returns each message to its own source", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("a", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("b", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const auto from_a = dead_letter(f, "a", "dlq", 3, "a");
  const auto from_b = dead_letter(f, "b", "dlq", 2, "b");
  f.start_task("dlq");
  CHECK(f.run_task_to_end("dlq").status == "COMPLETED");
  auto in_a = f.drain("a");
  auto in_b = f.drain("b");
  check_moved(in_a, from_a, 3, "a");
  check_moved(in_b, from_b, 2, "b");
  for (const auto& [id, m] : in_a) CHECK(m.body[0] == 'a');
  for (const auto& [id, m] : in_b) CHECK(m.body[0] == 'b');
  CHECK(f.total("dlq") == 0);
}

ENGINE_TEST("a move task with a destination moves there", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("dest");
  const auto ids = dead_letter(f, "src", "dlq", 4);
  Recorder recorder;
  f->set_listener(&recorder);
  f.start_task("dlq", std::string("dest"));
  MoveTask t = f.latest_task("dlq");
  CHECK(t.destination_arn == arn_of("dest"));
  CHECK(t.max_per_second == 0);  // none given
  t = f.run_task_to_end("dlq");
  f->set_listener(nullptr);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "dest") >= 1);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "src") == 0);
  CHECK(t.status == "COMPLETED");
  CHECK(t.moved == 4);
  CHECK(f.total("src") == 0);
  CHECK(f.total("dlq") == 0);
  auto moved = f.drain("dest");
  check_moved(moved, ids, 4);
  for (const auto& [id, m] : moved) {
    CHECK(m.body.rfind("m", 0) == 0);
    CHECK(m.system_attributes.dead_letter_queue_source_arn.empty());
  }
}

ENGINE_TEST("a move task without a rate moves at most 500 messages a second", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<NewMessage> messages(10);
    for (int i = 0; i < 10; ++i) messages[i].body = "b" + std::to_string(batch) + "-" + std::to_string(i);
    REQUIRE(f->send_messages("src", messages).ok());
  }
  // Each receive dead-letters the messages received before and receives 10 more.
  while (f.total("src") > 0) f.receive("src", 10, 0);
  REQUIRE(f.total("dlq") == 600);

  f.start_task("dlq");
  f.advance_ms(1000);
  f->run_due_work();
  const uint64_t moved = f.total("src");
  CHECK(moved > 0);
  CHECK(moved <= 500);
  CHECK(f.latest_task("dlq").moved == moved);
  CHECK(f.run_task_to_end("dlq").status == "COMPLETED");
  CHECK(f.total("src") == 600);
  CHECK(f.total("dlq") == 0);
}

ENGINE_TEST("list_move_tasks: newest first, handles only while running, max_results", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  dead_letter(f, "src", "dlq", 6);

  const std::string first = f.start_task("dlq", std::nullopt, 1);
  const int64_t first_started = f.now;
  f.advance_ms(1000);
  f->run_due_work();  // 1 message at 1/s
  auto cancelled = f->cancel_move_task(first);
  REQUIRE(cancelled.ok());
  CHECK(cancelled.value() == 1);
  CHECK(f.total("src") == 1);
  // A cancelled task moves nothing more.
  f.advance_s(5);
  f->run_due_work();
  CHECK(f.total("src") == 1);
  CHECK(f.total("dlq") == 5);

  const std::string second = f.start_task("dlq", std::nullopt, 1);
  f.advance_s(1);
  REQUIRE(f->cancel_move_task(second).ok());
  f.advance_s(1);
  const std::string third = f.start_task("dlq", std::nullopt, 1);
  const int64_t third_started = f.now;

  auto all = f.tasks("dlq", 10);
  REQUIRE(all.size() == 3);
  CHECK(all[0].status == "RUNNING");
  CHECK(all[0].task_handle == third);
  CHECK(all[0].started_ms == third_started);
  CHECK(all[1].status == "CANCELLED");
  CHECK(all[1].task_handle.empty());
  CHECK(all[2].status == "CANCELLED");
  CHECK(all[2].task_handle.empty());
  CHECK(all[2].moved == 1);
  CHECK(all[2].started_ms == first_started);
  CHECK(all[0].started_ms > all[1].started_ms);
  CHECK(all[1].started_ms > all[2].started_ms);

  auto two = f.tasks("dlq", 2);
  REQUIRE(two.size() == 2);
  CHECK(two[0].task_handle == third);
  CHECK(two[1].started_ms == all[1].started_ms);
  auto one = f.tasks("dlq", 1);
  REQUIRE(one.size() == 1);
  CHECK(one[0].task_handle == third);

  // Tasks are listed by their source only.
  CHECK(f.tasks("src").empty());
  // And survive a reopen.
  f.reopen();
  auto again = f.tasks("dlq", 10);
  REQUIRE(again.size() == 3);
  CHECK(again[0].task_handle == third);
  CHECK(again[0].status == "RUNNING");
  CHECK(again[2].status == "CANCELLED");
  CHECK(again[2].moved == 1);
}

ENGINE_TEST("a move task survives close and reopen mid-way, losing and duplicating nothing",
            "[move-tasks][durability]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const auto ids = dead_letter(f, "src", "dlq", 7);
  const std::string handle = f.start_task("dlq", std::nullopt, 2);
  f.advance_ms(1000);
  f->run_due_work();
  const MoveTask before = f.latest_task("dlq");
  REQUIRE(before.status == "RUNNING");
  CHECK(before.moved >= 1);
  CHECK(before.moved <= 2);
  CHECK(f.total("src") == before.moved);

  f.advance_ms(50);
  f.reopen();
  MoveTask after = f.latest_task("dlq");
  CHECK(after.status == "RUNNING");
  CHECK(after.task_handle == handle);
  CHECK(after.moved == before.moved);
  CHECK(after.to_move == 7);
  CHECK(after.max_per_second == 2);
  CHECK(f.total("src") + f.total("dlq") == 7);

  after = f.run_task_to_end("dlq");
  CHECK(after.status == "COMPLETED");
  CHECK(after.moved == 7);
  f.reopen();
  CHECK(f.latest_task("dlq").status == "COMPLETED");
  CHECK(f.total("dlq") == 0);
  auto back = f.drain("src");
  CHECK(back.size() == 7);
  for (const auto& id : ids) CHECK(back.count(id) == 0);  // new message ids
}

ENGINE_TEST("deleting the source queue fails its running move task", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  dead_letter(f, "src", "dlq", 4);
  const std::string handle = f.start_task("dlq", std::nullopt, 1);
  f.advance_ms(1000);
  f->run_due_work();
  REQUIRE(f.total("src") == 1);

  REQUIRE(f->delete_queue("dlq").ok());
  f.advance_s(5);
  f->run_due_work();
  CHECK(f.total("src") == 1);  // nothing more moved out of a deleted queue
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");
  f.reopen();
  CHECK(code_of(f->cancel_move_task(handle)) == "ResourceNotFoundException");

  // The queue made anew under the same name is not blocked by the old task.
  f.advance_s(60);
  f.create("dlq");
  for (const MoveTask& t : f.tasks("dlq", 10)) {
    CAPTURE(t.task_handle, t.started_ms);
    CHECK(t.status == "FAILED");
    CHECK_FALSE(t.failure_reason.empty());
  }
  f.start_task("dlq");
}

ENGINE_TEST("a move task whose destination is deleted fails and keeps the remaining messages", "[move-tasks]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  f.create("dest");
  dead_letter(f, "src", "dlq", 4);
  f.start_task("dlq", std::string("dest"), 1);
  f.advance_ms(1000);
  f->run_due_work();
  REQUIRE(f.total("dest") == 1);
  REQUIRE(f->delete_queue("dest").ok());
  f.advance_ms(1000);
  f->run_due_work();
  const MoveTask t = f.latest_task("dlq");
  CHECK(t.status == "FAILED");
  CHECK_FALSE(t.failure_reason.empty());
  CHECK(t.moved == 1);
  CHECK(f.total("dlq") == 3);
}

// ---------------------------------------------------------------------------
// Message move tasks from FIFO dead-letter queues

namespace {

// Sends `bodies` to src.fifo (group: each body's first letter) and lets them
// all go to dlq.fifo (maxReceiveCount 1).
void dead_letter_all(Fixture& f, const std::vector<std::string>& messages) {
  for (const auto& body : messages) f.send_to_group("src.fifo", body, body.substr(0, 1), "dedup-" + body);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == messages.size());
  REQUIRE(f.receive("src.fifo", 10).empty());
  REQUIRE(f.total("src.fifo") == 0);
  REQUIRE(f.total("dlq.fifo") == messages.size());
}

}  // namespace

ENGINE_TEST("a move task from a FIFO DLQ keeps each group's order", "[fifo][move-tasks]") {
  Fixture f(backend);
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo());
  dead_letter_all(f, {"x1", "y1", "x2", "y2", "x3", "y3", "z1"});

  auto check_moved = [&](const std::vector<ReceivedMessage>& got) {
    CHECK(got.size() == 7);
    CHECK(bodies_of_group(got, "x") == Bodies{"x1", "x2", "x3"});
    CHECK(bodies_of_group(got, "y") == Bodies{"y1", "y2", "y3"});
    CHECK(bodies_of_group(got, "z") == Bodies{"z1"});
    for (const auto& m : got) {
      CAPTURE(m.body);
      CHECK(system_attribute(m, "DeadLetterQueueSourceArn").empty());
      CHECK(is_sequence_number(m.sequence_number));
    }
  };

  SECTION("to a destination, two a second") {
    f.start_task("dlq.fifo", std::string("dest.fifo"), 2);
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    CHECK(f.total("dlq.fifo") == 0);
    check_moved(f.consume("dest.fifo"));
  }
  SECTION("back to the source") {
    f.start_task("dlq.fifo");
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    check_moved(f.consume("src.fifo"));
  }
  SECTION("a receiver one message at a time sees each group in order") {
    f.start_task("dlq.fifo", std::string("dest.fifo"), 1);
    std::map<std::string, Bodies> seen;
    for (int step = 0; step < 200 && f.total("dlq.fifo") + f.total("dest.fifo") > 0; ++step) {
      f.advance_ms(100);
      f->run_due_work();
      for (auto& m : f.receive("dest.fifo", 1)) {
        seen[system_attribute(m, "MessageGroupId")].push_back(m.body);
        f.remove("dest.fifo", m);
      }
    }
    CHECK(seen["x"] == Bodies{"x1", "x2", "x3"});
    CHECK(seen["y"] == Bodies{"y1", "y2", "y3"});
    CHECK(seen["z"] == Bodies{"z1"});
  }
}

ENGINE_TEST("messages moved out of a FIFO DLQ are new messages: new ids and enqueue times", "[fifo][move-tasks]") {
  // AWS: "The redrive task resets the retention period. All redriven messages
  // are considered new messages and are assigned a new messageID and
  // enqueueTime." (SQS Developer Guide, dead-letter queue redrive)
  Fixture f(backend);
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo({{"MessageRetentionPeriod", "60"}}));
  std::set<std::string> old_ids;
  for (const char* body : {"x1", "x2"}) old_ids.insert(f.send_to_group("src.fifo", body, "x", body).message_id);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == 2);
  REQUIRE(f.receive("src.fifo", 10).empty());
  f.advance_s(100);
  const int64_t started = f.now;
  f.start_task("dlq.fifo", std::string("dest.fifo"));
  CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
  auto moved = f.receive("dest.fifo", 10, 0);
  REQUIRE(bodies(moved) == Bodies{"x1", "x2"});
  for (const auto& m : moved) {
    CAPTURE(m.body);
    CHECK(old_ids.count(m.message_id) == 0);
    CHECK(m.sent_ms >= started);
  }
  // Retention in the destination counts from the move.
  f.advance_s(59);
  f->run_due_work();
  CHECK(f.total("dest.fifo") == 2);
}

ENGINE_TEST("a move task does not let a FIFO DLQ group's later messages overtake one in flight", "[fifo][move-tasks]") {
  Fixture f(backend);
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.create("dest.fifo", fifo());
  dead_letter_all(f, {"x1", "x2", "x3", "y1"});
  const ReceivedMessage x1 = f.receive_one("dlq.fifo", 60);
  REQUIRE(x1.body == "x1");
  f.start_task("dlq.fifo", std::string("dest.fifo"));
  for (int i = 0; i < 100; ++i) {  // 10 s
    f.advance_ms(100);
    f->run_due_work();
  }
  CHECK(f.total("dest.fifo") == 1);  // y1 only
  CHECK_COUNTS(f, "dlq.fifo", 2, 1, 0);
  CHECK(bodies(f.receive("dest.fifo", 10, 0)) == Bodies{"y1"});

  SECTION("once x1 is visible again, the group moves in order") {
    CHECK(f.latest_task("dlq.fifo").status == "RUNNING");
    f.advance_s(50);  // x1's deadline
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    auto got = f.consume("dest.fifo");
    CHECK(bodies_of_group(got, "x") == Bodies{"x1", "x2", "x3"});
    CHECK(bodies_of_group(got, "y") == Bodies{"y1"});
  }
  SECTION("once x1 is deleted, the rest of its group moves") {
    f.remove("dlq.fifo", x1);
    CHECK(f.run_task_to_end("dlq.fifo").status == "COMPLETED");
    auto got = f.consume("dest.fifo");
    CHECK(bodies_of_group(got, "x") == Bodies{"x2", "x3"});
  }
}
