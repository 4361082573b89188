// RocksEngine: sending, receiving (with redrive to dead-letter queues),
// deleting, and changing the visibility of messages.
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "storage/message_text.h"
#include "storage/receipt_handle.h"
#include "storage/rocks_engine.h"

namespace wharf::storage {
namespace {

constexpr size_t kMaxInFlight = 120000;
constexpr uint64_t kSeqReservation = 1 << 16;

// Adds (or, with an empty value, removes) one String system attribute.
std::string with_system_attribute(const std::string& system_attributes, const std::string& name,
                                  const std::string& value) {
  auto doc = system_attributes.empty() ? nlohmann::json::object() : nlohmann::json::parse(system_attributes, nullptr, false);
  if (!doc.is_object()) doc = nlohmann::json::object();
  if (value.empty()) {
    doc.erase(name);
  } else {
    doc[name] = {{"DataType", "String"}, {"StringValue", value}};
  }
  return doc.empty() ? std::string() : doc.dump();
}

}  // namespace

// --- in-memory index -------------------------------------------------------

void RocksEngine::index_message(Queue& q, uint64_t seq, const MessageState& state, int64_t now) {
  q.messages[seq] = state;
  if (state.visible_at_ms <= now) {
    q.visible.insert(seq);
  } else if (state.receive_count > 0) {
    q.in_flight.emplace(state.visible_at_ms, seq);
  } else {
    q.delayed.emplace(state.visible_at_ms, seq);
  }
}

void RocksEngine::forget_message(Queue& q, uint64_t seq) {
  auto m = q.messages.find(seq);
  if (m == q.messages.end()) return;
  const TimeSeq ts{m->second.visible_at_ms, seq};
  q.visible.erase(seq);
  q.in_flight.erase(ts);
  q.delayed.erase(ts);
  q.messages.erase(m);
}

bool RocksEngine::promote_due(Queue& q, int64_t now) {
  bool any = false;
  for (auto* set : {&q.in_flight, &q.delayed}) {
    while (!set->empty() && set->begin()->first <= now) {
      q.visible.insert(set->begin()->second);
      set->erase(set->begin());
      any = true;
    }
  }
  return any;
}

// Visible messages are in send order, so the expired ones are at the front.
// Messages in flight or delayed expire once they become visible again.
void RocksEngine::expire_retention(Queue& q, int64_t now) {
  const int64_t retention = q.retention_ms();
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> expired;
  for (uint64_t seq : q.visible) {
    if (q.messages.at(seq).sent_ms + retention > now) break;
    const std::string key = message_key(q.id, seq);
    batch.Delete(content_cf_, key);
    batch.Delete(state_cf_, key);
    expired.push_back(seq);
  }
  if (expired.empty() || !write(batch)) return;
  for (uint64_t seq : expired) forget_message(q, seq);
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

// --- send ------------------------------------------------------------------

Result<std::vector<Result<SentMessage>>> RocksEngine::send_messages(const std::string& queue_name,
                                                                    std::vector<NewMessage> messages) {
  std::lock_guard lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  const int64_t max_size = attribute_int(q.info.attributes, "MaximumMessageSize");
  const int default_delay = static_cast<int>(attribute_int(q.info.attributes, "DelaySeconds"));

  std::vector<Result<SentMessage>> results;
  std::vector<std::pair<uint64_t, MessageState>> staged;
  rocksdb::WriteBatch batch;
  for (auto& message : messages) {
    if (message.body.empty()) {
      results.emplace_back(make_error(ErrorCode::MissingParameter, "The request must contain the parameter MessageBody."));
      continue;
    }
    if (!is_valid_message_text(message.body)) {
      results.emplace_back(make_error(ErrorCode::InvalidMessageContents,
                                      "Invalid binary character in the message body. Only #x9 | #xA | #xD | #x20 to "
                                      "#xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF are allowed."));
      continue;
    }
    if (static_cast<int64_t>(message.body.size() + message.attributes_size) > max_size) {
      results.emplace_back(make_error(ErrorCode::InvalidParameterValue,
                                      "One or more parameters are invalid. Reason: Message must be shorter than " +
                                          std::to_string(max_size) + " bytes."));
      continue;
    }
    MessageContent content;
    content.sent_ms = now;
    content.message_id = random_uuid();
    content.body = std::move(message.body);
    content.message_attributes = std::move(message.message_attributes);
    content.system_attributes = std::move(message.system_attributes);
    MessageState state;
    state.sent_ms = now;
    state.visible_at_ms = now + int64_t(message.delay_seconds.value_or(default_delay)) * 1000;
    staged.emplace_back(stage_message(q, batch, content, state), state);
    results.emplace_back(SentMessage{content.message_id});
  }
  if (staged.empty()) return results;
  if (auto st = write(batch); !st) return st.error();
  bool visible_now = false;
  for (const auto& [seq, state] : staged) {
    index_message(q, seq, state, now);
    if (state.visible_at_ms <= now) {
      visible_now = true;
    } else if (listener_) {
      listener_->deadline_added(state.visible_at_ms);
    }
  }
  if (visible_now) notify_visible(queue_name);
  return results;
}

// --- receive ---------------------------------------------------------------

Result<std::vector<ReceivedMessage>> RocksEngine::receive_messages(const std::string& queue_name, int max_messages,
                                                                   std::optional<int> visibility_timeout) {
  std::lock_guard lock(mu_);
  auto found = find(queue_name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  promote_due(q, now);
  std::vector<ReceivedMessage> out;
  if (q.visible.empty()) return out;
  if (q.in_flight.size() >= kMaxInFlight) {
    return make_error(ErrorCode::OverLimit, "The maximum number of in flight messages (120000) has been reached.");
  }
  const int64_t vt_ms =
      int64_t(visibility_timeout.value_or(static_cast<int>(attribute_int(q.info.attributes, "VisibilityTimeout")))) *
      1000;
  const int64_t retention = q.retention_ms();

  // The dead-letter queue, when the policy names one that exists.
  auto policy = redrive_policy(q.info.attributes);
  Queue* dlq = nullptr;
  if (policy) {
    for (auto& [name, candidate] : queues_) {
      if (arn(name) == policy->dead_letter_target_arn && &candidate != &q) dlq = &candidate;
    }
  }

  // Choose and stage; memory changes only once the batch is stored.
  struct Pick {
    uint64_t seq;
    MessageState next;
    std::string key;
  };
  struct DeadLetter {
    uint64_t source_seq;
    uint64_t dlq_seq;
    MessageState state;
  };
  std::vector<Pick> picks;
  std::vector<uint64_t> expired;
  std::vector<DeadLetter> dead_letters;
  rocksdb::WriteBatch batch;
  for (auto it = q.visible.begin(); it != q.visible.end() && static_cast<int>(picks.size()) < max_messages; ++it) {
    const MessageState& state = q.messages.at(*it);
    std::string key = message_key(q.id, *it);
    if (state.sent_ms + retention <= now) {
      expired.push_back(*it);
      batch.Delete(content_cf_, key);
      batch.Delete(state_cf_, key);
      continue;
    }
    if (dlq && state.receive_count >= static_cast<uint32_t>(policy->max_receive_count)) {
      auto content = read_content(q, *it);
      if (content) {
        // Standard queues keep the original enqueue time (retention counts
        // from the first send), the receive count and first receive time.
        content->system_attributes =
            with_system_attribute(content->system_attributes, "DeadLetterQueueSourceArn", arn(queue_name));
        MessageState moved = state;
        moved.visible_at_ms = now;
        batch.Delete(content_cf_, key);
        batch.Delete(state_cf_, key);
        dead_letters.push_back(DeadLetter{*it, stage_message(*dlq, batch, *content, moved), moved});
        continue;
      }
    }
    MessageState next = state;
    next.receive_count += 1;
    if (next.first_receive_ms == 0) next.first_receive_ms = now;
    next.visible_at_ms = now + vt_ms;
    batch.Put(state_cf_, key, encode_state(next));
    picks.push_back(Pick{*it, next, std::move(key)});
  }
  if (batch.Count() == 0) return out;
  if (auto st = write(batch); !st) return st.error();
  for (uint64_t seq : expired) forget_message(q, seq);
  for (const auto& d : dead_letters) {
    forget_message(q, d.source_seq);
    index_message(*dlq, d.dlq_seq, d.state, now);
  }
  if (!dead_letters.empty()) notify_visible(dlq->info.name);

  std::vector<rocksdb::Slice> keys;
  keys.reserve(picks.size());
  for (const auto& p : picks) keys.emplace_back(p.key);
  std::vector<rocksdb::PinnableSlice> values(picks.size());
  std::vector<rocksdb::Status> statuses(picks.size());
  db_->MultiGet(rocksdb::ReadOptions(), content_cf_, keys.size(), keys.data(), values.data(), statuses.data());

  for (size_t i = 0; i < picks.size(); ++i) {
    const Pick& p = picks[i];
    q.visible.erase(p.seq);
    q.messages[p.seq] = p.next;
    q.in_flight.emplace(p.next.visible_at_ms, p.seq);
    if (!statuses[i].ok()) continue;  // content and state are written and deleted together
    auto content = decode_content(std::string_view(values[i].data(), values[i].size()));
    if (!content) continue;
    ReceivedMessage r;
    r.message_id = std::move(content->message_id);
    r.body = std::move(content->body);
    r.message_attributes = std::move(content->message_attributes);
    r.system_attributes = std::move(content->system_attributes);
    r.sent_ms = content->sent_ms;
    r.first_receive_ms = p.next.first_receive_ms;
    r.receive_count = p.next.receive_count;
    r.receipt_handle = encode_receipt_handle(ReceiptHandle{q.id, p.seq, p.next.receive_count}, secret_);
    out.push_back(std::move(r));
  }
  if (listener_ && !picks.empty()) listener_->deadline_added(now + vt_ms);
  return out;
}

// --- delete ----------------------------------------------------------------

Result<std::vector<Status>> RocksEngine::delete_messages(const std::string& queue_name,
                                                         const std::vector<std::string>& receipt_handles) {
  std::lock_guard lock(mu_);
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
  if (auto st = write(batch); !st) return st.error();
  for (uint64_t seq : deleted) forget_message(q, seq);
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
  std::map<uint64_t, MessageState> updated;  // seq -> new state
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
    if (!q.in_flight.count({m->second.visible_at_ms, handle->seq})) {
      results.emplace_back(make_error(ErrorCode::MessageNotInflight, "The message referred to isn't in flight."));
      continue;
    }
    MessageState next = m->second;
    next.visible_at_ms = now + int64_t(change.visibility_timeout) * 1000;
    batch.Put(state_cf_, message_key(q.id, handle->seq), encode_state(next));
    updated[handle->seq] = next;
    results.emplace_back(Ok{});
  }
  if (updated.empty()) return results;
  if (auto st = write(batch); !st) return st.error();
  bool visible_now = false;
  for (const auto& [seq, next] : updated) {
    MessageState& state = q.messages.at(seq);
    q.in_flight.erase({state.visible_at_ms, seq});
    state = next;
    if (next.visible_at_ms <= now) {
      q.visible.insert(seq);
      visible_now = true;
    } else {
      q.in_flight.emplace(next.visible_at_ms, seq);
      if (listener_) listener_->deadline_added(next.visible_at_ms);
    }
  }
  if (visible_now) notify_visible(queue_name);
  return results;
}

}  // namespace wharf::storage
