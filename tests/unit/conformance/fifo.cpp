// Conformance: FIFO queues: type rules, send rules, sequence numbers, message
// groups (order, blocking behind a message in flight, turns between
// groups), queue delays, deduplication (explicit, content-based, scopes,
// batches, reopen, expiry, purge), ReceiveRequestAttemptId and groups
// across reopen.
#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Creation and the queue type rules

ENGINE_TEST("FIFO queues: creation, defaults and the type rules of attributes", "[fifo][queues]") {
  Fixture f(backend);
  auto created = f->create_queue("q.fifo", {{"FifoQueue", "true"}}, {});
  INFO(outcome(created));
  REQUIRE(created.ok());
  for (const AttributeMap& attributes : {created->attributes, f.attributes("q.fifo")}) {
    CHECK(attributes.at("FifoQueue") == "true");
    CHECK(attributes.at("ContentBasedDeduplication") == "false");
    CHECK(attributes.at("DeduplicationScope") == "queue");
    CHECK(attributes.at("FifoThroughputLimit") == "perQueue");
  }
  // Idempotent with equal attributes; a different value is QueueNameExists.
  CHECK(f->create_queue("q.fifo", {{"FifoQueue", "true"}}, {}).ok());
  CHECK(code_of(f->create_queue("q.fifo", fifo({{"ContentBasedDeduplication", "true"}}), {})) == "QueueNameExists");

  // The name and FifoQueue must agree.
  CHECK(code_of(f->create_queue("q", {{"FifoQueue", "true"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue("other.fifo", {}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue("other.fifo", {{"FifoQueue", "false"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue(".fifo", {{"FifoQueue", "true"}}, {})) == "InvalidParameterValue");
  CHECK(code_of(f->create_queue(std::string(76, 'x') + ".fifo", fifo(), {})) == "InvalidParameterValue");
  CHECK(f->create_queue(std::string(75, 'x') + ".fifo", fifo(), {}).ok());
  CHECK(code_of(f->create_queue("q.fifo", {{"FifoQueue", "maybe"}}, {})) == "InvalidAttributeValue");

  // FifoQueue=true again is a no-op; a FIFO queue cannot become standard.
  CHECK(f->set_queue_attributes("q.fifo", {{"FifoQueue", "true"}}).ok());
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"FifoQueue", "false"}})) == "InvalidAttributeValue");

  // FIFO-only attributes on a standard queue are unknown attributes.
  f.create("std");
  const AttributeMap std_attributes = f.attributes("std");
  CHECK(std_attributes.count("ContentBasedDeduplication") == 0);
  CHECK(std_attributes.count("DeduplicationScope") == 0);
  CHECK(std_attributes.count("FifoThroughputLimit") == 0);
  CHECK((std_attributes.count("FifoQueue") == 0 || std_attributes.at("FifoQueue") == "false"));
  const std::vector<std::pair<std::string, std::string>> fifo_only = {
      {"ContentBasedDeduplication", "false"}, {"DeduplicationScope", "queue"}, {"FifoThroughputLimit", "perQueue"}};
  for (const auto& [name, value] : fifo_only) {
    CAPTURE(name);
    CHECK(code_of(f->create_queue("std2", {{name, value}}, {})) == "InvalidAttributeName");
    CHECK(code_of(f->set_queue_attributes("std", {{name, value}})) == "InvalidAttributeName");
  }
  CHECK(f.attributes("std") == std_attributes);
  CHECK(f->list_queues("std2").empty());

  // perMessageGroupId throughput needs messageGroup deduplication scope.
  CHECK(code_of(f->create_queue("t1.fifo", fifo({{"FifoThroughputLimit", "perMessageGroupId"}}), {})) ==
        "InvalidAttributeValue");
  CHECK(code_of(f->create_queue(
            "t1.fifo", fifo({{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "queue"}}), {})) ==
        "InvalidAttributeValue");
  CHECK(f->list_queues("t1").empty());
  CHECK(f->create_queue("t2.fifo",
                        fifo({{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "messageGroup"}}),
                        {})
            .ok());
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"FifoThroughputLimit", "perMessageGroupId"}})) ==
        "InvalidAttributeValue");
  CHECK(f.attributes("q.fifo").at("FifoThroughputLimit") == "perQueue");
  CHECK(f->set_queue_attributes("q.fifo",
                                {{"FifoThroughputLimit", "perMessageGroupId"}, {"DeduplicationScope", "messageGroup"}})
            .ok());
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "queue"}})) == "InvalidAttributeValue");
  CHECK(f.attributes("q.fifo").at("DeduplicationScope") == "messageGroup");
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "group"}})) == "InvalidAttributeValue");
  CHECK(code_of(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "yes"}})) == "InvalidAttributeValue");
  CHECK(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "true"}}).ok());

  // All of it persists, and the queue is still FIFO after a reopen.
  f.reopen();
  const AttributeMap after = f.attributes("q.fifo");
  CHECK(after.at("FifoQueue") == "true");
  CHECK(after.at("ContentBasedDeduplication") == "true");
  CHECK(after.at("DeduplicationScope") == "messageGroup");
  CHECK(after.at("FifoThroughputLimit") == "perMessageGroupId");
  CHECK(code_of(f->send_message("q.fifo", message("no group", ""))) == "MissingParameter");
}

// ---------------------------------------------------------------------------
// Send rules

ENGINE_TEST("FIFO send rules: group required, no per-message delay, dedup id or content-based", "[fifo][send]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  f.create("std");

  CHECK(code_of(f->send_message("q.fifo", message("body", "", "d1"))) == "MissingParameter");
  NewMessage delayed = message("body", "g", "d1");
  delayed.delay_seconds = 5;
  CHECK(code_of(f->send_message("q.fifo", delayed)) == "InvalidParameterValue");
  CHECK(code_of(f->send_message("q.fifo", message("body", "g"))) == "InvalidParameterValue");
  CHECK_COUNTS(f, "q.fifo", 0, 0, 0);

  // On a standard queue a dedup id is invalid; a group id makes a fair queue.
  CHECK(code_of(f->send_message("std", message("body", "", "d1"))) == "InvalidParameterValue");
  CHECK(code_of(f->send_message("std", message("body", "g", "d1"))) == "InvalidParameterValue");
  auto fair = f->send_message("std", message("body", "g"));
  CHECK(fair.ok());
  if (fair.ok()) CHECK(fair->sequence_number.empty());
  CHECK_COUNTS(f, "std", 1, 0, 0);

  // In a batch, an entry without a group or deduplication id fails the
  // whole request; other faults are each entry's own.
  std::vector<NewMessage> batch;
  batch.push_back(message("one", "g", "d-one"));
  batch.push_back(message("no group", "", "d-two"));
  batch.push_back(message("four", "g", "d-four"));
  auto no_group = f->send_messages("q.fifo", batch);
  REQUIRE_FALSE(no_group.ok());
  CHECK(no_group.error().code == ErrorCode::InvalidParameterValue);
  CHECK(no_group.error().message == "The request must contain the parameter MessageGroupId.");
  batch[1] = message("no dedup", "g");
  auto no_dedup = f->send_messages("q.fifo", batch);
  REQUIRE_FALSE(no_dedup.ok());
  CHECK(no_dedup.error().code == ErrorCode::InvalidParameterValue);
  CHECK(no_dedup.error().message ==
        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
        "explicitly");
  CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
  batch[1] = message("two", "g", "d-two");
  batch[1].delay_seconds = 3;
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 3);
  CHECK((*results)[0].ok());
  CHECK(code_of((*results)[1]) == "InvalidParameterValue");
  CHECK((*results)[2].ok());
  CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  CHECK(bodies(f.receive("q.fifo")) == Bodies{"one", "four"});
}

ENGINE_TEST("FIFO DelaySeconds 0 is accepted and the queue's delay still applies", "[fifo][send][delay]") {
  Fixture f(backend);
  f.create("q.fifo", fifo({{"DelaySeconds", "5"}}));
  NewMessage zero = message("zero", "g", "d1");
  zero.delay_seconds = 0;
  REQUIRE(f->send_message("q.fifo", zero).ok());
  std::vector<NewMessage> batch{message("batch zero", "g", "d2")};
  batch[0].delay_seconds = 0;
  auto sent = f->send_messages("q.fifo", batch);
  REQUIRE(sent.ok());
  CHECK((*sent)[0].ok());
  CHECK_COUNTS(f, "q.fifo", 0, 0, 2);
  f.advance_ms(4'999);
  CHECK(f.receive("q.fifo", 10).empty());
  f.advance_ms(1);
  CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"zero", "batch zero"});
}

ENGINE_TEST("FIFO sequence numbers: 20 digits, strictly increasing, also across reopen", "[fifo][send][durability]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  std::vector<std::string> numbers;
  std::map<std::string, std::string> by_id;
  for (int i = 0; i < 5; ++i) {
    auto sent = f.send_to_group("q.fifo", "m" + std::to_string(i), i % 2 ? "odd" : "even", "d" + std::to_string(i));
    numbers.push_back(sent.sequence_number);
    by_id[sent.message_id] = sent.sequence_number;
  }
  // A batch gets numbers too.
  std::vector<NewMessage> batch;
  for (int i = 5; i < 8; ++i) batch.push_back(message("m" + std::to_string(i), "even", "d" + std::to_string(i)));
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  for (auto& r : *results) {
    REQUIRE(r.ok());
    numbers.push_back(r->sequence_number);
    by_id[r->message_id] = r->sequence_number;
  }
  f.reopen();
  for (int i = 8; i < 11; ++i) {
    auto sent = f.send_to_group("q.fifo", "m" + std::to_string(i), "even", "d" + std::to_string(i));
    numbers.push_back(sent.sequence_number);
    by_id[sent.message_id] = sent.sequence_number;
  }
  for (size_t i = 0; i < numbers.size(); ++i) {
    CAPTURE(i, numbers[i]);
    CHECK(is_sequence_number(numbers[i]));
    if (i > 0) CHECK(sequence_less(numbers[i - 1], numbers[i]));
  }
  // Received messages carry the number their send answered.
  auto got = f.consume("q.fifo");
  CHECK(got.size() == 11);
  for (const auto& m : got) {
    CAPTURE(m.body);
    CHECK(m.sequence_number == by_id[m.message_id]);
  }
  f.reopen();
  auto later = f.send_to_group("q.fifo", "after", "g", "d-after");
  CHECK(is_sequence_number(later.sequence_number));
  CHECK(sequence_less(numbers.back(), later.sequence_number));
}

// ---------------------------------------------------------------------------
// Message groups: order and locks

ENGINE_TEST("FIFO receive returns each group in order, then the groups are locked", "[fifo][groups]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  for (const char* body : {"a1", "a2", "a3"}) f.send_to_group("q.fifo", body, "a", body);
  for (const char* body : {"b1", "b2", "b3"}) f.send_to_group("q.fifo", body, "b", body);

  auto got = f.receive("q.fifo", 10);
  CHECK(bodies(got) == Bodies{"a1", "a2", "a3", "b1", "b2", "b3"});
  for (size_t i = 1; i < got.size(); ++i) CHECK(sequence_less(got[i - 1].sequence_number, got[i].sequence_number));
  for (const auto& m : got) CHECK(system_attribute(m, "MessageGroupId") == std::string(1, m.body[0]));
  CHECK(f.receive("q.fifo", 10).empty());
  CHECK_COUNTS(f, "q.fifo", 0, 6, 0);
}

ENGINE_TEST("FIFO groups sent interleaved are each delivered in order", "[fifo][groups]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  for (int i = 1; i <= 4; ++i) {
    for (const char* g : {"x", "y", "z"}) f.send_to_group("q.fifo", g + std::to_string(i), g, g + std::to_string(i));
  }
  auto got = f.receive("q.fifo", 10);
  auto more = f.receive("q.fifo", 10);  // the rest of a group cut off by max 10 is locked
  CHECK(got.size() == 10);
  CHECK(more.empty());
  for (const char* g : {"x", "y", "z"}) {
    auto in_group = bodies_of_group(got, g);
    CAPTURE(g);
    // A prefix of the group's messages.
    const Bodies all = {g + std::string("1"), g + std::string("2"), g + std::string("3"), g + std::string("4")};
    CHECK(in_group == Bodies(all.begin(), all.begin() + static_cast<long>(in_group.size())));
  }
}

ENGINE_TEST("FIFO receive one at a time: a locked group is skipped, not overtaken", "[fifo][groups][visibility]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  for (const char* body : {"a1", "a2", "a3"}) f.send_to_group("q.fifo", body, "a", body);
  for (const char* body : {"b1", "b2", "b3"}) f.send_to_group("q.fifo", body, "b", body);

  SECTION("a1, then b1 (a is locked), then nothing") {
    CHECK(f.receive_one("q.fifo").body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    CHECK(f.receive("q.fifo", 1).empty());
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 4, 2, 0);
  }

  SECTION("when a1's visibility expires, a1 comes again first") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    f.advance_s(1);
    CHECK(f.receive_one("q.fifo").body == "b1");  // in flight until 31 s
    f.advance_ms(28'999);
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);  // 30 s: a1 is visible again
    CHECK_COUNTS(f, "q.fifo", 5, 1, 0);
    const ReceivedMessage again = f.receive_one("q.fifo");
    CHECK(again.body == "a1");
    CHECK(again.message_id == a1.message_id);
    CHECK(again.receive_count == 2);
    CHECK(again.first_receive_ms == kStart);
    CHECK(again.receipt_handle != a1.receipt_handle);
    CHECK(f.receive("q.fifo", 10).empty());
  }

  SECTION("change_visibility(a1, 0) makes a1 deliverable again before a2") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    f.change("q.fifo", a1, 0);
    CHECK_COUNTS(f, "q.fifo", 5, 1, 0);
    const ReceivedMessage again = f.receive_one("q.fifo");
    CHECK(again.body == "a1");
    CHECK(again.receive_count == 2);
    // And with max 10: still only a1's group, from a1 on.
    f.change("q.fifo", again, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2", "a3"});
  }

  SECTION("deleting a1 unlocks the group: a2 is next") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    CHECK(f.receive_one("q.fifo").body == "b1");
    f.remove("q.fifo", a1);
    CHECK(f.receive_one("q.fifo").body == "a2");
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 3, 2, 0);
  }

  SECTION("a group whose first message is in flight is blocked") {
    auto got = f.receive("q.fifo", 2);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.remove("q.fifo", got[0]);
    // a2 is still in flight: a3 must wait.
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1", "b2", "b3"});
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 1, 4, 0);
    f.remove("q.fifo", got[1]);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a3"});
  }

  SECTION("a group is receivable as soon as its first message is visible, up to one in flight") {
    auto got = f.receive("q.fifo", 2);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.change("q.fifo", got[0], 0);  // a1 visible, a2 still in flight
    // Group a joined the turns after b; its a1 comes, a2 and a3 wait.
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1", "b2", "b3", "a1"});
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 1, 5, 0);
    f.advance_s(30);  // all visible again
    auto again = f.receive("q.fifo", 10);
    CHECK(bodies_of_group(again, "a") == Bodies{"a1", "a2", "a3"});
    for (const auto& m : again) {
      CAPTURE(m.body);
      CHECK(m.receive_count == (m.body == "a1" ? 3u : m.body == "a3" ? 1u : 2u));
    }
  }
}

// The examples observed on AWS (storage/message_rules.h).
ENGINE_TEST("FIFO receives take the visible messages of a group up to the first in flight", "[fifo][groups]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  for (const char* body : {"m1", "m2", "m3"}) f.send_to_group("q.fifo", body, "g", body);
  auto got = f.receive("q.fifo", 10);
  REQUIRE(bodies(got) == Bodies{"m1", "m2", "m3"});

  SECTION("m1's visibility ended, m2 extended: [m1]") {
    f.advance_s(20);
    f.change("q.fifo", got[1], 60);
    f.change("q.fifo", got[0], 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"m1"});
    f.advance_s(10);  // m3's timeout ends; m1 is in flight again
    CHECK(f.receive("q.fifo", 10).empty());
  }
  SECTION("m3 extended, the others' timeouts ended: [m1, m2]") {
    f.change("q.fifo", got[2], 60);
    f.advance_s(30);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"m1", "m2"});
  }
  SECTION("m2 visible but m1 in flight: nothing") {
    f.change("q.fifo", got[1], 0);
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 1, 2, 0);
  }
}

ENGINE_TEST("FIFO groups take turns: a group received from goes to the back", "[fifo][groups]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  for (const char* body : {"g1-m1", "g1-m2"}) f.send_to_group("q.fifo", body, "g1", body);
  for (const char* body : {"g2-m1", "g2-m2"}) f.send_to_group("q.fifo", body, "g2", body);
  f.send_to_group("q.fifo", "g3-m1", "g3", "g3-m1");

  CHECK(bodies(f.receive("q.fifo", 3, 0)) == Bodies{"g1-m1", "g1-m2", "g2-m1"});
  SECTION("the next receive starts with the group not taken from") {
    CHECK(bodies(f.receive("q.fifo", 10, 0)) == Bodies{"g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"});
    // And again in the order that receive took them.
    CHECK(bodies(f.receive("q.fifo", 10, 0)) == Bodies{"g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"});
  }
  SECTION("one message at a time goes round the groups") {
    CHECK(bodies(f.receive("q.fifo", 1, 0)) == Bodies{"g3-m1"});
    CHECK(bodies(f.receive("q.fifo", 1, 0)) == Bodies{"g1-m1"});
    CHECK(bodies(f.receive("q.fifo", 1, 0)) == Bodies{"g2-m1"});
    CHECK(bodies(f.receive("q.fifo", 1, 0)) == Bodies{"g3-m1"});
  }
  SECTION("a group whose first message became visible joins at the back") {
    auto held = f.receive("q.fifo", 10, 30);  // g3-m1, g1-m1, g1-m2, g2-m1, g2-m2
    REQUIRE(bodies(held) == Bodies{"g3-m1", "g1-m1", "g1-m2", "g2-m1", "g2-m2"});
    f.change("q.fifo", held[3], 0);  // g2-m1 first
    f.change("q.fifo", held[1], 0);  // then g1-m1, while g1-m2 stays in flight
    CHECK(bodies(f.receive("q.fifo", 3, 30)) == Bodies{"g2-m1", "g1-m1"});
  }
}

ENGINE_TEST("queue DelaySeconds on a FIFO queue delays messages without blocking other groups", "[fifo][delay]") {
  Fixture f(backend);
  f.create("q.fifo", fifo({{"DelaySeconds", "10"}}));

  SECTION("a group's messages wait for the queue's delay") {
    f.send_to_group("q.fifo", "a1", "a", "a1");
    f.send_to_group("q.fifo", "a2", "a", "a2");
    CHECK(f.receive("q.fifo", 10).empty());
    CHECK_COUNTS(f, "q.fifo", 0, 0, 2);
    f.advance_ms(9'999);
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2"});
  }

  SECTION("a group whose head is delayed blocks neither other groups nor is overtaken by its own later messages") {
    f.send_to_group("q.fifo", "a1", "a", "a1");  // visible at 10 s
    REQUIRE(f->set_queue_attributes("q.fifo", {{"DelaySeconds", "0"}}).ok());
    f.advance_s(1);
    f.send_to_group("q.fifo", "b1", "b", "b1");  // visible at once
    f.send_to_group("q.fifo", "a2", "a", "a2");  // visible at once, but behind a1
    CHECK_COUNTS(f, "q.fifo", 2, 0, 1);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_s(9);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2"});
  }
}

// ---------------------------------------------------------------------------
// Deduplication

ENGINE_TEST("FIFO dedup: the same id within the window is the same message", "[fifo][dedup]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  f.advance_s(10);
  const SentMessage second = f.send_to_group("q.fifo", "second", "g", "d1");
  CHECK(second.message_id == first.message_id);
  CHECK(second.sequence_number == first.sequence_number);
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);

  SECTION("also after the first was received and deleted") {
    const ReceivedMessage m = f.receive_one("q.fifo");
    CHECK(m.body == "first");
    CHECK(system_attribute(m, "MessageDeduplicationId") == "d1");
    CHECK(system_attribute(m, "MessageGroupId") == "g");
    f.remove("q.fifo", m);
    const SentMessage third = f.send_to_group("q.fifo", "third", "g", "d1");
    CHECK(third.message_id == first.message_id);
    CHECK(third.sequence_number == first.sequence_number);
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
    CHECK(f.receive("q.fifo", 10).empty());
  }

  SECTION("until the window ends; then a new message") {
    f.advance_ms(kWindow - 10'000 - 1);  // 1 ms before the end of the window
    CHECK(f.send_to_group("q.fifo", "still", "g", "d1").message_id == first.message_id);
    f.advance_ms(1);
    const SentMessage fresh = f.send_to_group("q.fifo", "fresh", "g", "d1");
    CHECK(fresh.message_id != first.message_id);
    CHECK(sequence_less(first.sequence_number, fresh.sequence_number));
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"first", "fresh"});
  }
}

ENGINE_TEST("FIFO dedup: a message sent again after the window is deduplicated in its own window", "[fifo][dedup]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  f.advance_ms(kWindow + 1);  // no run_due_work in between
  const SentMessage second = f.send_to_group("q.fifo", "second", "g", "d1");
  REQUIRE(second.message_id != first.message_id);

  SECTION("before the old entry is swept") {
    f.advance_s(1);
    CHECK(f.send_to_group("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("after run_due_work swept the old entry") {
    f.advance_s(1);
    f->run_due_work();
    CHECK(f.send_to_group("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("run_due_work keeps working after sweeping the old entry") {
    f.advance_s(1);
    CHECK_NOTHROW(f->run_due_work());
    f.advance_s(1);
    CHECK_NOTHROW(f->run_due_work());
    f.advance_ms(kWindow);
    CHECK_NOTHROW(f->run_due_work());
    CHECK(f.send_to_group("q.fifo", "after its window", "g", "d1").message_id != second.message_id);
  }
  SECTION("and across a reopen") {
    f.advance_s(1);
    f->run_due_work();
    f.reopen();
    CHECK(f.send_to_group("q.fifo", "third", "g", "d1").message_id == second.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
}

ENGINE_TEST("FIFO dedup: content-based deduplication uses the SHA-256 of the body", "[fifo][dedup]") {
  Fixture f(backend);
  f.create("q.fifo", fifo({{"ContentBasedDeduplication", "true"}}));
  const SentMessage hello = f.send_to_group("q.fifo", "hello", "g");
  CHECK(f.send_to_group("q.fifo", "hello", "h").message_id == hello.message_id);  // queue scope: any group
  const SentMessage other = f.send_to_group("q.fifo", "hello!", "g");
  CHECK(other.message_id != hello.message_id);
  // An explicit id takes precedence over the body.
  const SentMessage explicit_id = f.send_to_group("q.fifo", "hello", "g", "explicit");
  CHECK(explicit_id.message_id != hello.message_id);
  CHECK(f.send_to_group("q.fifo", "different body", "g", "explicit").message_id == explicit_id.message_id);
  // The content-based id equals an explicit id of the same value.
  const std::string sha_hello = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
  CHECK(f.send_to_group("q.fifo", "not hello", "g", sha_hello).message_id == hello.message_id);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);

  auto got = f.receive("q.fifo", 10);
  REQUIRE(bodies(got) == Bodies{"hello", "hello!", "hello"});
  CHECK(system_attribute(got[0], "MessageDeduplicationId") == sha_hello);
  CHECK(system_attribute(got[1], "MessageDeduplicationId").size() == 64);
  CHECK(system_attribute(got[2], "MessageDeduplicationId") == "explicit");

  // Turning it off again makes the id required.
  REQUIRE(f->set_queue_attributes("q.fifo", {{"ContentBasedDeduplication", "false"}}).ok());
  CHECK(code_of(f->send_message("q.fifo", message("hello", "g"))) == "InvalidParameterValue");
}

ENGINE_TEST("FIFO dedup scope: queue or message group", "[fifo][dedup]") {
  Fixture f(backend);
  SECTION("queue scope: the same id in another group is a duplicate") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "queue"}}));
    const SentMessage first = f.send_to_group("q.fifo", "g-one", "g", "d1");
    CHECK(f.send_to_group("q.fifo", "h-one", "h", "d1").message_id == first.message_id);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  }
  SECTION("messageGroup scope: only the same group deduplicates") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "messageGroup"}}));
    const SentMessage g1 = f.send_to_group("q.fifo", "g-one", "g", "d1");
    const SentMessage h1 = f.send_to_group("q.fifo", "h-one", "h", "d1");
    CHECK(h1.message_id != g1.message_id);
    CHECK(f.send_to_group("q.fifo", "g-two", "g", "d1").message_id == g1.message_id);
    CHECK(f.send_to_group("q.fifo", "h-two", "h", "d1").message_id == h1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    f.reopen();
    CHECK(f.send_to_group("q.fifo", "g-three", "g", "d1").message_id == g1.message_id);
    CHECK(f.send_to_group("q.fifo", "h-three", "h", "d1").message_id == h1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("messageGroup scope with content-based deduplication") {
    f.create("q.fifo", fifo({{"DeduplicationScope", "messageGroup"}, {"ContentBasedDeduplication", "true"}}));
    const SentMessage g1 = f.send_to_group("q.fifo", "same", "g");
    CHECK(f.send_to_group("q.fifo", "same", "h").message_id != g1.message_id);
    CHECK(f.send_to_group("q.fifo", "same", "g").message_id == g1.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
}

ENGINE_TEST("FIFO dedup within one send_messages batch", "[fifo][dedup][batches]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  const SentMessage before = f.send_to_group("q.fifo", "before", "g", "d0");
  std::vector<NewMessage> batch;
  batch.push_back(message("first", "g", "d1"));
  batch.push_back(message("second", "g", "d1"));
  batch.push_back(message("third", "h", "d2"));
  batch.push_back(message("fourth", "h", "d1"));  // queue scope: a duplicate of "first"
  batch.push_back(message("fifth", "h", "d0"));   // a duplicate of a message sent before
  auto results = f->send_messages("q.fifo", batch);
  REQUIRE(results.ok());
  REQUIRE(results->size() == 5);
  for (auto& r : *results) REQUIRE(r.ok());
  const auto& r = *results;
  CHECK(r[1]->message_id == r[0]->message_id);
  CHECK(r[1]->sequence_number == r[0]->sequence_number);
  CHECK(r[2]->message_id != r[0]->message_id);
  CHECK(r[3]->message_id == r[0]->message_id);
  CHECK(r[3]->sequence_number == r[0]->sequence_number);
  CHECK(r[4]->message_id == before.message_id);
  CHECK(r[4]->sequence_number == before.sequence_number);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);
  CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"before", "first", "third"});
  // The batch's entries are in the window like any other.
  CHECK(f.send_to_group("q.fifo", "later", "g", "d2").message_id == r[2]->message_id);
}

// How expired entries leave the records on disk is the RocksDB backend's
// (rocksdb_backend_tests: "FIFO dedup records on disk ...").
ENGINE_TEST("FIFO dedup entries survive reopen within the window and expire after it", "[fifo][dedup][durability]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");

  SECTION("within the window, after a reopen: the same message") {
    f.advance_s(100);
    f.reopen();
    const SentMessage again = f.send_to_group("q.fifo", "again", "g", "d1");
    CHECK(again.message_id == first.message_id);
    CHECK(again.sequence_number == first.sequence_number);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
    // Also after the message itself was received and deleted.
    f.remove("q.fifo", f.receive_one("q.fifo"));
    f.reopen();
    CHECK(f.send_to_group("q.fifo", "again", "g", "d1").message_id == first.message_id);
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
  }

  SECTION("a reopen after the window (nothing swept) does not resurrect them") {
    f.advance_ms(kWindow);
    f.reopen();
    const SentMessage fresh = f.send_to_group("q.fifo", "fresh", "g", "d1");
    CHECK(fresh.message_id != first.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    // And the new entry holds, across another reopen and sweep.
    f.advance_s(1);
    f->run_due_work();
    f.reopen();
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == fresh.message_id);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }

  SECTION("a shorter window from EngineOptions") {
    f.dedup_window_ms = 5'000;
    f.reopen();  // the entry on disk keeps the expiry it was written with
    f.advance_ms(4'999);
    const SentMessage second = f.send_to_group("q.fifo", "second", "g", "d2");
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d2").message_id == second.message_id);
    f.advance_ms(5'000);
    CHECK(f.send_to_group("q.fifo", "fresh", "g", "d2").message_id != second.message_id);
  }
}

ENGINE_TEST("FIFO dedup scope changed after creation: deduplication keeps the created scope", "[fifo][dedup]") {
  Fixture f(backend);
  f.create("q.fifo", fifo({{"DeduplicationScope", "queue"}}));
  const SentMessage before = f.send_to_group("q.fifo", "g-one", "g", "d1");
  REQUIRE(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "messageGroup"}}).ok());
  CHECK(f.attributes("q.fifo").at("DeduplicationScope") == "messageGroup");
  CHECK(f.send_to_group("q.fifo", "h-one", "h", "d1").message_id == before.message_id);
  // Also for an id first used after the change, and after a reopen.
  const SentMessage after = f.send_to_group("q.fifo", "g-two", "g", "d2");
  CHECK(f.send_to_group("q.fifo", "h-two", "h", "d2").message_id == after.message_id);
  f.reopen();
  CHECK(f.attributes("q.fifo").at("DeduplicationScope") == "messageGroup");
  const SentMessage later = f.send_to_group("q.fifo", "g-three", "g", "d3");
  CHECK(f.send_to_group("q.fifo", "h-three", "h", "d3").message_id == later.message_id);
  CHECK_COUNTS(f, "q.fifo", 3, 0, 0);

  SECTION("and a queue created with messageGroup keeps it") {
    f.create("m.fifo", fifo({{"DeduplicationScope", "messageGroup"}}));
    REQUIRE(f->set_queue_attributes("m.fifo", {{"DeduplicationScope", "queue"}}).ok());
    const SentMessage g1 = f.send_to_group("m.fifo", "g-one", "g", "d1");
    CHECK(f.send_to_group("m.fifo", "h-one", "h", "d1").message_id != g1.message_id);
    f.reopen();
    CHECK(f.send_to_group("m.fifo", "k-one", "k", "d1").message_id != g1.message_id);
    CHECK_COUNTS(f, "m.fifo", 3, 0, 0);
  }
}

ENGINE_TEST("PurgeQueue clears a FIFO queue's deduplication entries", "[fifo][dedup][purge]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  f.create("c.fifo", fifo({{"ContentBasedDeduplication", "true"}}));
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  const SentMessage hello = f.send_to_group("c.fifo", "hello", "g");
  REQUIRE(f->purge_queue("q.fifo").ok());
  REQUIRE(f->purge_queue("c.fifo").ok());
  f.reopen();  // gone on disk too
  const SentMessage again = f.send_to_group("q.fifo", "again", "g", "d1");
  CHECK(again.message_id != first.message_id);
  CHECK(f.send_to_group("c.fifo", "hello", "g").message_id != hello.message_id);
  CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"again"});
  CHECK(bodies(f.receive("c.fifo", 10)) == Bodies{"hello"});
  // The new entries hold, also across a reopen.
  CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == again.message_id);
  f.reopen();
  CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == again.message_id);
  CHECK_COUNTS(f, "q.fifo", 0, 1, 0);
}

ENGINE_TEST("a FIFO queue deleted and created again forgets its dedup entries", "[fifo][dedup]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");
  REQUIRE(f->delete_queue("q.fifo").ok());
  f.advance_s(61);
  f.create("q.fifo", fifo());
  CHECK(f.send_to_group("q.fifo", "new queue", "g", "d1").message_id != first.message_id);
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  f.reopen();
  CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
}

// ---------------------------------------------------------------------------
// Receipt handles

ENGINE_TEST("FIFO delete with an expired receipt handle is refused and the message stays", "[fifo][handles]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  f.send_to_group("q.fifo", "a1", "a", "a1");
  f.send_to_group("q.fifo", "b1", "b", "b1");
  const ReceivedMessage a1 = f.receive_one("q.fifo");
  REQUIRE(a1.body == "a1");
  const std::string expired_text =
      "Value " + a1.receipt_handle + " for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.";

  SECTION("its visibility timeout ended") {
    f.advance_s(30);
    const Status refused = f->delete_message("q.fifo", a1.receipt_handle);
    CHECK(code_of(refused) == "InvalidParameterValue");
    if (!refused.ok()) CHECK(refused.error().message == expired_text);
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1", "a1"});
  }
  SECTION("changed to 0") {
    f.change("q.fifo", a1, 0);
    CHECK(code_of(f->delete_message("q.fifo", a1.receipt_handle)) == "InvalidParameterValue");
    CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
  }
  SECTION("superseded by a newer receive, in a batch beside a live handle") {
    f.change("q.fifo", a1, 0);
    const ReceivedMessage again = f.receive_one("q.fifo");
    REQUIRE(again.body == "b1");
    const ReceivedMessage a1_again = f.receive_one("q.fifo");
    REQUIRE(a1_again.message_id == a1.message_id);
    auto results = f->delete_messages("q.fifo", {a1.receipt_handle, again.receipt_handle});
    REQUIRE(results.ok());
    CHECK(code_of((*results)[0]) == "InvalidParameterValue");
    if (!(*results)[0].ok()) CHECK((*results)[0].error().message == expired_text);
    CHECK((*results)[1].ok());
    CHECK_COUNTS(f, "q.fifo", 0, 1, 0);
    f.remove("q.fifo", a1_again);  // the newer handle deletes it
    CHECK_COUNTS(f, "q.fifo", 0, 0, 0);
  }
  SECTION("a live handle deletes; deleting again keeps succeeding") {
    f.advance_ms(29'999);
    f.remove("q.fifo", a1);
    CHECK(f->delete_message("q.fifo", a1.receipt_handle).ok());
    f.advance_s(30);
    CHECK(f->delete_message("q.fifo", a1.receipt_handle).ok());
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  }
}

// ---------------------------------------------------------------------------
// ReceiveRequestAttemptId

ENGINE_TEST("FIFO receive attempt ids: a retry returns the same receive", "[fifo][attempts]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  f.send_to_group("q.fifo", "a1", "a", "a1");
  f.send_to_group("q.fifo", "a2", "a", "a2");
  f.send_to_group("q.fifo", "b1", "b", "b1");
  const auto first = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
  REQUIRE(bodies(first) == Bodies{"a1", "a2"});

  SECTION("same ids and receipt handles, receive count unchanged, deadline reset") {
    f.advance_s(10);
    const auto retry = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    REQUIRE(retry.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      CHECK(retry[i].message_id == first[i].message_id);
      CHECK(retry[i].receipt_handle == first[i].receipt_handle);
      CHECK(retry[i].body == first[i].body);
      CHECK(retry[i].receive_count == 1);
      CHECK(retry[i].sequence_number == first[i].sequence_number);
    }
    CHECK_COUNTS(f, "q.fifo", 1, 2, 0);
    // A second retry works too.
    f.advance_s(10);
    const auto retry2 = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    CHECK(bodies(retry2) == Bodies{"a1", "a2"});
    // In flight until 20 + 30 s, past the first receive's 30 s.
    f.advance_s(29);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});
    CHECK_COUNTS(f, "q.fifo", 0, 3, 0);
    f.advance_s(1);
    auto again = f.receive("q.fifo", 10);
    CHECK(bodies(again) == Bodies{"a1", "a2"});
    if (!again.empty()) CHECK(again[0].receive_count == 2);
  }

  SECTION("the retried receipt handles are valid") {
    const auto retry = f.receive("q.fifo", 2, std::nullopt, "attempt-1");
    REQUIRE(retry.size() == 2);
    f.remove("q.fifo", retry[0]);
    f.remove("q.fifo", retry[1]);
    CHECK_COUNTS(f, "q.fifo", 1, 0, 0);
  }

  SECTION("another attempt id is a fresh receive") {
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-2")) == Bodies{"b1"});
  }

  SECTION("after a delete of one of its messages, a fresh receive") {
    f.remove("q.fifo", first[0]);
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1"});  // a2 keeps a locked
    CHECK_COUNTS(f, "q.fifo", 0, 2, 0);
  }

  SECTION("after a visibility change of one of its messages, a fresh receive") {
    f.change("q.fifo", first[1], 60);
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1"});
    CHECK_COUNTS(f, "q.fifo", 0, 3, 0);
  }

  SECTION("after a visibility change to 0 of one of its messages, a fresh receive") {
    f.change("q.fifo", first[0], 0);
    // a1 is visible again (a2 waits behind it): group a joined the turns after b.
    CHECK(bodies(f.receive("q.fifo", 2, std::nullopt, "attempt-1")) == Bodies{"b1", "a1"});
    CHECK_COUNTS(f, "q.fifo", 0, 3, 0);
  }
}

ENGINE_TEST("FIFO receive attempt ids end with the dedup window", "[fifo][attempts]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  f.send_to_group("q.fifo", "a1", "a", "a1");
  f.send_to_group("q.fifo", "b1", "b", "b1");
  // In flight for longer than the window.
  const auto first = f.receive("q.fifo", 1, 1000, "attempt-1");
  REQUIRE(bodies(first) == Bodies{"a1"});
  f.advance_ms(kWindow - 1);
  CHECK(bodies(f.receive("q.fifo", 1, 1000, "attempt-1")) == Bodies{"a1"});
  f.advance_ms(1);
  CHECK(bodies(f.receive("q.fifo", 1, 1000, "attempt-1")) == Bodies{"b1"});
  CHECK_COUNTS(f, "q.fifo", 0, 2, 0);
}

ENGINE_TEST("standard queues ignore receive attempt ids", "[fifo][attempts]") {
  Fixture f(backend);
  f.create("std");
  f.send_to_group("std", "m1", "");
  f.send_to_group("std", "m2", "");
  const auto first = f.receive("std", 1, 30, "attempt-1");
  const auto second = f.receive("std", 1, 30, "attempt-1");
  REQUIRE(first.size() == 1);
  REQUIRE(second.size() == 1);
  CHECK(first[0].message_id != second[0].message_id);
  CHECK(f.receive("std", 1, 30, "attempt-1").empty());
  CHECK_COUNTS(f, "std", 0, 2, 0);
}

// ---------------------------------------------------------------------------
// Group locks across reopen

ENGINE_TEST("FIFO group locks survive a reopen until the in-flight message's deadline", "[fifo][groups][durability]") {
  Fixture f(backend);
  f.create("q.fifo", fifo());  // VisibilityTimeout 30
  f.send_to_group("q.fifo", "a1", "a", "a1");
  f.send_to_group("q.fifo", "a2", "a", "a2");
  f.send_to_group("q.fifo", "b1", "b", "b1");

  SECTION("one message in flight") {
    const ReceivedMessage a1 = f.receive_one("q.fifo");
    REQUIRE(a1.body == "a1");
    f.advance_s(10);
    f.reopen();
    CHECK_COUNTS(f, "q.fifo", 2, 1, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});  // not a2
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(19'999);
    f.reopen();
    CHECK(f.receive("q.fifo", 10).empty());
    f.advance_ms(1);  // a1's old deadline
    auto again = f.receive("q.fifo", 10);
    REQUIRE(bodies(again) == Bodies{"a1", "a2"});
    CHECK(again[0].receive_count == 2);
    CHECK(again[0].first_receive_ms == kStart);
    CHECK(again[1].receive_count == 1);
  }

  SECTION("the head deleted, the next still in flight") {
    auto got = f.receive("q.fifo", 10, 60);
    REQUIRE(bodies(got) == Bodies{"a1", "a2", "b1"});
    f.remove("q.fifo", got[0]);
    f.change("q.fifo", got[2], 0);
    f.send_to_group("q.fifo", "a3", "a", "a3");
    f.reopen();
    CHECK_COUNTS(f, "q.fifo", 2, 1, 0);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"b1"});  // not a3
    // The old handle still works after the reopen.
    f.remove("q.fifo", got[1]);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a3"});
  }

  SECTION("a visible head behind which a message is in flight") {
    auto got = f.receive("q.fifo", 2, 60);
    REQUIRE(bodies(got) == Bodies{"a1", "a2"});
    f.change("q.fifo", got[0], 0);
    f.reopen();
    // The turns between groups start anew from the send order.
    auto again = f.receive("q.fifo", 10, 120);
    CHECK(bodies_of_group(again, "a") == Bodies{"a1"});
    CHECK(bodies_of_group(again, "b") == Bodies{"b1"});
    CHECK(again.size() == 2);
    f.advance_s(60);
    CHECK(f.receive("q.fifo", 10).empty());  // a1 in flight until 120 s
    f.advance_s(60);
    CHECK(bodies(f.receive("q.fifo", 10)) == Bodies{"a1", "a2", "b1"});
  }
}

// The group and deduplication ids are stored as JSON text written without a
// JSON library in the common case: it must read back, and be what nlohmann
// would have written, for every character those ids may hold.
ENGINE_TEST("group and deduplication ids with JSON's special characters are stored as written", "[fifo]") {
  Fixture f(backend);
  f.create("punct.fifo", {{"FifoQueue", "true"}});
  std::string punctuation;
  for (char c = 0x21; c <= 0x7e; ++c) {
    if (!std::isalnum(static_cast<unsigned char>(c))) punctuation += c;
  }
  const std::vector<std::pair<std::string, std::string>> ids = {
      {"plain", "p1"}, {"a\"b\\c", "x\\\"y"}, {punctuation, punctuation + "d"}, {"\\", "\""}};
  for (const auto& [group, dedup] : ids) f.send_to_group("punct.fifo", "body of " + group, group, dedup);
  auto got = f.receive("punct.fifo", 10);
  REQUIRE(got.size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& m = got[i];
    const std::string stored = encode_system_attributes(m.system_attributes);
    INFO(stored);
    CHECK(system_attribute(m, "MessageGroupId") == ids[i].first);
    CHECK(system_attribute(m, "MessageDeduplicationId") == ids[i].second);
    CHECK(stored == parse_json(stored).dump());
  }
}
