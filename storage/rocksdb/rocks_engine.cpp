// RocksEngine: lifecycle, queues and their attributes, time-driven work.
#include "storage/rocksdb/rocks_engine.h"

#include <nlohmann/json.hpp>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <filesystem>
#include <string_view>

#include "storage/arn.h"
#include "storage/queue_tags.h"
#include "storage/redrive_rules.h"

namespace wharf::storage {
namespace {

constexpr int64_t kPurgeIntervalMs = 60'000;

// A FIFO queue's record keeps the DeduplicationScope in effect
// ("deduplication_scope"); records written before it was kept have none.
nlohmann::json queue_record(const Queue& q, const QueueInfo& info) {
  nlohmann::json record = {{"id", q.id},
                           {"attributes", info.attributes},
                           {"tags", info.tags},
                           {"created", info.created_s},
                           {"modified", info.modified_s}};
  if (q.fifo) record["deduplication_scope"] = q.dedup_per_group ? "messageGroup" : "queue";
  return record;
}

}  // namespace

// --- lifecycle -------------------------------------------------------------

RocksEngine::RocksEngine(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                         const EngineOptions& options, const RocksOptions& rocks)
    : db_(std::move(db)), handles_(std::move(handles)), options_(options), rocks_(rocks) {
  write_options_.sync = rocks.sync_writes;
  flushed_ = log_position();
  meta_cf_ = handles_[0];
  queues_cf_ = handles_[1];
  content_cf_ = handles_[2];
  state_cf_ = handles_[3];
  tasks_cf_ = handles_[4];
  dedup_cf_ = handles_[5];
}

RocksEngine::~RocksEngine() {
  if (rocks_.buffered_log) db_->FlushWAL(/*sync=*/false);
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
  db_->Close();
  db_.reset();  // before rocks_, which holds the in-memory Env it may run on
}

bool RocksEngine::load(std::string& error) {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), meta_cf_, "receipt_secret", &value);
  if (s.ok()) {
    secret_ = value;
  } else if (s.IsNotFound()) {
    secret_.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(secret_.data()), 32);
    s = db_->Put(write_options_, meta_cf_, "receipt_secret", secret_);
  }
  if (!s.ok()) {
    error = s.ToString();
    return false;
  }
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, "next_queue_id", &value);
  if (s.ok() && value.size() == 8) next_queue_id_ = get_u64(value);
  // FIFO deduplication records are not loaded: each send looks its key up.
  return load_queues(error) && load_messages(error) && load_move_tasks(error);
}

bool RocksEngine::load_queues(std::string& error) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), queues_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto doc = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
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
    q.fifo = is_fifo(q.info.attributes);
    const auto scope = doc.find("deduplication_scope");
    q.dedup_per_group =
        q.fifo && (scope != doc.end() && scope->is_string() ? scope->get<std::string>() == "messageGroup"
                                                            : deduplication_per_group_of(q.info.attributes));
    std::string reserved;
    auto st = db_->Get(rocksdb::ReadOptions(), meta_cf_, seq_reservation_key(q.id), &reserved);
    if (st.ok() && reserved.size() == 8) q.next_seq = q.seq_reserved = get_u64(reserved);
    queues_.emplace(q.info.name, std::move(q));
  }
  if (!it->status().ok()) error = it->status().ToString();
  return it->status().ok();
}

bool RocksEngine::load_messages(std::string& error) {
  std::unordered_map<uint64_t, Queue*> by_id;
  for (auto& [name, q] : queues_) by_id[q.id] = &q;
  const int64_t now = this->now();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_cf_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t queue_id = 0, seq = 0;
    if (!parse_message_key(std::string_view(it->key().data(), it->key().size()), queue_id, seq)) continue;
    auto found = by_id.find(queue_id);
    if (found == by_id.end()) continue;
    auto state = decode_state(std::string_view(it->value().data(), it->value().size()));
    if (!state) {
      error = "corrupt message state record";
      return false;
    }
    Queue& q = *found->second;
    q.next_seq = std::max(q.next_seq, seq + 1);
    index_message(q, seq, *state, now);
  }
  if (!it->status().ok()) error = it->status().ToString();
  return it->status().ok();
}

void RocksEngine::set_listener(EngineListener* listener) {
  std::lock_guard lock(mu_);
  listener_ = listener;
}

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t RocksEngine::now() const { return options_.now_ms ? options_.now_ms() : wall_clock_ms(); }

Result<Queue*> RocksEngine::find(const std::string& name) {
  auto it = queues_.find(name);
  if (it == queues_.end()) return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
  return &it->second;
}

std::string RocksEngine::arn(const std::string& name) const {
  return queue_arn(options_.region, options_.account_id, name);
}

Status RocksEngine::check_free_space(WriteKind kind) {
  if (rocks_.in_memory) return Ok{};  // no disk to fill
  const auto now = std::chrono::steady_clock::now();
  if (now - free_checked_ >= std::chrono::milliseconds(100)) {
    std::error_code ec;
    const auto space = std::filesystem::space(rocks_.data_dir, ec);
    free_bytes_ = ec ? INT64_MAX : static_cast<int64_t>(space.available);
    free_checked_ = now;
  }
  const int64_t needed = kind == WriteKind::Grows ? rocks_.send_reserve_bytes : rocks_.write_floor_bytes;
  if (free_bytes_ >= needed) return Ok{};
  return make_error(ErrorCode::ServiceUnavailable,
                    "The data directory's disk is nearly full (" + std::to_string(free_bytes_ >> 20) + " MiB free; " +
                        (kind == WriteKind::Grows ? "new messages need " : "changes need ") +
                        std::to_string(needed >> 20) + " MiB). Retry once space is freed.");
}

Status RocksEngine::write(rocksdb::WriteBatch& batch, WriteKind kind) {
  if (auto room = check_free_space(kind); !room) return room;
  std::lock_guard in_order(write_mu_);
  return commit(batch);
}

Status RocksEngine::write_released(std::unique_lock<std::mutex>& lock, rocksdb::WriteBatch& batch) {
  std::lock_guard in_order(write_mu_);
  lock.unlock();
  return commit(batch);
}

Status RocksEngine::commit(rocksdb::WriteBatch& batch) {
  if (rocks_.write_fault && rocks_.write_fault()) {
    return make_error(ErrorCode::InternalError, "Storage write failed: injected fault");
  }
  auto s = db_->Write(write_options_, &batch);
  if (!s.ok()) return make_error(ErrorCode::InternalError, "Storage write failed: " + s.ToString());
  if (rocks_.buffered_log && !log_flush_deferred()) return flush_log();
  return Ok{};
}

void RocksEngine::put_queue_record(rocksdb::WriteBatch& batch, const std::string& name, const Queue& q,
                                   const QueueInfo& info) {
  batch.Put(queues_cf_, name, queue_record(q, info).dump());
}

// The neutral rule (storage/redrive_rules.h), with this engine's queues.
Status RocksEngine::check_redrive_target(const std::string& source_name, const AttributeMap& attributes) {
  const RedriveScope scope{options_.region, options_.account_id, [this](const std::string& name) {
                             auto it = queues_.find(name);
                             return it == queues_.end() ? nullptr : &it->second.info.attributes;
                           }};
  return storage::check_redrive_target(scope, source_name, attributes);
}

// --- queues ----------------------------------------------------------------

Result<QueueInfo> RocksEngine::create_queue(const std::string& name, const AttributeMap& attributes,
                                            const TagMap& tags) {
  auto validated = validate_queue_attributes(attributes, /*creating=*/true);
  if (!validated) return validated.error();
  const bool fifo = is_fifo(validated.value());
  if (!is_valid_queue_name(name, fifo)) {
    return make_error(ErrorCode::InvalidParameterValue,
                      fifo ? "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                             "underscores, must end with .fifo suffix and be 1 to 80 in length."
                           : "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
  }
  AttributeMap initial = default_queue_attributes(fifo);
  apply_attributes(initial, validated.value());
  if (auto st = check_queue_type_rules(fifo, validated.value(), initial); !st) return st.error();
  if (auto st = validate_tags(tags); !st) return st.error();
  std::lock_guard lock(mu_);
  const int64_t now = this->now();
  if (auto existing = queues_.find(name); existing != queues_.end()) {
    const AttributeMap& have = existing->second.info.attributes;
    for (const auto& [key, value] : validated.value()) {
      auto h = have.find(key);
      if ((h == have.end() ? "" : h->second) != value) {
        return make_error(ErrorCode::QueueNameExists,
                          "A queue already exists with the same name and a different value for attribute " + key);
      }
    }
    return existing->second.info;
  }
  if (auto deleted = deleted_at_.find(name);
      deleted != deleted_at_.end() && now - deleted->second < options_.queue_delete_cooldown_ms) {
    return make_error(ErrorCode::QueueDeletedRecently,
                      "You must wait 60 seconds after deleting a queue before you can create another with the same "
                      "name.");
  }
  if (auto st = check_redrive_target(name, initial); !st) return st.error();
  Queue q;
  q.id = next_queue_id_;
  q.fifo = fifo;
  q.dedup_per_group = fifo && deduplication_per_group_of(initial);
  q.info.name = name;
  q.info.attributes = std::move(initial);
  q.info.tags = tags;
  q.info.created_s = q.info.modified_s = now / 1000;
  rocksdb::WriteBatch batch;
  put_queue_record(batch, name, q, q.info);
  std::string next;
  put_u64(next, q.id + 1);
  batch.Put(meta_cf_, "next_queue_id", next);
  if (auto st = write(batch); !st) return st.error();
  ++next_queue_id_;
  deleted_at_.erase(name);
  return queues_.emplace(name, std::move(q)).first->second.info;
}

Result<QueueInfo> RocksEngine::get_queue(const std::string& name) {
  std::lock_guard lock(mu_);
  auto q = find(name);
  if (!q) return q.error();
  return q.value()->info;
}

Result<int64_t> RocksEngine::queue_int_attribute(const std::string& name, const std::string& attribute) {
  std::lock_guard lock(mu_);
  auto q = find(name);
  if (!q) return q.error();
  return attribute_int(q.value()->info.attributes, attribute);
}

std::vector<std::string> RocksEngine::list_queues(std::string_view prefix) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (auto it = queues_.lower_bound(std::string(prefix)); it != queues_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(it->first);
  }
  return out;
}

Status RocksEngine::delete_queue(const std::string& name) {
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  Queue& q = *found.value();
  rocksdb::WriteBatch batch;
  batch.Delete(queues_cf_, name);
  batch.Delete(meta_cf_, seq_reservation_key(q.id));
  const std::string begin = queue_prefix(q.id), end = queue_prefix(q.id + 1);
  batch.DeleteRange(content_cf_, begin, end);
  batch.DeleteRange(state_cf_, begin, end);
  batch.DeleteRange(dedup_cf_, begin, end);
  std::vector<MoveTaskRecord*> running;
  for (auto& [id, task] : tasks_) {
    if (task.task.status == "RUNNING" && task.source_name == name) running.push_back(&task);
  }
  for (auto* task : running) {
    MoveTaskRecord failed = *task;
    failed.task.status = "FAILED";
    failed.task.failure_reason = "AWS.SimpleQueueService.NonExistentQueue";
    put_task_record(batch, failed);
  }
  if (auto st = write(batch); !st) return st;
  for (auto* task : running) {
    task->task.status = "FAILED";
    task->task.failure_reason = "AWS.SimpleQueueService.NonExistentQueue";
  }
  deleted_at_[name] = now();
  queues_.erase(name);
  return Ok{};
}

Result<QueueCounts> RocksEngine::queue_counts(const std::string& name) {
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  Queue& q = *found.value();
  promote_due(q, now());
  QueueCounts counts;
  counts.visible = q.visible_count;
  counts.in_flight = q.in_flight.size();
  counts.delayed = q.delayed.size();
  counts.oldest_sent_ms = q.messages.empty() ? 0 : q.messages.begin()->second.sent_ms;
  counts.sent = q.sent_total;
  counts.received = q.received_total;
  counts.deleted = q.deleted_total;
  counts.moved_to_dead_letter = q.dead_lettered_total;
  return counts;
}

Status RocksEngine::set_queue_attributes(const std::string& name, const AttributeMap& attributes) {
  auto validated = validate_queue_attributes(attributes, /*creating=*/false);
  if (!validated) return validated.error();
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  Queue& q = *found.value();
  QueueInfo updated = q.info;
  apply_attributes(updated.attributes, validated.value());
  if (auto st = check_queue_type_rules(q.fifo, validated.value(), updated.attributes); !st) return st;
  if (validated->count("RedrivePolicy")) {
    if (auto st = check_redrive_target(name, updated.attributes); !st) return st;
  }
  updated.modified_s = now() / 1000;
  rocksdb::WriteBatch batch;
  put_queue_record(batch, name, q, updated);
  if (auto st = write(batch); !st) return st;
  q.info = std::move(updated);
  return Ok{};
}

Status RocksEngine::modify_queue(const std::string& name, const std::function<Status(QueueInfo&)>& change) {
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  Queue& q = *found.value();
  QueueInfo updated = q.info;
  if (auto st = change(updated); !st) return st;
  rocksdb::WriteBatch batch;
  put_queue_record(batch, name, q, updated);
  if (auto st = write(batch); !st) return st;
  q.info = std::move(updated);
  return Ok{};
}

Result<std::vector<std::string>> RocksEngine::dead_letter_source_queues(const std::string& name) {
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  const std::string target = arn(name);
  std::vector<std::string> out;
  for (const auto& [source, q] : queues_) {
    auto policy = redrive_policy(q.info.attributes);
    if (policy && policy->dead_letter_target_arn == target) out.push_back(source);
  }
  return out;
}

Status RocksEngine::purge_queue(const std::string& name) {
  std::lock_guard lock(mu_);
  auto found = find(name);
  if (!found) return found.error();
  Queue& q = *found.value();
  const int64_t now = this->now();
  if (now - q.last_purge_ms < kPurgeIntervalMs) {
    return make_error(ErrorCode::PurgeQueueInProgress,
                      "Only one PurgeQueue operation on " + name + " is allowed every 60 seconds.");
  }
  // Messages and, FIFO, the deduplication entries: after a purge a used
  // MessageDeduplicationId is accepted and delivered again (as on AWS).
  rocksdb::WriteBatch batch;
  const std::string begin = queue_prefix(q.id), end = message_key(q.id, q.next_seq);
  batch.DeleteRange(content_cf_, begin, end);
  batch.DeleteRange(state_cf_, begin, end);
  if (q.fifo) batch.DeleteRange(dedup_cf_, begin, queue_prefix(q.id + 1));
  if (auto st = write(batch); !st) return st;
  q.messages.clear();
  q.groups.clear();
  q.ready.clear();
  q.visible_count = 0;
  q.in_flight.clear();
  q.delayed.clear();
  q.attempts.clear();
  q.pending_dedup.clear();
  q.last_purge_ms = now;
  return Ok{};
}

// --- durability ------------------------------------------------------------

uint64_t RocksEngine::log_position() { return db_->GetLatestSequenceNumber(); }

// FlushWAL(true) is SyncWAL after handing over what a buffered log holds.
Status RocksEngine::sync_log() { return write_log_out(/*sync=*/true); }

bool RocksEngine::log_buffered() {
  return rocks_.buffered_log && log_position() > flushed_.load(std::memory_order_acquire);
}

Status RocksEngine::flush_log() {
  if (!rocks_.buffered_log || log_position() <= flushed_.load(std::memory_order_acquire)) return Ok{};
  return write_log_out(/*sync=*/false);
}

// A write's sequence number is published after its WAL record is in the
// buffer, so one FlushWAL covers every sequence number read before it.
Status RocksEngine::write_log_out(bool sync) {
  const uint64_t target = log_position();
  auto s = db_->FlushWAL(sync);
  if (!s.ok() && sync) return make_error(ErrorCode::ServiceUnavailable, "Storage sync failed: " + s.ToString());
  if (!s.ok()) return make_error(ErrorCode::InternalError, "Storage write failed: " + s.ToString());
  uint64_t seen = flushed_.load(std::memory_order_acquire);
  while (seen < target && !flushed_.compare_exchange_weak(seen, target, std::memory_order_acq_rel)) {
  }
  return Ok{};
}

// SST files and memtables over all column families (the WAL is not counted).
uint64_t RocksEngine::storage_bytes() {
  uint64_t sst = 0, memtables = 0;
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &sst);
  db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
  return sst + memtables;
}

size_t RocksEngine::dedup_in_memory(const std::string& queue_name) {
  std::lock_guard lock(mu_);
  auto it = queues_.find(queue_name);
  return it == queues_.end() ? 0 : it->second.pending_dedup.size();
}

// --- time-driven work ------------------------------------------------------

std::optional<int64_t> RocksEngine::run_due_work() {
  std::lock_guard lock(mu_);
  const int64_t now = this->now();
  std::optional<int64_t> next = step_move_tasks(now);
  auto consider = [&](int64_t t) {
    if (!next || t < *next) next = t;
  };
  for (auto& [name, q] : queues_) {
    if (promote_due(q, now)) notify_visible(name);
    expire_retention(q, now);
    expire_dedup(q, now);
    if (!q.in_flight.empty()) consider(q.in_flight.begin()->first);
    if (!q.delayed.empty()) consider(q.delayed.begin()->first);
    if (!q.messages.empty()) consider(q.messages.begin()->second.sent_ms + q.retention_ms());
  }
  return next;
}

}  // namespace wharf::storage
