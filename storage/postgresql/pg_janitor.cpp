// The janitor under its lease (docs/design/postgresql.md section 8; see
// pg_janitor.h). Everything here runs on the cluster's thread.
#include "storage/postgresql/pg_janitor.h"

#include <boost/asio/post.hpp>

#include <future>
#include <utility>

#include "storage/postgresql/pg_statements.h"

namespace wharf::storage::postgresql {
namespace asio = boost::asio;
namespace {

// How often the holder wakes: move tasks step at this pace while any runs.
constexpr std::chrono::milliseconds kTick{kMoveStepMs};

// The round's steps, each its own transaction of at most kJanitorBatch
// rows, each safe to run on two nodes at once. Times are the database's.

// Retention of every standard queue of every account and region: the first
// 100 messages by seq of each, those past retention (FIFO queues wait for
// their groups' rules, as in sweep_expired).
const sql::NamedSql kJanitorRetention = {
    "janitor_retention",
    "WITH clock AS (SELECT now_ms(NULL::bigint) AS now), expired AS (SELECT q.id, x.seq FROM queues q "
    "CROSS JOIN LATERAL (SELECT f.seq, f.sent_ms FROM messages f WHERE f.queue_id = q.id ORDER BY f.seq LIMIT 100) x "
    "WHERE q.deleted_ms IS NULL AND NOT q.fifo AND x.sent_ms <= (SELECT now FROM clock) - "
    "(q.attributes::json->>'MessageRetentionPeriod')::bigint * 1000 LIMIT 1000) "
    "DELETE FROM messages m USING expired e WHERE m.queue_id = e.id AND m.seq = e.seq"};

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

// Runs statements[next..] one transaction each; a failure ends the round
// early (the next round tries again).
void run_each(Pool& pool, std::shared_ptr<std::vector<Statement>> statements, size_t next, std::function<void()> done) {
  if (next >= statements->size()) return done();
  run_statements(pool, {(*statements)[next]},
                 [&pool, statements, next, done = std::move(done)](Result<std::vector<QueryResult>> r) mutable {
                   if (!r) return done();
                   run_each(pool, statements, next + 1, std::move(done));
                 });
}

}  // namespace

PgJanitor::PgJanitor(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms)
    : cluster_(std::move(cluster)),
      cooldown_ms_(queue_delete_cooldown_ms),
      timer_(cluster_->io()),
      lease_key_("wharf-janitor/" + cluster_->options().schema) {}

PgJanitor::~PgJanitor() = default;

std::shared_ptr<PgJanitor> PgJanitor::start(std::shared_ptr<PgCluster> cluster, int64_t queue_delete_cooldown_ms) {
  std::shared_ptr<PgJanitor> janitor(new PgJanitor(std::move(cluster), queue_delete_cooldown_ms));
  asio::post(janitor->cluster_->io(), [janitor] { janitor->tick(); });
  return janitor;
}

// As PgNotifier::stop: the second turn lets the handlers that closing
// cancelled run before the caller drops the janitor.
void PgJanitor::stop() {
  for (int turn = 0; turn < 2; ++turn) {
    std::promise<void> ran;
    asio::post(cluster_->io(), [this, turn, &ran] {
      if (turn == 0) {
        stopped_ = true;
        holds_lease_ = false;
        timer_.cancel();
        if (lease_) lease_->close();  // the lease goes with the session
        lease_.reset();
      }
      ran.set_value();
    });
    ran.get_future().wait();
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
    if (self->stopped_) return;
    if (!alive.ok()) {
      self->busy_ = false;
      self->holds_lease_ = false;
      if (self->lease_) self->lease_->close();
      self->lease_.reset();
      return;
    }
    const std::string cooldown = std::to_string(self->cooldown_ms_);
    auto steps = std::make_shared<std::vector<Statement>>();
    steps->push_back(sql::statement(kJanitorRetention, {}));
    steps->push_back(sql::statement(kJanitorDroppedMessages, {cooldown}));
    steps->push_back(sql::statement(kJanitorDroppedQueues, {cooldown}));
    steps->push_back(sql::statement(kJanitorDedup, {}));
    steps->push_back(sql::statement(kJanitorAttempts, {}));
    run_each(self->cluster_->pool(), steps, 0, [self] {
      self->busy_ = false;
      if (self->stopped_) return;
      self->step_moves();
      ++self->rounds_;
    });
  });
}

void PgJanitor::step_moves() {
  busy_ = true;
  step_running_move_tasks(cluster_->pool(), std::nullopt, std::nullopt, std::nullopt,
                          [self = shared_from_this()](std::vector<MoveStepOutcome> steps) {
                            self->busy_ = false;
                            self->moves_running_ = !steps.empty();
                          });
}

}  // namespace wharf::storage::postgresql
