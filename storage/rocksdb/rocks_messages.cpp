// RocksEngine: the in-memory index of messages and groups; sending (with FIFO
// deduplication), receiving (fair turns between groups on standard queues,
// ordered and locked groups on FIFO queues, redrive to dead-letter queues),
// deleting, and changing visibility.
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>

#include "common/ids.h"
#include "storage/message_text.h"
#include "storage/receipt_handle.h"
#include "storage/rocksdb/rocks_engine.h"
#include "storage/system_attributes.h"

namespace wharf::storage {
namespace {

constexpr size_t kMaxInFlight = 120000;
constexpr uint64_t kSeqReservation = 1 << 16;

// The content-based MessageDeduplicationId: hex SHA-256 of the body.
std::string sha256_hex_of(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
  return hex_lower(digest, len);
}

// 20 decimal digits, strictly increasing with the queue's sequence numbers.
std::string sequence_number(uint64_t seq) {
  std::string digits = std::to_string(seq);
  return "1" + std::string(19 - std::min<size_t>(19, digits.size()), '0') + digits;
}

}  // namespace

// --- the in-memory index ---------------------------------------------------

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
    if (q.fifo) {
      ++g.in_flight;
      update_ready(q, g);
    }
  } else {
    live.where = Where::Delayed;
    q.delayed.emplace(state.visible_at_ms, seq);
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

// Keeps a group's place in q.ready true to its state.
void RocksEngine::update_ready(Queue& q, Group& g) {
  bool ready;
  uint64_t key;
  if (q.fifo) {
    ready = g.in_flight == 0 && !g.pending.empty() && q.messages.at(*g.pending.begin()).where == Where::Visible;
    key = ready ? *g.pending.begin() : 0;
  } else {
    ready = !g.visible.empty();
    key = g.ready_key != 0 ? g.ready_key : ++q.turn;  // a group keeps its turn while it stays ready
  }
  if (g.ready_key != 0 && (!ready || key != g.ready_key)) {
    q.ready.erase({g.ready_key, &g});
    g.ready_key = 0;
  }
  if (ready && g.ready_key == 0) {
    g.ready_key = key;
    q.ready.emplace(key, &g);
  }
}

void RocksEngine::forget_message(Queue& q, uint64_t seq) {
  auto m = q.messages.find(seq);
  if (m == q.messages.end()) return;
  Live& live = m->second;
  Group& g = *live.group;
  switch (live.where) {
    case Where::Visible:
      --q.visible_count;
      g.visible.erase(seq);
      break;
    case Where::InFlight:
      q.in_flight.erase({live.visible_at_ms, seq});
      if (q.fifo) --g.in_flight;
      break;
    case Where::Delayed:
      q.delayed.erase({live.visible_at_ms, seq});
      break;
  }
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
      Live& live = q.messages.at(seq);
      if (live.where == Where::InFlight && q.fifo) --live.group->in_flight;
      became_visible(q, seq, live);
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
    const std::string key = message_key(q.id, seq);
    batch.Delete(content_cf_, key);
    batch.Delete(state_cf_, key);
    expired.push_back(seq);
  }
  if (expired.empty() || !write(batch)) return;
  for (uint64_t seq : expired) forget_message(q, seq);
}

// Ends FIFO dedup entries and receive attempts past their window. Memory
// only: the dedup column family's compaction filter drops expired records
// on disk, and loading skips them.
void RocksEngine::expire_dedup(Queue& q, int64_t now) {
  for (auto it = q.attempts.begin(); it != q.attempts.end();) {
    it = it->second.expires_ms <= now ? q.attempts.erase(it) : std::next(it);
  }
  while (!q.dedup_expiry.empty() && q.dedup_expiry.front().first <= now) {
    const auto& [expires, key] = q.dedup_expiry.front();
    auto entry = q.dedup.find(key);
    if (entry != q.dedup.end() && entry->second.expires_ms == expires) q.dedup.erase(entry);
    q.dedup_expiry.pop_front();
  }
}

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

std::optional<MessageContent> RocksEngine::read_content(const Queue& q, uint64_t seq) {
  std::string value;
  if (!db_->Get(rocksdb::ReadOptions(), content_cf_, message_key(q.id, seq), &value).ok()) return std::nullopt;
  return decode_content(value);
}

SqsError RocksEngine::invalid_handle(const std::string& handle) {
  return make_error(ErrorCode::ReceiptHandleIsInvalid,
                    "The input receipt handle \"" + handle + "\" is not a valid receipt handle.");
}

void RocksEngine::notify_visible(const std::string& queue_name) {
  if (listener_) listener_->messages_available(queue_name);
}

Queue* RocksEngine::dead_letter_queue(const Queue& q) {
  auto policy = redrive_policy(q.info.attributes);
  if (!policy) return nullptr;
  for (auto& [name, candidate] : queues_) {
    if (&candidate != &q && arn(name) == policy->dead_letter_target_arn) return &candidate;
  }
  return nullptr;
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
  if (fifo) r.sequence_number = sequence_number(seq);
  return r;
}

// --- send ------------------------------------------------------------------

Result<std::vector<Result<SentMessage>>> RocksEngine::send_messages(const std::string& queue_name,
                                                                    std::vector<NewMessage> messages) {
  std::unique_lock lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  const AttributeMap& attributes = q.info.attributes;
  const int64_t max_size = attribute_int(attributes, "MaximumMessageSize");
  const int default_delay = static_cast<int>(attribute_int(attributes, "DelaySeconds"));
  const bool content_dedup =
      attributes.count("ContentBasedDeduplication") && attributes.at("ContentBasedDeduplication") == "true";
  const bool dedup_per_group =
      attributes.count("DeduplicationScope") && attributes.at("DeduplicationScope") == "messageGroup";

  std::vector<Result<SentMessage>> results;
  struct Staged {
    uint64_t seq;
    MessageState state;
    std::string dedup;  // FIFO: the dedup key it claims
    std::string message_id;
  };
  std::vector<Staged> staged;
  // FIFO: duplicates of sends still being written, by result index.
  std::vector<std::pair<size_t, std::shared_ptr<const SendOutcome>>> waits;
  rocksdb::WriteBatch batch;
  auto fail = [&](ErrorCode code, std::string message) { results.emplace_back(make_error(code, std::move(message))); };
  for (auto& message : messages) {
    if (message.body.empty()) {
      fail(ErrorCode::MissingParameter, "The request must contain the parameter MessageBody.");
      continue;
    }
    if (!is_valid_message_text(message.body)) {
      fail(ErrorCode::InvalidMessageContents,
           "Invalid binary character in the message body. Only #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD "
           "| #x10000 to #x10FFFF are allowed.");
      continue;
    }
    if (static_cast<int64_t>(message.body.size() + message.attributes_size) > max_size) {
      fail(ErrorCode::InvalidParameterValue,
           "One or more parameters are invalid. Reason: Message must be shorter than " + std::to_string(max_size) +
               " bytes.");
      continue;
    }
    std::string dedup;
    if (q.fifo) {
      if (message.group_id.empty()) {
        fail(ErrorCode::MissingParameter, "The request must contain the parameter MessageGroupId.");
        continue;
      }
      if (message.delay_seconds) {
        fail(ErrorCode::InvalidParameterValue,
             "Value " + std::to_string(*message.delay_seconds) +
                 " for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid "
                 "for this queue type.");
        continue;
      }
      if (message.deduplication_id.empty()) {
        if (!content_dedup) {
          fail(ErrorCode::InvalidParameterValue,
               "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
               "explicitly");
          continue;
        }
        message.deduplication_id = sha256_hex_of(message.body);
      }
      dedup = (dedup_per_group ? message.group_id + '\n' : std::string()) + message.deduplication_id;
      // A duplicate within the window (of a send stored earlier, or earlier
      // in this batch) is accepted but not enqueued again.
      // One whose write failed is not there: its sender cleans it up.
      auto earlier = q.dedup.find(dedup);
      if (earlier != q.dedup.end() && earlier->second.expires_ms > now &&
          !(earlier->second.outcome && earlier->second.outcome->failed())) {
        if (earlier->second.outcome) waits.emplace_back(results.size(), earlier->second.outcome);
        results.emplace_back(SentMessage{uuid_text(earlier->second.message_id), sequence_number(earlier->second.seq)});
        continue;
      }
      auto in_batch = std::find_if(staged.begin(), staged.end(), [&](const Staged& s) { return s.dedup == dedup; });
      if (in_batch != staged.end()) {
        results.emplace_back(SentMessage{in_batch->message_id, sequence_number(in_batch->seq)});
        continue;
      }
    } else if (!message.deduplication_id.empty()) {
      fail(ErrorCode::InvalidParameterValue,
           "The request include parameter MessageDeduplicationId that is not valid for this queue type.");
      continue;
    }
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
    state.visible_at_ms = now + int64_t(message.delay_seconds.value_or(default_delay)) * 1000;
    state.group_id = message.group_id;
    const uint64_t seq = stage_message(q, batch, content, state);
    if (q.fifo) {
      std::string value;
      put_u64(value, static_cast<uint64_t>(now + options_.dedup_window_ms));
      put_u64(value, seq);
      value += content.message_id;
      batch.Put(dedup_cf_, dedup_key(q.id, dedup), value);
    }
    results.emplace_back(SentMessage{content.message_id, q.fifo ? sequence_number(seq) : std::string()});
    staged.push_back(Staged{seq, std::move(state), std::move(dedup), content.message_id});
  }
  // Indexed before the write, which happens after the engine lock is
  // released: a receive that picks one of these messages writes, and reads
  // its content, only after this write (see write_mu_). FIFO deduplication
  // entries are published with an outcome that duplicates wait for.
  std::shared_ptr<SendOutcome> outcome;
  if (!staged.empty()) {
    if (auto room = check_free_space(WriteKind::Grows); !room) return room.error();
    if (q.fifo) outcome = std::make_shared<SendOutcome>();
    q.sent_total += staged.size();
    bool visible_now = false;
    for (const auto& s : staged) {
      index_message(q, s.seq, s.state, now);
      if (q.fifo) {
        // A key can be claimed again once its window has passed.
        const int64_t expires = now + options_.dedup_window_ms;
        q.dedup[s.dedup] = DedupEntry{uuid_bytes(s.message_id).value(), s.seq, expires, outcome};
        q.dedup_expiry.emplace_back(expires, s.dedup);
      }
      if (s.state.visible_at_ms <= now) {
        visible_now = true;
      } else if (listener_) {
        listener_->deadline_added(s.state.visible_at_ms);
      }
    }
    if (visible_now) notify_visible(queue_name);
  }
  const uint64_t queue_id = q.id;
  Status written = Ok{};
  if (staged.empty()) {
    lock.unlock();
  } else {
    written = write_released(lock, batch);
  }
  if (outcome) outcome->settle(static_cast<bool>(written));
  if (!written) {
    // Not stored: take the messages and their deduplication entries back out
    // of memory (a receive that picked one meanwhile found no content and
    // answered without it).
    std::lock_guard again(mu_);
    auto still = queues_.find(queue_name);
    if (still != queues_.end() && still->second.id == queue_id) {
      Queue& sq = still->second;
      sq.sent_total -= staged.size();
      for (const auto& s : staged) {
        forget_message(sq, s.seq);
        auto d = s.dedup.empty() ? sq.dedup.end() : sq.dedup.find(s.dedup);
        if (d != sq.dedup.end() && uuid_text(d->second.message_id) == s.message_id) sq.dedup.erase(d);
      }
    }
    return written.error();
  }
  for (const auto& [index, earlier] : waits) {
    if (!earlier->wait_stored()) {
      results[index] =
          make_error(ErrorCode::InternalError, "The message this one duplicates failed to be stored; send it again.");
    }
  }
  return results;
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
    if (q.fifo) m.sequence_number = sequence_number(seq);
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
  const std::string key = message_key(q.id, position);
  batch.Delete(content_cf_, key);
  batch.Delete(state_cf_, key);
  if (auto st = write(batch); !st) return st.error();
  forget_message(q, position);
  ++q.deleted_total;
  if (q.fifo && !q.ready.empty()) notify_visible(queue_name);
  return Ok{};
}

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
  std::vector<ReceivedMessage> out;
  if (q.ready.empty()) return out;
  if (q.in_flight.size() >= kMaxInFlight) {
    return make_error(ErrorCode::OverLimit, "The maximum number of in flight messages (120000) has been reached.");
  }
  const int64_t retention = q.retention_ms();
  Queue* dlq = dead_letter_queue(q);
  const auto policy = redrive_policy(q.info.attributes);

  // Memory changes as messages are chosen; `undo` restores it if the write
  // fails. Dead letters are indexed in the DLQ only after the write.
  rocksdb::WriteBatch batch;
  std::vector<std::pair<uint64_t, MessageState>> undo;
  std::vector<uint64_t> picks;
  struct DeadLetter {
    uint64_t dlq_seq;
    MessageState state;
  };
  std::vector<DeadLetter> dead_letters;

  // Handles one visible message: expire it, redrive it, or pick it.
  auto take = [&](uint64_t seq) {
    Live& live = q.messages.at(seq);
    const std::string key = message_key(q.id, seq);
    undo.emplace_back(seq, state_of(live));
    if (live.sent_ms + retention <= now) {
      batch.Delete(content_cf_, key);
      batch.Delete(state_cf_, key);
      forget_message(q, seq);
      return;
    }
    if (dlq && live.receive_count >= static_cast<uint32_t>(policy->max_receive_count)) {
      if (auto content = read_content(q, seq)) {
        SystemAttributes system = decode_system_attributes(content->system_attributes);
        system.dead_letter_queue_source_arn = arn(queue_name);
        MessageState moved = state_of(live);
        moved.visible_at_ms = now;
        // Standard queues keep the enqueue time (retention counts from the
        // first send); FIFO queues reset it and, as AWS documents, replace
        // the deduplication id with the message id.
        if (q.fifo) {
          moved.sent_ms = content->sent_ms = now;
          system.message_deduplication_id = content->message_id;
        }
        content->system_attributes = encode_system_attributes(system);
        batch.Delete(content_cf_, key);
        batch.Delete(state_cf_, key);
        dead_letters.push_back(DeadLetter{stage_message(*dlq, batch, *content, moved), moved});
        forget_message(q, seq);
        return;
      }
    }
    // Received: in flight until the deadline.
    --q.visible_count;
    Group& g = *live.group;
    g.visible.erase(seq);
    live.where = Where::InFlight;
    live.receive_count += 1;
    if (live.first_receive_ms == 0) live.first_receive_ms = now;
    live.visible_at_ms = now + vt_ms;
    q.in_flight.emplace(live.visible_at_ms, seq);
    if (q.fifo) ++g.in_flight;
    batch.Put(state_cf_, key, encode_state(state_of(live)));
    picks.push_back(seq);
  };

  if (q.fifo) {
    // Oldest group first; within a group its visible messages in order,
    // then the group is locked while any is in flight.
    while (static_cast<int>(picks.size()) < max_messages && !q.ready.empty()) {
      Group& g = *q.ready.begin()->second;
      q.ready.erase(q.ready.begin());
      g.ready_key = 0;
      // Only as many as this receive can take: a group may hold a backlog.
      const size_t wanted = static_cast<size_t>(max_messages) - picks.size();
      std::vector<uint64_t> run;
      for (uint64_t seq : g.pending) {
        if (run.size() == wanted || q.messages.at(seq).where != Where::Visible) break;
        run.push_back(seq);
      }
      const std::string id = g.id;  // `g` goes away if its last message leaves
      for (uint64_t seq : run) {
        if (static_cast<int>(picks.size()) >= max_messages) break;
        take(seq);
      }
      auto still = q.groups.find(id);
      if (still != q.groups.end()) update_ready(q, still->second);
    }
  } else {
    // Fair turns: one message from each ready group in turn.
    while (static_cast<int>(picks.size()) < max_messages && !q.ready.empty()) {
      Group& g = *q.ready.begin()->second;
      q.ready.erase(q.ready.begin());
      g.ready_key = 0;
      const uint64_t seq = *g.visible.begin();
      const std::string id = g.id;
      take(seq);
      auto still = q.groups.find(id);
      if (still != q.groups.end()) update_ready(q, still->second);
    }
  }
  if (batch.Count() == 0) return out;
  if (auto room = check_free_space(WriteKind::Other); !room) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
      forget_message(q, it->first);
      index_message(q, it->first, it->second, now);
    }
    return room.error();
  }
  for (const auto& d : dead_letters) index_message(*dlq, d.dlq_seq, d.state, now);
  q.dead_lettered_total += dead_letters.size();
  if (!dead_letters.empty()) notify_visible(dlq->info.name);

  // What the answer needs, taken while the queue cannot change.
  struct Pick {
    uint64_t seq;
    Live live;
  };
  std::vector<Pick> taken;
  taken.reserve(picks.size());
  ReceiveAttempt attempt;
  attempt.expires_ms = now + options_.dedup_window_ms;
  for (uint64_t seq : picks) {
    const Live& live = q.messages.at(seq);
    taken.push_back(Pick{seq, live});
    attempt.messages.emplace_back(seq, live.receive_count);
    attempt.deadlines.push_back(live.visible_at_ms);
  }
  const uint64_t queue_id = q.id;
  const bool fifo = q.fifo;
  q.received_total += picks.size();
  if (track_attempt && !picks.empty()) q.attempts[attempt_id] = std::move(attempt);
  if (listener_ && !picks.empty()) listener_->deadline_added(now + vt_ms);

  // A failed write leaves the picks in flight in memory only: they come back
  // when their visibility timeout ends, as after a crash.
  if (auto st = write_released(lock, batch); !st) return st.error();

  // The contents are read after the write, outside the lock: they never
  // change, and every send this receive could see was written before it.
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

// --- delete ----------------------------------------------------------------

Result<std::vector<Status>> RocksEngine::delete_messages(const std::string& queue_name,
                                                         const std::vector<std::string>& receipt_handles) {
  std::unique_lock lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  std::vector<Status> results;
  std::vector<uint64_t> deleted;
  rocksdb::WriteBatch batch;
  for (const auto& text : receipt_handles) {
    auto handle = decode_receipt_handle(text, secret_);
    if (!handle || handle->queue_id != q.id) {
      results.emplace_back(invalid_handle(text));
      continue;
    }
    results.emplace_back(Ok{});
    // Already deleted: success, as on AWS. Received again since this handle
    // was issued: success without deleting, so that a stale handle does not
    // undo another consumer's receive.
    auto m = q.messages.find(handle->seq);
    if (m == q.messages.end() || m->second.receive_count != handle->receive_count) continue;
    if (std::find(deleted.begin(), deleted.end(), handle->seq) != deleted.end()) continue;
    const std::string key = message_key(q.id, handle->seq);
    batch.Delete(content_cf_, key);
    batch.Delete(state_cf_, key);
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
      results.emplace_back(invalid_handle(change.receipt_handle));
      continue;
    }
    auto m = q.messages.find(handle->seq);
    if (m == q.messages.end() || m->second.receive_count != handle->receive_count) {
      results.emplace_back(make_error(ErrorCode::InvalidParameterValue,
                                      "Value " + change.receipt_handle +
                                          " for parameter ReceiptHandle is invalid. Reason: Message does not exist or "
                                          "is not available for visibility timeout change."));
      continue;
    }
    if (m->second.where != Where::InFlight) {
      results.emplace_back(make_error(ErrorCode::MessageNotInflight, "The message referred to isn't in flight."));
      continue;
    }
    Live next = m->second;
    next.visible_at_ms = now + int64_t(change.visibility_timeout) * 1000;
    batch.Put(state_cf_, message_key(q.id, handle->seq), encode_state(state_of(next)));
    deadlines[handle->seq] = next.visible_at_ms;
    results.emplace_back(Ok{});
  }
  if (deadlines.empty()) return results;
  if (auto st = write(batch); !st) return st.error();
  bool visible_now = false;
  for (const auto& [seq, deadline] : deadlines) {
    Live& live = q.messages.at(seq);
    q.in_flight.erase({live.visible_at_ms, seq});
    live.visible_at_ms = deadline;
    if (deadline <= now) {
      if (q.fifo) --live.group->in_flight;
      became_visible(q, seq, live);
      visible_now = true;
    } else {
      q.in_flight.emplace(deadline, seq);
      if (listener_) listener_->deadline_added(deadline);
    }
  }
  if (visible_now) notify_visible(queue_name);
  return results;
}

}  // namespace wharf::storage
