// PgEngine's receives on standard queues (docs/design/postgresql.md
// sections 6.4, 6.5, 6.7). Without a RedrivePolicy one statement picks and
// takes the messages (fair queues: groups in turns); with one, a
// transaction of two round trips picks them (locked; fair queues: groups
// in turns, as without the policy), decides in C++ which go to the
// dead-letter queue (storage/redrive_rules.h), and takes or moves them.
// FIFO receives (6.6, 6.7): a transaction of two round trips, the
// receivable groups locked in turn order, each group's run decided in C++
// (fifo_receivable_run), the groups settled; a receive with an attempt id
// first looks for its record (6.8).
#include <algorithm>
#include <memory>

#include "storage/arn.h"
#include "storage/message_rules.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/receipt_handle.h"
#include "storage/redrive_rules.h"
#include "storage/system_attributes.h"

namespace wharf::storage::postgresql {
namespace {

using Received = std::vector<ReceivedMessage>;

// How many groups a fair receive looks at for each message it may take: a
// group with nothing visible is passed over (section 6.5).
constexpr int kGroupsPerMessage = 4;

// The longest MessageRetentionPeriod (14 days), in ms.
constexpr int64_t kMaxRetentionMs = 14LL * 24 * 3600 * 1000;

// What a receive was asked, with its queue's settings.
struct ReceiveAsk {
  int64_t queue_id = 0;
  std::string queue_name;
  int max_messages = 1;
  int64_t vt_ms = 0;
  int64_t retention_ms = 0;
};

// The messages a receive took (rows of kReceivedColumns), as answered.
// FIFO receives answer in take order (`order`: seqs), others in row order.
Received received_from(const QueryResult& rows, int64_t queue_id, std::string_view secret, bool fifo = false,
                       const std::vector<int64_t>* order = nullptr) {
  Received out;
  out.reserve(rows.rows());
  const size_t count = order ? order->size() : static_cast<size_t>(rows.rows());
  for (size_t i = 0; i < count; ++i) {
    int r = static_cast<int>(i);
    if (order) {
      for (r = 0; r < rows.rows() && sql::int_at(rows, r, sql::kReceivedSeq) != (*order)[i];) ++r;
      if (r == rows.rows()) continue;
    }
    ReceivedMessage m;
    const auto seq = static_cast<uint64_t>(sql::int_at(rows, r, sql::kReceivedSeq));
    m.receive_count = static_cast<uint32_t>(sql::int_at(rows, r, sql::kReceivedReceiveCount));
    m.message_id = rows.text(r, sql::kReceivedMessageId);
    m.receipt_handle =
        encode_receipt_handle(ReceiptHandle{static_cast<uint64_t>(queue_id), seq, m.receive_count}, secret);
    m.body = rows.text(r, sql::kReceivedBody);
    m.message_attributes = rows.text(r, sql::kReceivedMessageAttributes);
    m.system_attributes = decode_system_attributes(rows.text(r, sql::kReceivedSystemAttributes));
    m.body_md5 = rows.text(r, sql::kReceivedBodyMd5);
    m.sent_ms = sql::int_at(rows, r, sql::kReceivedSent);
    m.first_receive_ms = sql::int_at(rows, r, sql::kReceivedFirstReceive);
    if (fifo) m.sequence_number = sequence_number_text(seq);
    out.push_back(std::move(m));
  }
  return out;
}

// After COMMIT, as RocksEngine: the listener hears of the taken messages'
// deadline, or (visibility timeout 0) that they are visible again.
void settle_taken(PgEngine& engine, const ReceiveAsk& ask, size_t taken, int64_t now) {
  if (taken == 0) return;
  if (ask.vt_ms > 0) {
    engine.notify_deadline(now + ask.vt_ms);
  } else {
    engine.notify_available(ask.queue_name);
  }
  QueueActivity received;
  received.received = taken;
  engine.count_activity(ask.queue_id, received);
}

// No RedrivePolicy: one statement, autocommit.
void receive_at_once(PgEngine& engine, const ReceiveAsk& ask, bool fair, Done<Result<Received>> done) {
  std::vector<PgParam> params = {engine.now_param(), std::to_string(ask.queue_id), std::to_string(ask.retention_ms),
                                 std::to_string(ask.max_messages)};
  if (fair) params.push_back(std::to_string(kGroupsPerMessage * ask.max_messages));
  params.push_back(std::to_string(ask.vt_ms));
  std::vector<Statement> statements;
  statements.push_back(sql::statement(fair ? sql::kReceiveFair : sql::kReceiveStandard, std::move(params)));
  run_statements(engine.pool(), std::move(statements),
                 [&engine, ask, done = std::move(done)](Result<std::vector<QueryResult>> answered) {
                   if (!answered) return done(answered.error());
                   const QueryResult& rows = answered->front();
                   Received out = received_from(rows, ask.queue_id, engine.receipt_secret());
                   if (!out.empty()) settle_taken(engine, ask, out.size(), sql::int_at(rows, 0, sql::kReceivedNow));
                   done(std::move(out));
                 });
}

// A receive with a RedrivePolicy, across its transaction's round trips
// (its state starts afresh when the transaction is run again).
struct RedriveReceive {
  ReceiveAsk ask;
  bool fair = false;  // groups take turns (kPickFairForRedrive)
  std::string source_arn;
  std::string dead_letter_queue;  // its name
  int max_receive_count = 0;
  bool elsewhere = false;  // the dead-letter queue is on another group: moved to the outbox
  // Decided in the first round trip:
  int64_t now = 0;
  int64_t dead_letter_queue_id = 0;  // 0: none (missing or deleted): nothing is moved
  std::vector<int64_t> take, dead;
  std::vector<int64_t> dead_sent_ms;
  std::vector<std::string> dead_system;
  // Answered by the last:
  std::optional<QueryResult> taken;

  void restart() {
    now = 0;
    dead_letter_queue_id = 0;
    take.clear();
    dead.clear();
    dead_sent_ms.clear();
    dead_system.clear();
    taken.reset();
  }
};

// Which of the picked rows (kPickForRedrive, kPickFairForRedrive) move to
// the dead-letter queue, and what they carry there; the others are taken.
void decide(RedriveReceive& r, const QueryResult& picked) {
  for (int row = 0; row < picked.rows(); ++row) {
    r.now = sql::int_at(picked, row, 0);
    const int64_t seq = sql::int_at(picked, row, 1);
    const auto receive_count = static_cast<uint32_t>(sql::int_at(picked, row, 2));
    if ((r.dead_letter_queue_id == 0 && !r.elsewhere) || !redrives_on_receive(receive_count, r.max_receive_count)) {
      r.take.push_back(seq);
      continue;
    }
    DeadLetteredMessage moved =
        dead_lettered(decode_system_attributes(picked.text(row, 5)), sql::int_at(picked, row, 3), false, r.source_arn,
                      std::string(picked.text(row, 4)), r.now);
    r.dead.push_back(seq);
    r.dead_sent_ms.push_back(moved.sent_ms);
    r.dead_system.push_back(encode_system_attributes(moved.system_attributes));
  }
}

// The dead-lettered messages of a receive moved to a dead-letter queue on
// another group: into the outbox, for the forwarder (section 12b).
Statement park(const PgEngine& engine, int64_t queue_id, const std::string& source_name,
               const std::string& dead_letter_queue, int64_t now, const std::vector<int64_t>& dead,
               const std::vector<int64_t>& dead_sent_ms, const std::vector<std::string>& dead_system) {
  const std::vector<std::string_view> system(dead_system.begin(), dead_system.end());
  return sql::statement(
      sql::kParkForDeadLetterQueue,
      {std::to_string(queue_id), engine.options().account_id, engine.options().region, dead_letter_queue, source_name,
       std::to_string(now), sql::bigint_array(dead), sql::bigint_array(dead_sent_ms), sql::text_array(system)});
}

// The second round trip: take, move, COMMIT.
void take_and_move(const PgEngine& engine, const std::shared_ptr<RedriveReceive>& r, const std::shared_ptr<Tx>& tx) {
  std::vector<Statement> statements;
  const std::string queue_id = std::to_string(r->ask.queue_id);
  if (!r->take.empty()) {
    statements.push_back(sql::statement(sql::kTakePicked, {queue_id, std::to_string(r->now),
                                                           std::to_string(r->ask.vt_ms), sql::bigint_array(r->take)}));
  }
  if (!r->dead.empty() && r->elsewhere) {
    statements.push_back(park(engine, r->ask.queue_id, r->ask.queue_name, r->dead_letter_queue, r->now, r->dead,
                              r->dead_sent_ms, r->dead_system));
  } else if (!r->dead.empty()) {
    std::vector<std::string_view> system(r->dead_system.begin(), r->dead_system.end());
    statements.push_back(
        sql::statement(sql::kMoveToDeadLetterQueue,
                       {queue_id, std::to_string(r->dead_letter_queue_id), std::to_string(r->now),
                        sql::bigint_array(r->dead), sql::bigint_array(r->dead_sent_ms), sql::text_array(system)}));
  }
  if (statements.empty()) return tx->commit();
  tx->commit_with(std::move(statements), [r](std::vector<QueryResult>& results) {
    if (!r->take.empty()) r->taken = std::move(results.front());
  });
}

// After a receive's COMMIT: the source counts the messages moved to the
// dead-letter queue, and that queue hears of them; those parked for
// another group are first forwarded (GroupHooks::parked). Then `then`.
void report_dead_lettered(PgEngine& engine, int64_t queue_id, const std::string& dead_letter_queue, size_t moved_count,
                          bool elsewhere, std::function<void()> then) {
  if (moved_count == 0) return then();
  QueueActivity moved;
  moved.moved_to_dead_letter = moved_count;
  engine.count_activity(queue_id, moved);
  if (elsewhere) return engine.group_hooks().parked(std::move(then));
  engine.notify_available(dead_letter_queue);
  then();
}

void receive_with_redrive(PgEngine& engine, std::shared_ptr<RedriveReceive> r, Done<Result<Received>> done) {
  auto body = [&engine, r](std::shared_ptr<Tx> tx) {
    r->restart();
    std::vector<PgParam> pick = {engine.now_param(), std::to_string(r->ask.queue_id),
                                 std::to_string(r->ask.retention_ms), std::to_string(r->ask.max_messages)};
    if (r->fair) pick.push_back(std::to_string(kGroupsPerMessage * r->ask.max_messages));
    std::vector<Statement> first;
    first.push_back(sql::statement(r->fair ? sql::kPickFairForRedrive : sql::kPickForRedrive, std::move(pick)));
    if (!r->elsewhere) {
      first.push_back(sql::statement(sql::kFindDeadLetterQueue,
                                     {engine.options().account_id, engine.options().region, r->dead_letter_queue}));
    }
    tx->step(std::move(first), [&engine, r, tx](std::vector<QueryResult>& results) {
      // A standard queue's dead-letter queue is standard (checked when the policy was set).
      if (results.size() > 1 && results[1].rows() > 0 && results[1].text(0, 1) == "f") {
        r->dead_letter_queue_id = sql::int_at(results[1], 0, 0);
      }
      decide(*r, results[0]);
      take_and_move(engine, r, tx);
    });
  };
  run_transaction(engine.pool(), std::move(body), [&engine, r, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    auto out = std::make_shared<Received>();
    if (r->taken) *out = received_from(*r->taken, r->ask.queue_id, engine.receipt_secret());
    report_dead_lettered(engine, r->ask.queue_id, r->dead_letter_queue, r->dead.size(), r->elsewhere,
                         [&engine, r, out, done = std::move(done)] {
                           settle_taken(engine, r->ask, out->size(), r->now);
                           done(std::move(*out));
                         });
  });
}

// --- FIFO (sections 6.6, 6.7) ---------------------------------------------

// A receive on a FIFO queue, across its transaction's two round trips.
struct FifoReceive {
  ReceiveAsk ask;
  PgParam now_param;
  std::string source_arn;
  std::string dead_letter_queue;  // its name; "" without a RedrivePolicy
  int max_receive_count = 0;
  bool elsewhere = false;  // the dead-letter queue is on another group: moved to the outbox
  std::string attempt_id;  // "" none
  int64_t attempt_window_ms = 0;
  // Decided in the first round trips:
  int64_t now = 0;
  int64_t dead_letter_queue_id = 0;  // 0: nothing is moved
  std::vector<int64_t> take, dead, dead_sent_ms, touched;
  std::vector<int64_t> take_counts;  // each taken message's receive count after the take
  std::vector<std::string> dead_system, touched_groups, dead_groups;
  std::vector<std::string> groups;  // looked at: those taken from first, in take order
  std::optional<QueryResult> taken;

  void restart() {
    now = 0;
    dead_letter_queue_id = 0;
    for (auto* v : {&take, &dead, &dead_sent_ms, &touched, &take_counts}) v->clear();
    for (auto* v : {&dead_system, &touched_groups, &dead_groups, &groups}) v->clear();
    taken.reset();
  }
};

// One message of a group's run: taken, or moved to the dead-letter queue.
void take_or_move(FifoReceive& r, const QueryResult& picked, int row, const std::string& group) {
  enum : int { kSeq = 2, kCount = 4, kSent = 5, kId = 6, kSystem = 7 };
  const int64_t seq = sql::int_at(picked, row, kSeq);
  r.touched.push_back(seq);
  r.touched_groups.push_back(group);
  const auto receive_count = static_cast<uint32_t>(sql::int_at(picked, row, kCount));
  if ((r.dead_letter_queue_id == 0 && !r.elsewhere) || !redrives_on_receive(receive_count, r.max_receive_count)) {
    r.take.push_back(seq);
    r.take_counts.push_back(receive_count + 1);
    return;
  }
  DeadLetteredMessage moved =
      dead_lettered(decode_system_attributes(picked.text(row, kSystem)), sql::int_at(picked, row, kSent), true,
                    r.source_arn, std::string(picked.text(row, kId)), r.now);
  r.dead.push_back(seq);
  r.dead_sent_ms.push_back(moved.sent_ms);
  r.dead_system.push_back(encode_system_attributes(moved.system_attributes));
  if (std::find(r.dead_groups.begin(), r.dead_groups.end(), group) == r.dead_groups.end())
    r.dead_groups.push_back(group);
}

// The picked rows (kFifoPick: groups in turn order, each group's first
// messages by seq): per group, its receivable run (fifo_receivable_run),
// capped by what the receive still wants.
void decide_fifo(FifoReceive& r, const QueryResult& picked) {
  std::vector<std::string> idle;  // looked at, nothing taken: settled after the others
  std::vector<int> rows;
  for (int row = 0; row < picked.rows();) {
    r.now = sql::int_at(picked, row, 0);
    const std::string group(picked.text(row, 1));
    rows.clear();
    for (; row < picked.rows() && picked.text(row, 1) == group; ++row) {
      if (!picked.is_null(row, 2)) rows.push_back(row);
    }
    const size_t wanted = static_cast<size_t>(r.ask.max_messages) - r.take.size() - r.dead.size();
    const size_t run = fifo_receivable_run(rows.begin(), rows.end(), wanted,
                                           [&](int m) { return sql::int_at(picked, m, 3) <= r.now; });
    for (size_t i = 0; i < run; ++i) take_or_move(r, picked, rows[i], group);
    (run > 0 ? r.groups : idle).push_back(group);
  }
  for (auto& group : idle) r.groups.push_back(std::move(group));
}

// The second round trip: take, move (a FIFO dead-letter queue's groups
// locked, sorted, and settled), settle the groups looked at, COMMIT.
void take_and_settle(const PgEngine& engine, const std::shared_ptr<FifoReceive>& r, const std::shared_ptr<Tx>& tx) {
  std::vector<Statement> statements;
  const std::string queue_id = std::to_string(r->ask.queue_id);
  const std::string now = std::to_string(r->now);
  if (!r->take.empty()) {
    statements.push_back(
        sql::statement(sql::kTakePicked, {queue_id, now, std::to_string(r->ask.vt_ms), sql::bigint_array(r->take)}));
  }
  if (!r->dead.empty() && r->elsewhere) {
    statements.push_back(park(engine, r->ask.queue_id, r->ask.queue_name, r->dead_letter_queue, r->now, r->dead,
                              r->dead_sent_ms, r->dead_system));
  } else if (!r->dead.empty()) {
    std::sort(r->dead_groups.begin(), r->dead_groups.end());
    const std::string dlq_id = std::to_string(r->dead_letter_queue_id);
    const std::vector<std::string_view> dead_groups(r->dead_groups.begin(), r->dead_groups.end());
    const std::vector<std::string_view> system(r->dead_system.begin(), r->dead_system.end());
    statements.push_back(sql::statement(sql::kFifoLockGroups, {dlq_id, sql::text_array(dead_groups)}));
    statements.push_back(
        sql::statement(sql::kMoveToDeadLetterQueue, {queue_id, dlq_id, now, sql::bigint_array(r->dead),
                                                     sql::bigint_array(r->dead_sent_ms), sql::text_array(system)}));
    // Only groups that were empty are settled there; their first message is
    // one moved now, inside any retention period.
    statements.push_back(sql::statement(sql::kFifoSettleGroups, {now, dlq_id, std::to_string(kMaxRetentionMs),
                                                                 sql::text_array(dead_groups), "{}", "{}"}));
  }
  if (!r->groups.empty()) {
    const std::vector<std::string_view> groups(r->groups.begin(), r->groups.end());
    const std::vector<std::string_view> touched_groups(r->touched_groups.begin(), r->touched_groups.end());
    statements.push_back(sql::statement(sql::kFifoSettleGroups,
                                        {now, queue_id, std::to_string(r->ask.retention_ms), sql::text_array(groups),
                                         sql::bigint_array(r->touched), sql::text_array(touched_groups)}));
  }
  if (!r->attempt_id.empty() && !r->take.empty()) {
    const std::vector<int64_t> deadlines(r->take.size(), r->now + r->ask.vt_ms);
    statements.push_back(
        sql::statement(sql::kAttemptRecord,
                       {queue_id, r->attempt_id, std::to_string(r->now + r->attempt_window_ms),
                        sql::bigint_array(r->take), sql::bigint_array(r->take_counts), sql::bigint_array(deadlines)}));
  }
  if (statements.empty()) return tx->commit();
  tx->commit_with(std::move(statements), [r](std::vector<QueryResult>& results) {
    if (!r->take.empty()) r->taken = std::move(results.front());
  });
}

// The picks of a FIFO receive, decided, then taken (two round trips).
void pick_fifo(PgEngine& engine, const std::shared_ptr<FifoReceive>& r, const std::shared_ptr<Tx>& tx) {
  std::vector<Statement> first;
  first.push_back(
      sql::statement(sql::kFifoPick, {r->now_param, std::to_string(r->ask.queue_id),
                                      std::to_string(r->ask.retention_ms), std::to_string(r->ask.max_messages)}));
  if (!r->dead_letter_queue.empty() && !r->elsewhere) {
    first.push_back(sql::statement(sql::kFindDeadLetterQueue,
                                   {engine.options().account_id, engine.options().region, r->dead_letter_queue}));
  }
  tx->step(std::move(first), [&engine, r, tx](std::vector<QueryResult>& results) {
    if (results.size() > 1 && results[1].rows() > 0 && results[1].text(0, 1) == "t") {
      r->dead_letter_queue_id = sql::int_at(results[1], 0, 0);
    }
    decide_fifo(*r, results[0]);
    take_and_settle(engine, r, tx);
  });
}

// A PostgreSQL array of integers as text ({1,2,3}), as int64s.
std::vector<int64_t> integers_of(std::string_view text) {
  std::vector<int64_t> out;
  int64_t value = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      in_number = true;
    } else if (in_number) {
      out.push_back(value);
      value = 0;
      in_number = false;
    }
  }
  return out;
}

// A retry of a recorded receive (section 6.8), when its messages are as it
// left them: their groups locked, checked, their deadlines reset, the
// groups settled. Otherwise a fresh receive.
void retry_or_pick(PgEngine& engine, const std::shared_ptr<FifoReceive>& r, const std::shared_ptr<Tx>& tx) {
  std::vector<Statement> lookup;
  lookup.push_back(sql::statement(sql::kAttemptLookup, {r->now_param, std::to_string(r->ask.queue_id), r->attempt_id}));
  tx->step(std::move(lookup), [&engine, r, tx](std::vector<QueryResult>& found) {
    const QueryResult& a = found.front();
    r->now = sql::int_at(a, 0, 0);
    if (a.is_null(0, 1)) return pick_fifo(engine, r, tx);
    const std::string queue_id = std::to_string(r->ask.queue_id);
    const std::string seqs(a.text(0, 1));
    r->take = integers_of(seqs);
    std::vector<Statement> check;
    check.push_back(sql::statement(sql::kFifoLockHandled, {queue_id, seqs}));
    check.push_back(sql::statement(sql::kAttemptCheck, {queue_id, seqs, std::string(a.text(0, 2)),
                                                        std::string(a.text(0, 3)), std::to_string(r->now)}));
    tx->step(std::move(check), [&engine, r, tx, queue_id](std::vector<QueryResult>& checked) {
      const QueryResult& same = checked[1];
      if (static_cast<size_t>(same.rows()) != r->take.size()) {
        r->take.clear();
        return pick_fifo(engine, r, tx);
      }
      std::vector<std::string_view> groups, touched_groups;
      std::vector<int64_t> touched;
      for (int row = 0; row < same.rows(); ++row) {
        touched.push_back(sql::int_at(same, row, 0));
        touched_groups.push_back(same.text(row, 1));
        if (std::find(groups.begin(), groups.end(), same.text(row, 1)) == groups.end())
          groups.push_back(same.text(row, 1));
      }
      const std::string now = std::to_string(r->now);
      std::vector<Statement> retry;
      retry.push_back(sql::statement(sql::kAttemptRetry, {queue_id, now, std::to_string(r->ask.vt_ms),
                                                          sql::bigint_array(r->take), r->attempt_id}));
      retry.push_back(sql::statement(sql::kFifoSettleGroups,
                                     {now, queue_id, std::to_string(r->ask.retention_ms), sql::text_array(groups),
                                      sql::bigint_array(touched), sql::text_array(touched_groups)}));
      tx->commit_with(std::move(retry),
                      [r](std::vector<QueryResult>& results) { r->taken = std::move(results.front()); });
    });
  });
}

void receive_fifo(PgEngine& engine, std::shared_ptr<FifoReceive> r, Done<Result<Received>> done) {
  auto body = [&engine, r](std::shared_ptr<Tx> tx) {
    r->restart();
    if (r->attempt_id.empty()) return pick_fifo(engine, r, tx);
    retry_or_pick(engine, r, tx);
  };
  run_transaction(engine.pool(), std::move(body), [&engine, r, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    auto out = std::make_shared<Received>();
    if (r->taken) *out = received_from(*r->taken, r->ask.queue_id, engine.receipt_secret(), true, &r->take);
    report_dead_lettered(engine, r->ask.queue_id, r->dead_letter_queue, r->dead.size(), r->elsewhere,
                         [&engine, r, out, done = std::move(done)] {
                           settle_taken(engine, r->ask, out->size(), r->now);
                           done(std::move(*out));
                         });
  });
}

}  // namespace

void PgEngine::async_receive_messages(const std::string& queue_name, int max_messages,
                                      std::optional<int> visibility_timeout, const std::string& attempt_id,
                                      Done<Result<Received>> done) {
  find_queue(queue_name, [this, max_messages, visibility_timeout, attempt_id,
                          done = std::move(done)](Result<PgQueue> found) mutable {
    if (!found) return done(found.error());
    const PgQueue& q = found.value();
    ReceiveAsk ask;
    ask.queue_id = q.id;
    ask.queue_name = q.name;
    ask.max_messages = max_messages;
    ask.vt_ms =
        int64_t(visibility_timeout.value_or(static_cast<int>(attribute_int(q.attributes, "VisibilityTimeout")))) * 1000;
    ask.retention_ms = attribute_int(q.attributes, "MessageRetentionPeriod") * 1000;
    const auto policy = redrive_policy(q.attributes);
    auto dead_letter_queue = redrive_target(q.attributes, q.name, options().region, options().account_id);
    if (q.fifo) {
      auto r = std::make_shared<FifoReceive>();
      r->ask = std::move(ask);
      r->now_param = now_param();
      r->attempt_id = attempt_id;  // standard queues ignore it
      r->attempt_window_ms = options().dedup_window_ms;
      if (!dead_letter_queue) return receive_fifo(*this, std::move(r), std::move(done));
      r->source_arn = queue_arn(options().region, options().account_id, q.name);
      r->dead_letter_queue = std::move(*dead_letter_queue);
      r->max_receive_count = policy->max_receive_count;
      return where_dead_letters_go(r->dead_letter_queue,
                                   [this, r, done = std::move(done)](Result<bool> elsewhere) mutable {
                                     if (!elsewhere.ok()) return done(elsewhere.error());
                                     r->elsewhere = *elsewhere;
                                     receive_fifo(*this, std::move(r), std::move(done));
                                   });
    }
    if (!dead_letter_queue) return receive_at_once(*this, ask, q.has_groups, std::move(done));
    auto r = std::make_shared<RedriveReceive>();
    r->ask = std::move(ask);
    r->fair = q.has_groups;
    r->source_arn = queue_arn(options().region, options().account_id, q.name);
    r->dead_letter_queue = std::move(*dead_letter_queue);
    r->max_receive_count = policy->max_receive_count;
    where_dead_letters_go(r->dead_letter_queue, [this, r, done = std::move(done)](Result<bool> elsewhere) mutable {
      if (!elsewhere.ok()) return done(elsewhere.error());
      r->elsewhere = *elsewhere;
      receive_with_redrive(*this, std::move(r), std::move(done));
    });
  });
}

void PgEngine::where_dead_letters_go(const std::string& dead_letter_queue, std::function<void(Result<bool>)> then) {
  if (!grouped()) return then(false);
  hooks_.elsewhere(dead_letter_queue, std::move(then));
}

}  // namespace wharf::storage::postgresql
