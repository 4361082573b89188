// RocksEngine's reset (Engine::async_reset): everything of this data dir's
// account and region goes in one synced WriteBatch, then out of memory.
#include <rocksdb/iterator.h>

#include "storage/rocksdb/records.h"
#include "storage/rocksdb/rocks_engine.h"

namespace wharf::storage {

void RocksEngine::async_reset(Done<Status> done) { done(reset()); }

// Holding mu_ from start to end: an operation that changed memory before
// has taken write_mu_ first, so its write lands before this one's deletes
// (and is deleted with the rest); one that comes after finds no queue.
// The meta column family keeps the receipt-handle secret and the next
// queue id, so a queue created again gets a new id, and receipt handles of
// the old one are never taken for its messages.
Status RocksEngine::reset() {
  std::lock_guard lock(mu_);
  std::lock_guard in_order(write_mu_);
  rocksdb::WriteBatch batch;
  for (const auto& [name, q] : queues_) batch.Delete(meta_cf_, seq_reservation_key(q.id));
  for (auto* family : {queues_cf_, content_cf_, state_cf_, tasks_cf_, dedup_cf_}) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), family));
    it->SeekToFirst();
    if (!it->Valid()) {
      if (!it->status().ok()) return make_error(ErrorCode::InternalError, "Reset failed: " + it->status().ToString());
      continue;
    }
    const std::string first = it->key().ToString();
    it->SeekToLast();
    if (!it->Valid()) return make_error(ErrorCode::InternalError, "Reset failed: " + it->status().ToString());
    const std::string last = it->key().ToString();
    batch.DeleteRange(family, first, last);
    batch.Delete(family, last);
  }
  if (rocks_.write_fault && rocks_.write_fault()) {
    return make_error(ErrorCode::InternalError, "Storage write failed: injected fault");
  }
  rocksdb::WriteOptions synced = write_options_;
  synced.sync = !synced.disableWAL;
  if (auto s = db_->Write(synced, &batch); !s.ok()) {
    return make_error(ErrorCode::InternalError, "Storage write failed: " + s.ToString());
  }
  if (synced.disableWAL) {
    if (auto s = db_->Flush(rocksdb::FlushOptions(), handles_); !s.ok()) {
      return make_error(ErrorCode::InternalError, "Storage flush failed: " + s.ToString());
    }
  }
  // Long polls on a queue that is gone are woken, and answer that it does
  // not exist (each hands the wake-up on to the next).
  for (const auto& [name, q] : queues_) notify_visible(name);
  queues_.clear();
  deleted_at_.clear();
  tasks_.clear();
  return Ok{};
}

}  // namespace wharf::storage
