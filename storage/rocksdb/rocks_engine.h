// The embedded RocksDB backend of the engine (internal to storage/).
//
// Durable state, one column family per rate of change:
//   default          meta: receipt-handle secret, next queue id
//   queues           queue name -> JSON record (id, attributes, tags, times)
//   message_content  queue id + seq -> immutable content (body, attributes)
//   message_state    queue id + seq -> small mutable state (visibility, counts)
//   move_tasks       task id -> JSON record of a message move task
//   dedup            queue id + dedup key -> FIFO deduplication entry (expiry,
//                    seq, message id), looked up there by each FIFO send
// In memory: per queue, message metadata (never bodies), message groups,
// the groups ready to deliver, the in-flight and delayed messages by
// time, and of the FIFO deduplication entries only those whose write may
// be in flight. One mutex guards it all; every change is one WriteBatch.
// Receives change memory as they choose messages and undo it if the write
// fails.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include "common/ids.h"
#include "storage/engine.h"
#include "storage/message_rules.h"
#include "storage/rocksdb/open.h"
#include "storage/rocksdb/records.h"

namespace wharf::storage {

using TimeSeq = std::pair<int64_t, uint64_t>;

// Milliseconds since the epoch, when EngineOptions::now_ms gives no clock.
int64_t wall_clock_ms();

struct Group;

// Where a message is: visible, in flight (received, until its deadline), or
// delayed (until its delay ends).
enum class Where : uint8_t { Visible, InFlight, Delayed };

// What memory keeps of one message (the body stays on disk).
struct Live {
  int64_t visible_at_ms = 0;
  int64_t first_receive_ms = 0;
  int64_t sent_ms = 0;
  Group* group = nullptr;
  uint32_t receive_count = 0;
  Where where = Where::Visible;
};

// A message group (MessageGroupId; "" for messages without one). FIFO
// queues deliver a group in order, from its first message while that is
// visible; standard queues take turns between groups (fair queues). The
// rules are storage/message_rules.h's.
struct Group {
  std::string id;
  uint64_t count = 0;          // messages of the group
  std::set<uint64_t> visible;  // standard: visible messages, in send order
  std::set<uint64_t> pending;  // FIFO: every message, in send order
  uint64_t ready_key = 0;      // its turn in Queue::ready, 0 when not there
};

// Whether a FIFO send's write stored its messages. Its deduplication entries
// are published before the write (which happens outside the engine lock); a
// duplicate that finds one still being written waits for it, so that it is
// never acknowledged for a message that was not stored.
class SendOutcome {
 public:
  void settle(bool stored) {
    state_.store(stored ? kStored : kNotStored);
    state_.notify_all();
  }
  bool failed() const { return state_.load() == kNotStored; }
  bool settled() const { return state_.load() != kWriting; }
  bool wait_stored() const {
    state_.wait(kWriting);
    return state_.load() == kStored;
  }

 private:
  static constexpr int kWriting = 0, kStored = 1, kNotStored = 2;
  std::atomic<int> state_{kWriting};
};

// A FIFO deduplication key claimed by a send whose write may still be in
// flight. Memory holds only these (the dedup column family holds the
// window): a duplicate that finds one waits for its outcome; once settled
// as stored the record is visible to a Get, and the entry is swept.
struct PendingDedup {
  UuidBytes message_id;
  uint64_t seq = 0;
  int64_t expires_ms = 0;
  std::shared_ptr<const SendOutcome> outcome;
};

// A FIFO receive that can be retried with its ReceiveRequestAttemptId.
struct ReceiveAttempt {
  int64_t expires_ms = 0;
  std::vector<std::pair<uint64_t, uint32_t>> messages;  // seq, receive count
  std::vector<int64_t> deadlines;                       // as set by that receive
};

struct Queue {
  uint64_t id = 0;
  QueueInfo info;
  bool fifo = false;
  // FIFO: the DeduplicationScope in effect, the one the queue was created
  // with (deduplication_per_group_of), kept in its record.
  bool dedup_per_group = false;
  uint64_t next_seq = 1;
  // Sequence numbers below this are reserved on disk: after a restart
  // numbering resumes here, so a receipt handle is never issued twice.
  uint64_t seq_reserved = 0;
  std::map<uint64_t, Live> messages;  // by send order
  std::unordered_map<std::string, Group> groups;
  // Groups that can deliver now, keyed by turn: a group takes the next turn
  // (the back) when it becomes ready. Standard: groups with visible
  // messages (round robin). FIFO: groups whose first message is visible.
  std::set<std::pair<uint64_t, Group*>> ready;
  uint64_t turn = 0;
  uint64_t visible_count = 0;
  std::set<TimeSeq> in_flight;  // by visibility deadline
  std::set<TimeSeq> delayed;    // by end of delay
  // FIFO: the newest claim of each dedup key whose send was published,
  // until swept once settled (sweep_pending_dedup); the window itself is on
  // disk. Swept when it has doubled since the last sweep (and holds at
  // least kFewestToSweep), so sweeps cost O(1) per send, and it stays within
  // about twice the claims in flight.
  static constexpr size_t kFewestToSweep = 64;
  std::unordered_map<std::string, PendingDedup> pending_dedup;
  size_t pending_dedup_sweep_at = kFewestToSweep;            // its size that triggers the next sweep
  std::unordered_map<std::string, ReceiveAttempt> attempts;  // FIFO: by attempt id
  int64_t last_purge_ms = -1'000'000;
  // Activity since the engine opened (memory only): see QueueCounts.
  uint64_t sent_total = 0;
  uint64_t received_total = 0;
  uint64_t deleted_total = 0;
  uint64_t dead_lettered_total = 0;

  int64_t retention_ms() const { return attribute_int(info.attributes, "MessageRetentionPeriod") * 1000; }
};

// A send request in progress (rocks_messages.cpp): its answers, and the
// messages it stages in one WriteBatch.
struct SendInProgress {
  struct Staged {
    uint64_t seq;
    MessageState state;
    std::string dedup;  // FIFO: the dedup key it claims
    std::string message_id;
  };
  std::vector<Result<SentMessage>> results;
  std::vector<Staged> staged;
  // FIFO: duplicates of sends still being written, by result index.
  std::vector<std::pair<size_t, std::shared_ptr<const SendOutcome>>> waits;
  std::shared_ptr<SendOutcome> outcome;  // FIFO: this send's, once published
  rocksdb::WriteBatch batch;
};

// A receive request in progress (rocks_messages.cpp): what it was asked, and
// what it changed in memory and staged in one WriteBatch.
struct ReceiveInProgress {
  struct DeadLetter {
    uint64_t dlq_seq;
    MessageState state;
  };
  struct Pick {
    uint64_t seq;
    Live live;
  };
  int64_t now = 0;
  int64_t vt_ms = 0;  // visibility timeout
  int64_t retention_ms = 0;
  Queue* dlq = nullptr;       // the dead-letter queue, if the queue has one
  int max_receive_count = 0;  // its RedrivePolicy's, when it has one
  rocksdb::WriteBatch batch;
  std::vector<std::pair<uint64_t, MessageState>> undo;  // state before, in order of change
  std::vector<uint64_t> picks;
  std::vector<DeadLetter> dead_letters;
  std::vector<Pick> taken;  // what the answer needs, taken while the queue cannot change
};

struct MoveTaskRecord {
  std::string id;
  MoveTask task;            // task_handle and status as stored
  std::string source_name;  // the queue it drains
  double allowance = 0;     // messages it may move now (rate limiting; memory only)
  int64_t last_step_ms = 0;
};

class RocksEngine final : public Engine {
 public:
  RocksEngine(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
              const EngineOptions& options, const RocksOptions& rocks);
  ~RocksEngine() override;

  bool load(std::string& error);

  void set_listener(EngineListener* listener) override;

  // The asynchronous contract, completed inline (rocks_async.cpp): each
  // calls the synchronous operation below and then `done`.
  void async_create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags,
                          Done<Result<QueueInfo>> done) override;
  void async_get_queue(const std::string& name, Done<Result<QueueInfo>> done) override;
  void async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                 Done<Result<int64_t>> done) override;
  void async_list_queues(std::string_view prefix, Done<Result<std::vector<std::string>>> done) override;
  void async_delete_queue(const std::string& name, Done<Status> done) override;
  void async_queue_counts(const std::string& name, Done<Result<QueueCounts>> done) override;
  void async_set_queue_attributes(const std::string& name, const AttributeMap& attributes, Done<Status> done) override;
  void async_purge_queue(const std::string& name, Done<Status> done) override;
  void async_modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change,
                          Done<Status> done) override;
  void async_dead_letter_source_queues(const std::string& name, Done<Result<std::vector<std::string>>> done) override;
  void async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                           Done<Result<std::vector<Result<SentMessage>>>> done) override;
  void async_delete_messages(const std::string& queue_name, const std::vector<std::string>& receipt_handles,
                             Done<Result<std::vector<Status>>> done) override;
  void async_change_visibilities(const std::string& queue_name, const std::vector<VisibilityChange>& changes,
                                 Done<Result<std::vector<Status>>> done) override;
  void async_receive_messages(const std::string& queue_name, int max_messages, std::optional<int> visibility_timeout,
                              const std::string& attempt_id, Done<Result<std::vector<ReceivedMessage>>> done) override;
  void async_peek_messages(const std::string& queue_name, size_t max_messages,
                           Done<Result<std::vector<PeekedMessage>>> done) override;
  void async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                   const std::string& message_id, Done<Status> done) override;
  void async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                             std::optional<int> max_per_second, Done<Result<std::string>> done) override;
  void async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) override;
  void async_list_move_tasks(const std::string& source_name, size_t max_results,
                             Done<Result<std::vector<MoveTask>>> done) override;
  void async_run_due_work(Done<std::optional<int64_t>> done) override;
  void async_reset(Done<Status> done) override;  // rocks_reset.cpp

  // The operations themselves, synchronous (they hide Engine's waiting
  // forms, which would end up here anyway).
  Result<QueueInfo> create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags);
  Result<QueueInfo> get_queue(const std::string& name);
  Result<int64_t> queue_int_attribute(const std::string& name, const std::string& attribute);
  std::vector<std::string> list_queues(std::string_view prefix);
  Status delete_queue(const std::string& name);
  Result<QueueCounts> queue_counts(const std::string& name);
  Status set_queue_attributes(const std::string& name, const AttributeMap& attributes);
  Status purge_queue(const std::string& name);
  Status modify_queue(const std::string& name, const std::function<Status(QueueInfo&)>& change);
  Result<std::vector<std::string>> dead_letter_source_queues(const std::string& name);

  Result<std::vector<Result<SentMessage>>> send_messages(const std::string& queue_name,
                                                         std::vector<NewMessage> messages,
                                                         SendKind kind = SendKind::Batch);
  Result<std::vector<Status>> delete_messages(const std::string& queue_name,
                                              const std::vector<std::string>& receipt_handles);
  Result<std::vector<Status>> change_visibilities(const std::string& queue_name,
                                                  const std::vector<VisibilityChange>& changes);
  Result<std::vector<ReceivedMessage>> receive_messages(const std::string& queue_name, int max_messages,
                                                        std::optional<int> visibility_timeout,
                                                        const std::string& attempt_id);
  Result<std::vector<PeekedMessage>> peek_messages(const std::string& queue_name, size_t max_messages);
  Status delete_peeked_message(const std::string& queue_name, const std::string& position,
                               const std::string& message_id);

  Result<std::string> start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                      std::optional<int> max_per_second);
  Result<uint64_t> cancel_move_task(const std::string& task_id);
  Result<std::vector<MoveTask>> list_move_tasks(const std::string& source_name, size_t max_results);

  std::optional<int64_t> run_due_work();
  Status reset();

  uint64_t log_position() override;
  Status sync_log() override;
  bool log_buffered() override;
  Status flush_log() override;
  uint64_t storage_bytes() override;

  // Tests: the FIFO deduplication entries `queue_name` holds in memory
  // (Queue::pending_dedup), 0 for no such queue.
  size_t dedup_in_memory(const std::string& queue_name);

 private:
  // rocks_engine.cpp
  int64_t now() const;
  Result<Queue*> find(const std::string& name);
  std::string arn(const std::string& name) const;
  // Grows: the write adds messages (refused first when the disk fills up).
  enum class WriteKind { Other, Grows };
  Status write(rocksdb::WriteBatch& batch, WriteKind kind = WriteKind::Other);
  // Writes `batch` after releasing `lock` (on mu_), for changes already made
  // in memory; see write_mu_.
  Status write_released(std::unique_lock<std::mutex>& lock, rocksdb::WriteBatch& batch);
  // Hands the log buffer to the OS (and syncs it when `sync`); raises flushed_.
  Status write_log_out(bool sync);
  Status commit(rocksdb::WriteBatch& batch);  // with write_mu_ held
  Status check_free_space(WriteKind kind);
  void put_queue_record(rocksdb::WriteBatch& batch, const std::string& name, const Queue& q, const QueueInfo& info);
  Status check_redrive_target(const std::string& source_name, const AttributeMap& attributes);
  bool load_queues(std::string& error);
  bool load_messages(std::string& error);

  // message_index.cpp: the in-memory index
  void index_message(Queue& q, uint64_t seq, const MessageState& state, int64_t now);
  void forget_message(Queue& q, uint64_t seq);
  void unlist(Queue& q, uint64_t seq, const Live& live);
  MessageState state_of(const Live& live) const;
  void became_visible(Queue& q, uint64_t seq, Live& live);
  // Sets a visible or in-flight message's visibility deadline (in flight
  // until then, visible when it is not after `now`); true when it became
  // visible.
  bool set_visibility_deadline(Queue& q, uint64_t seq, Live& live, int64_t deadline, int64_t now);
  void update_ready(Queue& q, Group& g);
  bool promote_due(Queue& q, int64_t now);
  void expire_retention(Queue& q, int64_t now);
  void expire_dedup(Queue& q, int64_t now);
  // Drops the settled entries of q.pending_dedup (all, or once it has
  // doubled since the last sweep).
  void sweep_pending_dedup(Queue& q, bool always);
  // Adds a message to `q` in `batch` (reserving sequence numbers on disk as
  // needed); the caller indexes it once the batch is written.
  uint64_t stage_message(Queue& q, rocksdb::WriteBatch& batch, const MessageContent& content,
                         const MessageState& state);
  // Stages the removal of a message's two records. Content is written once
  // per key (sequence numbers are never reused), so a SingleDelete removes
  // it: a pair still in one memtable vanishes at flush instead of leaving a
  // tombstone to compact. State is rewritten at receives: a plain Delete.
  void stage_removal(rocksdb::WriteBatch& batch, uint64_t queue_id, uint64_t seq);
  std::optional<MessageContent> read_content(const Queue& q, uint64_t seq);

  // rocks_messages.cpp: send, in steps
  bool answer_duplicate(const Queue& q, SendInProgress& send, const std::string& dedup, int64_t now);
  bool answer_stored_duplicate(const Queue& q, SendInProgress& send, const std::string& dedup, int64_t now);
  void stage_new_message(Queue& q, SendInProgress& send, NewMessage& message, const SendRules& rules, std::string dedup,
                         int64_t now);
  Status publish_staged(Queue& q, SendInProgress& send, const std::string& queue_name, int64_t now);
  Result<std::vector<Result<SentMessage>>> settle_send(std::unique_lock<std::mutex>& lock, SendInProgress& send,
                                                       const std::string& queue_name, uint64_t queue_id);
  void unstage_failed_send(const SendInProgress& send, const std::string& queue_name, uint64_t queue_id);
  // rocks_messages.cpp: receive, in steps
  void pick_fifo_groups(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, int max_messages);
  void take_fifo_run(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, Group& g, size_t n);
  void pick_fair_turns(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, int max_messages);
  void take_message(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, uint64_t seq);
  bool dead_letter(Queue& q, const std::string& queue_name, ReceiveInProgress& receive, uint64_t seq);
  Status commit_picks(Queue& q, ReceiveInProgress& receive, const std::string* attempt_id);
  std::vector<ReceivedMessage> read_received(const std::string& queue_name, uint64_t queue_id, bool fifo,
                                             const std::vector<ReceiveInProgress::Pick>& taken);
  void notify_visible(const std::string& queue_name);
  Queue* dead_letter_queue(const Queue& q);
  Result<std::vector<ReceivedMessage>> retry_attempt(Queue& q, const std::string& attempt_id, int64_t vt_ms,
                                                     int64_t now, bool& retried);
  ReceivedMessage received(uint64_t queue_id, bool fifo, uint64_t seq, const Live& live, MessageContent content) const;

  // rocks_move_tasks.cpp
  bool load_move_tasks(std::string& error);
  void put_task_record(rocksdb::WriteBatch& batch, const MoveTaskRecord& task);
  std::optional<int64_t> step_move_tasks(int64_t now);
  void step_move_task(MoveTaskRecord& task, int64_t now);
  void finish_task(MoveTaskRecord& task, const std::string& status, const std::string& reason);

  std::mutex mu_;
  // Orders the writes to RocksDB as their changes were made in memory: taken
  // under mu_ before it is released, always after mu_ (never mu_ while
  // holding it). So an operation can change memory, let the next operation
  // in, and write meanwhile; every answer still waits for its own write,
  // and that comes after the writes of all changes it could have seen.
  std::mutex write_mu_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* meta_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* queues_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* content_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* tasks_cf_ = nullptr;
  rocksdb::ColumnFamilyHandle* dedup_cf_ = nullptr;
  rocksdb::WriteOptions write_options_;
  // With a buffered log: every write up to this sequence number is in the OS.
  std::atomic<uint64_t> flushed_{0};
  // The data dir's free bytes, looked up at most every 100 ms (under mu_).
  int64_t free_bytes_ = INT64_MAX;
  std::chrono::steady_clock::time_point free_checked_{};
  EngineOptions options_;
  RocksOptions rocks_;
  EngineListener* listener_ = nullptr;
  std::string secret_;
  uint64_t next_queue_id_ = 1;
  std::map<std::string, Queue> queues_;
  std::map<std::string, int64_t> deleted_at_;
  std::map<std::string, MoveTaskRecord> tasks_;  // by task id
};

}  // namespace wharf::storage
