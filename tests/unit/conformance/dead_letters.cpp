// Conformance: RedrivePolicy in the engine and redrive to dead-letter queues,
// standard and FIFO.
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// RedrivePolicy in the engine

ENGINE_TEST("a RedrivePolicy must name another existing queue that accepts the source", "[redrive][engine]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src");

  SECTION("a missing queue") {
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("missing", 3)}}, {})) ==
          "InvalidParameterValue");
    CHECK(code_of(f->get_queue("new")) == "QueueDoesNotExist");  // a failed create creates nothing
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("missing", 3)}})) ==
          "InvalidParameterValue");
    // An existing queue's name in another region or account is not it.
    for (const std::string& other :
         {queue_arn("eu-west-1", "000000000000", "dlq"), queue_arn("us-east-1", "111122223333", "dlq"),
          std::string("dlq"), std::string("arn:aws:sqs:us-east-1:000000000000:")}) {
      CAPTURE(other);
      const std::string policy = json{{"deadLetterTargetArn", other}, {"maxReceiveCount", 3}}.dump();
      CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", policy}})) == "InvalidParameterValue");
      CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", policy}}, {})) == "InvalidParameterValue");
    }
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
  }
  SECTION("the queue itself") {
    // AWS accepts an existing queue as its own target; a new queue is not
    // there yet to be one.
    CHECK(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("src", 3)}}).ok());
    CHECK(f.attributes("src").count("RedrivePolicy") == 1);
    CHECK(code_of(f->create_queue("self", {{"RedrivePolicy", redrive_to("self", 3)}}, {})) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("self")) == "QueueDoesNotExist");
  }
  SECTION("a dead-letter queue that denies all sources") {
    f.create("deny", {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}});
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("deny", 3)}}, {})) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("new")) == "QueueDoesNotExist");
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("deny", 3)}})) ==
          "InvalidParameterValue");
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
  }
  SECTION("a dead-letter queue that accepts only other sources") {
    f.create("picky",
             {{"RedriveAllowPolicy",
               json{{"redrivePermission", "byQueue"}, {"sourceQueueArns", json::array({arn_of("src")})}}.dump()}});
    CHECK(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("picky", 3)}}).ok());
    f.create("other");
    CHECK(code_of(f->set_queue_attributes("other", {{"RedrivePolicy", redrive_to("picky", 3)}})) ==
          "InvalidParameterValue");
    CHECK(code_of(f->create_queue("new", {{"RedrivePolicy", redrive_to("picky", 3)}}, {})) == "InvalidParameterValue");
    f.create("allowed", {{"RedriveAllowPolicy", R"({"redrivePermission":"allowAll"})"}});
    CHECK(f->set_queue_attributes("other", {{"RedrivePolicy", redrive_to("allowed", 3)}}).ok());
  }
  SECTION("a valid policy is stored normalised; \"\" removes it") {
    const std::string as_string =
        json{{"deadLetterTargetArn", arn_of("dlq")}, {"maxReceiveCount", "4"}}.dump();  // count as a string
    REQUIRE(f->set_queue_attributes("src", {{"RedrivePolicy", as_string}}).ok());
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));
    // A failed set leaves the policy as it was.
    CHECK(code_of(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("missing", 2)}})) ==
          "InvalidParameterValue");
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));
    f.reopen();
    CHECK(f.attributes("src").at("RedrivePolicy") == redrive_to("dlq", 4));

    REQUIRE(f->set_queue_attributes("src", {{"RedrivePolicy", ""}}).ok());
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
    f.reopen();
    CHECK(f.attributes("src").count("RedrivePolicy") == 0);
    CHECK(f->dead_letter_source_queues("dlq").value().empty());

    // Also on create: the same policy as a number or a string is the same queue.
    f.create("made", {{"RedrivePolicy", as_string}});
    CHECK(f.attributes("made").at("RedrivePolicy") == redrive_to("dlq", 4));
    CHECK(f->create_queue("made", {{"RedrivePolicy", redrive_to("dlq", 4)}}, {}).ok());
    CHECK(code_of(f->create_queue("made", {{"RedrivePolicy", redrive_to("dlq", 5)}}, {})) == "QueueNameExists");
  }
  SECTION("RedriveAllowPolicy \"\" removes it") {
    REQUIRE(f->set_queue_attributes("dlq", {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}}).ok());
    CHECK(f.attributes("dlq").at("RedriveAllowPolicy") == R"({"redrivePermission":"denyAll"})");
    REQUIRE(f->set_queue_attributes("dlq", {{"RedriveAllowPolicy", ""}}).ok());
    CHECK(f.attributes("dlq").count("RedriveAllowPolicy") == 0);
    CHECK(f->set_queue_attributes("src", {{"RedrivePolicy", redrive_to("dlq", 3)}}).ok());
  }
}

ENGINE_TEST("dead_letter_source_queues lists the queues naming a DLQ, sorted", "[redrive][engine]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("other-dlq");
  for (const char* source : {"zeta", "alpha", "Mid", "beta"})
    f.create(source, {{"RedrivePolicy", redrive_to("dlq", 3)}});
  f.create("elsewhere", {{"RedrivePolicy", redrive_to("other-dlq", 3)}});
  f.create("plain");

  auto sources = f->dead_letter_source_queues("dlq");
  INFO(outcome(sources));
  REQUIRE(sources.ok());
  CHECK(sources.value() == std::vector<std::string>{"Mid", "alpha", "beta", "zeta"});
  CHECK(f->dead_letter_source_queues("other-dlq").value() == std::vector<std::string>{"elsewhere"});
  CHECK(f->dead_letter_source_queues("plain").value().empty());
  CHECK(f->dead_letter_source_queues("alpha").value().empty());
  CHECK(code_of(f->dead_letter_source_queues("missing")) == "QueueDoesNotExist");

  // Following set_queue_attributes, and across a reopen.
  REQUIRE(f->set_queue_attributes("beta", {{"RedrivePolicy", redrive_to("other-dlq", 2)}}).ok());
  REQUIRE(f->set_queue_attributes("plain", {{"RedrivePolicy", redrive_to("dlq", 2)}}).ok());
  f.reopen();
  CHECK(f->dead_letter_source_queues("dlq").value() == std::vector<std::string>{"Mid", "alpha", "plain", "zeta"});
  CHECK(f->dead_letter_source_queues("other-dlq").value() == std::vector<std::string>{"beta", "elsewhere"});
}

// ---------------------------------------------------------------------------
// Redrive

ENGINE_TEST("a receive past maxReceiveCount moves the message to the dead-letter queue", "[redrive][messages]") {
  Recorder recorder;
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 2)}});  // VisibilityTimeout 30
  const std::string attributes = R"({"color":{"DataType":"String","StringValue":"red"}})";
  const std::string system = "Root=1-abc";
  const std::string id = f.send_with_attributes("src", "to be dead-lettered", attributes, system);

  const ReceivedMessage first = f.receive_one("src");
  CHECK(first.receive_count == 1);
  f.advance_s(30);  // its visibility expires
  const ReceivedMessage second = f.receive_one("src");
  CHECK(second.receive_count == 2);
  CHECK(second.message_id == id);
  f.advance_s(30);
  CHECK_COUNTS(f, "src", 1, 0, 0);
  CHECK_COUNTS(f, "dlq", 0, 0, 0);

  f->set_listener(&recorder);
  // The third receive returns nothing: the message moved, in the same step.
  CHECK(f.receive("src").empty());
  f->set_listener(nullptr);
  CHECK_COUNTS(f, "src", 0, 0, 0);
  CHECK_COUNTS(f, "dlq", 1, 0, 0);
  CHECK(std::count(recorder.available.begin(), recorder.available.end(), "dlq") >= 1);

  // Stale handles of the source do nothing to it (and are not the DLQ's).
  CHECK(f->delete_message("src", second.receipt_handle).ok());
  CHECK(code_of(f->delete_message("dlq", second.receipt_handle)) == "ReceiptHandleIsInvalid");
  CHECK_COUNTS(f, "dlq", 1, 0, 0);

  auto check_dead_letter = [&](const ReceivedMessage& m) {
    CHECK(m.message_id == id);
    CHECK(m.body == "to be dead-lettered");
    CHECK(m.message_attributes == attributes);
    CHECK(m.sent_ms == kStart);  // the original send time
    CHECK(m.system_attributes.dead_letter_queue_source_arn == arn_of("src"));
    CHECK(m.system_attributes.dead_letter_queue_source_arn == "arn:aws:sqs:us-east-1:000000000000:src");
    CHECK(m.system_attributes.aws_trace_header == "Root=1-abc");
  };

  SECTION("the dead letter keeps the message") { check_dead_letter(f.receive_one("dlq")); }
  SECTION("and survives close and reopen") {
    f.advance_s(5);
    f.reopen();
    CHECK_COUNTS(f, "src", 0, 0, 0);
    CHECK_COUNTS(f, "dlq", 1, 0, 0);
    check_dead_letter(f.receive_one("dlq"));
    f.advance_s(100);
    CHECK(f.receive("src").empty());  // never resurrected in the source
  }
}

ENGINE_TEST("a receive that dead-letters one message returns the others", "[redrive][messages]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  const std::string old_id = f.send("src", "old");
  CHECK(f.receive_one("src", 0).message_id == old_id);  // visible again at once, receive count 1
  f.send("src", "fresh");
  auto got = f.receive("src", 10);
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "fresh");
  CHECK(got[0].receive_count == 1);
  CHECK_COUNTS(f, "src", 0, 1, 0);
  CHECK_COUNTS(f, "dlq", 1, 0, 0);
  CHECK(f.receive_one("dlq").message_id == old_id);
}

ENGINE_TEST("with its dead-letter queue deleted, a message past maxReceiveCount is just returned",
            "[redrive][messages]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 2)}});
  const std::string id = f.send("src", "keep me");
  f.receive_one("src");
  f.advance_s(30);
  f.receive_one("src");
  f.advance_s(30);
  REQUIRE(f->delete_queue("dlq").ok());

  const ReceivedMessage third = f.receive_one("src");
  CHECK(third.message_id == id);
  CHECK(third.body == "keep me");
  CHECK(third.receive_count == 3);
  CHECK(third.system_attributes.dead_letter_queue_source_arn.empty());
  CHECK_COUNTS(f, "src", 0, 1, 0);

  // Nothing lost across a reopen either.
  f.reopen();
  CHECK_COUNTS(f, "src", 0, 1, 0);
  f.advance_s(30);
  CHECK(f.receive_one("src").message_id == id);
}

// ---------------------------------------------------------------------------
// FIFO redrive

ENGINE_TEST("a FIFO queue's dead-letter queue must be FIFO, and a standard queue's standard", "[fifo][redrive]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("dlq.fifo", fifo());
  CHECK(code_of(f->create_queue("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq", 1)}}), {})) ==
        "InvalidParameterValue");
  CHECK(f->list_queues("src").empty());
  CHECK(code_of(f->create_queue("src", {{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}, {})) == "InvalidParameterValue");
  f.create("src.fifo", fifo());
  CHECK(code_of(f->set_queue_attributes("src.fifo", {{"RedrivePolicy", redrive_to("dlq", 1)}})) ==
        "InvalidParameterValue");
  CHECK(f.attributes("src.fifo").count("RedrivePolicy") == 0);
  CHECK(f->set_queue_attributes("src.fifo", {{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}).ok());
}

ENGINE_TEST("FIFO redrive moves the group's head and delivers the next in order", "[fifo][redrive]") {
  Fixture f(backend);
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));  // VisibilityTimeout 30
  const SentMessage a1 = f.send_to_group("src.fifo", "a1", "a", "dedup-a1");
  f.send_to_group("src.fifo", "a2", "a", "dedup-a2");
  f.send_to_group("src.fifo", "a3", "a", "dedup-a3");
  f.send_to_group("src.fifo", "b1", "b", "dedup-b1");

  CHECK(f.receive_one("src.fifo").body == "a1");
  f.advance_s(30);
  const int64_t moved_at = f.now;
  // Group a joined the turns after b when a1 became visible again.
  CHECK(bodies(f.receive("src.fifo", 1)) == Bodies{"b1"});
  // The second receive of a1 moves it; a2 follows in this or the next receive.
  auto got = f.receive("src.fifo", 1);
  if (got.empty()) got = f.receive("src.fifo", 1);
  REQUIRE(bodies(got) == Bodies{"a2"});
  CHECK(got[0].receive_count == 1);
  CHECK_COUNTS(f, "dlq.fifo", 1, 0, 0);
  CHECK(f.receive("src.fifo", 10).empty());  // a is blocked by a2, b by b1
  f.remove("src.fifo", got[0]);
  CHECK(bodies(f.receive("src.fifo", 10)) == Bodies{"a3"});

  const ReceivedMessage dead = f.receive_one("dlq.fifo");
  CHECK(dead.message_id == a1.message_id);
  CHECK(dead.body == "a1");
  CHECK(system_attribute(dead, "MessageGroupId") == "a");
  // AWS: "When a message is moved from a FIFO queue to a FIFO DLQ, the
  // original message's deduplication ID will be replaced with the original
  // message's ID" (SQS Developer Guide, dead-letter queue redrive).
  CHECK(system_attribute(dead, "MessageDeduplicationId") == a1.message_id);
  CHECK(system_attribute(dead, "DeadLetterQueueSourceArn") == arn_of("src.fifo"));
  CHECK(is_sequence_number(dead.sequence_number));
  // FIFO queues reset the enqueue time when a message moves to the DLQ.
  CHECK(dead.sent_ms == moved_at);
}

ENGINE_TEST("a FIFO dead letter's retention counts from its move", "[fifo][redrive][retention]") {
  Fixture f(backend);
  f.create("dlq.fifo", fifo({{"MessageRetentionPeriod", "60"}}));
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  f.send_to_group("src.fifo", "a1", "a", "a1");
  f.receive_one("src.fifo", 0);
  f.advance_s(100);
  CHECK(f.receive("src.fifo", 10).empty());  // moved at 100 s
  CHECK(f.total("dlq.fifo") == 1);
  f.advance_s(59);
  f->run_due_work();
  CHECK(f.total("dlq.fifo") == 1);
  CHECK(bodies(f.receive("dlq.fifo", 10, 0)) == Bodies{"a1"});
  f.reopen();
  CHECK(f.total("dlq.fifo") == 1);
  f.advance_s(1);
  f->run_due_work();
  CHECK(f.total("dlq.fifo") == 0);
}

ENGINE_TEST("FIFO redrive of several messages keeps each group's order in the DLQ", "[fifo][redrive]") {
  Fixture f(backend);
  f.create("dlq.fifo", fifo());
  f.create("src.fifo", fifo({{"RedrivePolicy", redrive_to("dlq.fifo", 1)}}));
  for (const char* body : {"x1", "y1", "x2", "y2", "x3"})
    f.send_to_group("src.fifo", body, std::string(1, body[0]), body);
  REQUIRE(f.receive("src.fifo", 10, 0).size() == 5);
  CHECK(f.receive("src.fifo", 10).empty());
  CHECK(f.total("src.fifo") == 0);
  auto dead = f.consume("dlq.fifo");
  CHECK(dead.size() == 5);
  CHECK(bodies_of_group(dead, "x") == Bodies{"x1", "x2", "x3"});
  CHECK(bodies_of_group(dead, "y") == Bodies{"y1", "y2"});
}
