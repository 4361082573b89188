// Several database groups (docs/design/postgresql.md, "Several groups"):
// each queue lives on one group (one PostgreSQL database with its own
// PgCluster), chosen when it is created, recorded in the catalog group's
// queue_placements table and never moved. GroupedEngine is the Engine of one
// (account, region) over one PgEngine per group: it routes every operation
// on the queue's name, and merges the ones that span groups (ListQueues,
// dead-letter sources, due work, cancelling a move task).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/engine.h"
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_engine.h"

namespace wharf::storage::postgresql {

// One group: its database's id (meta 'group_id', made by migration 4) and
// its cluster (pool, thread, migrations, receipt secret).
struct PgGroup {
  std::string id;
  std::shared_ptr<PgCluster> cluster;
};

// Every group this node was started with, in the order listed; the first is
// the catalog (queue_placements, placement_groups).
class PgGroups {
 public:
  explicit PgGroups(std::vector<PgGroup> groups);

  const std::vector<PgGroup>& groups() const { return groups_; }
  size_t size() const { return groups_.size(); }
  PgCluster& catalog() const { return *groups_.front().cluster; }
  // The listed position of the group with this id; nullopt when this node
  // was not started with it.
  std::optional<size_t> index_of(std::string_view group_id) const;
  // Where a new queue goes when nothing else decides: FNV-1a of account,
  // region and name over the groups sorted by id (the same on every node
  // that lists the same groups, whatever their order after the first).
  size_t hashed_group(std::string_view account_id, std::string_view region, std::string_view name) const;

 private:
  std::vector<PgGroup> groups_;
  std::vector<size_t> by_id_;  // listed positions, sorted by group id
};

// FNV-1a (64 bits) of account, region and name, NUL-separated: stable across
// builds and platforms (std::hash is not).
uint64_t placement_hash(std::string_view account_id, std::string_view region, std::string_view name);

// Opens every group (open_postgresql_cluster each: migrations, secret),
// reads their ids and checks them against the catalog (the first): the same
// database twice, a group the catalog knows that is not listed, or a
// catalog that is not listed first are errors; a listed group the catalog
// does not know is added (with placement records for the queues it already
// holds). Waits (start-up only). nullptr with `error` set when any fails.
std::shared_ptr<PgGroups> open_postgresql_groups(const std::vector<PgOptions>& groups, std::string& error);

struct ForwardPass;  // pg_grouped_transfers.cpp

class GroupedEngine final : public Engine {
 public:
  // engines[i] is the engine of groups->groups()[i], for options' (account, region).
  GroupedEngine(std::shared_ptr<PgGroups> groups, std::vector<std::unique_ptr<PgEngine>> engines,
                const EngineOptions& options);
  ~GroupedEngine() override;

  void set_listener(EngineListener* listener) override;

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

  // Each group's engine, then the catalog's placement records (pg_reset.cpp).
  void async_reset(Done<Status> done) override;

  uint64_t log_position() override { return 0; }
  Status sync_log() override { return Ok{}; }
  uint64_t storage_bytes() override;

  // The group a queue is placed on (listed position), from the cache or the
  // catalog: QueueDoesNotExist when no record names it. For tests and tools.
  void async_locate(const std::string& name, Done<Result<size_t>> done);

 private:
  template <class R, class Op>
  void route(const std::string& name, Done<R> done, Op op);
  std::optional<size_t> cached(const std::string& name) const;
  // The engine of a cached placement (nullptr: not cached), for the hot
  // paths, which then pass their arguments on without copying them.
  PgEngine* cached_engine(const std::string& name) const;
  // `done`, dropping the cached placement when the group answers
  // QueueDoesNotExist.
  template <class R>
  Done<R> forgetting(const std::string& name, Done<R> done);
  void remember(const std::string& name, size_t group);
  void forget(const std::string& name);
  // Records `preferred` as the queue's group unless a record exists; answers
  // the recorded group (one round trip to the catalog).
  void record_placement(const std::string& name, size_t preferred, Done<Result<size_t>> done);
  // The placement of a new queue, then its creation on that group.
  void place_and_create(const std::string& name, std::optional<size_t> dead_letter_group,
                        const AttributeMap& attributes, const TagMap& tags, Done<Result<QueueInfo>> done);
  // Cross-group redrive and move tasks (pg_grouped_transfers.cpp). The
  // engine of `group` learns which queues live elsewhere and whom to tell
  // when a receive parked dead-lettered messages.
  void install_hooks(size_t group);
  // One pass of the forwarder over `group`'s outbox of this (account,
  // region): `done` with when to look again (now: more is waiting).
  void forward(size_t group, Done<std::optional<int64_t>> done);
  // The forwarder and the move tasks of groups[group..], one group after
  // another; `done` with the earliest of `earliest` and their next times.
  void transfers_due(size_t group, std::optional<int64_t> earliest, Done<std::optional<int64_t>> done);
  void copy_parked(std::shared_ptr<ForwardPass> pass, size_t next, Done<std::optional<int64_t>> done);
  void finish_forward(std::shared_ptr<ForwardPass> pass, Done<std::optional<int64_t>> done);
  // The RUNNING move tasks of this (account, region) whose source is on `group`, one step each.
  void step_moves(size_t group, Done<std::optional<int64_t>> done);

  std::shared_ptr<PgGroups> groups_;
  std::vector<std::unique_ptr<PgEngine>> engines_;
  EngineOptions options_;
  mutable std::mutex mutex_;                            // guards placements_
  std::unordered_map<std::string, size_t> placements_;  // name -> group; placements never move
};

}  // namespace wharf::storage::postgresql
