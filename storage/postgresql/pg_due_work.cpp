// PgEngine's time-driven work (docs/design/postgresql.md section 7.4), one
// pipeline per call for its own (account, region): the front of each
// standard queue swept of expired messages, then every queue where
// messages became visible since the last call (minus a second, for
// transactions that committed late) reported to the listener, and the
// earliest time there is work again answered. Delays and visibility
// timeouts end by themselves in the database (a receive compares
// visible_at_ms with now): nothing is promoted, only reported.
#include <algorithm>
#include <limits>

#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_statements.h"

namespace wharf::storage::postgresql {
namespace {

// How far back a call looks before the previous call's `now`.
constexpr int64_t kLateCommitMs = 1'000;

}  // namespace

void PgEngine::async_run_due_work(Done<std::optional<int64_t>> done) {
  const int64_t since = due_work_since_ms_.load();
  const std::vector<PgParam> scope = {now_param(), options_.account_id, options_.region};
  std::vector<PgParam> report = scope;
  report.push_back(std::to_string(since));
  std::vector<Statement> statements;
  statements.push_back(sql::statement(sql::kSweepExpired, scope));
  statements.push_back(sql::statement(sql::kDueWork, std::move(report)));
  run_statements(
      pool(), std::move(statements), [this, done = std::move(done)](Result<std::vector<QueryResult>> r) mutable {
        // An unreachable database has no work to report; the next call tries again.
        if (!r.ok()) return done(std::nullopt);
        const QueryResult& queues = r->back();
        std::optional<int64_t> next;
        auto consider = [&next](int64_t when) { next = next ? std::min(*next, when) : when; };
        for (int row = 0; row < queues.rows(); ++row) {
          if (row == 0) due_work_since_ms_.store(sql::int_at(queues, 0, 0) - kLateCommitMs);
          if (queues.text(row, 2) == "t") notify_available(std::string(queues.text(row, 1)));
          for (int column : {3, 4}) {
            if (!queues.is_null(row, column)) consider(sql::int_at(queues, row, column));
          }
        }
        // One of several groups: GroupedEngine steps the move tasks, which
        // may move messages to other groups.
        if (grouped()) return done(next);
        // Move tasks of this (account, region) step here too (pg_move_tasks.cpp):
        // SKIP LOCKED keeps them to one runner at a time, with the janitor's too.
        step_running_move_tasks(pool(), now_param(), options_.account_id, options_.region,
                                [this, next, done = std::move(done)](std::vector<MoveStepOutcome> steps) mutable {
                                  for (const MoveStepOutcome& step : steps) {
                                    for (const auto& name : step.destinations) notify_available(name);
                                    if (step.running && step.now > 0) {
                                      next = next ? std::min(*next, step.now + kMoveStepMs) : step.now + kMoveStepMs;
                                    }
                                  }
                                  done(next);
                                });
      });
}

}  // namespace wharf::storage::postgresql
