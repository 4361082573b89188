// Conformance: the FIFO queue against a simple model, through a long random
// sequence of operations.
#include <catch2/catch.hpp>

#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;

// ---------------------------------------------------------------------------
// The engine against a model

namespace {

struct ModelMessage {
  std::string id;
  std::string group;
  std::string sequence_number;
  int64_t visible_at = 0;
  uint32_t receive_count = 0;
  std::string handle;  // from the latest receive
};

struct Model {
  std::map<uint64_t, ModelMessage> messages;  // by send order
  std::map<std::string, std::string> dedup;   // dedup id -> message id (ids never reused after the window)

  bool in_flight(const ModelMessage& m, int64_t now) const { return m.receive_count > 0 && m.visible_at > now; }
  bool delayed(const ModelMessage& m, int64_t now) const { return m.receive_count == 0 && m.visible_at > now; }
  bool visible(const ModelMessage& m, int64_t now) const { return m.visible_at <= now; }

  QueueCounts counts(int64_t now) const {
    QueueCounts c;
    for (const auto& [order, m] : messages) {
      if (in_flight(m, now)) {
        ++c.in_flight;
      } else if (delayed(m, now)) {
        ++c.delayed;
      } else {
        ++c.visible;
      }
    }
    return c;
  }

  // Each group's messages, in send order.
  std::map<std::string, std::vector<uint64_t>> groups() const {
    std::map<std::string, std::vector<uint64_t>> out;
    for (const auto& [order, m] : messages) out[m.group].push_back(order);
    return out;
  }

  // A group is receivable while its first message is visible.
  bool group_deliverable(const std::vector<uint64_t>& group, int64_t now) const {
    return visible(messages.at(group.front()), now);
  }

  std::optional<uint64_t> find(const std::string& id) const {
    for (const auto& [order, m] : messages) {
      if (m.id == id) return order;
    }
    return std::nullopt;
  }
};

void run_random_sequence(const Backend& backend, uint32_t seed, int steps) {
  Fixture f(backend);
  f.create("q.fifo", fifo());
  Model model;
  std::mt19937 rng(seed);
  auto pick = [&](int n) { return static_cast<int>(std::uniform_int_distribution<int>(0, n - 1)(rng)); };
  uint64_t next_order = 1;
  int next_dedup = 0;
  int delay_seconds = 0;
  std::vector<std::pair<std::string, int64_t>> recent_dedup;  // dedup ids sent lately, with their send time
  std::ostringstream log;

  for (int step = 0; step < steps; ++step) {
    const int64_t now = f.now;
    const int op = pick(100);
    std::ostringstream what;
    what << "seed " << seed << " step " << step << " t=" << (now - kStart) << "ms: ";
    if (op < 22) {
      // Send a batch of 1-3, now and then repeating a recent dedup id.
      std::vector<NewMessage> batch;
      std::vector<std::string> dedups;
      const int n = 1 + pick(3);
      for (int i = 0; i < n; ++i) {
        std::string dedup;
        if (!recent_dedup.empty() && pick(10) == 0) {
          const auto& [id, sent] = recent_dedup[static_cast<size_t>(pick(static_cast<int>(recent_dedup.size())))];
          dedup = now - sent < kWindow - 1000 ? id : "d" + std::to_string(next_dedup++);
        } else {
          dedup = "d" + std::to_string(next_dedup++);
        }
        batch.push_back(message("body-" + dedup, "g" + std::to_string(pick(6)), dedup));
        dedups.push_back(dedup);
      }
      what << "send " << n;
      INFO(what.str());
      auto results = f->send_messages("q.fifo", batch);
      REQUIRE(results.ok());
      for (int i = 0; i < n; ++i) {
        auto& r = (*results)[static_cast<size_t>(i)];
        REQUIRE(r.ok());
        auto known = model.dedup.find(dedups[static_cast<size_t>(i)]);
        if (known != model.dedup.end()) {
          REQUIRE(r->message_id == known->second);
          continue;
        }
        ModelMessage m;
        m.id = r->message_id;
        m.group = batch[static_cast<size_t>(i)].group_id;
        m.sequence_number = r->sequence_number;
        m.visible_at = now + delay_seconds * 1000;
        model.messages[next_order++] = m;
        model.dedup[dedups[static_cast<size_t>(i)]] = m.id;
        recent_dedup.emplace_back(dedups[static_cast<size_t>(i)], now);
      }
      if (recent_dedup.size() > 20) recent_dedup.erase(recent_dedup.begin(), recent_dedup.end() - 20);
    } else if (op < 50) {
      const int max = 1 + pick(10);
      const int vt = pick(4) == 0 ? 0 : 1 + pick(40);
      what << "receive max " << max << " vt " << vt;
      INFO(what.str());
      const auto groups = model.groups();
      bool any_deliverable = false;
      for (const auto& [g, members] : groups)
        any_deliverable = any_deliverable || model.group_deliverable(members, now);
      auto got = f.receive("q.fifo", max, vt);
      REQUIRE(static_cast<int>(got.size()) <= max);
      if (any_deliverable) REQUIRE_FALSE(got.empty());
      // Each group's part is a prefix of the group, which was deliverable.
      std::map<std::string, std::vector<uint64_t>> taken;
      for (const auto& r : got) {
        auto order = model.find(r.message_id);
        INFO("received " << r.body);
        REQUIRE(order.has_value());
        const ModelMessage& m = model.messages.at(*order);
        REQUIRE(model.visible(m, now));
        REQUIRE(system_attribute(r, "MessageGroupId") == m.group);
        REQUIRE(r.sequence_number == m.sequence_number);
        REQUIRE(r.receive_count == m.receive_count + 1);
        taken[m.group].push_back(*order);
      }
      for (const auto& [g, orders] : taken) {
        INFO("group " << g);
        const auto& members = groups.at(g);
        REQUIRE(model.group_deliverable(members, now));
        REQUIRE(orders.size() <= members.size());
        REQUIRE(std::equal(orders.begin(), orders.end(), members.begin()));
        // It stops only at the receive's end or at a message not visible.
        if (orders.size() < members.size() && static_cast<int>(got.size()) < max) {
          REQUIRE_FALSE(model.visible(model.messages.at(members[orders.size()]), now));
        }
      }
      for (const auto& r : got) {
        ModelMessage& m = model.messages.at(*model.find(r.message_id));
        m.receive_count += 1;
        m.visible_at = now + vt * 1000;
        m.handle = r.receipt_handle;
      }
    } else if (op < 88) {
      // Delete (op < 74) or change visibility of a received message.
      std::vector<uint64_t> received;
      for (const auto& [order, m] : model.messages) {
        if (!m.handle.empty()) received.push_back(order);
      }
      if (received.empty()) continue;
      const uint64_t order = received[static_cast<size_t>(pick(static_cast<int>(received.size())))];
      ModelMessage& m = model.messages.at(order);
      if (op < 74) {
        // Only while in flight: an expired FIFO handle is refused.
        const bool expect_ok = model.in_flight(m, now);
        what << "delete " << m.id << (expect_ok ? " (in flight)" : " (visible)");
        INFO(what.str());
        auto st = f->delete_message("q.fifo", m.handle);
        INFO(outcome(st));
        REQUIRE(st.ok() == expect_ok);
        if (st.ok()) model.messages.erase(order);
      } else {
        const int vt = pick(3) == 0 ? 0 : pick(30);
        const bool expect_ok = model.in_flight(m, now);
        what << "change visibility of " << m.id << " to " << vt << (expect_ok ? " (in flight)" : " (visible)");
        INFO(what.str());
        auto st = f->change_visibility("q.fifo", m.handle, vt);
        INFO(outcome(st));
        REQUIRE(st.ok() == expect_ok);
        if (st.ok()) m.visible_at = now + vt * 1000;
      }
    } else if (op < 96) {
      const int64_t ms = pick(8000);
      f.advance_ms(ms);
      what << "advance " << ms << " ms";
    } else if (op < 97) {
      delay_seconds = pick(2) == 0 ? 0 : 1 + pick(5);
      what << "DelaySeconds " << delay_seconds;
      INFO(what.str());
      REQUIRE(f->set_queue_attributes("q.fifo", {{"DelaySeconds", std::to_string(delay_seconds)}}).ok());
    } else if (op < 99) {
      what << "run_due_work";
      f->run_due_work();
    } else {
      what << "reopen";
      f.reopen();
    }
    log << what.str() << "\n";
    const QueueCounts expected = model.counts(f.now);
    const QueueCounts actual = f.counts("q.fifo");
    INFO(what.str());
    INFO("expected " << describe(expected) << ", engine " << describe(actual));
    REQUIRE(counts_are(actual, expected.visible, expected.in_flight, expected.delayed));
  }

  // A reopen rebuilds the same index.
  const QueueCounts before = f.counts("q.fifo");
  f.reopen();
  const QueueCounts after = f.counts("q.fifo");
  INFO("seed " << seed << ": before reopen " << describe(before) << ", after " << describe(after));
  CHECK(counts_are(after, before.visible, before.in_flight, before.delayed));
  const QueueCounts expected = model.counts(f.now);
  CHECK(counts_are(after, expected.visible, expected.in_flight, expected.delayed));

  // Draining after everything is visible returns every message once, each
  // group in order.
  f.advance_s(100);
  auto all = f.consume("q.fifo");
  CHECK(all.size() == model.messages.size());
  for (const auto& [g, members] : model.groups()) {
    std::vector<std::string> want, have;
    for (uint64_t order : members) want.push_back(model.messages.at(order).id);
    for (const auto& m : all) {
      if (system_attribute(m, "MessageGroupId") == g) have.push_back(m.message_id);
    }
    CAPTURE(g);
    CHECK(have == want);
  }
}

}  // namespace

ENGINE_TEST("FIFO index: counts follow a model through a long random sequence", "[fifo][model]") {
  for (uint32_t seed : {1u, 2u, 3u, 42u}) {
    CAPTURE(seed);
    run_random_sequence(backend, seed, 2500);
  }
}
