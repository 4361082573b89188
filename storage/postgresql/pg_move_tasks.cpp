// PgEngine: message move tasks (docs/design/postgresql.md section 6.11),
// with RocksEngine's checks and answers (storage/rocksdb/rocks_move_tasks.cpp).
// A task is a row of `move_tasks`; its steps (step_move_task, pg_janitor.h)
// run wherever run_due_work or the janitor runs: the row is taken FOR UPDATE
// SKIP LOCKED, so one runner steps a task at a time whichever node, and the
// rate allowance is kept in the row, so another runner continues the rate.
// FIFO sources move each group in order: the pick is the FIFO receive's
// (groups locked, each group's receivable run), and the destination's groups
// are locked before the moved messages draw their seq and settled after, as
// a FIFO send does (section 6.3).
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <map>
#include <string_view>
#include <vector>

#include "common/ids.h"
#include "storage/arn.h"
#include "storage/message_rules.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/postgresql/pg_transfer.h"
#include "storage/redrive_rules.h"
#include "storage/system_attributes.h"

namespace wharf::storage::postgresql {
namespace {

constexpr int kDefaultRate = 500;  // messages per second when none is set (AWS's maximum)
// A failed task's FailureReason: as on AWS, the error code, not a sentence.
constexpr const char* kQueueMissing = "AWS.SimpleQueueService.NonExistentQueue";

SqsError not_found(const std::string& what) { return make_error(ErrorCode::ResourceNotFoundException, what); }
SqsError source_not_found() {
  return not_found("The resource that you specified for the SourceArn parameter doesn't exist.");
}

// $1 clock override, $2 account, $3 region, $4 source ARN, $5 source name:
// now, whether a live queue names the source as its dead-letter queue,
// whether a task of the source runs, and how many messages the source has.
const sql::NamedSql kStartChecks = {
    "move_start_checks",
    "SELECT now_ms($1::bigint), "
    "EXISTS (SELECT 1 FROM queues WHERE account_id = $2 AND region = $3 AND deleted_ms IS NULL "
    "AND dead_letter_target = $4), "
    "EXISTS (SELECT 1 FROM move_tasks WHERE account_id = $2 AND region = $3 AND source_name = $5 "
    "AND status = 'RUNNING'), "
    "(SELECT count(*) FROM messages WHERE queue_id = (SELECT id FROM queues WHERE account_id = $2 AND region = $3 "
    "AND name = $5 AND deleted_ms IS NULL))"};

// $1 id, $2 account, $3 region, $4 source name, $5 source ARN, $6
// destination ARN, $7 rate, $8 to move, $9 now.
const sql::NamedSql kInsertTask = {
    "move_insert_task",
    "INSERT INTO move_tasks (id, account_id, region, source_name, status, source_arn, destination_arn, "
    "max_per_second, moved, to_move, failure_reason, started_ms, allowance, last_step_ms) VALUES ($1::uuid, $2, $3, "
    "$4, 'RUNNING', $5, $6, $7::int, 0, $8::bigint, '', $9::bigint, 0, $9::bigint)"};

// $1 id, $2 account, $3 region: the moved count of the task cancelled.
const sql::NamedSql kCancelTask = {"move_cancel_task",
                                   "UPDATE move_tasks SET status = 'CANCELLED' WHERE id = $1::uuid AND account_id = $2 "
                                   "AND region = $3 AND status = 'RUNNING' RETURNING moved"};

// $1 account, $2 region, $3 source name, $4 limit: newest first.
const sql::NamedSql kListTasks = {
    "move_list_tasks",
    "SELECT id, status, source_arn, destination_arn, max_per_second, moved, to_move, failure_reason, started_ms "
    "FROM move_tasks WHERE account_id = $1 AND region = $2 AND source_name = $3 "
    "ORDER BY started_ms DESC, id LIMIT $4::bigint"};

// What libpq can cast to uuid without an error: 36 characters, 8-4-4-4-12 hex.
bool looks_like_uuid(std::string_view id) {
  if (id.size() != 36) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (id[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

// What start_move_task decides from its checks (RocksEngine's, in its order).
Result<int64_t> judge_start(const std::optional<PgQueue>& source, const QueryResult& checks,
                            const std::optional<std::string>& destination, const std::optional<PgQueue>& dest,
                            const PgEngine::StartElsewhere& elsewhere) {
  if (!source) return source_not_found();
  if (checks.text(0, 1) != "t" && !elsewhere.dead_letter_source_elsewhere) {
    return make_error(ErrorCode::InvalidParameterValue, "Source queue must be configured as a Dead Letter Queue.");
  }
  if (destination) {
    if (!dest) return not_found("The resource that you specified for the DestinationArn parameter doesn't exist.");
    if (!elsewhere.destination_fifo && dest->id == source->id) {
      return make_error(ErrorCode::InvalidParameterValue, "The destination queue can not be the source queue.");
    }
    if (dest->fifo != source->fifo) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "The destination queue must be of the same type as the source queue.");
    }
  }
  if (checks.text(0, 2) == "t") {
    return make_error(ErrorCode::InvalidParameterValue,
                      "There is already a task running. Only one active task is allowed for a source queue arn at a "
                      "given time.");
  }
  return sql::int_at(checks, 0, 0);
}

}  // namespace

void PgEngine::async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                     std::optional<int> max_per_second, Done<Result<std::string>> done) {
  start_move_task(source_name, std::move(destination), max_per_second, StartElsewhere{}, std::move(done));
}

void PgEngine::start_move_task(const std::string& source_name, std::optional<std::string> destination,
                               std::optional<int> max_per_second, StartElsewhere elsewhere,
                               Done<Result<std::string>> done) {
  if (!can_name_queue(source_name)) return done(source_not_found());
  if (destination && !can_name_queue(*destination)) {
    return done(not_found("The resource that you specified for the DestinationArn parameter doesn't exist."));
  }
  auto handle = std::make_shared<std::string>(random_uuid());
  auto started = std::make_shared<int64_t>(0);
  auto answer = std::make_shared<Status>(Ok{});
  const std::string source_arn = queue_arn(options_.region, options_.account_id, source_name);
  const std::string destination_arn = destination ? queue_arn(options_.region, options_.account_id, *destination) : "";
  auto body = [this, source_name, destination, max_per_second, handle, started, answer, source_arn, destination_arn,
               elsewhere](std::shared_ptr<Tx> tx) {
    std::vector<Statement> checks;
    checks.push_back(queue_row_statement(source_name, true));  // one start per source at a time
    checks.push_back(
        sql::statement(kStartChecks, {now_param(), options_.account_id, options_.region, source_arn, source_name}));
    if (destination && !elsewhere.destination_fifo) checks.push_back(queue_row_statement(*destination, false));
    tx->step(std::move(checks), [=, this](std::vector<QueryResult>& r) {
      std::optional<PgQueue> dest = destination && r.size() > 2 ? queue_from_row(r[2]) : std::nullopt;
      if (elsewhere.destination_fifo) {
        dest.emplace();
        dest->fifo = *elsewhere.destination_fifo;
      }
      auto now = judge_start(queue_from_row(r[0]), r[1], destination, dest, elsewhere);
      if (!now) return tx->fail(now.error());
      *started = *now;
      tx->commit_with(
          {sql::statement(kInsertTask, {*handle, options_.account_id, options_.region, source_name, source_arn,
                                        destination_arn, std::to_string(max_per_second.value_or(0)),
                                        std::to_string(sql::int_at(r[1], 0, 3)), std::to_string(*now)})},
          [](std::vector<QueryResult>&) {});
    });
  };
  run_transaction(pool(), std::move(body), [this, handle, started, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    notify_deadline(*started);  // the first step is due now
    done(*handle);
  });
}

void PgEngine::async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) {
  if (!looks_like_uuid(task_id)) return done(not_found("Task does not exist."));
  std::vector<Statement> statements;
  statements.push_back(sql::statement(kCancelTask, {task_id, options_.account_id, options_.region}));
  run_statements(pool(), std::move(statements), [done = std::move(done)](Result<std::vector<QueryResult>> r) {
    if (!r) return done(r.error());
    if (r->front().rows() == 0) return done(not_found("Task does not exist."));
    done(static_cast<uint64_t>(sql::int_at(r->front(), 0, 0)));
  });
}

void PgEngine::async_list_move_tasks(const std::string& source_name, size_t max_results,
                                     Done<Result<std::vector<MoveTask>>> done) {
  if (!can_name_queue(source_name)) return done(source_not_found());
  std::vector<Statement> statements;
  statements.push_back(queue_row_statement(source_name, false));
  statements.push_back(sql::statement(kListTasks, {options_.account_id, options_.region, source_name,
                                                   std::to_string(std::min<size_t>(max_results, 1'000'000))}));
  run_statements(pool(), std::move(statements), [done = std::move(done)](Result<std::vector<QueryResult>> r) {
    if (!r) return done(r.error());
    if (r->front().rows() == 0) return done(source_not_found());
    const QueryResult& rows = r->back();
    std::vector<MoveTask> out;
    for (int row = 0; row < rows.rows(); ++row) {
      MoveTask t;
      t.status = std::string(rows.text(row, 1));
      if (t.status == "RUNNING") t.task_handle = std::string(rows.text(row, 0));
      t.source_arn = std::string(rows.text(row, 2));
      t.destination_arn = std::string(rows.text(row, 3));
      t.max_per_second = static_cast<int>(sql::int_at(rows, row, 4));
      t.moved = static_cast<uint64_t>(sql::int_at(rows, row, 5));
      t.to_move = static_cast<uint64_t>(sql::int_at(rows, row, 6));
      t.failure_reason = std::string(rows.text(row, 7));
      t.started_ms = sql::int_at(rows, row, 8);
      out.push_back(std::move(t));
    }
    done(std::move(out));
  });
}

}  // namespace wharf::storage::postgresql

// --- Steps (pg_janitor.h) ----------------------------------------------------

namespace wharf::storage::postgresql {
namespace {

// $1 clock override, $2 task id: the RUNNING task (unless another runner
// holds it) with its source queue: the live queue of that name created
// before the task started (NULL when it is gone, or was made anew), its
// retention and type.
const sql::NamedSql kLockTask = {
    "move_lock_task",
    "SELECT now_ms($1::bigint), t.account_id, t.region, t.source_name, t.destination_arn, t.max_per_second, t.moved, "
    "t.to_move, t.allowance, t.last_step_ms, q.id, (q.attributes::json->>'MessageRetentionPeriod')::bigint * 1000, "
    "q.fifo "
    "FROM move_tasks t LEFT JOIN queues q ON q.account_id = t.account_id AND q.region = t.region "
    "AND q.name = t.source_name AND q.deleted_ms IS NULL AND q.created_ms <= t.started_ms "
    "WHERE t.id = $2::uuid AND t.status = 'RUNNING' FOR UPDATE OF t SKIP LOCKED"};

// $1 queue id: how many messages it holds.
const sql::NamedSql kCountSource = {"move_count_source", "SELECT count(*) FROM messages WHERE queue_id = $1::bigint"};

// $1 queue id, $2 now, $3 retention, $4 how many: the first visible,
// unexpired messages in seq order (RocksEngine's order), locked.
const sql::NamedSql kPickToMove = {
    "move_pick",
    "SELECT seq, system_attributes FROM messages WHERE queue_id = $1::bigint AND visible_at_ms <= $2::bigint "
    "AND sent_ms > $2::bigint - $3::bigint ORDER BY seq LIMIT $4::bigint FOR UPDATE SKIP LOCKED"};

// $1 account, $2 region, $3 names: the live destinations with their
// retention, kept from deletion until COMMIT.
const sql::NamedSql kFindDestinations = {
    "move_find_destinations",
    "SELECT name, id, (attributes::json->>'MessageRetentionPeriod')::bigint * 1000 FROM queues "
    "WHERE account_id = $1 AND region = $2 AND name = ANY($3::text[]) AND deleted_ms IS NULL FOR KEY SHARE"};

// $1 source id, $2 now, $3 seqs, $4 their destination ids, $5 their new
// message ids, $6 their system attributes: each message leaves the source
// and joins its destination as a new message (new seq and id, sent and
// visible now, never received), answering each destination id with its
// group ids (fair queues keep a row per group). The new seqs are drawn in
// the old seqs' order (PostgreSQL evaluates nextval after the ORDER BY
// sort), so each group keeps its order.
const sql::NamedSql kMoveBack = {
    "move_back",
    "WITH moved AS (DELETE FROM messages WHERE queue_id = $1::bigint AND seq = ANY($3::bigint[]) RETURNING *), "
    "added AS (INSERT INTO messages (queue_id, seq, message_id, group_id, flight, visible_at_ms, sent_ms, "
    "first_receive_ms, receive_count, body, body_md5, message_attributes, system_attributes) "
    "SELECT u.dest, nextval('message_seq'), u.mid, m.group_id, false, $2::bigint, $2::bigint, 0, 0, m.body, "
    "m.body_md5, m.message_attributes, u.sys FROM (SELECT * FROM moved ORDER BY seq) m "
    "JOIN unnest($3::bigint[], $4::bigint[], $5::uuid[], $6::text[]) AS u (seq, dest, mid, sys) ON u.seq = m.seq "
    "ORDER BY m.seq RETURNING queue_id, group_id) "
    "SELECT queue_id, array_agg(DISTINCT group_id) FROM added WHERE group_id <> '' GROUP BY queue_id"};

// $1 id, $2 moved, $3 status, $4 failure reason, $5 allowance, $6 now.
const sql::NamedSql kUpdateTask = {"move_update_task",
                                   "UPDATE move_tasks SET moved = $2::bigint, status = $3, failure_reason = $4, "
                                   "allowance = $5::float8, last_step_ms = $6::bigint WHERE id = $1::uuid"};

// $1 account or NULL (all), $2 region: RUNNING tasks, oldest first.
const sql::NamedSql kRunningTasks = {"move_running_tasks",
                                     "SELECT id FROM move_tasks WHERE status = 'RUNNING' AND ($1::text IS NULL OR "
                                     "(account_id = $1 AND region = $2)) ORDER BY started_ms LIMIT 100"};

// $1 queue id, $2 seqs: what a copy to another group carries of each.
const sql::NamedSql kMoveContent = {"move_content",
                                    "SELECT seq, message_id, body, body_md5, message_attributes FROM messages "
                                    "WHERE queue_id = $1::bigint AND seq = ANY($2::bigint[])"};

// A message's content, for a copy to another group.
struct Content {
  std::string message_id, body, body_md5, message_attributes;
};

// One step's state across its round trips (afresh when the transaction runs again).
struct MoveStep {
  Pool* pool = nullptr;
  std::shared_ptr<const MoveElsewhere> elsewhere;  // null: one group
  std::map<std::string, size_t> remote;            // destinations on other groups -> their group
  std::map<int64_t, Content> contents;             // seq -> content, of messages bound elsewhere
  std::vector<std::pair<size_t, std::string>> delivered_elsewhere;
  PgParam now_param;
  std::string task_id;
  MoveStepOutcome out;
  std::string destination_arn;
  int64_t moved = 0, to_move = 0, remaining = 0, source_id = 0, retention_ms = 0;
  bool fifo = false;
  double allowance = 0;
  std::vector<int64_t> seqs;
  std::vector<std::string> targets;    // each picked message's destination name ("" none)
  std::vector<std::string> systems;    // each picked message's system attributes there
  std::vector<std::string> groups;     // each picked message's group
  std::vector<std::string> looked_at;  // FIFO: the source's groups the pick locked

  void restart() {
    out = MoveStepOutcome{};
    remote.clear();
    contents.clear();
    delivered_elsewhere.clear();
    seqs.clear();
    for (auto* v : {&targets, &systems, &groups, &looked_at}) v->clear();
  }
};

// A live destination of the step's messages.
struct Destination {
  int64_t id = 0;
  int64_t retention_ms = 0;
};

// One picked message: its destination and what it carries there.
void add_picked(MoveStep& s, int64_t seq, std::string_view system_text, std::string_view group) {
  SystemAttributes system = decode_system_attributes(system_text);
  const std::string& arn = s.destination_arn.empty() ? system.dead_letter_queue_source_arn : s.destination_arn;
  s.targets.push_back(queue_name_from_arn(arn, s.out.region, s.out.account_id).value_or(""));
  returned_from_dead_letters(system);
  s.systems.push_back(encode_system_attributes(system));
  s.seqs.push_back(seq);
  s.groups.emplace_back(group);
}

// A standard source's picked rows (kPickToMove), in seq order.
void read_picked(MoveStep& s, const QueryResult& picked) {
  for (int row = 0; row < picked.rows(); ++row) add_picked(s, sql::int_at(picked, row, 0), picked.text(row, 1), "");
}

// A FIFO source's picked rows (kFifoPick: the receivable groups, locked,
// each with its first messages by seq): each group's receivable run
// (fifo_receivable_run), then those messages in seq order up to the budget,
// so a group moves from its first message on and one blocked by a message
// that is not visible (in flight or delayed) waits, as on RocksDB.
void read_fifo_picked(MoveStep& s, const QueryResult& picked, int64_t budget) {
  enum : int { kGroup = 1, kSeq = 2, kVisibleAt = 3, kSystem = 7 };
  std::vector<int> runs, rows;
  for (int row = 0; row < picked.rows();) {
    const std::string_view group = picked.text(row, kGroup);
    s.looked_at.emplace_back(group);
    rows.clear();
    for (; row < picked.rows() && picked.text(row, kGroup) == group; ++row) {
      if (!picked.is_null(row, kSeq)) rows.push_back(row);
    }
    const size_t run = fifo_receivable_run(rows.begin(), rows.end(), rows.size(),
                                           [&](int m) { return sql::int_at(picked, m, kVisibleAt) <= s.out.now; });
    runs.insert(runs.end(), rows.begin(), rows.begin() + static_cast<std::ptrdiff_t>(run));
  }
  std::sort(runs.begin(), runs.end(),
            [&](int a, int b) { return sql::int_at(picked, a, kSeq) < sql::int_at(picked, b, kSeq); });
  if (runs.size() > static_cast<size_t>(budget)) runs.resize(static_cast<size_t>(budget));
  for (int row : runs)
    add_picked(s, sql::int_at(picked, row, kSeq), picked.text(row, kSystem), picked.text(row, kGroup));
}

// The messages one step moves (a prefix of the picked ones, in seq order).
// A destination id 0: the queue `names[i]` on group `groups_of[i]`
// (another group's), copied there before the step commits.
struct Moves {
  std::vector<int64_t> seqs, destination_ids;
  std::vector<std::string> ids, systems, groups, names;
  std::vector<size_t> groups_of;
};

// The distinct values of `values`, in their first order.
std::vector<std::string_view> distinct(const std::vector<std::string_view>& values) {
  std::vector<std::string_view> out;
  for (auto v : values) {
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

// The groups of the moves to `destination_id`, in seq order.
std::vector<std::string_view> groups_to(const Moves& moves, int64_t destination_id) {
  std::vector<std::string_view> groups;
  for (size_t i = 0; i < moves.seqs.size(); ++i) {
    if (moves.destination_ids[i] == destination_id) groups.push_back(moves.groups[i]);
  }
  return distinct(groups);
}

// FIFO: before the move, each destination's groups of the moved messages
// locked (destinations by id, groups sorted: as a FIFO send locks them
// before it draws seqs); after it, those groups settled there (a group
// that was empty becomes receivable, at the back), then the source's groups
// looked at: those moved from first, in seq order.
void add_fifo_group_statements(const MoveStep& s, const Moves& moves, const std::map<int64_t, int64_t>& retention_of,
                               std::vector<Statement>& before, std::vector<Statement>& after) {
  const std::string now = std::to_string(s.out.now);
  for (const auto& [id, retention] : retention_of) {
    std::vector<std::string_view> groups = groups_to(moves, id);
    const std::string in_order = sql::text_array(groups);
    std::sort(groups.begin(), groups.end());
    before.push_back(sql::statement(sql::kFifoLockGroups, {std::to_string(id), sql::text_array(groups)}));
    after.push_back(sql::statement(sql::kFifoSettleGroups,
                                   {now, std::to_string(id), std::to_string(retention), in_order, "{}", "{}"}));
  }
  if (s.looked_at.empty()) return;
  std::vector<std::string_view> groups(moves.groups.begin(), moves.groups.end());
  groups.insert(groups.end(), s.looked_at.begin(), s.looked_at.end());
  const std::vector<std::string_view> moved_groups(moves.groups.begin(), moves.groups.end());
  after.push_back(sql::statement(
      sql::kFifoSettleGroups,
      {now, std::to_string(s.source_id), std::to_string(s.retention_ms), sql::text_array(distinct(groups)),
       sql::bigint_array(moves.seqs), sql::text_array(moved_groups)}));
}

// The moves up to the first message without a live destination (which
// fails the task: "" then, else the failure reason).
std::string plan_moves(const std::shared_ptr<MoveStep>& s, const std::map<std::string, Destination>& destinations,
                       Moves& moves, std::map<int64_t, int64_t>& retention_of) {
  for (size_t i = 0; i < s->seqs.size(); ++i) {
    auto found = destinations.find(s->targets[i]);
    auto remote = s->remote.find(s->targets[i]);
    if (found == destinations.end() && remote == s->remote.end()) {
      return kQueueMissing;  // no destination, or the message's source queue is gone
    }
    moves.seqs.push_back(s->seqs[i]);
    moves.ids.push_back(random_uuid());
    moves.systems.push_back(s->systems[i]);
    moves.groups.push_back(s->groups[i]);
    moves.names.push_back(s->targets[i]);
    if (found == destinations.end()) {
      moves.destination_ids.push_back(0);
      moves.groups_of.push_back(remote->second);
      continue;
    }
    moves.destination_ids.push_back(found->second.id);
    moves.groups_of.push_back(0);
    retention_of[found->second.id] = found->second.retention_ms;
    if (std::find(s->out.destinations.begin(), s->out.destinations.end(), found->first) == s->out.destinations.end()) {
      s->out.destinations.push_back(found->first);
    }
  }
  return "";
}

// The moves for which `keep(i)` holds, in their order.
template <class Keep>
Moves moves_where(const Moves& moves, Keep keep) {
  Moves out;
  for (size_t i = 0; i < moves.seqs.size(); ++i) {
    if (!keep(i)) continue;
    out.seqs.push_back(moves.seqs[i]);
    out.destination_ids.push_back(moves.destination_ids[i]);
    out.ids.push_back(moves.ids[i]);
    out.systems.push_back(moves.systems[i]);
    out.groups.push_back(moves.groups[i]);
    out.names.push_back(moves.names[i]);
    out.groups_of.push_back(moves.groups_of[i]);
  }
  return out;
}

// The moves to this group's queues (destination id not 0), as kMoveBack takes them.
Moves local_moves(const Moves& moves) {
  return moves_where(moves, [&](size_t i) { return moves.destination_ids[i] != 0; });
}

std::vector<int64_t> remote_seqs(const Moves& moves) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < moves.seqs.size(); ++i) {
    if (moves.destination_ids[i] == 0) out.push_back(moves.seqs[i]);
  }
  return out;
}

// The last round trip: the moves, the task row, COMMIT.
void commit_step(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx, const Moves& moves,
                 const std::map<int64_t, int64_t>& retention_of, const std::string& failure) {
  const auto count = static_cast<int64_t>(moves.seqs.size());
  const bool drained = s->moved + count >= s->to_move || s->remaining == count;
  const std::string status = !failure.empty() ? "FAILED" : drained ? "COMPLETED" : "RUNNING";
  s->out.running = status == "RUNNING";
  std::vector<Statement> last, after;
  if (s->fifo) add_fifo_group_statements(*s, moves, retention_of, last, after);
  const std::string now = std::to_string(s->out.now);
  const Moves local = local_moves(moves);
  if (!local.seqs.empty()) {
    std::vector<std::string_view> id_views(local.ids.begin(), local.ids.end());
    std::vector<std::string_view> system_views(local.systems.begin(), local.systems.end());
    last.push_back(sql::statement(kMoveBack, {std::to_string(s->source_id), now, sql::bigint_array(local.seqs),
                                              sql::bigint_array(local.destination_ids), sql::text_array(id_views),
                                              sql::text_array(system_views)}));
  }
  // Copied to other groups already: only deleted here.
  if (local.seqs.size() < moves.seqs.size()) {
    last.push_back(
        sql::statement(sql::kDeleteStandard, {std::to_string(s->source_id), sql::bigint_array(remote_seqs(moves))}));
  }
  for (auto& statement : after) last.push_back(std::move(statement));
  last.push_back(sql::statement(kUpdateTask, {s->task_id, std::to_string(s->moved + count), status, failure,
                                              std::to_string(s->allowance - double(count)), now}));
  if (local.seqs.empty() || s->fifo) return tx->commit_with(std::move(last), [](std::vector<QueryResult>&) {});
  // Fair queues keep a row per group: the moved messages' groups join their
  // destination's turns, in a last round trip before COMMIT.
  tx->step(std::move(last), [tx](std::vector<QueryResult>& r) {
    std::vector<Statement> groups;
    for (int row = 0; row < r.front().rows(); ++row) {
      groups.push_back(
          sql::statement(sql::kSendGroups, {std::string(r.front().text(row, 0)), std::string(r.front().text(row, 1))}));
    }
    if (groups.empty()) return tx->commit();
    tx->commit_with(std::move(groups), [](std::vector<QueryResult>&) {});
  });
}

// The copies of the moves bound to other groups, one group after another
// (each its own transaction there, keyed by the source's message id), then
// commit_step on the step's own thread. A group that fails fails the step
// (retried next time: copies made are skipped then); a destination gone
// there leaves its messages in the source and fails the task.
void copy_elsewhere(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx, std::shared_ptr<Moves> moves,
                    std::map<int64_t, int64_t> retention_of, std::string failure, std::vector<size_t> groups,
                    size_t next) {
  if (next >= groups.size()) return commit_step(s, tx, *moves, retention_of, failure);
  const size_t group = groups[next];
  std::vector<TransferMessage> copies;
  for (size_t i = 0; i < moves->seqs.size(); ++i) {
    if (moves->destination_ids[i] != 0 || moves->groups_of[i] != group) continue;
    const Content& c = s->contents.at(moves->seqs[i]);
    TransferMessage m;
    m.destination = moves->names[i];
    m.key = c.message_id;
    m.message_id = moves->ids[i];
    m.group_id = moves->groups[i];
    m.sent_ms = s->out.now;
    m.body = c.body;
    m.body_md5 = c.body_md5;
    m.message_attributes = c.message_attributes;
    m.system_attributes = moves->systems[i];
    copies.push_back(std::move(m));
  }
  transfer_in(s->elsewhere->pool_of(group), s->now_param, s->out.account_id, s->out.region, std::move(copies), {},
              [s, tx, moves, retention_of = std::move(retention_of), failure = std::move(failure),
               groups = std::move(groups), next, group](Result<TransferOutcome> r) mutable {
                boost::asio::post(
                    s->pool->io(), [s, tx, moves, retention_of = std::move(retention_of), failure = std::move(failure),
                                    groups = std::move(groups), next, group, r = std::move(r)]() mutable {
                      if (!r.ok()) return tx->fail(r.error());
                      if (!r->missing.empty()) {
                        failure = kQueueMissing;
                        const auto& missing = r->missing;
                        *moves = moves_where(*moves, [&](size_t i) {
                          return moves->destination_ids[i] != 0 || moves->groups_of[i] != group ||
                                 std::find(missing.begin(), missing.end(), moves->names[i]) == missing.end();
                        });
                      }
                      for (const auto& name : r->delivered) s->delivered_elsewhere.emplace_back(group, name);
                      copy_elsewhere(s, tx, moves, std::move(retention_of), std::move(failure), std::move(groups),
                                     next + 1);
                    });
              });
}

// The moves planned from the destinations found; those bound to other
// groups copied there first.
void finish_step(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx,
                 const std::map<std::string, Destination>& destinations) {
  auto moves = std::make_shared<Moves>();
  std::map<int64_t, int64_t> retention_of;  // destination id -> its retention
  std::string failure = plan_moves(s, destinations, *moves, retention_of);
  std::vector<size_t> groups;
  for (size_t i = 0; i < moves->seqs.size(); ++i) {
    if (moves->destination_ids[i] == 0 && std::find(groups.begin(), groups.end(), moves->groups_of[i]) == groups.end())
      groups.push_back(moves->groups_of[i]);
  }
  if (groups.empty()) return commit_step(s, tx, *moves, retention_of, failure);
  copy_elsewhere(s, tx, moves, std::move(retention_of), std::move(failure), std::move(groups), 0);
}

// Each destination name's group (MoveElsewhere::locate), one after another
// and back on the step's thread: names on other groups go to s->remote,
// names of no queue are left out (missing), and `then` gets this group's.
void locate_targets(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx, std::vector<std::string> names,
                    size_t next, std::vector<std::string> local, std::function<void(std::vector<std::string>)> then) {
  if (next >= names.size()) return then(std::move(local));
  const std::string name = names[next];
  s->elsewhere->locate(name, [s, tx, names = std::move(names), next, local = std::move(local), then = std::move(then),
                              name](Result<size_t> g) mutable {
    boost::asio::post(s->pool->io(), [s, tx, names = std::move(names), next, local = std::move(local),
                                      then = std::move(then), name, g = std::move(g)]() mutable {
      if (!g.ok() && g.error().code != ErrorCode::QueueDoesNotExist) return tx->fail(g.error());
      if (g.ok() && *g == s->elsewhere->own) local.push_back(name);
      if (g.ok() && *g != s->elsewhere->own) s->remote[name] = *g;
      locate_targets(s, tx, std::move(names), next + 1, std::move(local), std::move(then));
    });
  });
}

// The destinations of this group found (kept from deletion until COMMIT),
// and the content of the messages bound elsewhere read; then finish_step.
void find_destinations(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx,
                       const std::vector<std::string>& local) {
  std::vector<Statement> third;
  const std::vector<std::string_view> names(local.begin(), local.end());
  third.push_back(sql::statement(kFindDestinations, {s->out.account_id, s->out.region, sql::text_array(names)}));
  std::vector<int64_t> elsewhere;
  for (size_t i = 0; i < s->seqs.size(); ++i) {
    if (s->remote.count(s->targets[i])) elsewhere.push_back(s->seqs[i]);
  }
  if (!elsewhere.empty()) {
    third.push_back(sql::statement(kMoveContent, {std::to_string(s->source_id), sql::bigint_array(elsewhere)}));
  }
  tx->step(std::move(third), [s, tx](std::vector<QueryResult>& found) {
    std::map<std::string, Destination> destinations;
    for (int row = 0; row < found[0].rows(); ++row) {
      destinations.emplace(std::string(found[0].text(row, 0)),
                           Destination{sql::int_at(found[0], row, 1), sql::int_at(found[0], row, 2)});
    }
    if (found.size() > 1) {
      const QueryResult& c = found[1];
      for (int row = 0; row < c.rows(); ++row) {
        s->contents[sql::int_at(c, row, 0)] = Content{std::string(c.text(row, 1)), std::string(c.text(row, 2)),
                                                      std::string(c.text(row, 3)), std::string(c.text(row, 4))};
      }
    }
    finish_step(s, tx, destinations);
  });
}

// After the task row: the source's count and picked messages, then their destinations.
void pick_and_move(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx, int64_t budget) {
  std::vector<Statement> second;
  const std::string source_id = std::to_string(s->source_id), now = std::to_string(s->out.now);
  second.push_back(sql::statement(kCountSource, {source_id}));
  if (s->fifo) {
    second.push_back(
        sql::statement(sql::kFifoPick, {now, source_id, std::to_string(s->retention_ms), std::to_string(budget)}));
  } else {
    second.push_back(
        sql::statement(kPickToMove, {source_id, now, std::to_string(s->retention_ms), std::to_string(budget)}));
  }
  tx->step(std::move(second), [s, tx, budget](std::vector<QueryResult>& r) {
    s->remaining = sql::int_at(r[0], 0, 0);
    if (s->fifo) {
      read_fifo_picked(*s, r[1], budget);
    } else {
      read_picked(*s, r[1]);
    }
    std::vector<std::string> names;
    for (const auto& name : s->targets) {
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    if (names.empty()) return finish_step(s, tx, {});
    if (!s->elsewhere) return find_destinations(s, tx, names);
    locate_targets(s, tx, std::move(names), 0, {},
                   [s, tx](std::vector<std::string> local) { find_destinations(s, tx, local); });
  });
}

void step_locked_task(const std::shared_ptr<MoveStep>& s, const std::shared_ptr<Tx>& tx, const QueryResult& task) {
  const int64_t now = sql::int_at(task, 0, 0);
  s->out.now = now;
  s->out.account_id = std::string(task.text(0, 1));
  s->out.region = std::string(task.text(0, 2));
  s->destination_arn = std::string(task.text(0, 4));
  const int max_per_second = static_cast<int>(sql::int_at(task, 0, 5));
  s->moved = sql::int_at(task, 0, 6);
  s->to_move = sql::int_at(task, 0, 7);
  if (task.is_null(0, 10)) {  // the source queue is gone
    s->out.running = false;
    return tx->commit_with({sql::statement(kUpdateTask, {s->task_id, std::to_string(s->moved), "FAILED", kQueueMissing,
                                                         "0", std::to_string(now)})},
                           [](std::vector<QueryResult>&) {});
  }
  s->source_id = sql::int_at(task, 0, 10);
  s->retention_ms = sql::int_at(task, 0, 11);
  s->fifo = task.text(0, 12) == "t";
  // RocksEngine's rate rule, from the row: whichever runner steps next continues it.
  const double rate = max_per_second > 0 ? max_per_second : kDefaultRate;
  const double stored = std::strtod(std::string(task.text(0, 8)).c_str(), nullptr);
  const int64_t last_step = sql::int_at(task, 0, 9);
  s->allowance = std::min(rate, stored + rate * double(std::max<int64_t>(0, now - last_step)) / 1000.0);
  const int64_t budget =
      std::max<int64_t>(0, std::min(static_cast<int64_t>(std::floor(s->allowance)), s->to_move - s->moved));
  pick_and_move(s, tx, budget);
}

}  // namespace

void step_move_task(Pool& pool, PgParam now, std::string task_id, std::function<void(Result<MoveStepOutcome>)> done,
                    std::shared_ptr<const MoveElsewhere> elsewhere) {
  auto s = std::make_shared<MoveStep>();
  s->pool = &pool;
  s->elsewhere = std::move(elsewhere);
  s->now_param = std::move(now);
  s->task_id = std::move(task_id);
  auto body = [s](std::shared_ptr<Tx> tx) {
    s->restart();
    tx->step({sql::statement(kLockTask, {s->now_param, s->task_id})}, [s, tx](std::vector<QueryResult>& r) {
      if (r[0].rows() == 0) return tx->commit();  // another runner has it, or it ended
      step_locked_task(s, tx, r[0]);
    });
  };
  run_transaction(pool, std::move(body), [s, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    if (s->elsewhere) {
      for (const auto& [group, name] : s->delivered_elsewhere) s->elsewhere->notify(group, name);
    }
    done(std::move(s->out));
  });
}

namespace {

void step_next(Pool& pool, PgParam now, std::shared_ptr<std::vector<std::string>> ids, size_t next,
               std::shared_ptr<std::vector<MoveStepOutcome>> outcomes,
               std::function<void(std::vector<MoveStepOutcome>)> done, std::shared_ptr<const MoveElsewhere> elsewhere) {
  if (next >= ids->size()) return done(std::move(*outcomes));
  step_move_task(
      pool, now, (*ids)[next],
      [&pool, now, ids, next, outcomes, done = std::move(done), elsewhere](Result<MoveStepOutcome> r) mutable {
        if (r) outcomes->push_back(std::move(r.value()));
        step_next(pool, std::move(now), ids, next + 1, outcomes, std::move(done), std::move(elsewhere));
      },
      elsewhere);
}

}  // namespace

void step_running_move_tasks(Pool& pool, PgParam now, PgParam account, PgParam region,
                             std::function<void(std::vector<MoveStepOutcome>)> done,
                             std::shared_ptr<const MoveElsewhere> elsewhere) {
  run_statements(pool, {sql::statement(kRunningTasks, {std::move(account), std::move(region)})},
                 [&pool, now = std::move(now), done = std::move(done),
                  elsewhere = std::move(elsewhere)](Result<std::vector<QueryResult>> r) mutable {
                   if (!r) return done({});
                   auto ids = std::make_shared<std::vector<std::string>>();
                   for (int row = 0; row < r->front().rows(); ++row) ids->emplace_back(r->front().text(row, 0));
                   step_next(pool, std::move(now), ids, 0, std::make_shared<std::vector<MoveStepOutcome>>(),
                             std::move(done), std::move(elsewhere));
                 });
}

}  // namespace wharf::storage::postgresql
