#include "storage/engine.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/ids.h"
#include "storage/receipt_handle.h"
#include "storage/records.h"

namespace wharf::storage {
namespace {

constexpr size_t kMaxInFlight = 120000;
constexpr int64_t kQueueTombstoneMs = 60'000;
constexpr int64_t kPurgeIntervalMs = 60'000;

const char* const kMetaCf = "default";
const char* const kQueuesCf = "queues";
const char* const kContentCf = "message_content";
const char* const kStateCf = "message_state";

using TimeSeq = std::pair<int64_t, uint64_t>;

struct LiveMessage {
  MessageState state;
};

// The in-memory index of one queue: message metadata, never bodies.
struct Queue {
  uint64_t id = 0;
  QueueInfo info;
  uint64_t next_seq = 1;
  std::unordered_map<uint64_t, LiveMessage> messages;
  std::set<uint64_t> visible;     // by send order
  std::set<TimeSeq> in_flight;    // by visibility deadline
  std::set<TimeSeq> delayed;      // by end of delay
  int64_t last_purge_ms = -kPurgeIntervalMs;

  int64_t retention_ms() const { return attribute_int(info.attributes, "MessageRetentionPeriod") * 1000; }
};

bool is_valid_body_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// UTF-8 decoding that rejects overlong forms, surrogates and truncation.
bool is_valid_body(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t len;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1F;
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0F;
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMinForLen[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLen[len]) return false;
    if (!is_valid_body_char(cp)) return false;
    i += len;
  }
  return true;
}

nlohmann::json queue_record(const Queue& q) {
  return {{"id", q.id},
          {"attributes", q.info.attributes},
          {"tags", q.info.tags},
          {"created", q.info.created_s},
          {"modified", q.info.modified_s}};
}

class RocksEngine final : public Engine {
 public:
  RocksEngine(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
              const EngineOptions& options)
      : db_(std::move(db)), handles_(std::move(handles)), now_ms_(options.now_ms) {
    write_options_.sync = options.sync_writes;
    meta_ = handles_[0];
    queues_cf_ = handles_[1];
    content_cf_ = handles_[2];
    state_cf_ = handles_[3];
  }

  ~RocksEngine() override {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    db_->Close();
  }

  bool load(std::string& error) {
    std::string value;
    auto s = db_->Get(rocksdb::ReadOptions(), meta_, "receipt_secret", &value);
    if (s.ok()) {
      secret_ = value;
    } else if (s.IsNotFound()) {
      secret_.resize(32);
      RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32);
      s = db_->Put(write_options_, meta_, "receipt_secret", secret_);
      if (!s.ok()) {
        error = s.ToString();
        return false;
      }
    } else {
      error = s.ToString();
      return false;
    }
    s = db_->Get(rocksdb::ReadOptions(), meta_, "next_queue_id", &value);
    if (s.ok() && value.size() == 8) next_queue_id_ = get_u64(value);

    std::unordered_map<uint64_t, Queue*> by_id;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), queues_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      auto doc = nlohmann::json::parse(it->value().ToString(), nullptr, false);
      if (doc.is_discarded()) {
        error = "corrupt queue record for " + it->key().ToString();
        return false;
      }
      Queue q;
      q.id = doc.at("id").get<uint64_t>();
      q.info.name = it->key().ToString();
      q.info.attributes = doc.at("attributes").get<AttributeMap>();
      q.info.tags = doc.at("tags").get<TagMap>();
      q.info.created_s = doc.at("created").get<int64_t>();
      q.info.modified_s = doc.at("modified").get<int64_t>();
      auto [pos, inserted] = queues_.emplace(q.info.name, std::move(q));
      by_id[pos->second.id] = &pos->second;
    }
    if (!it->status().ok()) {
      error = it->status().ToString();
      return false;
    }

    const int64_t now = this->now();
    it.reset(db_->NewIterator(rocksdb::ReadOptions(), state_cf_));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      uint64_t queue_id = 0, seq = 0;
      if (!parse_message_key(std::string_view(it->key().data(), it->key().size()), queue_id, seq)) continue;
      auto found = by_id.find(queue_id);
      if (found == by_id.end()) continue;  // left over from a deleted queue's range delete
      auto state = decode_state(std::string_view(it->value().data(), it->value().size()));
      if (!state) {
        error = "corrupt message state record";
        return false;
      }
      Queue& q = *found->second;
      q.next_seq = std::max(q.next_seq, seq + 1);
      index_message(q, seq, *state, now);
    }
    if (!it->status().ok()) {
      error = it->status().ToString();
      return false;
    }
    return true;
  }

  void set_listener(EngineListener* listener) override {
    std::lock_guard lock(mu_);
    listener_ = listener;
  }

  Result<QueueInfo> create_queue(const std::string& name, const AttributeMap& attributes,
                                 const TagMap& tags) override {
    if (!is_valid_queue_name(name)) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
    }
    auto validated = validate_queue_attributes(attributes, /*creating=*/true);
    if (!validated) return validated.error();
    std::lock_guard lock(mu_);
    const int64_t now = this->now();
    if (auto existing = queues_.find(name); existing != queues_.end()) {
      const AttributeMap& have = existing->second.info.attributes;
      for (const auto& [key, value] : validated.value()) {
        auto h = have.find(key);
        const std::string current = h == have.end() ? "" : h->second;
        if (current != value) {
          return make_error(ErrorCode::QueueNameExists,
                            "A queue already exists with the same name and a different value for attribute " + key);
        }
      }
      return existing->second.info;
    }
    if (auto deleted = deleted_at_.find(name);
        deleted != deleted_at_.end() && now - deleted->second < kQueueTombstoneMs) {
      return make_error(ErrorCode::QueueDeletedRecently,
                        "You must wait 60 seconds after deleting a queue before you can create another with the same name.");
    }
    Queue q;
    q.id = next_queue_id_;
    q.info.name = name;
    q.info.attributes = default_queue_attributes();
    for (const auto& [key, value] : validated.value()) q.info.attributes[key] = value;
    q.info.tags = tags;
    q.info.created_s = q.info.modified_s = now / 1000;
    rocksdb::WriteBatch batch;
    batch.Put(queues_cf_, name, queue_record(q).dump());
    std::string next;
    put_u64(next, q.id + 1);
    batch.Put(meta_, "next_queue_id", next);
    if (auto st = write(batch); !st) return st.error();
    ++next_queue_id_;
    deleted_at_.erase(name);
    auto [pos, inserted] = queues_.emplace(name, std::move(q));
    return pos->second.info;
  }

  Result<QueueInfo> get_queue(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto q = find(name);
    if (!q) return q.error();
    return q.value()->info;
  }

  std::vector<std::string> list_queues(std::string_view prefix) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (auto it = queues_.lower_bound(std::string(prefix)); it != queues_.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      out.push_back(it->first);
    }
    return out;
  }

  Status delete_queue(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto found = find(name);
    if (!found) return found.error();
    Queue& q = *found.value();
    rocksdb::WriteBatch batch;
    batch.Delete(queues_cf_, name);
    const std::string begin = queue_prefix(q.id), end = queue_prefix(q.id + 1);
    batch.DeleteRange(content_cf_, begin, end);
    batch.DeleteRange(state_cf_, begin, end);
    if (auto st = write(batch); !st) return st;
    deleted_at_[name] = now();
    queues_.erase(name);
    return Ok{};
  }

  Result<QueueCounts> queue_counts(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto found = find(name);
    if (!found) return found.error();
    Queue& q = *found.value();
    promote_due(q, now());
    return QueueCounts{q.visible.size(), q.in_flight.size(), q.delayed.size()};
  }

  Status set_queue_attributes(const std::string& name, const AttributeMap& attributes) override {
    auto validated = validate_queue_attributes(attributes, /*creating=*/false);
    if (!validated) return validated.error();
    std::lock_guard lock(mu_);
    auto found = find(name);
    if (!found) return found.error();
    Queue& q = *found.value();
    Queue updated_record = Queue{};
    updated_record.id = q.id;
    updated_record.info = q.info;
    for (const auto& [key, value] : validated.value()) updated_record.info.attributes[key] = value;
    updated_record.info.modified_s = now() / 1000;
    rocksdb::WriteBatch batch;
    batch.Put(queues_cf_, name, queue_record(updated_record).dump());
    if (auto st = write(batch); !st) return st;
    q.info = std::move(updated_record.info);
    return Ok{};
  }

  Status purge_queue(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto found = find(name);
    if (!found) return found.error();
    Queue& q = *found.value();
    const int64_t now = this->now();
    if (now - q.last_purge_ms < kPurgeIntervalMs) {
      return make_error(ErrorCode::PurgeQueueInProgress,
                        "Only one PurgeQueue operation on " + name + " is allowed every 60 seconds.");
    }
    rocksdb::WriteBatch batch;
    const std::string begin = queue_prefix(q.id), end = message_key(q.id, q.next_seq);
    batch.DeleteRange(content_cf_, begin, end);
    batch.DeleteRange(state_cf_, begin, end);
    if (auto st = write(batch); !st) return st;
    q.messages.clear();
    q.visible.clear();
    q.in_flight.clear();
    q.delayed.clear();
    q.last_purge_ms = now;
    return Ok{};
  }

  Result<SentMessage> send_message(const std::string& queue_name, NewMessage message) override {
    if (!is_valid_body(message.body)) {
      return make_error(ErrorCode::InvalidMessageContents,
                        "Invalid binary character in the message body. Only #x9 | #xA | #xD | #x20 to #xD7FF | "
                        "#xE000 to #xFFFD | #x10000 to #x10FFFF are allowed.");
    }
    if (message.body.empty()) {
      return make_error(ErrorCode::MissingParameter, "The request must contain the parameter MessageBody.");
    }
    std::lock_guard lock(mu_);
    auto found = find(queue_name);
    if (!found) return found.error();
    Queue& q = *found.value();
    const int64_t max_size = attribute_int(q.info.attributes, "MaximumMessageSize");
    if (static_cast<int64_t>(message.body.size() + message.attributes_size) > max_size) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "One or more parameters are invalid. Reason: Message must be shorter than " +
                            std::to_string(max_size) + " bytes.");
    }
    const int64_t now = this->now();
    const int delay = message.delay_seconds.value_or(static_cast<int>(attribute_int(q.info.attributes, "DelaySeconds")));
    MessageContent content;
    content.sent_ms = now;
    content.message_id = random_uuid();
    content.body = std::move(message.body);
    content.message_attributes = std::move(message.message_attributes);
    content.system_attributes = std::move(message.system_attributes);
    MessageState state;
    state.sent_ms = now;
    state.visible_at_ms = now + int64_t(delay) * 1000;
    const uint64_t seq = q.next_seq;
    const std::string key = message_key(q.id, seq);
    rocksdb::WriteBatch batch;
    batch.Put(content_cf_, key, encode_content(content));
    batch.Put(state_cf_, key, encode_state(state));
    if (auto st = write(batch); !st) return st.error();
    ++q.next_seq;
    index_message(q, seq, state, now);
    if (listener_) {
      if (delay > 0) {
        listener_->deadline_added(state.visible_at_ms);
      } else {
        listener_->messages_available(queue_name);
      }
    }
    return SentMessage{content.message_id};
  }

  Result<std::vector<ReceivedMessage>> receive_messages(const std::string& queue_name, int max_messages,
                                                        std::optional<int> visibility_timeout) override {
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

    // Choose, write, then apply: memory changes only once the batch is stored.
    struct Pick {
      uint64_t seq;
      MessageState next;
      std::string key;
    };
    std::vector<Pick> picks;
    std::vector<uint64_t> expired;
    rocksdb::WriteBatch batch;
    for (auto it = q.visible.begin(); it != q.visible.end() && static_cast<int>(picks.size()) < max_messages; ++it) {
      const LiveMessage& m = q.messages.at(*it);
      std::string key = message_key(q.id, *it);
      if (m.state.sent_ms + retention <= now) {
        expired.push_back(*it);
        batch.Delete(content_cf_, key);
        batch.Delete(state_cf_, key);
        continue;
      }
      MessageState next = m.state;
      next.receive_count += 1;
      if (next.first_receive_ms == 0) next.first_receive_ms = now;
      next.visible_at_ms = now + vt_ms;
      batch.Put(state_cf_, key, encode_state(next));
      picks.push_back(Pick{*it, next, std::move(key)});
    }
    if (batch.Count() == 0) return out;
    if (auto st = write(batch); !st) return st.error();
    for (uint64_t seq : expired) forget_message(q, seq);

    std::vector<rocksdb::Slice> keys;
    keys.reserve(picks.size());
    for (const auto& p : picks) keys.emplace_back(p.key);
    std::vector<rocksdb::PinnableSlice> values(picks.size());
    std::vector<rocksdb::Status> statuses(picks.size());
    db_->MultiGet(rocksdb::ReadOptions(), content_cf_, keys.size(), keys.data(), values.data(), statuses.data());

    for (size_t i = 0; i < picks.size(); ++i) {
      const Pick& p = picks[i];
      q.visible.erase(p.seq);
      q.messages[p.seq].state = p.next;
      q.in_flight.emplace(p.next.visible_at_ms, p.seq);
      if (!statuses[i].ok()) continue;  // cannot happen: content and state are written and deleted together
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

  Status delete_message(const std::string& queue_name, const std::string& receipt_handle) override {
    std::lock_guard lock(mu_);
    auto found = find(queue_name);
    if (!found) return found.error();
    Queue& q = *found.value();
    auto handle = decode_receipt_handle(receipt_handle, secret_);
    if (!handle || handle->queue_id != q.id) return invalid_handle(receipt_handle);
    auto m = q.messages.find(handle->seq);
    // Already deleted: success, as on AWS. Received again since this handle
    // was issued: success without deleting, so another consumer's receive
    // is not undone by a stale handle.
    if (m == q.messages.end() || m->second.state.receive_count != handle->receive_count) return Ok{};
    rocksdb::WriteBatch batch;
    const std::string key = message_key(q.id, handle->seq);
    batch.Delete(content_cf_, key);
    batch.Delete(state_cf_, key);
    if (auto st = write(batch); !st) return st;
    forget_message(q, handle->seq);
    return Ok{};
  }

  Status change_visibility(const std::string& queue_name, const std::string& receipt_handle,
                           int visibility_timeout) override {
    std::lock_guard lock(mu_);
    auto found = find(queue_name);
    if (!found) return found.error();
    Queue& q = *found.value();
    auto handle = decode_receipt_handle(receipt_handle, secret_);
    if (!handle || handle->queue_id != q.id) return invalid_handle(receipt_handle);
    const int64_t now = this->now();
    promote_due(q, now);
    auto m = q.messages.find(handle->seq);
    if (m == q.messages.end() || m->second.state.receive_count != handle->receive_count) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "Value " + receipt_handle +
                            " for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not "
                            "available for visibility timeout change.");
    }
    LiveMessage& live = m->second;
    if (!q.in_flight.count({live.state.visible_at_ms, handle->seq})) {
      return make_error(ErrorCode::MessageNotInflight, "The message referred to isn't in flight.");
    }
    MessageState next = live.state;
    next.visible_at_ms = now + int64_t(visibility_timeout) * 1000;
    rocksdb::WriteBatch batch;
    batch.Put(state_cf_, message_key(q.id, handle->seq), encode_state(next));
    if (auto st = write(batch); !st) return st;
    q.in_flight.erase({live.state.visible_at_ms, handle->seq});
    live.state = next;
    if (visibility_timeout == 0) {
      q.visible.insert(handle->seq);
      if (listener_) listener_->messages_available(queue_name);
    } else {
      q.in_flight.emplace(next.visible_at_ms, handle->seq);
      if (listener_) listener_->deadline_added(next.visible_at_ms);
    }
    return Ok{};
  }

  std::optional<int64_t> run_due_work() override {
    std::lock_guard lock(mu_);
    const int64_t now = this->now();
    std::optional<int64_t> next;
    auto consider = [&](int64_t t) {
      if (!next || t < *next) next = t;
    };
    for (auto& [name, q] : queues_) {
      if (promote_due(q, now) && listener_) listener_->messages_available(name);
      expire_retention(q, now);
      if (!q.in_flight.empty()) consider(q.in_flight.begin()->first);
      if (!q.delayed.empty()) consider(q.delayed.begin()->first);
      if (!q.visible.empty()) consider(q.messages.at(*q.visible.begin()).state.sent_ms + q.retention_ms());
    }
    return next;
  }

 private:
  int64_t now() const {
    if (now_ms_) return now_ms_();
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  Result<Queue*> find(const std::string& name) {
    auto it = queues_.find(name);
    if (it == queues_.end()) {
      return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
    }
    return &it->second;
  }

  static SqsError invalid_handle(const std::string& handle) {
    return make_error(ErrorCode::ReceiptHandleIsInvalid,
                      "The input receipt handle \"" + handle + "\" is not a valid receipt handle.");
  }

  Status write(rocksdb::WriteBatch& batch) {
    auto s = db_->Write(write_options_, &batch);
    if (!s.ok()) return make_error(ErrorCode::InternalError, "Storage write failed: " + s.ToString());
    return Ok{};
  }

  void index_message(Queue& q, uint64_t seq, const MessageState& state, int64_t now) {
    q.messages[seq] = LiveMessage{state};
    if (state.visible_at_ms <= now) {
      q.visible.insert(seq);
    } else if (state.receive_count > 0) {
      q.in_flight.emplace(state.visible_at_ms, seq);
    } else {
      q.delayed.emplace(state.visible_at_ms, seq);
    }
  }

  void forget_message(Queue& q, uint64_t seq) {
    auto m = q.messages.find(seq);
    if (m == q.messages.end()) return;
    const TimeSeq ts{m->second.state.visible_at_ms, seq};
    q.visible.erase(seq);
    q.in_flight.erase(ts);
    q.delayed.erase(ts);
    q.messages.erase(m);
  }

  // Delayed and in-flight messages whose time has come become visible.
  bool promote_due(Queue& q, int64_t now) {
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
  void expire_retention(Queue& q, int64_t now) {
    const int64_t retention = q.retention_ms();
    rocksdb::WriteBatch batch;
    std::vector<uint64_t> expired;
    for (uint64_t seq : q.visible) {
      if (q.messages.at(seq).state.sent_ms + retention > now) break;
      const std::string key = message_key(q.id, seq);
      batch.Delete(content_cf_, key);
      batch.Delete(state_cf_, key);
      expired.push_back(seq);
    }
    if (expired.empty() || !write(batch)) return;
    for (uint64_t seq : expired) forget_message(q, seq);
  }

  std::mutex mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;
  rocksdb::ColumnFamilyHandle* queues_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* content_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_cf_ = nullptr;
  rocksdb::WriteOptions write_options_;
  std::function<int64_t()> now_ms_;
  EngineListener* listener_ = nullptr;
  std::string secret_;
  uint64_t next_queue_id_ = 1;
  std::map<std::string, Queue> queues_;
  std::map<std::string, int64_t> deleted_at_;
};

}  // namespace

std::unique_ptr<Engine> open_rocksdb_engine(const EngineOptions& options, std::string& error) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 4;
  rocksdb::ColumnFamilyOptions cf_options;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {kMetaCf, cf_options}, {kQueuesCf, cf_options}, {kContentCf, cf_options}, {kStateCf, cf_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, options.data_dir, families, &handles, &raw);
  if (!s.ok()) {
    error = "cannot open RocksDB data dir " + options.data_dir + ": " + s.ToString();
    return nullptr;
  }
  auto engine = std::make_unique<RocksEngine>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options);
  if (!engine->load(error)) {
    error = "cannot load data dir " + options.data_dir + ": " + error;
    return nullptr;
  }
  return engine;
}

}  // namespace wharf::storage
