// The load tasks of standard queues: producers, the prefill, consumers.
#include <algorithm>

#include "scenario_run.h"

namespace wharf::bench {

namespace net = boost::asio;
using namespace std::chrono_literals;

net::awaitable<void> ScenarioRun::open_lane(size_t lane) {
  auto ec = co_await lanes_[lane]->open(10s);
  if (ec) note_error("connect", HttpReply{ec, 0, {}});
}

net::awaitable<void> ScenarioRun::producer(size_t lane, unsigned batch, bool batch_api, double rate) {
  const uint32_t slot = ledger_.open_slot();
  ThreadStats& stats = worker_of(lane).stats;
  std::vector<OutMessage> messages(batch);
  std::vector<uint64_t> ids(batch);
  for (unsigned i = 0; i < batch; ++i) messages[i].entry_id = std::to_string(i);
  Pacer pacer(worker_of(lane).io, batch, rate);
  while (phase_.load() == Phase::Timed) {
    if (pacer.paced() && !co_await pacer.wait_turn(phase_)) break;
    for (unsigned i = 0; i < batch; ++i) {
      ids[i] = ledger_.reserve(slot);
      messages[i].body = make_body(run_id_, MessageTag{ids[i], now_us(), 0, 0}, o_.size);
    }
    const uint32_t accepted = co_await send(lane, messages, batch_api);
    const bool timed = phase_.load() == Phase::Timed;
    for (unsigned i = 0; i < batch; ++i) {
      if (accepted & (1u << i)) {
        ledger_.acked(ids[i]);
        if (timed) ++stats.sent;
      } else {
        ledger_.failed(ids[i]);
      }
    }
    if (accepted == 0) co_await sleep(lane, 5ms);  // the server is failing: do not spin
  }
  --producers_active_;
}

net::awaitable<void> ScenarioRun::prefiller(size_t lane) {
  const uint32_t slot = ledger_.open_slot();
  std::vector<OutMessage> messages;
  std::vector<uint64_t> ids;
  for (;;) {
    if (phase_.load() == Phase::Done) break;
    uint64_t left = prefill_left_.load();
    uint64_t take = 0;
    do {
      if (left == 0) break;
      take = std::min<uint64_t>(left, 10);
    } while (!prefill_left_.compare_exchange_weak(left, left - take));
    if (left == 0) break;
    messages.resize(take);
    ids.resize(take);
    for (size_t i = 0; i < take; ++i) {
      ids[i] = ledger_.reserve(slot);
      messages[i].entry_id = std::to_string(i);
      messages[i].body = make_body(run_id_, MessageTag{ids[i], now_us(), 0, 0}, o_.size);
    }
    const uint32_t accepted = co_await send(lane, messages, true);
    for (size_t i = 0; i < take; ++i) {
      if (accepted & (1u << i)) {
        ledger_.acked(ids[i]);
      } else {
        ledger_.failed(ids[i]);
      }
    }
    if (accepted == 0) co_await sleep(lane, 5ms);
  }
}

bool ScenarioRun::consumer_should_stop() const {
  const Phase phase = phase_.load();
  if (phase == Phase::Done) return true;
  switch (o_.scenario) {
    case Scenario::RecvDel:
    case Scenario::Backlog:
      return ledger_.outstanding() <= 0;
    case Scenario::Pipeline:
    case Scenario::Fifo:
    case Scenario::LongPoll:
      return phase == Phase::Drain && producers_active_.load() == 0 && ledger_.outstanding() <= 0;
    default:
      return true;
  }
}

net::awaitable<void> ScenarioRun::consumer(size_t lane, int wait_seconds, bool end_to_end) {
  ThreadStats& stats = worker_of(lane).stats;
  std::vector<ReceivedMessage> got;
  std::vector<std::string> handles;
  bool first = true;
  const auto timeout = std::chrono::seconds(wait_seconds) + 30s;
  while (!consumer_should_stop()) {
    if (first) {
      ++polls_started_;
      first = false;
    }
    HttpReply r = co_await call(lane, wait_seconds > 0 ? kReceiveWait : kReceive,
                                wire_->receive_message(10, wait_seconds, o_.visibility_timeout), timeout);
    if (!r.ok()) {
      if (phase_.load() == Phase::Done) break;
      co_await sleep(lane, 10ms);
      continue;
    }
    if (!wire_->parse_receive(r.body, got)) {
      note_error("ReceiveMessage (unreadable answer)", r);
      continue;
    }
    const bool timed = phase_.load() == Phase::Timed;
    if (got.empty()) {
      if (timed) ++stats.empty_receives;
      if (wait_seconds == 0) co_await sleep(lane, 2ms);  // the rest is in flight at other consumers
      continue;
    }
    const int64_t arrived = now_us();
    handles.clear();
    for (auto& m : got) {
      handles.push_back(std::move(m.receipt_handle));
      MessageTag tag;
      switch (parse_body(m.body, run_id_, o_.size, tag)) {
        case BodyCheck::OtherRun:
          ++other_bodies_;
          continue;
        case BodyCheck::Corrupt:
          if (corrupt_.fetch_add(1) < 3) log("corrupt body: " + m.body.substr(0, 120));
          continue;
        case BodyCheck::Ok:
          break;
      }
      const auto receipt = ledger_.received(tag.id);
      if (fifo_) order_.check(tag.group, tag.seq, receipt == Ledger::Receipt::Duplicate);
      if (timed) {
        ++stats.received;
        if (end_to_end) stats.end_to_end.record(arrived - tag.sent_us);
      }
    }
    HttpReply d = co_await call(lane, kDeleteBatch, wire_->delete_message_batch(handles), 30s);
    if (d.ok()) {
      BatchOutcome outcome;
      if (!wire_->parse_batch(d.body, outcome)) {
        note_error("DeleteMessageBatch (unreadable answer)", d);
      } else if (!outcome.failed_ids.empty()) {
        note_entry_failure("DeleteMessageBatch", outcome);
      }
    }
  }
  --consumers_active_;
}

}  // namespace wharf::bench
