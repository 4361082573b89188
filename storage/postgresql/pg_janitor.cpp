// The janitor under its lease (docs/design/postgresql.md section 8; see
// pg_janitor.h). Everything here runs on the cluster's thread.
#include "storage/postgresql/pg_janitor.h"

#include <boost/asio/post.hpp>

#include <future>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "storage/postgresql/pg_statements.h"

namespace wharf::storage::postgresql {
namespace asio = boost::asio;
namespace {

// How often the holder wakes: move tasks step at this pace while any runs.
constexpr std::chrono::milliseconds kTick{kMoveStepMs};

// The round's steps, each its own transaction of at most kJanitorBatch
// rows, each safe to run on two nodes at once. Times are the database's.

// Retention of every standard queue of every account and region: the first
// 100 messages by seq of each, those past retention (FIFO queues: below).
const sql::NamedSql kJanitorRetention = {
    "janitor_retention",
    "WITH clock AS (SELECT now_ms(NULL::bigint) AS now), expired AS (SELECT q.id, x.seq FROM queues q "
    "CROSS JOIN LATERAL (SELECT f.seq, f.sent_ms FROM messages f WHERE f.queue_id = q.id ORDER BY f.seq LIMIT 100) x "
    "WHERE q.deleted_ms IS NULL AND NOT q.fifo AND x.sent_ms <= (SELECT now FROM clock) - "
    "(q.attributes::json->>'MessageRetentionPeriod')::bigint * 1000 LIMIT 1000) "
    "DELETE FROM messages m USING expired e WHERE m.queue_id = e.id AND m.seq = e.seq"};

// Retention of every FIFO queue, a transaction of two round trips
// (sweep_fifo_retention). The first: the groups of the expired messages
// among the first 100 by seq of each queue (at most 100 groups, their rows
// locked SKIP LOCKED: a group a sender, receive or handle holds waits for
// the next round), the expired ones among each group's first 1,000
// deleted (at most 1,000, SKIP LOCKED too: the janitor never waits on a
// lock). Answers each group swept, its queue's retention and its first
// seq swept, in that seq's order.
const sql::NamedSql kJanitorFifoSweep = {
    "janitor_fifo_sweep",
    "WITH clock AS (SELECT now_ms(NULL::bigint) AS now), "
    "live AS (SELECT q.id, (q.attributes::json->>'MessageRetentionPeriod')::bigint * 1000 AS retention "
    "FROM queues q WHERE q.deleted_ms IS NULL AND q.fifo), "
    "heads AS (SELECT DISTINCT l.id AS queue_id, x.group_id, l.retention FROM live l CROSS JOIN LATERAL ("
    "SELECT f.group_id, f.sent_ms FROM messages f WHERE f.queue_id = l.id ORDER BY f.seq LIMIT 100) x "
    "WHERE x.sent_ms <= (SELECT now FROM clock) - l.retention), "
    "locked AS (SELECT g.queue_id, g.group_id, h.retention FROM groups g JOIN heads h "
    "ON g.queue_id = h.queue_id AND g.group_id = h.group_id LIMIT 100 FOR UPDATE OF g SKIP LOCKED), "
    "doomed AS (SELECT l.queue_id, x.seq FROM locked l CROSS JOIN LATERAL ("
    "SELECT m.seq FROM messages m WHERE m.queue_id = l.queue_id AND m.group_id = l.group_id "
    "AND m.group_id <> '' AND m.sent_ms <= (SELECT now FROM clock) - l.retention "
    "AND m.seq <= (SELECT max(s.seq) FROM (SELECT n.seq FROM messages n WHERE n.queue_id = l.queue_id "
    "AND n.group_id = l.group_id AND n.group_id <> '' ORDER BY n.seq LIMIT 1000) s) "
    "ORDER BY m.seq FOR UPDATE OF m SKIP LOCKED) x LIMIT 1000), "
    "swept AS (DELETE FROM messages m USING doomed d WHERE m.queue_id = d.queue_id AND m.seq = d.seq "
    "RETURNING m.queue_id, m.group_id, m.seq) "
    "SELECT s.queue_id, s.group_id, l.retention, min(s.seq) FROM swept s JOIN locked l "
    "ON l.queue_id = s.queue_id AND l.group_id = s.group_id GROUP BY s.queue_id, s.group_id, l.retention "
    "ORDER BY min(s.seq)"};

// The second, on a snapshot taken with the groups locked (so it sees every
// message a writer of those groups committed first). $1 queue ids, $2
// groups, $3 retentions (as kJanitorFifoSweep answered them): each group
// settled as RocksDB's expiry leaves it (storage/message_rules.h): no
// unexpired message left: ready_at_ms NULL (kJanitorEmptyGroups removes the
// row once no message is left at all); its first unexpired message in
// flight or delayed: receivable at its visible_at_ms, turn its seq (as
// fifo_settle_groups); receivable before and still: its place kept;
// receivable only now (the expired first message was in flight): the back
// of the turns, in the order of $2.
const sql::NamedSql kJanitorFifoSettle = {
    "janitor_fifo_settle",
    "WITH clock AS (SELECT now_ms(NULL::bigint) AS now), "
    "firsts AS (SELECT s.queue_id, s.group_id, s.pos, x.seq, x.visible_at_ms FROM unnest($1::bigint[], "
    "$2::text[], $3::bigint[]) WITH ORDINALITY AS s (queue_id, group_id, retention, pos) LEFT JOIN LATERAL ("
    "SELECT m.seq, m.visible_at_ms FROM messages m WHERE m.queue_id = s.queue_id AND m.group_id = s.group_id "
    "AND m.group_id <> '' AND m.sent_ms > (SELECT now FROM clock) - s.retention ORDER BY m.seq LIMIT 1) x ON true), "
    "base AS (SELECT nextval('turn_seq') * 1024 AS turn) "
    "UPDATE groups g SET ready_at_ms = CASE WHEN f.seq IS NULL THEN NULL "
    "WHEN f.visible_at_ms > c.now THEN f.visible_at_ms WHEN g.ready_at_ms <= c.now THEN g.ready_at_ms "
    "ELSE c.now END, "
    "turn = CASE WHEN f.seq IS NULL THEN g.turn WHEN f.visible_at_ms > c.now THEN f.seq "
    "WHEN g.ready_at_ms <= c.now THEN g.turn ELSE base.turn + f.pos END "
    "FROM firsts f, clock c, base WHERE g.queue_id = f.queue_id AND g.group_id = f.group_id"};

// The rows of FIFO groups with no message left (groups_empty), 1,000 at a
// time. Race-free with a send to the group on another node: every writer
// of a FIFO group's messages (send, a move to a FIFO dead-letter queue)
// first locks its row with fifo_lock_groups (INSERT ... ON CONFLICT),
// then settles it in the same transaction (ready_at_ms no longer NULL).
// So the row is either locked by that writer (skipped here: SKIP LOCKED),
// or changed since this statement's snapshot (READ COMMITTED re-checks
// `ready_at_ms IS NULL` on the newest version when locking it: false, the
// row stays), or deleted here first: then the writer's INSERT waits for
// this transaction, finds no conflict once it commits, and inserts the
// row afresh (empty, settled by the writer as a new group). The janitor
// waits on no lock, so no lock order can cycle through it.
const sql::NamedSql kJanitorEmptyGroups = {
    "janitor_empty_groups",
    "DELETE FROM groups g USING (SELECT e.queue_id, e.group_id FROM groups e WHERE e.ready_at_ms IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.queue_id = e.queue_id AND m.group_id = e.group_id "
    "AND m.group_id <> '') LIMIT 1000 FOR UPDATE OF e SKIP LOCKED) x "
    "WHERE g.queue_id = x.queue_id AND g.group_id = x.group_id AND g.ready_at_ms IS NULL"};

// $1 cooldown: messages of queues deleted longer ago than the cooldown, in batches.
const sql::NamedSql kJanitorDroppedMessages = {
    "janitor_dropped_messages",
    "DELETE FROM messages m USING (SELECT f.queue_id, f.seq FROM queues q JOIN messages f ON f.queue_id = q.id "
    "WHERE q.deleted_ms IS NOT NULL AND q.deleted_ms <= now_ms(NULL::bigint) - $1::bigint LIMIT 1000) d "
    "WHERE m.queue_id = d.queue_id AND m.seq = d.seq"};

// $1 cooldown: then the rows of those queues left without messages (their
// groups, deduplication entries and attempts go with them).
const sql::NamedSql kJanitorDroppedQueues = {
    "janitor_dropped_queues",
    "DELETE FROM queues WHERE id IN (SELECT q.id FROM queues q WHERE q.deleted_ms IS NOT NULL "
    "AND q.deleted_ms <= now_ms(NULL::bigint) - $1::bigint "
    "AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.queue_id = q.id) LIMIT 100 FOR UPDATE SKIP LOCKED)"};

const sql::NamedSql kJanitorDedup = {
    "janitor_dedup",
    "DELETE FROM dedup d USING (SELECT queue_id, dedup_key FROM dedup WHERE expires_ms <= now_ms(NULL::bigint) "
    "LIMIT 1000 FOR UPDATE SKIP LOCKED) x WHERE d.queue_id = x.queue_id AND d.dedup_key = x.dedup_key"};

const sql::NamedSql kJanitorAttempts = {
    "janitor_attempts",
    "DELETE FROM receive_attempts a USING (SELECT queue_id, attempt_id FROM receive_attempts "
    "WHERE expires_ms <= now_ms(NULL::bigint) LIMIT 1000 FOR UPDATE SKIP LOCKED) x "
    "WHERE a.queue_id = x.queue_id AND a.attempt_id = x.attempt_id"};

// Send tokens older than 10 minutes (a send's outcome is learnt within
// kInDoubtWait; the margin covers nodes' clocks, which time the tokens),
// along the primary key: a token starts with its ms. Up to 20,000 a round,
// more than the sends of a second at any rate measured.
const sql::NamedSql kJanitorSendTokens = {
    "janitor_send_tokens",
    "DELETE FROM send_tokens WHERE token IN (SELECT token FROM send_tokens WHERE token < "
    "(lpad(to_hex(now_ms(NULL::bigint) - 600000), 16, '0') || '0000000000000000')::uuid "
    "ORDER BY token LIMIT 20000)"};

// Transfer keys (pg_transfer.h) past their day.
const sql::NamedSql kJanitorTransferKeys = {
    "janitor_transfer_keys",
    "DELETE FROM transfer_keys t USING (SELECT queue_id, message_id FROM transfer_keys "
    "WHERE expires_ms <= now_ms(NULL::bigint) LIMIT 1000 FOR UPDATE SKIP LOCKED) x "
    "WHERE t.queue_id = x.queue_id AND t.message_id = x.message_id"};

// One step of a round: its own transaction; `done(false)` on failure.
using Step = std::function<void(Pool&, std::function<void(bool)>)>;

Step statement_step(Statement statement) {
  return [statement = std::move(statement)](Pool& pool, std::function<void(bool)> done) {
    run_statements(pool, {statement}, [done = std::move(done)](Result<std::vector<QueryResult>> r) { done(r.ok()); });
  };
}

// FIFO retention: kJanitorFifoSweep, then kJanitorFifoSettle on what it
// swept, then COMMIT.
void sweep_fifo_retention(Pool& pool, std::function<void(bool)> done) {
  auto body = [](std::shared_ptr<Tx> tx) {
    tx->step({sql::statement(kJanitorFifoSweep, {})}, [tx](std::vector<QueryResult>& results) {
      const QueryResult& swept = results.front();
      if (swept.rows() == 0) return tx->commit();
      std::vector<int64_t> queues, retentions;
      std::vector<std::string_view> groups;
      for (int row = 0; row < swept.rows(); ++row) {
        queues.push_back(sql::int_at(swept, row, 0));
        groups.push_back(swept.text(row, 1));
        retentions.push_back(sql::int_at(swept, row, 2));
      }
      tx->commit_with({sql::statement(kJanitorFifoSettle, {sql::bigint_array(queues), sql::text_array(groups),
                                                           sql::bigint_array(retentions)})},
                      [](std::vector<QueryResult>&) {});
    });
  };
  run_transaction(pool, std::move(body), [done = std::move(done)](Status finished) { done(finished.ok()); });
}

// Runs steps[next..] one transaction each; a failure ends the round early
// (the next round tries again).
void run_each(Pool& pool, std::shared_ptr<std::vector<Step>> steps, size_t next, std::function<void()> done) {
  if (next >= steps->size()) return done();
  (*steps)[next](pool, [&pool, steps, next, done = std::move(done)](bool ok) mutable {
    if (!ok) return done();
    run_each(pool, steps, next + 1, std::move(done));
  });
}

}  // namespace

void run_fifo_janitor_steps(Pool& pool, std::function<void(bool)> done) {
  auto steps = std::make_shared<std::vector<Step>>();
  steps->push_back(sweep_fifo_retention);
  steps->push_back(statement_step(sql::statement(kJanitorEmptyGroups, {})));
  auto ok = std::make_shared<bool>(false);
  steps->push_back([ok](Pool&, std::function<void(bool)> last) {
    *ok = true;
    last(true);
  });
  run_each(pool, steps, 0, [ok, done = std::move(done)] { done(*ok); });
}

PgJanitor::PgJanitor(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms, bool step_move_tasks)
    : cluster_(std::move(cluster)),
      cooldown_ms_(queue_delete_cooldown_ms),
      step_move_tasks_(step_move_tasks),
      timer_(cluster_->io()),
      lease_key_("wharf-janitor/" + cluster_->options().schema) {}

PgJanitor::~PgJanitor() = default;

std::shared_ptr<PgJanitor> PgJanitor::start(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms,
                                            bool step_move_tasks) {
  std::shared_ptr<PgJanitor> janitor(new PgJanitor(std::move(cluster), queue_delete_cooldown_ms, step_move_tasks));
  asio::post(janitor->cluster_->io(), [janitor] { janitor->tick(); });
  return janitor;
}

// As PgNotifier::stop: the second turn lets the handlers that closing
// cancelled run before the caller drops the janitor. Then it waits for a
// round or move step still running on the pool (bounded: small steps):
// their handlers hold the janitor, and with it the cluster, which must not
// be released last on its own thread.
void PgJanitor::stop() {
  for (int turn = 0;; ++turn) {
    std::promise<bool> ran;
    asio::post(cluster_->io(), [this, turn, &ran] {
      if (turn == 0) {
        stopped_ = true;
        holds_lease_ = false;
        timer_.cancel();
        if (lease_) lease_->close();  // the lease goes with the session
        lease_.reset();
      }
      ran.set_value(busy_);
    });
    const bool busy = ran.get_future().get();
    if (turn >= 1 && (!busy || turn > 3'000)) return;
    if (busy) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void PgJanitor::arm(std::chrono::milliseconds after) {
  timer_.expires_after(after);
  timer_.async_wait([self = shared_from_this()](const boost::system::error_code& error) {
    if (!error) self->tick();
  });
}

void PgJanitor::tick() {
  if (stopped_) return;
  arm(holds_lease_ ? kTick : kEvery);
  if (busy_ || connecting_) return;
  if (!lease_ || !lease_->connected()) {
    holds_lease_ = false;  // a holder that lost its connection stops at once
    return connect();
  }
  if (!holds_lease_) return try_lease();
  if (std::chrono::steady_clock::now() >= next_round_) return run_round();
  if (moves_running_) step_moves();
}

void PgJanitor::connect() {
  connecting_ = true;
  lease_ = Connection::create(cluster_->io());
  const PgOptions& options = cluster_->options();
  lease_->async_connect(options.url, options.connect_timeout,
                        [self = shared_from_this()](std::optional<PgError> error) {
                          self->connecting_ = false;
                          if (self->stopped_) return;
                          if (error) {
                            self->lease_.reset();  // the next tick tries again
                            return;
                          }
                          self->try_lease();
                        });
}

void PgJanitor::try_lease() {
  busy_ = true;
  lease_->async_query("SELECT pg_try_advisory_lock(hashtext($1))", {lease_key_},
                      [self = shared_from_this()](QueryResult result) {
                        self->busy_ = false;
                        if (self->stopped_) return;
                        if (!result.ok()) {
                          if (self->lease_) self->lease_->close();
                          self->lease_.reset();
                          return;
                        }
                        self->holds_lease_ = result.rows() > 0 && result.text(0, 0) == "t";
                        if (self->holds_lease_) self->run_round();
                      });
}

// Every kEvery: the lease connection checked (a holder that lost it stops),
// then the steps, then the move tasks.
void PgJanitor::run_round() {
  busy_ = true;
  next_round_ = std::chrono::steady_clock::now() + kEvery;
  lease_->async_query("SELECT 1", {}, [self = shared_from_this()](QueryResult alive) {
    if (self->stopped_ || !alive.ok()) self->busy_ = false;
    if (self->stopped_) return;
    if (!alive.ok()) {
      self->holds_lease_ = false;
      if (self->lease_) self->lease_->close();
      self->lease_.reset();
      return;
    }
    const std::string cooldown = std::to_string(self->cooldown_ms_);
    auto steps = std::make_shared<std::vector<Step>>();
    steps->push_back(statement_step(sql::statement(kJanitorRetention, {})));
    steps->push_back(run_fifo_janitor_steps);
    steps->push_back(statement_step(sql::statement(kJanitorDroppedMessages, {cooldown})));
    steps->push_back(statement_step(sql::statement(kJanitorDroppedQueues, {cooldown})));
    steps->push_back(statement_step(sql::statement(kJanitorDedup, {})));
    steps->push_back(statement_step(sql::statement(kJanitorAttempts, {})));
    steps->push_back(statement_step(sql::statement(kJanitorSendTokens, {})));
    steps->push_back(statement_step(sql::statement(kJanitorTransferKeys, {})));
    run_each(self->cluster_->pool(), steps, 0, [self] {
      self->busy_ = false;
      if (self->stopped_) return;
      self->step_moves();
      ++self->rounds_;
    });
  });
}

void PgJanitor::step_moves() {
  if (!step_move_tasks_) return;
  busy_ = true;
  step_running_move_tasks(cluster_->pool(), std::nullopt, std::nullopt, std::nullopt,
                          [self = shared_from_this()](std::vector<MoveStepOutcome> steps) {
                            self->busy_ = false;
                            self->moves_running_ = !steps.empty();
                          });
}

}  // namespace wharf::storage::postgresql
