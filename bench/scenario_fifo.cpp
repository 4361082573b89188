// The FIFO producer. Each producer owns the groups g with
// g % producers == index, so that each group has one sender and its order is
// the order of that sender's acknowledged sends. A batch takes its slots from
// the groups in turn, so with fewer groups than slots it holds several
// messages of one group, in order (as FIFO producers batch in practice). A
// send that fails is retried with the same deduplication id but a new
// sequence number: later messages of its group in the same batch may have
// been stored, so the retry is a later message.
#include <algorithm>
#include <deque>

#include "common/hex.h"
#include "scenario_run.h"

namespace wharf::bench {

namespace net = boost::asio;
using namespace std::chrono_literals;

struct ScenarioRun::FifoLane {
  struct Pending {
    uint64_t id = 0;
    OutMessage message;
    bool acked = false;
  };
  struct Group {
    uint32_t number = 0;
    std::deque<Pending> pending;  // oldest first; the failed ones of the last batch
    size_t taken = 0;             // of pending, in the batch being built
  };
  uint32_t slot = 0;
  std::vector<Group> groups;
  size_t cursor = 0;  // the group the next batch entry comes from
  std::vector<OutMessage> messages;
  std::vector<size_t> chosen;  // group index of each entry
  size_t pending_count = 0;
};

// Builds the next batch into lane.messages: each slot takes a group's oldest
// unacknowledged message, or a new one (in the prefill, while its share of
// --prefill lasts). False when the batch is empty.
bool ScenarioRun::next_fifo_batch(FifoLane& lane, unsigned batch, bool prefill) {
  lane.messages.clear();
  lane.chosen.clear();
  for (auto& g : lane.groups) g.taken = 0;
  for (unsigned k = 0; k < batch; ++k) {
    const size_t gi = lane.cursor;
    lane.cursor = (lane.cursor + 1) % lane.groups.size();
    FifoLane::Group& g = lane.groups[gi];
    if (g.taken == g.pending.size()) {
      if (prefill) {
        uint64_t left = prefill_left_.load();
        while (left > 0 && !prefill_left_.compare_exchange_weak(left, left - 1)) {
        }
        if (left == 0) continue;  // this producer's share is sent
      }
      ++lane.pending_count;
      FifoLane::Pending p;
      p.id = ledger_.reserve(lane.slot);
      p.message.group_id = "g" + std::to_string(g.number);
      p.message.dedup_id = "d";
      append_hex_number(p.message.dedup_id, p.id, 16);
      g.pending.push_back(std::move(p));
    }
    FifoLane::Pending& p = g.pending[g.taken++];
    // New, or a retry: later than anything of its group sent so far.
    p.message.body = make_body(run_id_, MessageTag{p.id, now_us(), g.number, fifo_next_seq_[g.number]++}, o_.size);
    p.message.entry_id = std::to_string(lane.messages.size());
    lane.messages.push_back(p.message);
    lane.chosen.push_back(gi);
  }
  return !lane.messages.empty();
}

// Entries of one group are in pending order; keeps the failed ones.
void ScenarioRun::settle_fifo_batch(FifoLane& lane, uint32_t accepted, bool timed, ThreadStats& stats) {
  for (auto& g : lane.groups) g.taken = 0;
  for (size_t k = 0; k < lane.chosen.size(); ++k) {
    FifoLane::Group& g = lane.groups[lane.chosen[k]];
    const size_t at = g.taken++;
    if (accepted & (1u << k)) {
      ledger_.acked(g.pending[at].id);
      g.pending[at].acked = true;
      --lane.pending_count;
      if (timed) ++stats.sent;
    }
  }
  for (auto& g : lane.groups) {
    std::erase_if(g.pending, [](const FifoLane::Pending& p) { return p.acked; });
  }
}

// With prefill set it runs in the prefill phase instead of the timed one: it
// sends its share of the --prefill messages (taken from prefill_left_) and
// ends when all are acknowledged.
net::awaitable<void> ScenarioRun::fifo_producer(size_t lane_index, unsigned index, unsigned producers, unsigned batch,
                                                double rate, bool prefill) {
  FifoLane lane;
  lane.slot = ledger_.open_slot();
  ThreadStats& stats = worker_of(lane_index).stats;
  for (uint32_t g = index; g < o_.groups; g += producers) lane.groups.push_back(FifoLane::Group{g, {}, 0});
  batch = std::max(1u, batch);
  Pacer pacer(worker_of(lane_index).io, batch, rate);
  const Phase phase = prefill ? Phase::Prefill : Phase::Timed;
  while (phase_.load() == phase) {
    if (pacer.paced() && !co_await pacer.wait_turn(phase_)) break;
    if (!next_fifo_batch(lane, batch, prefill)) {  // prefill: nothing new to send in this window
      if (lane.pending_count == 0) break;
      continue;
    }
    const uint32_t accepted = co_await send(lane_index, lane.messages, batch > 1);
    settle_fifo_batch(lane, accepted, !prefill && phase_.load() == Phase::Timed, stats);
    if (accepted != (1u << lane.chosen.size()) - 1) co_await sleep(lane_index, 5ms);
  }
  for (auto& g : lane.groups) {
    for (auto& p : g.pending) ledger_.failed(p.id);  // never acknowledged; may still arrive
  }
  --producers_active_;
}

}  // namespace wharf::bench
