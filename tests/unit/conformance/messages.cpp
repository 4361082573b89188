// Conformance: standard-queue messages (send, receive, delete, visibility,
// delays, the scheduler, retention, validation, purge), batches and peek.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Messages

ENGINE_TEST("send, receive and delete", "[messages]") {
  Fixture f(backend);
  f.create("q");
  NewMessage m;
  m.body = "hello";
  m.message_attributes = R"({"color":{"DataType":"String","StringValue":"red"}})";
  m.aws_trace_header = "Root=1-a";
  auto sent = f->send_message("q", m);
  REQUIRE(sent.ok());
  CHECK(sent->message_id.size() == 36);
  CHECK_COUNTS(f, "q", 1, 0, 0);

  f.advance_s(2);
  auto got = f.receive("q");
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == sent->message_id);
  CHECK(got[0].body == "hello");
  CHECK(got[0].message_attributes == m.message_attributes);
  CHECK(got[0].system_attributes.aws_trace_header == "Root=1-a");
  CHECK(got[0].system_attributes.message_group_id.empty());
  CHECK(got[0].sent_ms == kStart);
  CHECK(got[0].first_receive_ms == kStart + 2000);
  CHECK(got[0].receive_count == 1);
  CHECK_FALSE(got[0].receipt_handle.empty());
  CHECK_COUNTS(f, "q", 0, 1, 0);
  CHECK(f.receive("q").empty());  // in flight, not visible

  REQUIRE(f->delete_message("q", got[0].receipt_handle).ok());
  CHECK_COUNTS(f, "q", 0, 0, 0);
  f.advance_s(3600);
  CHECK(f.receive("q").empty());  // deleted for good
}

ENGINE_TEST("receive returns at most max messages, in send order", "[messages]") {
  Fixture f(backend);
  f.create("q");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(f.send("q", "m" + std::to_string(i)));
  CHECK(std::set<std::string>(ids.begin(), ids.end()).size() == 5);

  auto first = f.receive("q", 3);
  REQUIRE(first.size() == 3);
  CHECK(first[0].body == "m0");
  CHECK(first[1].body == "m1");
  CHECK(first[2].body == "m2");
  CHECK_COUNTS(f, "q", 2, 3, 0);

  auto rest = f.receive("q", 10);
  REQUIRE(rest.size() == 2);
  CHECK(rest[0].body == "m3");
  CHECK(rest[1].body == "m4");

  std::set<std::string> handles;
  for (const auto& m : first) handles.insert(m.receipt_handle);
  for (const auto& m : rest) handles.insert(m.receipt_handle);
  CHECK(handles.size() == 5);
  CHECK(f.receive("q", 10).empty());
}

ENGINE_TEST("visibility timeout: invisible until the deadline, then received again", "[messages][visibility]") {
  Fixture f(backend);
  f.create("q");  // VisibilityTimeout 30
  f.send("q", "body");
  const ReceivedMessage first = f.receive_one("q");
  CHECK(first.receive_count == 1);

  f.advance_ms(29'999);
  CHECK(f.receive("q").empty());
  CHECK_COUNTS(f, "q", 0, 1, 0);

  f.advance_ms(1);
  CHECK_COUNTS(f, "q", 1, 0, 0);
  const ReceivedMessage second = f.receive_one("q");
  CHECK(second.message_id == first.message_id);
  CHECK(second.body == "body");
  CHECK(second.receive_count == 2);
  CHECK(second.first_receive_ms == kStart);  // the first receive's time, kept
  CHECK(second.receipt_handle != first.receipt_handle);

  SECTION("an older handle still deletes the message received again (as on AWS)") {
    CHECK(f->delete_message("q", first.receipt_handle).ok());
    CHECK_COUNTS(f, "q", 0, 0, 0);
    CHECK(f->delete_message("q", second.receipt_handle).ok());
    f.advance_s(30);
    CHECK(f.receive("q").empty());
  }
  SECTION("an older handle changes the visibility of the message received again") {
    REQUIRE(f->change_visibility("q", first.receipt_handle, 0).ok());
    CHECK_COUNTS(f, "q", 1, 0, 0);
    CHECK(f.receive_one("q").receive_count == 3);
  }
  SECTION("the current handle deletes; deleting twice succeeds") {
    REQUIRE(f->delete_message("q", second.receipt_handle).ok());
    CHECK_COUNTS(f, "q", 0, 0, 0);
    CHECK(f->delete_message("q", second.receipt_handle).ok());
    CHECK(f->delete_message("q", first.receipt_handle).ok());
    f.advance_s(60);
    CHECK(f.receive("q").empty());
  }
}

ENGINE_TEST("a receive's visibility timeout overrides the queue's", "[messages][visibility]") {
  Fixture f(backend);
  f.create("q", {{"VisibilityTimeout", "600"}});
  f.send("q", "a");
  f.send("q", "b");
  f.receive_one("q", 5);  // a, for 5 s
  f.receive_one("q");     // b, for 600 s
  f.advance_s(5);
  auto got = f.receive("q");
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "a");
  f.advance_s(595 - 1);
  CHECK(f.receive("q").empty());
  f.advance_s(1);
  got = f.receive("q");
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "b");

  SECTION("a visibility timeout of 0 leaves the message visible") {
    f.create("zero");
    f.send("zero", "z");
    CHECK(f.receive_one("zero", 0).receive_count == 1);
    CHECK(f.receive_one("zero", 0).receive_count == 2);
  }
}

ENGINE_TEST("a handle whose message became visible again (not re-received) still deletes it",
            "[messages][visibility]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "x");
  const ReceivedMessage m = f.receive_one("q");
  f.advance_s(31);
  CHECK_COUNTS(f, "q", 1, 0, 0);
  REQUIRE(f->delete_message("q", m.receipt_handle).ok());
  CHECK_COUNTS(f, "q", 0, 0, 0);
  CHECK(f.receive("q").empty());
}

ENGINE_TEST("invalid receipt handles are ReceiptHandleIsInvalid", "[messages][handles]") {
  Fixture f(backend);
  f.create("q");
  f.create("other");
  f.send("q", "x");
  const ReceivedMessage m = f.receive_one("q");
  const std::string& handle = m.receipt_handle;

  for (const std::string& garbage :
       {std::string("garbage"), std::string(""), std::string(handle.size(), 'A'), handle + "AAAA",
        handle.substr(0, handle.size() - 4), std::string(handle.size(), '*')}) {
    CAPTURE(garbage);
    CHECK(code_of(f->delete_message("q", garbage)) == "ReceiptHandleIsInvalid");
    CHECK(code_of(f->change_visibility("q", garbage, 10)) == "ReceiptHandleIsInvalid");
  }

  // Any single character changed is detected (the handle carries a MAC).
  for (size_t i = 0; i < handle.size(); ++i) {
    std::string tampered = handle;
    tampered[i] = tampered[i] == 'A' ? 'B' : 'A';
    CAPTURE(i, tampered);
    CHECK(code_of(f->delete_message("q", tampered)) == "ReceiptHandleIsInvalid");
  }

  // A handle is bound to its queue.
  CHECK(code_of(f->delete_message("other", handle)) == "ReceiptHandleIsInvalid");
  CHECK(code_of(f->change_visibility("other", handle, 0)) == "ReceiptHandleIsInvalid");

  // None of that touched the message.
  CHECK_COUNTS(f, "q", 0, 1, 0);
  REQUIRE(f->delete_message("q", handle).ok());
  CHECK_COUNTS(f, "q", 0, 0, 0);
}

ENGINE_TEST("a handle from a deleted and re-created queue of the same name is invalid", "[messages][handles]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "old");
  const ReceivedMessage old = f.receive_one("q");
  REQUIRE(f->delete_queue("q").ok());
  f.advance_s(61);
  f.create("q");
  f.send("q", "new");
  const ReceivedMessage fresh = f.receive_one("q");
  CHECK(fresh.body == "new");
  CHECK(code_of(f->delete_message("q", old.receipt_handle)) == "ReceiptHandleIsInvalid");
  CHECK_COUNTS(f, "q", 0, 1, 0);
}

ENGINE_TEST("change_visibility", "[messages][visibility]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "x");
  const ReceivedMessage m = f.receive_one("q");

  SECTION("to 0 makes the message visible at once") {
    REQUIRE(f->change_visibility("q", m.receipt_handle, 0).ok());
    CHECK_COUNTS(f, "q", 1, 0, 0);
    const ReceivedMessage again = f.receive_one("q");
    CHECK(again.receive_count == 2);
  }
  SECTION("extends or shortens from now") {
    f.advance_s(20);
    REQUIRE(f->change_visibility("q", m.receipt_handle, 100).ok());
    f.advance_s(99);
    CHECK(f.receive("q").empty());
    f.advance_s(1);
    CHECK(f.receive_one("q").receive_count == 2);
  }
  SECTION("several changes with the same handle") {
    REQUIRE(f->change_visibility("q", m.receipt_handle, 500).ok());
    REQUIRE(f->change_visibility("q", m.receipt_handle, 5).ok());
    f.advance_s(5);
    CHECK(f.receive_one("q").receive_count == 2);
  }
  SECTION("after the visibility expired: applied, the message invisible again, its receive count kept") {
    f.advance_s(30);
    CHECK_COUNTS(f, "q", 1, 0, 0);
    REQUIRE(f->change_visibility("q", m.receipt_handle, 60).ok());
    CHECK_COUNTS(f, "q", 0, 1, 0);
    f.reopen();
    CHECK_COUNTS(f, "q", 0, 1, 0);
    f.advance_ms(59'999);
    CHECK(f.receive("q").empty());
    f.advance_ms(1);
    const ReceivedMessage again = f.receive_one("q");
    CHECK(again.receive_count == 2);
    // To 0 on a visible message: stays visible.
    f.advance_s(30);
    REQUIRE(f->change_visibility("q", m.receipt_handle, 0).ok());
    CHECK_COUNTS(f, "q", 1, 0, 0);
  }
  SECTION("on a deleted message: InvalidParameterValue") {
    REQUIRE(f->delete_message("q", m.receipt_handle).ok());
    const Status refused = f->change_visibility("q", m.receipt_handle, 60);
    CHECK(code_of(refused) == "InvalidParameterValue");
    if (!refused.ok()) {
      CHECK(refused.error().message == "Value " + m.receipt_handle +
                                           " for parameter ReceiptHandle is invalid. Reason: Message does not exist "
                                           "or is not available for visibility timeout change.");
    }
  }
}

ENGINE_TEST("delayed messages stay invisible until their time", "[messages][delay]") {
  Fixture f(backend);
  SECTION("per-message delay") {
    f.create("q");
    f.send("q", "later", 10);
    f.send("q", "now");
    CHECK_COUNTS(f, "q", 1, 0, 1);
    auto got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "now");
    f.advance_ms(9'999);
    CHECK(f.receive("q").empty());
    CHECK_COUNTS(f, "q", 0, 1, 1);
    f.advance_ms(1);
    CHECK_COUNTS(f, "q", 1, 1, 0);
    got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "later");
    CHECK(got[0].sent_ms == kStart);
  }
  SECTION("the queue's DelaySeconds is the default; a message's own 0 overrides it") {
    f.create("q", {{"DelaySeconds", "5"}});
    f.send("q", "queue-delayed");
    f.send("q", "immediate", 0);
    CHECK_COUNTS(f, "q", 1, 0, 1);
    auto got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "immediate");
    f.advance_ms(4'999);
    CHECK(f.receive("q").empty());
    f.advance_ms(1);
    got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "queue-delayed");
  }
  SECTION("a changed DelaySeconds applies to later sends") {
    f.create("q");
    REQUIRE(f->set_queue_attributes("q", {{"DelaySeconds", "60"}}).ok());
    f.send("q", "x");
    CHECK_COUNTS(f, "q", 0, 0, 1);
  }
}

ENGINE_TEST("run_due_work promotes due messages and reports the next deadline", "[messages][scheduler]") {
  struct Recorder : EngineListener {
    std::vector<std::string> available;
    std::vector<int64_t> deadlines;
    void messages_available(const std::string& queue) override { available.push_back(queue); }
    void deadline_added(int64_t when) override { deadlines.push_back(when); }
  };
  Fixture f(backend);
  Recorder recorder;
  f->set_listener(&recorder);
  f.create("q");
  f.send("q", "delayed", 10);
  REQUIRE(recorder.deadlines == std::vector<int64_t>{kStart + 10'000});
  CHECK(recorder.available.empty());
  f.send("q", "now");
  CHECK(recorder.available == std::vector<std::string>{"q"});
  f.receive_one("q");  // in flight until kStart + 30 s
  CHECK(recorder.deadlines.back() == kStart + 30'000);

  auto next = f->run_due_work();
  REQUIRE(next.has_value());
  CHECK(*next == kStart + 10'000);

  recorder.available.clear();
  f.advance_s(10);
  next = f->run_due_work();
  CHECK(recorder.available == std::vector<std::string>{"q"});
  REQUIRE(next.has_value());
  // The in-flight deadline, or the visible message's retention expiry, whichever
  // is first: the in-flight one.
  CHECK(*next == kStart + 30'000);
  f->set_listener(nullptr);
}

ENGINE_TEST("messages older than the retention period are deleted", "[messages][retention]") {
  Fixture f(backend);
  f.create("q", {{"MessageRetentionPeriod", "60"}});
  f.send("q", "old");
  f.advance_s(30);
  f.send("q", "younger");

  SECTION("by the scheduler") {
    f.advance_s(31);  // "old" is 61 s old, "younger" 31 s
    f->run_due_work();
    CHECK_COUNTS(f, "q", 1, 0, 0);
    auto got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "younger");
  }
  SECTION("by a receive") {
    f.advance_s(31);
    auto got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "younger");
    CHECK_COUNTS(f, "q", 0, 1, 0);
  }
  SECTION("and stay deleted after a reopen") {
    f.advance_s(31);
    f->run_due_work();
    f.reopen();
    auto got = f.receive("q");
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "younger");
  }
  SECTION("not before") {
    f.advance_s(29);  // "old" is 59 s old
    f->run_due_work();
    CHECK_COUNTS(f, "q", 2, 0, 0);
  }
}

ENGINE_TEST("message bodies must be valid XML characters in valid UTF-8", "[messages][validation]") {
  Fixture f(backend);
  f.create("q");
  const std::vector<std::string> invalid = {
      std::string("\x00", 1),  // NUL
      std::string("a\x01"
                  "b"),                 // control character
      std::string("\x1f"),              // control character
      std::string("\xed\xa0\x80"),      // U+D800, a lone surrogate encoded in UTF-8
      std::string("\xed\xbf\xbf"),      // U+DFFF
      std::string("\xc0\x80"),          // overlong NUL
      std::string("\xe0\x80\xaf"),      // overlong '/'
      std::string("\xf0\x80\x80\xaf"),  // overlong '/'
      std::string("\xef\xbf\xbe"),      // U+FFFE
      std::string("\xef\xbf\xbf"),      // U+FFFF
      std::string("\xf4\x90\x80\x80"),  // U+110000
      std::string("\xe2\x82"),          // truncated sequence
      std::string("\x80"),              // lone continuation byte
      std::string("\xff"),              // never valid in UTF-8
      std::string("ok then \xc3"),      // truncated at the end
  };
  for (const std::string& body : invalid) {
    CAPTURE(body);
    NewMessage m;
    m.body = body;
    CHECK(code_of(f->send_message("q", m)) == "InvalidMessageContents");
  }
  CHECK_COUNTS(f, "q", 0, 0, 0);

  const std::vector<std::string> valid = {
      "\t\n\r",           " ~",
      "h\xc3\xa9llo",      // U+00E9
      "\xed\x9f\xbf",      // U+D7FF
      "\xee\x80\x80",      // U+E000
      "\xef\xbf\xbd",      // U+FFFD
      "\xf0\x90\x80\x80",  // U+10000
      "\xf4\x8f\xbf\xbf",  // U+10FFFF
      "\xf0\x9f\x98\x80",  // an emoji
  };
  for (const std::string& body : valid) {
    CAPTURE(body);
    NewMessage m;
    m.body = body;
    CHECK(outcome(f->send_message("q", m)) == "ok");
  }
  auto got = f.receive("q", 10);
  REQUIRE(got.size() == valid.size());
  for (size_t i = 0; i < valid.size(); ++i) CHECK(got[i].body == valid[i]);

  NewMessage empty;
  CHECK(code_of(f->send_message("q", empty)) == "MissingParameter");
}

ENGINE_TEST("body plus attributes may not exceed MaximumMessageSize", "[messages][validation]") {
  Fixture f(backend);
  f.create("q", {{"MaximumMessageSize", "1024"}});
  auto send_sized = [&](size_t body, size_t attributes) {
    NewMessage m;
    m.body = std::string(body, 'a');
    m.attributes_size = attributes;
    return f->send_message("q", std::move(m));
  };
  CHECK(outcome(send_sized(1024, 0)) == "ok");
  CHECK(code_of(send_sized(1025, 0)) == "InvalidParameterValue");
  CHECK(outcome(send_sized(1000, 24)) == "ok");
  CHECK(code_of(send_sized(1000, 25)) == "InvalidParameterValue");
  CHECK(code_of(send_sized(1, 1024)) == "InvalidParameterValue");
  CHECK_COUNTS(f, "q", 2, 0, 0);

  // The limit follows the attribute.
  REQUIRE(f->set_queue_attributes("q", {{"MaximumMessageSize", "2048"}}).ok());
  CHECK(outcome(send_sized(2048, 0)) == "ok");
  CHECK(code_of(send_sized(2049, 0)) == "InvalidParameterValue");
}

ENGINE_TEST("purge empties the queue, once per 60 seconds", "[messages][purge]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "a");
  f.send("q", "b");
  f.send("q", "c", 100);
  f.receive_one("q");
  CHECK_COUNTS(f, "q", 1, 1, 1);

  REQUIRE(f->purge_queue("q").ok());
  CHECK_COUNTS(f, "q", 0, 0, 0);
  CHECK(f.receive("q").empty());
  f.advance_s(200);  // past every old deadline and delay
  CHECK(f.receive("q").empty());
  CHECK_COUNTS(f, "q", 0, 0, 0);

  // Messages sent after the purge are kept.
  f.send("q", "after");
  auto got = f.receive("q");
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "after");

  // A second purge within 60 s of the first.
  f.now = kStart + 59'999;
  CHECK(code_of(f->purge_queue("q")) == "PurgeQueueInProgress");
  f.now = kStart + 60'000;
  CHECK(f->purge_queue("q").ok());

  // Purged messages stay purged across a reopen.
  f.reopen();
  CHECK_COUNTS(f, "q", 0, 0, 0);
}

ENGINE_TEST("a second purge right after the first is PurgeQueueInProgress", "[messages][purge]") {
  Fixture f(backend);
  f.create("q");
  REQUIRE(f->purge_queue("q").ok());
  f.advance_s(1);
  CHECK(code_of(f->purge_queue("q")) == "PurgeQueueInProgress");
  f.create("other");
  CHECK(f->purge_queue("other").ok());  // per queue
}

// ---------------------------------------------------------------------------
// Batches

ENGINE_TEST("send_messages stores the valid entries and reports each invalid one", "[batches]") {
  Fixture f(backend);
  f.create("q", {{"MaximumMessageSize", "1024"}});
  std::vector<NewMessage> batch(6);
  batch[0].body = "first";
  batch[1].body = std::string("bad \x01 char");
  batch[2].body = "second";
  batch[3].body = std::string(1025, 'x');  // too big
  batch[4].body = std::string(1000, 'y');
  batch[4].attributes_size = 24;  // exactly 1024 with its attributes
  batch[4].message_attributes = R"({"a":{"DataType":"String","StringValue":"b"}})";
  batch[5].body = std::string("\xed\xa0\x80");  // a surrogate

  auto results = f->send_messages("q", batch);
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 6);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "InvalidMessageContents");
  CHECK(outcome(r[2]) == "ok");
  CHECK(code_of(r[3]) == "InvalidParameterValue");
  CHECK(outcome(r[4]) == "ok");
  CHECK(code_of(r[5]) == "InvalidMessageContents");
  std::set<std::string> ids;
  for (size_t i : {0, 2, 4}) {
    if (r[i].ok()) ids.insert(r[i]->message_id);
  }
  CHECK(ids.size() == 3);
  CHECK_COUNTS(f, "q", 3, 0, 0);

  // One write: after a reopen, exactly the good ones, in order.
  f.reopen();
  CHECK_COUNTS(f, "q", 3, 0, 0);
  auto got = f.receive("q", 10);
  REQUIRE(got.size() == 3);
  CHECK(got[0].body == "first");
  CHECK(got[0].message_id == r[0]->message_id);
  CHECK(got[1].body == "second");
  CHECK(got[1].message_id == r[2]->message_id);
  CHECK(got[2].body == std::string(1000, 'y'));
  CHECK(got[2].message_id == r[4]->message_id);
  CHECK(got[2].message_attributes == batch[4].message_attributes);

  SECTION("a batch of only invalid entries stores nothing") {
    std::vector<NewMessage> bad(2);
    bad[0].body = std::string("\x02");
    bad[1].body = std::string(2000, 'z');
    auto none = f->send_messages("q", bad);
    REQUIRE(none.ok());
    REQUIRE(none->size() == 2);
    CHECK(code_of(none.value()[0]) == "InvalidMessageContents");
    CHECK(code_of(none.value()[1]) == "InvalidParameterValue");
    CHECK_COUNTS(f, "q", 0, 3, 0);
  }
  SECTION("a batch to a missing queue fails as a whole") {
    CHECK(code_of(f->send_messages("missing", batch)) == "QueueDoesNotExist");
  }
}

ENGINE_TEST("delete_messages answers per entry for valid, garbage and stale handles", "[batches][handles]") {
  Fixture f(backend);
  f.create("q");
  f.create("other");
  f.send("q", "m0");
  f.send("q", "m1");
  f.send("q", "m2");
  f.send("q", "gone");
  f.send("other", "o");
  const ReceivedMessage m0 = f.receive_one("q", 100);
  const ReceivedMessage m1 = f.receive_one("q", 100);
  const ReceivedMessage m2_old = f.receive_one("q", 10);
  const ReceivedMessage gone = f.receive_one("q", 100);
  REQUIRE(f->delete_message("q", gone.receipt_handle).ok());
  const ReceivedMessage from_other = f.receive_one("other");
  f.advance_s(10);
  const ReceivedMessage m2_new = f.receive_one("q", 100);  // m2 again: m2_old is stale
  REQUIRE(m2_new.message_id == m2_old.message_id);
  CHECK_COUNTS(f, "q", 0, 3, 0);

  auto results =
      f->delete_messages("q", {m0.receipt_handle, "garbage", m2_old.receipt_handle, from_other.receipt_handle,
                               gone.receipt_handle, m1.receipt_handle, m1.receipt_handle, ""});
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 8);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "ReceiptHandleIsInvalid");
  CHECK(outcome(r[2]) == "ok");  // an older handle: deletes m2 (as on AWS)
  CHECK(code_of(r[3]) == "ReceiptHandleIsInvalid");
  CHECK(outcome(r[4]) == "ok");  // already deleted
  CHECK(outcome(r[5]) == "ok");
  CHECK(outcome(r[6]) == "ok");  // the same handle twice
  CHECK(code_of(r[7]) == "ReceiptHandleIsInvalid");

  CHECK_COUNTS(f, "q", 0, 0, 0);
  CHECK_COUNTS(f, "other", 0, 1, 0);
  f.reopen();
  CHECK_COUNTS(f, "q", 0, 0, 0);
  REQUIRE(f->delete_message("q", m2_new.receipt_handle).ok());  // already deleted
  CHECK_COUNTS(f, "q", 0, 0, 0);
  f.advance_s(1000);
  CHECK(f.receive("q").empty());

  CHECK(code_of(f->delete_messages("missing", {m0.receipt_handle})) == "QueueDoesNotExist");
}

ENGINE_TEST("change_visibilities answers per entry for valid, garbage, older and expired handles",
            "[batches][visibility]") {
  Fixture f(backend);
  f.create("q");
  for (const char* body : {"m0", "m1", "m2", "m3", "gone", "m4"}) f.send("q", body);
  const ReceivedMessage m0 = f.receive_one("q");
  const ReceivedMessage m1 = f.receive_one("q");
  const ReceivedMessage m2_old = f.receive_one("q", 0);  // visible again at once
  REQUIRE(m2_old.body == "m2");
  const ReceivedMessage m2_new = f.receive_one("q");  // m2 again (send order): m2_old is older
  REQUIRE(m2_new.message_id == m2_old.message_id);
  const ReceivedMessage m3 = f.receive_one("q");
  REQUIRE(m3.body == "m3");
  const ReceivedMessage gone = f.receive_one("q");
  REQUIRE(gone.body == "gone");
  REQUIRE(f->delete_message("q", gone.receipt_handle).ok());
  const ReceivedMessage m4 = f.receive_one("q", 0);  // visible again, not re-received: its timeout expired
  REQUIRE(m4.body == "m4");
  CHECK_COUNTS(f, "q", 1, 4, 0);  // m4 visible; m0, m1, m2, m3 in flight until +30 s

  auto results = f->change_visibilities("q", {{m0.receipt_handle, 100},
                                              {"garbage", 10},
                                              {m2_old.receipt_handle, 100},
                                              {m1.receipt_handle, 0},
                                              {m4.receipt_handle, 100},
                                              {m3.receipt_handle, 5},
                                              {gone.receipt_handle, 5}});
  INFO(outcome(results));
  REQUIRE(results.ok());
  REQUIRE(results->size() == 7);
  const auto& r = results.value();
  CHECK(outcome(r[0]) == "ok");
  CHECK(code_of(r[1]) == "ReceiptHandleIsInvalid");
  CHECK(outcome(r[2]) == "ok");  // an older handle applies to the message (as on AWS)
  CHECK(outcome(r[3]) == "ok");
  CHECK(outcome(r[4]) == "ok");  // expired: applies, m4 invisible again
  CHECK(outcome(r[5]) == "ok");
  CHECK(code_of(r[6]) == "InvalidParameterValue");  // deleted

  // m1 visible now; m0, m2, m4 until +100 s, m3 +5 s.
  CHECK_COUNTS(f, "q", 1, 4, 0);
  f.reopen();  // the changes were stored
  CHECK_COUNTS(f, "q", 1, 4, 0);
  f.advance_s(5);
  CHECK_COUNTS(f, "q", 2, 3, 0);
  std::set<std::string> bodies;
  for (const auto& m : f.receive("q", 10, 1000)) bodies.insert(m.body);
  CHECK(bodies == std::set<std::string>{"m1", "m3"});
  f.advance_s(94);
  CHECK(f.receive("q", 10, 1000).empty());
  f.advance_s(1);
  bodies.clear();
  for (const auto& m : f.receive("q", 10)) {
    bodies.insert(m.body);
    CHECK(m.receive_count == (m.body == "m2" ? 3u : 2u));  // m4's change did not count as a receive
  }
  CHECK(bodies == std::set<std::string>{"m0", "m2", "m4"});

  CHECK(code_of(f->change_visibilities("missing", {{m0.receipt_handle, 1}})) == "QueueDoesNotExist");
}

// ---------------------------------------------------------------------------
// Peek

ENGINE_TEST("peek shows messages in send order with their state and changes nothing", "[peek]") {
  Fixture f(backend);
  f.create("q");
  const std::string first = f.send_with_attributes("q", "one", R"({"k":{"DataType":"String","StringValue":"v"}})");
  const std::string second = f.send("q", "two");
  NewMessage delayed;
  delayed.body = "three";
  delayed.delay_seconds = 60;
  REQUIRE(f->send_message("q", std::move(delayed)).ok());
  const ReceivedMessage taken = f.receive_one("q", 30);  // "one", in flight for 30 s
  REQUIRE(taken.body == "one");
  const QueueCounts before = f.counts("q");

  auto peeked = f->peek_messages("q", 10);
  INFO(outcome(peeked));
  REQUIRE(peeked.ok());
  REQUIRE(peeked->size() == 3);
  const auto& p = peeked.value();
  CHECK(p[0].message_id == first);
  CHECK(p[0].state == "in_flight");
  CHECK(p[0].receive_count == 1);
  CHECK(p[0].visible_at_ms == kStart + 30'000);
  CHECK(p[0].message_attributes.find("StringValue") != std::string::npos);
  CHECK(p[1].message_id == second);
  CHECK(p[1].state == "visible");
  CHECK(p[1].receive_count == 0);
  CHECK(p[2].body == "three");
  CHECK(p[2].state == "delayed");
  CHECK(f->peek_messages("q", 1)->size() == 1);

  // Nothing moved: the same counts, the same next receive, receive counts untouched.
  const QueueCounts after = f.counts("q");
  CHECK(after.visible == before.visible);
  CHECK(after.in_flight == before.in_flight);
  CHECK(after.received == before.received);
  const ReceivedMessage next = f.receive_one("q");
  CHECK(next.body == "two");
  CHECK(next.receive_count == 1);

  // A passed deadline shows as visible, as the next receive sees it.
  f.advance_s(31);
  CHECK(f->peek_messages("q", 1)->at(0).state == "visible");
  CHECK(code_of(f->peek_messages("missing", 1)) == "QueueDoesNotExist");
}

ENGINE_TEST("a peeked message can be deleted by its position and id, in any state", "[peek]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "a");
  const std::string b = f.send("q", "b");
  auto peeked = f->peek_messages("q", 10);
  REQUIRE(peeked.ok());
  REQUIRE(peeked->size() == 2);
  const PeekedMessage second = peeked->at(1);
  REQUIRE(second.message_id == b);
  CHECK(code_of(f->delete_peeked_message("q", second.position, "not-its-id")) == "InvalidParameterValue");
  REQUIRE(f->delete_peeked_message("q", second.position, b).ok());
  CHECK(f.counts("q").visible == 1);
  CHECK(f.counts("q").deleted == 1);
  CHECK_FALSE(f->delete_peeked_message("q", second.position, b).ok());  // gone
  CHECK(f.receive("q").size() == 1);

  // FIFO: deleting the in-flight head unlocks its group at once.
  f.create("f.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  for (const char* body : {"first", "second"}) {
    NewMessage m;
    m.body = body;
    m.group_id = "g";
    REQUIRE(f->send_message("f.fifo", std::move(m)).ok());
  }
  REQUIRE(f.receive_one("f.fifo", 300).body == "first");
  CHECK(f.receive("f.fifo").empty());  // the group is locked
  auto head = f->peek_messages("f.fifo", 1);
  REQUIRE(head.ok());
  REQUIRE(head->at(0).state == "in_flight");
  REQUIRE(f->delete_peeked_message("f.fifo", head->at(0).position, head->at(0).message_id).ok());
  CHECK(f.receive_one("f.fifo").body == "second");
  f.reopen();  // the delete is durable
  CHECK(f.total("f.fifo") == 1);
  CHECK(f.total("q") == 1);
}
