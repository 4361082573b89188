// Conformance: state and receipt handles across closing and opening again.
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

// ---------------------------------------------------------------------------
// Durability

ENGINE_TEST("state survives closing and reopening the data dir", "[durability]") {
  Fixture f(backend);
  REQUIRE(f->create_queue("dur", {{"VisibilityTimeout", "45"}, {"MaximumMessageSize", "2048"}},
                          {{"env", "test"}, {"team", "core"}})
              .ok());
  f.create("other", {{"DelaySeconds", "7"}});

  f.send("dur", "inflight");
  f.send("dur", "deleted");
  f.send("dur", "handle-after-restart");
  NewMessage visible;
  visible.body = "visible";
  visible.message_attributes = R"({"k":{"DataType":"String","StringValue":"v"}})";
  const std::string visible_id = f->send_message("dur", visible)->message_id;
  f.send("dur", "delayed", 200);
  f.send("other", "o");  // delayed 7 s by its queue

  const ReceivedMessage inflight = f.receive_one("dur", 100);  // until kStart + 100 s
  CHECK(inflight.body == "inflight");
  const ReceivedMessage deleted = f.receive_one("dur");
  CHECK(deleted.body == "deleted");
  REQUIRE(f->delete_message("dur", deleted.receipt_handle).ok());
  const ReceivedMessage later = f.receive_one("dur", 300);
  CHECK(later.body == "handle-after-restart");
  CHECK_COUNTS(f, "dur", 1, 2, 1);

  f.advance_s(10);
  f.reopen();

  CHECK(f->list_queues("") == std::vector<std::string>{"dur", "other"});
  auto info = f->get_queue("dur");
  REQUIRE(info.ok());
  CHECK(info->attributes.at("VisibilityTimeout") == "45");
  CHECK(info->attributes.at("MaximumMessageSize") == "2048");
  CHECK(info->attributes.at("MessageRetentionPeriod") == "345600");
  CHECK(info->tags == TagMap{{"env", "test"}, {"team", "core"}});
  CHECK(info->created_s == kStart / 1000);
  CHECK(f->get_queue("other")->attributes.at("DelaySeconds") == "7");

  CHECK_COUNTS(f, "dur", 1, 2, 1);
  CHECK_COUNTS(f, "other", 1, 0, 0);  // its 7 s delay passed

  // The visible message, intact, and the only one visible.
  auto visible_now = f.receive("dur");
  REQUIRE(visible_now.size() == 1);
  const ReceivedMessage& v2 = visible_now[0];
  CHECK(v2.body == "visible");
  CHECK(v2.message_id == visible_id);
  CHECK(v2.message_attributes == visible.message_attributes);
  CHECK(v2.sent_ms == kStart);
  CHECK(v2.receive_count == 1);
  CHECK(v2.first_receive_ms == kStart + 10'000);
  REQUIRE(f->delete_message("dur", v2.receipt_handle).ok());

  // A receipt handle issued before the reopen still works (the secret is kept).
  REQUIRE(f->change_visibility("dur", later.receipt_handle, 1000).ok());
  REQUIRE(f->delete_message("dur", later.receipt_handle).ok());
  CHECK_COUNTS(f, "dur", 0, 1, 1);  // "inflight" in flight, "delayed" delayed

  // The in-flight message comes back at its old deadline, not before.
  f.now = kStart + 99'999;
  CHECK(f.receive("dur", 10, 1000).empty());
  f.now = kStart + 100'000;
  auto back = f.receive("dur", 10, 1000);
  REQUIRE(back.size() == 1);
  CHECK(back[0].body == "inflight");
  CHECK(back[0].receive_count == 2);
  CHECK(back[0].message_id == inflight.message_id);

  // The delayed message stays delayed until its time.
  f.now = kStart + 199'999;
  CHECK(f.receive("dur", 10, 1000).empty());
  f.now = kStart + 200'000;
  auto delayed = f.receive("dur", 10, 1000);
  REQUIRE(delayed.size() == 1);
  CHECK(delayed[0].body == "delayed");
  CHECK(delayed[0].receive_count == 1);

  // The deleted message never came back.
  f.now = kStart + 10'000'000;
  auto all = f.receive("dur", 10);
  std::set<std::string> bodies;
  for (const auto& m : all) bodies.insert(m.body);
  CHECK(bodies == std::set<std::string>{"inflight", "delayed"});
}

ENGINE_TEST("a handle issued before a reopen never deletes a message sent after it", "[durability][handles]") {
  // Each handle names the exact receive it came from; a message sent after a
  // restart is a different message, even when the old one was the queue's last.
  Fixture f(backend);
  f.create("q");
  f.send("q", "first");
  const ReceivedMessage first = f.receive_one("q");
  REQUIRE(f->delete_message("q", first.receipt_handle).ok());

  f.advance_s(1);
  f.reopen();

  f.send("q", "second");
  const ReceivedMessage second = f.receive_one("q");
  CHECK(second.body == "second");
  CHECK(second.receipt_handle != first.receipt_handle);
  // The handle of the deleted message must not delete "second".
  CHECK(f->delete_message("q", first.receipt_handle).ok());
  CHECK_COUNTS(f, "q", 0, 1, 0);
}

ENGINE_TEST("the same holds after a purge and a reopen", "[durability][handles]") {
  Fixture f(backend);
  f.create("q");
  f.send("q", "first");
  const ReceivedMessage first = f.receive_one("q");
  REQUIRE(f->purge_queue("q").ok());

  f.advance_s(1);
  f.reopen();

  f.send("q", "second");
  const ReceivedMessage second = f.receive_one("q");
  CHECK(second.receipt_handle != first.receipt_handle);
  CHECK(f->delete_message("q", first.receipt_handle).ok());
  CHECK_COUNTS(f, "q", 0, 1, 0);
}

// ---------------------------------------------------------------------------
// Sequence numbers and receipt handles across reopen

ENGINE_TEST("receipt handles issued after a reopen differ from every handle issued before", "[durability][handles]") {
  Fixture f(backend);
  f.create("q");
  f.create("dlq");
  f.create("src", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  std::set<std::string> issued;
  auto receive_all_times = [&](const std::string& queue, int times) {
    // Receives every message `times` times (visibility 0), recording handles.
    std::vector<std::string> last;
    for (int i = 0; i < times; ++i) {
      last.clear();
      for (const auto& m : f.receive(queue, 10, 0)) {
        INFO("a handle was issued twice: " << m.receipt_handle);
        CHECK(issued.insert(m.receipt_handle).second);
        last.push_back(m.receipt_handle);
      }
    }
    return last;
  };
  auto delete_all = [&](const std::string& queue, const std::vector<std::string>& handles) {
    auto r = f->delete_messages(queue, handles);
    REQUIRE(r.ok());
    for (const auto& st : r.value()) CHECK(st.ok());
    CHECK(f.total(queue) == 0);
  };

  for (int round = 0; round < 3; ++round) {
    CAPTURE(round);
    for (int i = 0; i < 3; ++i) f.send("q", "r" + std::to_string(round) + "m" + std::to_string(i));
    auto handles = receive_all_times("q", 3);
    REQUIRE(handles.size() == 3);
    delete_all("q", handles);

    // Through a dead-letter queue as well.
    dead_letter(f, "src", "dlq", 2);
    handles = receive_all_times("dlq", 2);
    REQUIRE(handles.size() == 2);
    delete_all("dlq", handles);

    f.advance_s(1);
    f.reopen();
    if (round == 1) f.reopen();  // twice in a row, with nothing sent between
  }
  // Old handles delete nothing new.
  f.send("q", "last");
  const ReceivedMessage last = f.receive_one("q");
  CHECK(issued.count(last.receipt_handle) == 0);
  std::vector<std::string> old(issued.begin(), issued.end());
  auto r = f->delete_messages("q", old);
  REQUIRE(r.ok());
  CHECK_COUNTS(f, "q", 0, 1, 0);
}
