// The PostgreSQL engine: one per (account, region), all sharing one
// PgCluster (docs/design/postgresql.md, section 6). Every operation is one
// transaction on the cluster's pool; `done` runs on the cluster's thread,
// after COMMIT. The queue family is in pg_queues.cpp; send in pg_send.cpp,
// receive in pg_receive.cpp, delete / visibility / peek in pg_handles.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/engine.h"
#include "storage/postgresql/connection.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {

struct NewQueue;  // a create's checked request (pg_queues.cpp)

// A live queue's row (table `queues`), as the operations need it.
struct PgQueue {
  int64_t id = 0;
  std::string name;
  bool fifo = false;
  bool dedup_per_group = false;  // FIFO: the DeduplicationScope it was created with
  bool has_groups = false;       // standard: a message with a group id was ever sent
  AttributeMap attributes;       // stored values
  TagMap tags;
  std::string dead_letter_target;  // RedrivePolicy's queue name, "" for none
  int64_t created_ms = 0;
  int64_t modified_ms = 0;
  int64_t last_purge_ms = 0;
};

// Activity since the engine opened, per queue id (QueueCounts' counters).
struct QueueActivity {
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t deleted = 0;
  uint64_t moved_to_dead_letter = 0;
};

class PgEngine final : public Engine {
 public:
  PgEngine(std::shared_ptr<PgCluster> cluster, const EngineOptions& options);
  ~PgEngine() override;

  void set_listener(EngineListener* listener) override;

  // Queues (pg_queues.cpp).
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
  // The queues of this group that name `name` as their dead-letter queue;
  // `here` false: whether or not `name` lives on this group (GroupedEngine).
  void dead_letter_sources(const std::string& name, bool here, Done<Result<std::vector<std::string>>> done);

  // Messages (pg_send.cpp, pg_receive.cpp, pg_handles.cpp).
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

  // Move tasks (pg_move_tasks.cpp) and time-driven work (pg_due_work.cpp).
  void async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                             std::optional<int> max_per_second, Done<Result<std::string>> done) override;
  // What a start's checks learned from other groups (GroupedEngine).
  struct StartElsewhere {
    bool dead_letter_source_elsewhere = false;  // a queue of another group names the source as its dead-letter queue
    std::optional<bool> destination_fifo;       // set: the destination lives on another group, and is FIFO or not
  };
  void start_move_task(const std::string& source_name, std::optional<std::string> destination,
                       std::optional<int> max_per_second, StartElsewhere elsewhere, Done<Result<std::string>> done);
  void async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) override;
  void async_list_move_tasks(const std::string& source_name, size_t max_results,
                             Done<Result<std::vector<MoveTask>>> done) override;
  void async_run_due_work(Done<std::optional<int64_t>> done) override;

  void async_reset(Done<Status> done) override;  // pg_reset.cpp

  uint64_t log_position() override { return 0; }
  Status sync_log() override { return Ok{}; }
  uint64_t storage_bytes() override;

  // --- What the operations share (used by every pg_*.cpp) ---

  PgCluster& cluster() { return *cluster_; }
  Pool& pool() { return cluster_->pool(); }
  const EngineOptions& options() const { return options_; }
  const std::string& receipt_secret() const { return cluster_->receipt_secret(); }

  // The `override` argument of now_ms($n) (section 5): the test clock's
  // value when EngineOptions::now_ms is set, else NULL (the database's time).
  PgParam now_param() const;

  // The statement reading the live queue `name` of this engine's (account,
  // region): its columns are the ones queue_from_row() reads. `lock`: FOR
  // UPDATE (the caller is in a transaction that changes the row).
  Statement queue_row_statement(const std::string& name, bool lock) const;
  // The queue in row 0 of a result of queue_row_statement; nullopt when the
  // result has no row (no such queue).
  static std::optional<PgQueue> queue_from_row(const QueryResult& result, int row = 0);
  // Reads the live queue (one autocommit statement): `then` gets it, or
  // QueueDoesNotExist, or the mapped database error. Runs on the cluster thread.
  void find_queue(const std::string& name, std::function<void(Result<PgQueue>)> then);

  // The listener (set_listener), told after COMMIT and before `done`, as
  // RocksEngine does (section 7.4). Safe without a listener.
  void notify_available(const std::string& queue_name);
  // Also told of every notify_available, for the other nodes (pg_notify.h:
  // a NOTIFY after COMMIT). Set before serving, never after; none: one node.
  void set_announcer(std::function<void(const std::string& queue_name)> announce) { announce_ = std::move(announce); }
  void notify_deadline(int64_t when_ms);

  // Adds to a queue's activity counters (QueueCounts::sent ...).
  void count_activity(int64_t queue_id, const QueueActivity& more);
  QueueActivity activity_of(int64_t queue_id) const;

  // What GroupedEngine tells the engines it owns (docs/design/postgresql.md
  // 12b); an engine of the only group has none, and nothing changes there.
  struct GroupHooks {
    // Whether the queue `name` is placed on another group (cached:
    // placements never move): a receive then parks what it dead-letters
    // towards it in `outbox`. An error when the catalog cannot say (503).
    std::function<void(const std::string& name, std::function<void(Result<bool> elsewhere)> then)> elsewhere;
    // The stored attributes of `name` when it is a live queue of another
    // group (else nullopt): a RedrivePolicy naming it is checked with them.
    // An error when that group or the catalog cannot say.
    std::function<void(const std::string& name, std::function<void(Result<std::optional<AttributeMap>>)> then)>
        attributes_elsewhere;
    // After a receive that parked messages committed, before its answer
    // (`then`): the forwarder copies them on.
    std::function<void(std::function<void()> then)> parked;
  };
  void set_group_hooks(GroupHooks hooks) { hooks_ = std::move(hooks); }
  bool grouped() const { return static_cast<bool>(hooks_.parked); }
  // then(true) when the dead-letter queue is on another group (never with one group).
  void where_dead_letters_go(const std::string& dead_letter_queue, std::function<void(Result<bool> elsewhere)> then);
  const GroupHooks& group_hooks() const { return hooks_; }

  // QueueDoesNotExist for `name`, in the words every backend uses.
  static SqsError no_such_queue(const std::string& name);
  // Whether some queue could have this name (standard or FIFO). Others are
  // answered QueueDoesNotExist without a round trip; nor could libpq pass
  // a name with a NUL byte, or PostgreSQL take one that is not UTF-8.
  static bool can_name_queue(std::string_view name);

 private:
  // What a change of a queue row writes, decided from the row (locked),
  // `now`, and the attributes of the other queue it asked to read.
  using QueueChange = std::function<Result<std::vector<Statement>>(PgQueue& queue, int64_t now_ms,
                                                                   const std::map<std::string, AttributeMap>& other)>;
  // Reads the queue's row FOR UPDATE (and `other`, when given), applies
  // `change`, writes what it answers, COMMIT (pg_queues.cpp).
  // `other_elsewhere`: `other`'s attributes when it lives on another group.
  void change_queue(const std::string& name, std::optional<std::string> other, QueueChange change, Done<Status> done,
                    std::optional<AttributeMap> other_elsewhere = std::nullopt);
  void set_queue_attributes(const std::string& name, const AttributeMap& attributes,
                            std::optional<AttributeMap> target_elsewhere, Done<Status> done);
  void create_checked(std::shared_ptr<NewQueue> request, std::optional<AttributeMap> target_elsewhere,
                      Done<Result<QueueInfo>> done);

  std::shared_ptr<PgCluster> cluster_;
  EngineOptions options_;
  mutable std::mutex mutex_;  // guards listener_ and activity_
  EngineListener* listener_ = nullptr;
  std::function<void(const std::string&)> announce_;  // set_announcer
  GroupHooks hooks_;                                  // set_group_hooks
  std::unordered_map<int64_t, QueueActivity> activity_;
  // run_due_work reports messages that became visible after this (pg_due_work.cpp).
  std::atomic<int64_t> due_work_since_ms_{std::numeric_limits<int64_t>::min()};
};

}  // namespace wharf::storage::postgresql
