// RocksEngine's messages: sending (with FIFO deduplication), receiving (fair turns between groups on standard queues,
// ordered groups in turns on FIFO queues, redrive to dead-letter queues),
// deleting, and changing visibility. The SQS rules they follow are in
// storage/message_rules.h and storage/redrive_rules.h; the in-memory index is
// in message_index.cpp.
#include <algorithm>
#include <charconv>

#include "common/ids.h"
#include "storage/message_rules.h"
#include "storage/receipt_handle.h"
#include "storage/rocksdb/rocks_engine.h"
#include "storage/redrive_rules.h"
#include "storage/system_attributes.h"

namespace wharf::storage {
namespace {

// Sequence numbers are reserved on disk this many at a time.
constexpr uint64_t kSeqReservation = 1 << 16;

}  // namespace

uint64_t RocksEngine::stage_message(Queue& q, rocksdb::WriteBatch& batch, const MessageContent& content,
                                    const MessageState& state) {
  const uint64_t seq = q.next_seq++;
  if (seq >= q.seq_reserved) {
    q.seq_reserved = seq + kSeqReservation;
    std::string value;
    put_u64(value, q.seq_reserved);
    batch.Put(meta_cf_, seq_reservation_key(q.id), value);
  }
  const std::string key = message_key(q.id, seq);
  batch.Put(content_cf_, key, encode_content(content));
  batch.Put(state_cf_, key, encode_state(state));
  return seq;
}

void RocksEngine::stage_removal(rocksdb::WriteBatch& batch, uint64_t queue_id, uint64_t seq) {
  const std::string key = message_key(queue_id, seq);
  batch.SingleDelete(content_cf_, key);
  batch.Delete(state_cf_, key);
}

std::optional<MessageContent> RocksEngine::read_content(const Queue& q, uint64_t seq) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), content_cf_, message_key(q.id, seq), &value).ok()) return std::nullopt;
  return decode_content(value);
}

void RocksEngine::notify_visible(const std::string& queue_name) {
  if (listener_) listener_->messages_available(queue_name);
}

Queue* RocksEngine::dead_letter_queue(const Queue& q) {
  auto target = redrive_target(q.info.attributes, q.info.name, options_.region, options_.account_id);
  if (!target) return nullptr;
  auto found = queues_.find(*target);
  return found == queues_.end() ? nullptr : &found->second;
}

ReceivedMessage RocksEngine::received(uint64_t queue_id, bool fifo, uint64_t seq, const Live& live,
                                      MessageContent content) const {
  ReceivedMessage r;
  r.message_id = std::move(content.message_id);
  r.body = std::move(content.body);
  r.message_attributes = std::move(content.message_attributes);
  r.system_attributes = decode_system_attributes(content.system_attributes);
  r.body_md5 = std::move(content.body_md5);
  r.sent_ms = content.sent_ms;
  r.first_receive_ms = live.first_receive_ms;
  r.receive_count = live.receive_count;
  r.receipt_handle = encode_receipt_handle(ReceiptHandle{queue_id, seq, live.receive_count}, secret_);
  if (fifo) r.sequence_number = sequence_number_text(seq);
  return r;
}

// --- send ------------------------------------------------------------------
// In steps: each message is validated (storage/message_rules.h), answered as
// a duplicate or staged in the batch; the staged messages are published to
// the index; the batch is written outside the lock and the send settled.

Result<std::vector<Result<SentMessage>>> RocksEngine::send_messages(const std::string& queue_name,
                                                                    std::vector<NewMessage> messages, SendKind kind) {
  std::unique_lock lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  const SendRules rules = send_rules_of(q.fifo, q.info.attributes, q.dedup_per_group);
  if (kind == SendKind::Batch) {
    if (auto whole = check_fifo_batch(rules, messages); !whole) return whole.error();
  }
  SendInProgress send;
  for (auto& message : messages) {
    if (auto valid = validate_new_message(rules, message); !valid) {
      send.results.emplace_back(valid.error());
      continue;
    }
    std::string dedup;
    if (q.fifo) {
      dedup = deduplication_scope_key(rules, message.group_id, message.deduplication_id);
      if (answer_duplicate(q, send, dedup, now)) continue;
    }
    stage_new_message(q, send, message, rules, std::move(dedup), now);
  }
  if (!send.staged.empty()) {
    if (auto published = publish_staged(q, send, queue_name, now); !published) return published.error();
  }
  return settle_send(lock, send, queue_name, q.id);
}

// A duplicate within the window (of a send stored earlier, or earlier in
// this batch) is accepted but not enqueued again. Looked up where the claim
// can be: in memory while its send may still be writing (the duplicate
// waits for that write; one whose write failed is not a duplicate, and its
// sender cleans it up), in this batch, then on disk. A claim leaves memory
// only once its write is settled, when a Get sees its record.
bool RocksEngine::answer_duplicate(const Queue& q, SendInProgress& send, const std::string& dedup, int64_t now) {
  if (!q.pending_dedup.empty()) {
    auto pending = q.pending_dedup.find(dedup);
    if (pending != q.pending_dedup.end() && pending->second.expires_ms > now && !pending->second.outcome->failed()) {
      send.waits.emplace_back(send.results.size(), pending->second.outcome);
      send.results.emplace_back(
          SentMessage{uuid_text(pending->second.message_id), sequence_number_text(pending->second.seq)});
      return true;
    }
  }
  auto in_batch = std::find_if(send.staged.begin(), send.staged.end(),
                               [&](const SendInProgress::Staged& s) { return s.dedup == dedup; });
  if (in_batch != send.staged.end()) {
    send.results.emplace_back(SentMessage{in_batch->message_id, sequence_number_text(in_batch->seq)});
    return true;
  }
  return answer_stored_duplicate(q, send, dedup, now);
}

// The record of a claim whose write was stored (value: expiry, seq, message
// id): a duplicate while its expiry is after `now`. A record that cannot be
// read fails the entry rather than risk a second copy of the message.
bool RocksEngine::answer_stored_duplicate(const Queue& q, SendInProgress& send, const std::string& dedup, int64_t now) {
  std::string value;
  const auto s = db_->Get(rocksdb::ReadOptions(), dedup_cf_, dedup_key(q.id, dedup), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok() || value.size() < 16) {
    send.results.emplace_back(make_error(ErrorCode::InternalError, "Storage read of a deduplication record failed: " +
                                                                       (s.ok() ? "corrupt record" : s.ToString())));
    return true;
  }
  const std::string_view record(value);
  if (static_cast<int64_t>(get_u64(record)) <= now) return false;
  send.results.emplace_back(
      SentMessage{std::string(record.substr(16)), sequence_number_text(get_u64(record.substr(8)))});
  return true;
}

// Adds a valid, new message to the send's batch (and its FIFO deduplication
// record), and answers it.
void RocksEngine::stage_new_message(Queue& q, SendInProgress& send, NewMessage& message, const SendRules& rules,
                                    std::string dedup, int64_t now) {
  MessageContent content;
  content.sent_ms = now;
  content.message_id = random_uuid();
  content.body = std::move(message.body);
  content.body_md5 = std::move(message.body_md5);
  content.message_attributes = std::move(message.message_attributes);
  SystemAttributes system;
  system.aws_trace_header = std::move(message.aws_trace_header);
  if (q.fifo) system.message_deduplication_id = std::move(message.deduplication_id);
  system.message_group_id = message.group_id;
  content.system_attributes = encode_system_attributes(system);
  MessageState state;
  state.sent_ms = now;
  state.visible_at_ms = now + effective_delay_ms(rules, message);
  state.group_id = message.group_id;
  const uint64_t seq = stage_message(q, send.batch, content, state);
  if (q.fifo) {
    // Expiry and seq (8 bytes each, big-endian), then the message id.
    std::string value;
    value.reserve(16 + content.message_id.size());
    put_u64(value, static_cast<uint64_t>(now + options_.dedup_window_ms));
    put_u64(value, seq);
    value += content.message_id;
    send.batch.Put(dedup_cf_, dedup_key(q.id, dedup), value);
  }
  send.results.emplace_back(SentMessage{content.message_id, q.fifo ? sequence_number_text(seq) : std::string()});
  send.staged.push_back(SendInProgress::Staged{seq, std::move(state), std::move(dedup), content.message_id});
}

// Indexes the staged messages before the write, which happens after the
// engine lock is released: a receive that picks one of these messages
// writes, and reads its content, only after this write (see write_mu_). FIFO
// deduplication claims are published with an outcome that duplicates wait for
// (each the newest claim of its key: a key can be claimed again once its
// window has passed); settled ones are swept first, now and then.
Status RocksEngine::publish_staged(Queue& q, SendInProgress& send, const std::string& queue_name, int64_t now) {
  if (auto room = check_free_space(WriteKind::Grows); !room) return room.error();
  if (q.fifo) {
    send.outcome = std::make_shared<SendOutcome>();
    sweep_pending_dedup(q, /*always=*/false);
  }
  q.sent_total += send.staged.size();
  bool visible_now = false;
  for (auto& s : send.staged) {
    index_message(q, s.seq, s.state, now);
    if (q.fifo) {  // the key moves to the map: a failed send finds its claims by outcome
      q.pending_dedup.insert_or_assign(std::move(s.dedup), PendingDedup{uuid_bytes(s.message_id).value(), s.seq,
                                                                        now + options_.dedup_window_ms, send.outcome});
    }
    if (s.state.visible_at_ms <= now) {
      visible_now = true;
    } else if (listener_) {
      listener_->deadline_added(s.state.visible_at_ms);
    }
  }
  if (visible_now) notify_visible(queue_name);
  return Ok{};
}

// Writes the batch (releasing `lock`), settles the FIFO outcome, and answers:
// a failed write takes the staged messages back out; a duplicate of a send
// still being written answers once that send is settled.
Result<std::vector<Result<SentMessage>>> RocksEngine::settle_send(std::unique_lock<std::mutex>& lock,
                                                                  SendInProgress& send, const std::string& queue_name,
                                                                  uint64_t queue_id) {
  Status written = Ok{};
  if (send.staged.empty()) {
    lock.unlock();
  } else {
    written = write_released(lock, send.batch);
  }
  if (send.outcome) send.outcome->settle(static_cast<bool>(written));
  if (!written) {
    unstage_failed_send(send, queue_name, queue_id);
    return written.error();
  }
  for (const auto& [index, earlier] : send.waits) {
    if (!earlier->wait_stored()) {
      send.results[index] =
          make_error(ErrorCode::InternalError, "The message this one duplicates failed to be stored; send it again.");
    }
  }
  return std::move(send.results);
}

// Not stored: takes the messages and their deduplication entries back out of
// memory (a receive that picked one meanwhile found no content and answered
// without it).
void RocksEngine::unstage_failed_send(const SendInProgress& send, const std::string& queue_name, uint64_t queue_id) {
  std::lock_guard again(mu_);
  auto still = queues_.find(queue_name);
  if (still == queues_.end() || still->second.id != queue_id) return;
  Queue& sq = still->second;
  sq.sent_total -= send.staged.size();
  for (const auto& s : send.staged) forget_message(sq, s.seq);
  // Its claims that no later send replaced (nor a purge or sweep removed).
  if (send.outcome) {
    std::erase_if(sq.pending_dedup, [&](const auto& entry) { return entry.second.outcome == send.outcome; });
  }
}

// --- receive ---------------------------------------------------------------

Result<std::vector<ReceivedMessage>> RocksEngine::retry_attempt(Queue& q, const std::string& attempt_id, int64_t vt_ms,
                                                                int64_t now, bool& retried) {
  retried = false;
  auto it = q.attempts.find(attempt_id);
  if (it == q.attempts.end() || it->second.expires_ms <= now) return std::vector<ReceivedMessage>{};
  const ReceiveAttempt& attempt = it->second;
  // Only while none of its messages was deleted, received again or had its
  // visibility changed.
  for (size_t i = 0; i < attempt.messages.size(); ++i) {
    auto m = q.messages.find(attempt.messages[i].first);
    if (m == q.messages.end() || m->second.receive_count != attempt.messages[i].second ||
        m->second.where != Where::InFlight || m->second.visible_at_ms != attempt.deadlines[i]) {
      return std::vector<ReceivedMessage>{};
    }
  }
  rocksdb::WriteBatch batch;
  for (const auto& [seq, count] : attempt.messages) {
    Live next = q.messages.at(seq);
    next.visible_at_ms = now + vt_ms;
    batch.Put(state_cf_, message_key(q.id, seq), encode_state(state_of(next)));
  }
  if (auto st = write(batch); !st) return st.error();
  std::vector<ReceivedMessage> out;
  ReceiveAttempt& stored = it->second;
  for (size_t i = 0; i < stored.messages.size(); ++i) {
    const uint64_t seq = stored.messages[i].first;
    Live& live = q.messages.at(seq);
    q.in_flight.erase({live.visible_at_ms, seq});
    live.visible_at_ms = now + vt_ms;
    q.in_flight.emplace(live.visible_at_ms, seq);
    stored.deadlines[i] = live.visible_at_ms;
    auto content = read_content(q, seq);
    if (content) out.push_back(received(q.id, q.fifo, seq, live, std::move(*content)));
  }
  if (listener_) listener_->deadline_added(now + vt_ms);
  q.received_total += out.size();
  retried = true;
  return out;
}

Result<std::vector<PeekedMessage>> RocksEngine::peek_messages(const std::string& queue_name, size_t max_messages) {
  std::lock_guard lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  const Queue& q = *found.value();
  const int64_t now = this->now();
  std::vector<PeekedMessage> out;
  for (const auto& [seq, live] : q.messages) {
    if (out.size() >= max_messages) break;
    auto content = read_content(q, seq);
    if (!content) continue;
    PeekedMessage m;
    m.message_id = std::move(content->message_id);
    m.body = std::move(content->body);
    m.message_attributes = std::move(content->message_attributes);
    m.system_attributes = decode_system_attributes(content->system_attributes);
    if (live.group) m.group_id = live.group->id;
    if (q.fifo) m.sequence_number = sequence_number_text(seq);
    // A deadline already passed counts as visible, as the next receive would see it.
    const bool waiting = live.where != Where::Visible && live.visible_at_ms > now;
    m.state = !waiting ? "visible" : live.where == Where::InFlight ? "in_flight" : "delayed";
    m.visible_at_ms = waiting ? live.visible_at_ms : 0;
    m.sent_ms = content->sent_ms;
    m.first_receive_ms = live.first_receive_ms;
    m.receive_count = live.receive_count;
    m.position = std::to_string(seq);
    out.push_back(std::move(m));
  }
  return out;
}

// A peek's position is the message's sequence number, in decimal.
Status RocksEngine::delete_peeked_message(const std::string& queue_name, const std::string& position_token,
                                          const std::string& message_id) {
  uint64_t position = 0;
  const char* const end = position_token.data() + position_token.size();
  const auto [parsed_end, ec] = std::from_chars(position_token.data(), end, position);
  if (ec != std::errc() || parsed_end != end) {
    return make_error(ErrorCode::InvalidParameterValue, "Position must be the number a peek gave.");
  }
  std::lock_guard lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  auto content = q.messages.count(position) ? read_content(q, position) : std::nullopt;
  if (!content || content->message_id != message_id) {
    return make_error(ErrorCode::InvalidParameterValue, "The message " + message_id + " is no longer in the queue.");
  }
  rocksdb::WriteBatch batch;
  stage_removal(batch, q.id, position);
  if (auto st = write(batch); !st) return st.error();
  forget_message(q, position);
  ++q.deleted_total;
  if (q.fifo && !q.ready.empty()) notify_visible(queue_name);
  return Ok{};
}

// The receive itself.
// In steps: pick messages (expiring, redriving or taking each) while memory
// changes with them, commit the picks (undone if there is no room to write),
// write outside the lock, then read the picked messages' contents.

Result<std::vector<ReceivedMessage>> RocksEngine::receive_messages(const std::string& queue_name, int max_messages,
                                                                   std::optional<int> visibility_timeout,
                                                                   const std::string& attempt_id) {
  std::unique_lock lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  promote_due(q, now);
  const int64_t vt_ms =
      int64_t(visibility_timeout.value_or(static_cast<int>(attribute_int(q.info.attributes, "VisibilityTimeout")))) *
      1000;
  const bool track_attempt = q.fifo && !attempt_id.empty();
  if (track_attempt) {
    bool retried = false;
    auto again = retry_attempt(q, attempt_id, vt_ms, now, retried);
    if (!again || retried) return again;
  }
  if (q.ready.empty()) return std::vector<ReceivedMessage>{};
  if (auto room = check_in_flight_limit(q.in_flight.size()); !room) return room.error();

  ReceiveInProgress receive;
  receive.now = now;
  receive.vt_ms = vt_ms;
  receive.retention_ms = q.retention_ms();
  receive.dlq = dead_letter_queue(q);
  if (receive.dlq) receive.max_receive_count = redrive_policy(q.info.attributes)->max_receive_count;
  if (q.fifo) {
    pick_fifo_groups(q, queue_name, receive, max_messages);
  } else {
    pick_fair_turns(q, queue_name, receive, max_messages);
  }
  if (receive.batch.Count() == 0) return std::vector<ReceivedMessage>{};
  if (auto committed = commit_picks(q, receive, track_attempt ? &attempt_id : nullptr); !committed) {
    return committed.error();
  }
  const uint64_t queue_id = q.id;
  const bool fifo = q.fifo;
  // A failed write leaves the picks in flight in memory only: they come back
  // when their visibility timeout ends, as after a crash.
  if (auto st = write_released(lock, receive.batch); !st) return st.error();
  return read_received(queue_name, queue_id, fifo, receive.taken);
}

// FIFO: the ready groups in turn; from each, its visible messages in order
// up to the first that is not (storage/message_rules.h). A group taken from
// leaves the turns while its first message is in flight.
void RocksEngine::pick_fifo_groups(Queue& q, const std::string& queue_name, ReceiveInProgress& receive,
                                   int max_messages) {
  while (static_cast<int>(receive.picks.size()) < max_messages && !q.ready.empty()) {
    Group& g = *q.ready.begin()->second;
    q.ready.erase(q.ready.begin());
    g.ready_key = 0;
    // Only as many as this receive can take: a group may hold a backlog.
    const size_t wanted = static_cast<size_t>(max_messages) - receive.picks.size();
    const size_t n = fifo_receivable_run(g.pending.begin(), g.pending.end(), wanted,
                                         [&q](uint64_t seq) { return q.messages.at(seq).where == Where::Visible; });
    take_fifo_run(q, queue_name, receive, g, n);
  }
}

// Takes the first `n` messages of `g`. Taking one may remove it (expired,
// redriven), and the group with its last message: `g` is not touched after
// the last take unless it is still there.
void RocksEngine::take_fifo_run(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, Group& g,
                                size_t n) {
  if (n == 0) {  // not reached: a ready group's first message is visible
    update_ready(q, g);
    return;
  }
  const bool may_vanish = n == g.count;
  const std::string id = may_vanish ? g.id : std::string();
  auto next = g.pending.begin();
  for (size_t i = 0; i < n; ++i) {
    const uint64_t seq = *next;
    if (i + 1 < n) ++next;  // erasing `seq` leaves the other iterators valid
    take_message(q, queue_name, receive, seq);
  }
  if (!may_vanish) {
    update_ready(q, g);
  } else if (auto still = q.groups.find(id); still != q.groups.end()) {
    update_ready(q, still->second);
  }
}

// Standard: fair turns, one message from each ready group in turn.
void RocksEngine::pick_fair_turns(Queue& q, const std::string& queue_name, ReceiveInProgress& receive,
                                  int max_messages) {
  while (static_cast<int>(receive.picks.size()) < max_messages && !q.ready.empty()) {
    Group& g = *q.ready.begin()->second;
    q.ready.erase(q.ready.begin());
    g.ready_key = 0;
    const uint64_t seq = *g.visible.begin();
    const std::string id = g.id;
    take_message(q, queue_name, receive, seq);
    auto still = q.groups.find(id);
    if (still != q.groups.end()) update_ready(q, still->second);
  }
}

// Handles one visible message: expire it, redrive it, or pick it. Memory
// changes at once (`receive.undo` can restore it); dead letters are indexed
// in the DLQ only after the write.
void RocksEngine::take_message(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, uint64_t seq) {
  Live& live = q.messages.at(seq);
  const std::string key = message_key(q.id, seq);
  receive.undo.emplace_back(seq, state_of(live));
  if (live.sent_ms + receive.retention_ms <= receive.now) {
    stage_removal(receive.batch, q.id, seq);
    forget_message(q, seq);
    return;
  }
  if (receive.dlq && redrives_on_receive(live.receive_count, receive.max_receive_count) &&
      dead_letter(q, queue_name, receive, seq)) {
    return;
  }
  // Received: in flight until the deadline.
  --q.visible_count;
  Group& g = *live.group;
  g.visible.erase(seq);
  live.where = Where::InFlight;
  live.receive_count += 1;
  if (live.first_receive_ms == 0) live.first_receive_ms = receive.now;
  live.visible_at_ms = receive.now + receive.vt_ms;
  q.in_flight.emplace(live.visible_at_ms, seq);
  receive.batch.Put(state_cf_, key, encode_state(state_of(live)));
  receive.picks.push_back(seq);
}

// Moves a message past maxReceiveCount to the dead-letter queue in the
// receive's batch; false when its content is gone (it is then taken as usual).
bool RocksEngine::dead_letter(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, uint64_t seq) {
  auto content = read_content(q, seq);
  if (!content) return false;
  const Live& live = q.messages.at(seq);
  DeadLetteredMessage moved_message = dead_lettered(decode_system_attributes(content->system_attributes), live.sent_ms,
                                                    q.fifo, arn(queue_name), content->message_id, receive.now);
  MessageState moved = state_of(live);
  moved.visible_at_ms = receive.now;
  moved.sent_ms = content->sent_ms = moved_message.sent_ms;
  content->system_attributes = encode_system_attributes(moved_message.system_attributes);
  stage_removal(receive.batch, q.id, seq);
  receive.dead_letters.push_back(
      ReceiveInProgress::DeadLetter{stage_message(*receive.dlq, receive.batch, *content, moved), moved});
  forget_message(q, seq);
  return true;
}

// Makes the picks final in memory, or undoes them when there is no room to
// write: indexes the dead letters, records the receive attempt (FIFO, when
// `attempt_id` is given) and takes what the answer needs while the queue
// cannot change.
Status RocksEngine::commit_picks(Queue& q, ReceiveInProgress& receive, const std::string* attempt_id) {
  const int64_t now = receive.now;
  if (auto room = check_free_space(WriteKind::Other); !room) {
    for (auto it = receive.undo.rbegin(); it != receive.undo.rend(); ++it) {
      forget_message(q, it->first);
      index_message(q, it->first, it->second, now);
    }
    return room.error();
  }
  for (const auto& d : receive.dead_letters) index_message(*receive.dlq, d.dlq_seq, d.state, now);
  q.dead_lettered_total += receive.dead_letters.size();
  if (!receive.dead_letters.empty()) notify_visible(receive.dlq->info.name);

  receive.taken.reserve(receive.picks.size());
  ReceiveAttempt attempt;
  attempt.expires_ms = now + options_.dedup_window_ms;
  for (uint64_t seq : receive.picks) {
    const Live& live = q.messages.at(seq);
    receive.taken.push_back(ReceiveInProgress::Pick{seq, live});
    attempt.messages.emplace_back(seq, live.receive_count);
    attempt.deadlines.push_back(live.visible_at_ms);
  }
  q.received_total += receive.picks.size();
  if (attempt_id && !receive.picks.empty()) q.attempts[*attempt_id] = std::move(attempt);
  if (receive.picks.empty()) return Ok{};
  if (receive.vt_ms > 0) {
    if (listener_) listener_->deadline_added(now + receive.vt_ms);
    return Ok{};
  }
  // Visibility timeout 0: visible again at once, and their groups (still
  // ready) go to the back of the turns in the order this receive took them.
  for (uint64_t seq : receive.picks) {
    Live& live = q.messages.at(seq);
    q.in_flight.erase({live.visible_at_ms, seq});
    became_visible(q, seq, live);
  }
  notify_visible(q.info.name);
  return Ok{};
}

// Reads the picked messages' contents after the write, outside the lock:
// they never change, and every send this receive could see was written
// before it.
std::vector<ReceivedMessage> RocksEngine::read_received(const std::string& queue_name, uint64_t queue_id, bool fifo,
                                                        const std::vector<ReceiveInProgress::Pick>& taken) {
  std::vector<ReceivedMessage> out;
  std::vector<std::string> keys;
  keys.reserve(taken.size());
  for (const auto& pick : taken) keys.push_back(message_key(queue_id, pick.seq));
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(taken.size());
  std::vector<rocksdb::Status> statuses(taken.size());
  db_->MultiGet(rocksdb::ReadOptions(), content_cf_, slices.size(), slices.data(), values.data(), statuses.data());
  rocksdb::WriteBatch orphans;
  std::vector<uint64_t> orphan_seqs;
  for (size_t i = 0; i < taken.size(); ++i) {
    // Gone when purged, expired or its queue deleted since the pick, or
    // when its send failed to write: then neither the state just written
    // nor the index entry may outlive it (sequence numbers are never reused).
    if (!statuses[i].ok()) {
      orphans.Delete(state_cf_, keys[i]);
      orphan_seqs.push_back(taken[i].seq);
      continue;
    }
    auto content = decode_content(std::string_view(values[i].data(), values[i].size()));
    if (!content) continue;
    out.push_back(received(queue_id, fifo, taken[i].seq, taken[i].live, std::move(*content)));
  }
  if (!orphan_seqs.empty()) {
    std::unique_lock again(mu_);
    auto still = queues_.find(queue_name);
    if (still != queues_.end() && still->second.id == queue_id) {
      for (uint64_t seq : orphan_seqs) forget_message(still->second, seq);
    }
    // Best effort: if this write fails too, a restart indexes the stray
    // state and the next receive of it comes here again.
    write_released(again, orphans);
  }
  return out;
}

// --- delete and visibility: what a handle names ---------------------------

namespace {

// The message a decoded handle names, as storage/receipt_handle.h judges
// it; one deleted earlier in the same batch (`deleted`) no longer exists.
HandledMessage handled_message(const Queue& q, const ReceiptHandle& handle, const std::vector<uint64_t>& deleted,
                               int64_t now) {
  HandledMessage out;
  auto m = q.messages.find(handle.seq);
  if (m == q.messages.end() || std::find(deleted.begin(), deleted.end(), handle.seq) != deleted.end()) return out;
  out.exists = true;
  out.received_since = m->second.receive_count != handle.receive_count;
  out.in_flight = m->second.where == Where::InFlight && m->second.visible_at_ms > now;
  return out;
}

}  // namespace

// --- delete ----------------------------------------------------------------

Result<std::vector<Status>> RocksEngine::delete_messages(const std::string& queue_name,
                                                         const std::vector<std::string>& receipt_handles) {
  std::unique_lock lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  std::vector<Status> results;
  std::vector<uint64_t> deleted;
  rocksdb::WriteBatch batch;
  for (const auto& text : receipt_handles) {
    auto handle = decode_receipt_handle(text, secret_);
    if (!handle || handle->queue_id != q.id) {
      results.emplace_back(invalid_receipt_handle(text));
      continue;
    }
    const DeleteVerdict verdict = judge_delete(q.fifo, handled_message(q, *handle, deleted, now));
    if (verdict == DeleteVerdict::Expired) {
      results.emplace_back(receipt_handle_expired(text));
      continue;
    }
    results.emplace_back(Ok{});
    if (verdict == DeleteVerdict::AlreadyDeleted) continue;
    stage_removal(batch, q.id, handle->seq);
    deleted.push_back(handle->seq);
  }
  if (deleted.empty()) return results;
  if (auto room = check_free_space(WriteKind::Other); !room) return room.error();
  for (uint64_t seq : deleted) forget_message(q, seq);
  q.deleted_total += deleted.size();
  // A delete can unlock a FIFO group.
  if (q.fifo && !q.ready.empty()) notify_visible(queue_name);
  if (auto st = write_released(lock, batch); !st) return st.error();
  return results;
}

// --- visibility ------------------------------------------------------------

Result<std::vector<Status>> RocksEngine::change_visibilities(const std::string& queue_name,
                                                             const std::vector<VisibilityChange>& changes) {
  std::lock_guard lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  promote_due(q, now);
  std::vector<Status> results;
  std::map<uint64_t, int64_t> deadlines;  // seq -> new deadline
  rocksdb::WriteBatch batch;
  for (const auto& change : changes) {
    auto handle = decode_receipt_handle(change.receipt_handle, secret_);
    if (!handle || handle->queue_id != q.id) {
      results.emplace_back(invalid_receipt_handle(change.receipt_handle));
      continue;
    }
    const VisibilityVerdict verdict = judge_visibility_change(q.fifo, handled_message(q, *handle, {}, now));
    if (verdict == VisibilityVerdict::MessageUnavailable) {
      results.emplace_back(message_unavailable(change.receipt_handle));
      continue;
    }
    if (verdict == VisibilityVerdict::NotInFlight) {
      results.emplace_back(message_not_in_flight());
      continue;
    }
    Live next = q.messages.at(handle->seq);
    next.visible_at_ms = now + int64_t(change.visibility_timeout) * 1000;
    batch.Put(state_cf_, message_key(q.id, handle->seq), encode_state(state_of(next)));
    deadlines[handle->seq] = next.visible_at_ms;
    results.emplace_back(Ok{});
  }
  if (deadlines.empty()) return results;
  if (auto st = write(batch); !st) return st.error();
  bool visible_now = false;
  for (const auto& [seq, deadline] : deadlines) {
    if (set_visibility_deadline(q, seq, q.messages.at(seq), deadline, now)) {
      visible_now = true;
    } else if (deadline > now && listener_) {
      listener_->deadline_added(deadline);
    }
  }
  if (visible_now) notify_visible(queue_name);
  return results;
}

}  // namespace wharf::storage
