// Work no request drives (docs/design/postgresql.md section 8): message
// move task steps (section 6.11, pg_move_tasks.cpp) and the janitor, which
// runs on one node of the database at a time: the node whose lease
// connection holds a session advisory lock on "wharf-janitor/<schema>".
// When that node dies its connection closes, the lock goes with it, and
// another node's next try (every second) takes it over.
//
// Every step is a small transaction (at most kJanitorBatch rows) that is
// safe to run twice at once (row locks, SKIP LOCKED, idempotent deletes):
// the lease is for efficiency, not correctness.
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/postgresql/open.h"
#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {

inline constexpr int kJanitorBatch = 1'000;  // rows per step at most
inline constexpr int64_t kMoveStepMs = 100;  // how often running move tasks move their share

// What one step of a move task did.
struct MoveStepOutcome {
  std::string account_id, region;
  std::vector<std::string> destinations;  // names of the queues messages went to
  bool running = true;                    // still RUNNING (or stepped by another runner just now)
  int64_t now = 0;                        // the step's time (0: the task was not stepped)
};

// What a step needs when its messages may go to queues on other groups
// (GroupedEngine, docs/design/postgresql.md 12b; none with one group).
// Each message bound elsewhere is copied there first (pg_transfer.h, keyed
// by its id), then deleted from the source in the step's transaction.
struct MoveElsewhere {
  size_t own = 0;  // the source's group
  // The group of the live queue `name`; QueueDoesNotExist when none. Any thread.
  std::function<void(const std::string& name, std::function<void(Result<size_t>)> then)> locate;
  std::function<Pool&(size_t group)> pool_of;
  // After the step: `name` on `group` got messages.
  std::function<void(size_t group, const std::string& name)> notify;
};

// One step of the RUNNING task `task_id`: the task row FOR UPDATE SKIP
// LOCKED (skipped when another runner has it), the allowance from the row,
// up to that many visible messages of the source in seq order moved to
// their destination as new messages, the row updated. `now`: the clock
// override (PgEngine::now_param), NULL for the database's time.
void step_move_task(Pool& pool, PgParam now, std::string task_id, std::function<void(Result<MoveStepOutcome>)> done,
                    std::shared_ptr<const MoveElsewhere> elsewhere = nullptr);

// Steps RUNNING tasks: those of (account, region), or of every account and
// region when `account` is NULL; one transaction per task, one after
// another. `done` gets what each step did (failed steps left out).
void step_running_move_tasks(Pool& pool, PgParam now, PgParam account, PgParam region,
                             std::function<void(std::vector<MoveStepOutcome>)> done,
                             std::shared_ptr<const MoveElsewhere> elsewhere = nullptr);

// The janitor's FIFO steps once, as a round runs them: retention of every
// FIFO queue (expired messages deleted, their groups settled), then the
// rows of FIFO groups left without messages removed. `done(false)` when a
// step failed. Safe beside any other node's sends, receives and janitor.
void run_fifo_janitor_steps(Pool& pool, std::function<void(bool)> done);

class PgJanitor : public std::enable_shared_from_this<PgJanitor> {
 public:
  // How often a node without the lease tries to take it, and how often the
  // holder runs the steps other than move tasks (those: every kMoveStepMs).
  static constexpr std::chrono::milliseconds kEvery{1000};

  // Starts trying for the lease on the cluster's thread. `queue_delete_cooldown_ms`:
  // how long a deleted queue's row stays (EngineOptions' value).
  // `step_move_tasks` false: a group of several (pg_groups.h), whose tasks
  // may move messages to other groups, which only GroupedEngine reaches:
  // it steps them in its due work.
  static std::shared_ptr<PgJanitor> start(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms,
                                          bool step_move_tasks = true);
  ~PgJanitor();

  // Closes the lease connection (giving the lease up) and stops; waits for
  // the cluster's thread. Call before dropping the cluster.
  void stop();

  bool holds_lease() const { return holds_lease_.load(); }
  // How many janitor rounds (lease held) completed, for tests.
  uint64_t rounds() const { return rounds_.load(); }

 private:
  PgJanitor(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms, bool step_move_tasks);
  void tick();
  void connect();
  void try_lease();
  void run_round();
  void step_moves();
  void arm(std::chrono::milliseconds after);

  std::shared_ptr<PgCluster> cluster_;
  int64_t cooldown_ms_;
  bool step_move_tasks_;
  boost::asio::steady_timer timer_;
  std::shared_ptr<Connection> lease_;
  std::string lease_key_;
  bool stopped_ = false;
  bool busy_ = false;  // a try, round or move step in flight
  bool connecting_ = false;
  bool moves_running_ = false;  // the last move step found tasks: step every kMoveStepMs
  std::chrono::steady_clock::time_point next_round_{};
  std::atomic<bool> holds_lease_{false};
  std::atomic<uint64_t> rounds_{0};
};

}  // namespace wharf::storage::postgresql
