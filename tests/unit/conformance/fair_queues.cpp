// Conformance: fair queues (standard queues with message groups).
#include <catch2/catch.hpp>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Fair queues: standard queues with message groups

ENGINE_TEST("fair queues: a noisy group does not starve the others", "[fair]") {
  Fixture f(backend);
  f.create("std");
  for (int b = 0; b < 10; ++b) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < 10; ++i) batch.push_back(message("noisy-" + std::to_string(b * 10 + i), "noisy"));
    auto results = f->send_messages("std", batch);
    REQUIRE(results.ok());
    for (auto& r : *results) REQUIRE(r.ok());
  }
  for (const char* g : {"t1", "t2", "t3"}) {
    for (int i = 0; i < 2; ++i) f.send_to_group("std", std::string(g) + "-" + std::to_string(i), g);
  }
  for (int i = 0; i < 3; ++i) f.send_to_group("std", "plain-" + std::to_string(i), "");
  CHECK_COUNTS(f, "std", 109, 0, 0);

  const auto first = f.receive("std", 10);
  CHECK(first.size() == 10);
  std::map<std::string, int> first_by_group;
  for (const auto& m : first) ++first_by_group[system_attribute(m, "MessageGroupId")];
  INFO("first receive: " << json(bodies(first)).dump());
  for (const char* g : {"t1", "t2", "t3"}) {
    CAPTURE(g);
    CHECK(first_by_group[g] >= 1);
  }
  // The plain messages are a group of their own and get their turn too.
  CHECK(first_by_group[""] >= 1);
  const auto second = f.receive("std", 10);
  std::map<std::string, int> by_group = first_by_group;
  for (const auto& m : second) ++by_group[system_attribute(m, "MessageGroupId")];
  for (const char* g : {"t1", "t2", "t3"}) {
    CAPTURE(g);
    CHECK(by_group[g] == 2);
  }
  CHECK_COUNTS(f, "std", 109 - first.size() - second.size(), first.size() + second.size(), 0);

  // Everything arrives exactly once; group ids are system attributes.
  const auto rest = f.drain_in_order("std");
  std::set<std::string> ids;
  for (const std::vector<ReceivedMessage>* part : {&first, &second, &rest}) {
    for (const auto& m : *part) {
      CHECK(ids.insert(m.message_id).second);
      CHECK(m.sequence_number.empty());
      const std::string group = system_attribute(m, "MessageGroupId");
      if (m.body.rfind("plain", 0) == 0) {
        CHECK(group.empty());
        CHECK(m.system_attributes.message_group_id.empty());
      } else {
        CHECK(group == m.body.substr(0, m.body.find('-')));
      }
      CHECK(m.system_attributes.message_deduplication_id.empty());
    }
  }
  CHECK(ids.size() == 109);
  CHECK_COUNTS(f, "std", 0, 109, 0);
  f.reopen();
  CHECK_COUNTS(f, "std", 0, 109, 0);
}

ENGINE_TEST("fair queues: the same share after a reopen, and for messages returning from flight", "[fair]") {
  Fixture f(backend);
  f.create("std");
  for (int i = 0; i < 30; ++i) f.send_to_group("std", "noisy-" + std::to_string(i), "noisy");
  f.send_to_group("std", "quiet-0", "quiet");
  f.reopen();
  auto got = f.receive("std", 5, 0);  // visible again at once
  CHECK(bodies_of_group(got, "quiet") == Bodies{"quiet-0"});
  // The quiet message is visible again and still gets a turn among the noise.
  auto again = f.receive("std", 5);
  CHECK(bodies_of_group(again, "quiet") == Bodies{"quiet-0"});
  CHECK_COUNTS(f, "std", 31 - again.size(), again.size(), 0);
}

ENGINE_TEST("fair queues: with a RedrivePolicy the groups still take turns, and messages still redrive",
            "[fair][redrive]") {
  Fixture f(backend);
  f.create("dlq");
  f.create("std", {{"RedrivePolicy", redrive_to("dlq", 1)}});
  for (int i = 0; i < 30; ++i) f.send_to_group("std", "noisy-" + std::to_string(i), "noisy");
  f.send_to_group("std", "quiet-0", "quiet");
  auto got = f.receive("std", 5, 0);  // visible again at once, received once
  CHECK(bodies_of_group(got, "quiet") == Bodies{"quiet-0"});
  // The next turns move what was received once to the dead-letter queue
  // (maxReceiveCount 1), quiet-0 included.
  auto again = f.receive("std", 5);
  CHECK(bodies_of_group(again, "quiet").empty());
  const auto moved = f.receive("dlq", 10);
  CHECK(bodies_of_group(moved, "quiet") == Bodies{"quiet-0"});
  for (const auto& m : moved) CHECK(m.receive_count == 2);
}
