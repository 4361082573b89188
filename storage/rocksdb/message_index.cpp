// RocksEngine's in-memory index of messages and groups: where each message
// is (visible, in flight, delayed), which groups can deliver, and the
// time-driven moves between those states. Memory only, except that
// retention expiry deletes the expired messages' records.
#include <algorithm>

#include "storage/rocksdb/rocks_engine.h"

namespace wharf::storage {

void RocksEngine::index_message(Queue& q, uint64_t seq, const MessageState& state, int64_t now) {
  auto [group_it, created] = q.groups.try_emplace(state.group_id);
  Group& g = group_it->second;
  if (created) g.id = state.group_id;
  ++g.count;
  if (q.fifo) g.pending.insert(seq);
  Live& live = q.messages[seq];
  live = Live{state.visible_at_ms, state.first_receive_ms, state.sent_ms, &g, state.receive_count, Where::Visible};
  if (state.visible_at_ms <= now) {
    became_visible(q, seq, live);
  } else if (state.receive_count > 0) {
    live.where = Where::InFlight;
    q.in_flight.emplace(state.visible_at_ms, seq);
    if (q.fifo) update_ready(q, g);  // when indexed again as the group's first (undo)
  } else {
    live.where = Where::Delayed;
    q.delayed.emplace(state.visible_at_ms, seq);
    if (q.fifo) update_ready(q, g);
  }
}

MessageState RocksEngine::state_of(const Live& live) const {
  return MessageState{live.visible_at_ms, live.receive_count, live.first_receive_ms, live.sent_ms, live.group->id};
}

void RocksEngine::became_visible(Queue& q, uint64_t seq, Live& live) {
  live.where = Where::Visible;
  ++q.visible_count;
  Group& g = *live.group;
  if (!q.fifo) g.visible.insert(seq);
  update_ready(q, g);
}

// Keeps a group's place in q.ready true to its state: a group that becomes
// ready takes the next turn, at the back, and keeps it while it stays ready
// (storage/message_rules.h: FIFO groups are ready while their first
// message is visible).
void RocksEngine::update_ready(Queue& q, Group& g) {
  const bool ready =
      q.fifo ? !g.pending.empty() && q.messages.at(*g.pending.begin()).where == Where::Visible : !g.visible.empty();
  if (!ready) {
    if (g.ready_key != 0) q.ready.erase({g.ready_key, &g});
    g.ready_key = 0;
  } else if (g.ready_key == 0) {
    g.ready_key = ++q.turn;
    q.ready.emplace(g.ready_key, &g);
  }
}

// Takes a message out of the set its state keeps it in (the caller puts it
// in its next one, or forgets it).
void RocksEngine::unlist(Queue& q, uint64_t seq, const Live& live) {
  switch (live.where) {
    case Where::Visible:
      --q.visible_count;
      live.group->visible.erase(seq);
      break;
    case Where::InFlight:
      q.in_flight.erase({live.visible_at_ms, seq});
      break;
    case Where::Delayed:
      q.delayed.erase({live.visible_at_ms, seq});
      break;
  }
}

bool RocksEngine::set_visibility_deadline(Queue& q, uint64_t seq, Live& live, int64_t deadline, int64_t now) {
  if (live.where == Where::Visible && deadline <= now) return false;  // stays visible
  unlist(q, seq, live);
  live.visible_at_ms = deadline;
  if (deadline <= now) {
    became_visible(q, seq, live);
    return true;
  }
  live.where = Where::InFlight;
  q.in_flight.emplace(deadline, seq);
  update_ready(q, *live.group);
  return false;
}

void RocksEngine::forget_message(Queue& q, uint64_t seq) {
  auto m = q.messages.find(seq);
  if (m == q.messages.end()) return;
  Live& live = m->second;
  Group& g = *live.group;
  unlist(q, seq, live);
  g.pending.erase(seq);
  q.messages.erase(m);
  update_ready(q, g);
  if (--g.count == 0) {
    if (g.ready_key != 0) q.ready.erase({g.ready_key, &g});
    q.groups.erase(g.id);
  }
}

bool RocksEngine::promote_due(Queue& q, int64_t now) {
  bool any = false;
  for (auto* set : {&q.in_flight, &q.delayed}) {
    while (!set->empty() && set->begin()->first <= now) {
      const uint64_t seq = set->begin()->second;
      set->erase(set->begin());
      became_visible(q, seq, q.messages.at(seq));
      any = true;
    }
  }
  return any;
}

// Messages expire MessageRetentionPeriod after their enqueue time, whatever
// their state. The index is in send order, so expired ones are at the front
// (a message redriven to a standard DLQ keeps its older enqueue time and may
// wait behind younger ones; a receive never returns it).
void RocksEngine::expire_retention(Queue& q, int64_t now) {
  const int64_t retention = q.retention_ms();
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> expired;
  for (const auto& [seq, live] : q.messages) {
    if (live.sent_ms + retention > now) break;
    stage_removal(batch, q.id, seq);
    expired.push_back(seq);
  }
  if (expired.empty() || !write(batch)) return;
  for (uint64_t seq : expired) forget_message(q, seq);
}

// Ends receive attempts past their window, and sweeps the settled FIFO
// dedup claims from memory. Dedup records past their window stay on disk
// until the dedup column family's compaction filter drops them; a lookup
// takes one for none.
void RocksEngine::expire_dedup(Queue& q, int64_t now) {
  for (auto it = q.attempts.begin(); it != q.attempts.end();) {
    it = it->second.expires_ms <= now ? q.attempts.erase(it) : std::next(it);
  }
  sweep_pending_dedup(q, /*always=*/true);
}

// A settled claim's record is visible to a Get (settle comes after the
// write returned), or, if its write failed, there is nothing to find.
void RocksEngine::sweep_pending_dedup(Queue& q, bool always) {
  if (q.pending_dedup.empty() || (!always && q.pending_dedup.size() < q.pending_dedup_sweep_at)) return;
  std::erase_if(q.pending_dedup, [](const auto& entry) { return entry.second.outcome->settled(); });
  q.pending_dedup_sweep_at = std::max(Queue::kFewestToSweep, 2 * q.pending_dedup.size());
}

}  // namespace wharf::storage
