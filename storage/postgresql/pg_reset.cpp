// Engine::async_reset on PostgreSQL: one transaction deletes the rows of
// this engine's (account, region); with several groups, each group's, then
// the catalog's placement records.
#include <memory>

#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_groups.h"

namespace wharf::storage::postgresql {

// Deleting the queue rows, tombstones included (the name cooldown), takes
// their messages, groups, deduplication entries, receive attempts and
// transfer keys with them (ON DELETE CASCADE). A send or receive running
// at the same time either committed before (its rows go too) or finds no
// queue (its insert fails on the foreign key: QueueDoesNotExist).
void PgEngine::async_reset(Done<Status> done) {
  const std::vector<PgParam> scope{options_.account_id, options_.region};
  std::vector<Statement> statements;
  statements.push_back(
      Statement{"DELETE FROM move_tasks WHERE account_id = $1 AND region = $2", scope, "wq_reset_move_tasks"});
  statements.push_back(Statement{"DELETE FROM outbox WHERE account_id = $1 AND region = $2", scope, "wq_reset_outbox"});
  statements.push_back(Statement{"DELETE FROM queues WHERE account_id = $1 AND region = $2 RETURNING name, deleted_ms",
                                 scope, "wq_reset_queues"});
  run_statements(pool(), std::move(statements), [this, done = std::move(done)](Result<std::vector<QueryResult>> r) {
    if (!r) return done(r.error());
    // Long polls on a queue that is gone, here and on other nodes, are
    // woken and answer that it does not exist.
    const QueryResult& queues = r->back();
    for (int row = 0; row < queues.rows(); ++row) {
      if (queues.is_null(row, 1)) notify_available(std::string(queues.text(row, 0)));
    }
    done(Ok{});
  });
}

namespace {

// Resets the engines from `next` on, one after another, then the catalog's
// placement records (so that a failure part way leaves records that still
// name the groups, never queues that no record names).
struct GroupedReset {
  std::vector<PgEngine*> engines;
  std::function<void(Done<Status>)> forget_placements;
  Done<Status> done;
};

void reset_from(std::shared_ptr<GroupedReset> reset, size_t next) {
  if (next == reset->engines.size()) return reset->forget_placements(std::move(reset->done));
  reset->engines[next]->async_reset([reset, next](Status st) {
    if (!st) return reset->done(st.error());
    reset_from(reset, next + 1);
  });
}

}  // namespace

void GroupedEngine::async_reset(Done<Status> done) {
  auto reset = std::make_shared<GroupedReset>();
  for (auto& engine : engines_) reset->engines.push_back(engine.get());
  reset->done = std::move(done);
  reset->forget_placements = [this](Done<Status> then) {
    std::vector<Statement> statements;
    statements.push_back(Statement{"DELETE FROM queue_placements WHERE account_id = $1 AND region = $2",
                                   {options_.account_id, options_.region},
                                   "wg_reset_placements"});
    run_statements(groups_->catalog().pool(), std::move(statements),
                   [this, then = std::move(then)](Result<std::vector<QueryResult>> r) {
                     {
                       std::lock_guard lock(mutex_);
                       placements_.clear();
                     }
                     if (!r) return then(r.error());
                     then(Ok{});
                   });
  };
  reset_from(std::move(reset), 0);
}

}  // namespace wharf::storage::postgresql
