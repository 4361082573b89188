#include "tests/unit/engine_fixture.h"

#include <algorithm>

namespace wharf::testing {

using namespace wharf::storage;
using nlohmann::json;

void Fixture::open() {
  EngineOptions options;
  options.now_ms = [this] { return now; };
  options.dedup_window_ms = dedup_window_ms;
  options.queue_delete_cooldown_ms = queue_delete_cooldown_ms;
  std::string error;
  engine = backend.open(options, dir.path(), error);
  INFO("opening " << backend.name << ": " << error);
  REQUIRE(engine);
}

void Fixture::create(const std::string& name, const AttributeMap& attributes, const TagMap& tags) {
  auto r = engine->create_queue(name, attributes, tags);
  INFO(outcome(r));
  REQUIRE(r.ok());
}

AttributeMap Fixture::attributes(const std::string& name) {
  auto r = engine->get_queue(name);
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r->attributes;
}

TagMap Fixture::tags(const std::string& name) {
  auto r = engine->get_queue(name);
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r->tags;
}

std::string Fixture::send(const std::string& queue, const std::string& body, std::optional<int> delay) {
  NewMessage m;
  m.body = body;
  m.delay_seconds = delay;
  auto r = engine->send_message(queue, std::move(m));
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r->message_id;
}

std::string Fixture::send_with_attributes(const std::string& queue, const std::string& body,
                                          const std::string& message_attributes, const std::string& aws_trace_header) {
  NewMessage m;
  m.body = body;
  m.message_attributes = message_attributes;
  m.aws_trace_header = aws_trace_header;
  auto r = engine->send_message(queue, std::move(m));
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r->message_id;
}

SentMessage Fixture::send_to_group(const std::string& queue, const std::string& body, const std::string& group,
                                   const std::string& dedup) {
  auto r = engine->send_message(queue, message(body, group, dedup));
  INFO("send " << body << " to " << queue << ": " << outcome(r));
  REQUIRE(r.ok());
  return r.value();
}

std::vector<ReceivedMessage> Fixture::receive(const std::string& queue, int max, std::optional<int> visibility,
                                              const std::string& attempt) {
  auto r = engine->receive_messages(queue, max, visibility, attempt);
  INFO("receive from " << queue << ": " << outcome(r));
  REQUIRE(r.ok());
  return r.value();
}

ReceivedMessage Fixture::receive_one(const std::string& queue, std::optional<int> visibility) {
  auto got = receive(queue, 1, visibility);
  REQUIRE(got.size() == 1);
  return got[0];
}

void Fixture::remove(const std::string& queue, const ReceivedMessage& m) {
  auto st = engine->delete_message(queue, m.receipt_handle);
  INFO("delete " << m.body << ": " << outcome(st));
  REQUIRE(st.ok());
}

void Fixture::change(const std::string& queue, const ReceivedMessage& m, int timeout) {
  auto st = engine->change_visibility(queue, m.receipt_handle, timeout);
  INFO("change visibility of " << m.body << ": " << outcome(st));
  REQUIRE(st.ok());
}

QueueCounts Fixture::counts(const std::string& queue) {
  auto r = engine->queue_counts(queue);
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r.value();
}

uint64_t Fixture::total(const std::string& queue) {
  const QueueCounts c = counts(queue);
  return c.visible + c.in_flight + c.delayed;
}

std::map<std::string, ReceivedMessage> Fixture::drain(const std::string& queue) {
  std::map<std::string, ReceivedMessage> out;
  for (;;) {
    auto got = receive(queue, 10, 43200);
    if (got.empty()) break;
    for (auto& m : got) {
      INFO("message " << m.message_id << " received twice from " << queue);
      CHECK(out.count(m.message_id) == 0);
      out.emplace(m.message_id, std::move(m));
    }
  }
  return out;
}

std::vector<ReceivedMessage> Fixture::drain_in_order(const std::string& queue) {
  std::vector<ReceivedMessage> out;
  for (int i = 0; i < 1000; ++i) {
    auto got = receive(queue, 10, 43200);
    if (got.empty()) break;
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

std::vector<ReceivedMessage> Fixture::consume(const std::string& queue) {
  std::vector<ReceivedMessage> out;
  for (int i = 0; i < 1000; ++i) {
    auto got = receive(queue, 10, 43200);
    if (got.empty()) break;
    for (const auto& m : got) remove(queue, m);
    out.insert(out.end(), got.begin(), got.end());
  }
  return out;
}

std::vector<MoveTask> Fixture::tasks(const std::string& source, size_t max) {
  auto r = engine->list_move_tasks(source, max);
  INFO(outcome(r));
  REQUIRE(r.ok());
  return r.value();
}

MoveTask Fixture::latest_task(const std::string& source) {
  auto all = tasks(source, 1);
  REQUIRE(all.size() == 1);
  return all[0];
}

std::string Fixture::start_task(const std::string& source, std::optional<std::string> destination,
                                std::optional<int> rate) {
  auto r = engine->start_move_task(source, destination, rate);
  INFO(outcome(r));
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->empty());
  return r.value();
}

MoveTask Fixture::run_task_to_end(const std::string& source, int max_steps) {
  for (int i = 0; i < max_steps; ++i) {
    advance_ms(100);
    engine->run_due_work();
    MoveTask t = latest_task(source);
    if (t.status != "RUNNING") return t;
  }
  FAIL("the move task on " << source << " did not finish");
  return {};
}

bool counts_are(const QueueCounts& c, uint64_t visible, uint64_t in_flight, uint64_t delayed) {
  return c.visible == visible && c.in_flight == in_flight && c.delayed == delayed;
}

std::string describe(const QueueCounts& c) {
  return "visible=" + std::to_string(c.visible) + " in_flight=" + std::to_string(c.in_flight) +
         " delayed=" + std::to_string(c.delayed);
}

std::string redrive_to(const std::string& dlq, int max_receive_count) {
  return json{{"deadLetterTargetArn", arn_of(dlq)}, {"maxReceiveCount", max_receive_count}}.dump();
}

AttributeMap fifo(AttributeMap extra) {
  extra["FifoQueue"] = "true";
  return extra;
}

NewMessage message(const std::string& body, const std::string& group, const std::string& dedup) {
  NewMessage m;
  m.body = body;
  m.group_id = group;
  m.deduplication_id = dedup;
  return m;
}

json parse_json(const std::string& text) {
  if (text.empty()) return json::object();
  auto doc = json::parse(text, nullptr, false);
  INFO("not JSON: " << text);
  REQUIRE_FALSE(doc.is_discarded());
  return doc;
}

std::string system_attribute(const ReceivedMessage& m, const std::string& name) {
  for (const auto& field : kSystemAttributeFields) {
    if (name == field.name) return m.system_attributes.*field.member;
  }
  FAIL("no system attribute " << name);
  return "";
}

std::vector<std::string> bodies(const std::vector<ReceivedMessage>& messages) {
  std::vector<std::string> out;
  for (const auto& m : messages) out.push_back(m.body);
  return out;
}

std::vector<std::string> bodies_of_group(const std::vector<ReceivedMessage>& messages, const std::string& group) {
  std::vector<std::string> out;
  for (const auto& m : messages) {
    if (system_attribute(m, "MessageGroupId") == group) out.push_back(m.body);
  }
  return out;
}

std::set<std::string> bodies_of(const std::map<std::string, ReceivedMessage>& messages) {
  std::set<std::string> out;
  for (const auto& [id, m] : messages) out.insert(m.body);
  return out;
}

bool is_sequence_number(const std::string& s) {
  return s.size() == 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool sequence_less(const std::string& a, const std::string& b) {
  return a.size() == b.size() ? a < b : a.size() < b.size();
}

std::vector<std::string> dead_letter(Fixture& f, const std::string& src, const std::string& dlq, int n,
                                     const std::string& prefix) {
  REQUIRE(n <= 10);
  const uint64_t before = f.total(dlq);
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(
        f.send_with_attributes(src, prefix + std::to_string(i),
                               R"({"index":{"DataType":"Number","StringValue":")" + std::to_string(i) + R"("}})"));
  }
  REQUIRE(f.receive(src, 10, 0).size() == static_cast<size_t>(n));  // receive count 1, visible again at once
  CHECK(f.receive(src, 10).empty());                                // past maxReceiveCount 1: to the DLQ
  REQUIRE(f.total(dlq) == before + static_cast<uint64_t>(n));
  REQUIRE(f.total(src) == 0);
  return ids;
}

std::set<std::string> sent_bodies(int n, const std::string& prefix) {
  std::set<std::string> out;
  for (int i = 0; i < n; ++i) out.insert(prefix + std::to_string(i));
  return out;
}

void check_moved(const std::map<std::string, ReceivedMessage>& moved, const std::vector<std::string>& old_ids, int n,
                 const std::string& prefix) {
  CHECK(bodies_of(moved) == sent_bodies(n, prefix));
  for (const auto& id : old_ids) CHECK(moved.count(id) == 0);
}

}  // namespace wharf::testing
