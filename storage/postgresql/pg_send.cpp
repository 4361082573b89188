// PgEngine's sends to standard queues (docs/design/postgresql.md section
// 6.2): the neutral rules in C++ (storage/message_rules.h), then one
// pipeline, one implicit transaction: the messages' INSERT (one statement
// per 10 messages) and, for fair queues, the groups' rows. Answered only
// after it committed. FIFO sends (6.3): the groups locked, the
// deduplication keys claimed by the INSERT itself, the groups settled.
#include <algorithm>
#include <chrono>
#include <optional>

#include "common/ids.h"
#include "storage/message_rules.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/system_attributes.h"

namespace wharf::storage::postgresql {
namespace {

using SendResults = std::vector<Result<SentMessage>>;

// A valid message on its way into the database: where its answer goes,
// when it becomes visible, and its group (fair queues).
struct Staged {
  size_t result;
  int64_t delay_ms;
  std::string group_id;
};

// The INSERT statements of the staged messages, at most kMaxSendRows each;
// the messages' texts are moved into the parameters.
void add_inserts(PgEngine& engine, const PgQueue& queue, std::vector<NewMessage>& messages,
                 const std::vector<Staged>& staged, const SendResults& results, std::vector<Statement>& out) {
  for (size_t first = 0; first < staged.size(); first += sql::kMaxSendRows) {
    const size_t rows = std::min(sql::kMaxSendRows, staged.size() - first);
    std::vector<PgParam> params;
    params.reserve(2 + rows * sql::kSendColumns);
    params.push_back(engine.now_param());
    params.push_back(std::to_string(queue.id));
    for (size_t i = first; i < first + rows; ++i) {
      const Staged& s = staged[i];
      NewMessage& m = messages[s.result];
      SystemAttributes system;
      system.aws_trace_header = std::move(m.aws_trace_header);
      system.message_group_id = s.group_id;
      params.push_back(results[s.result]->message_id);
      params.push_back(s.group_id);
      params.push_back(std::to_string(s.delay_ms));
      params.push_back(std::move(m.body));
      params.push_back(std::move(m.body_md5));
      params.push_back(std::move(m.message_attributes));
      params.push_back(encode_system_attributes(system));
    }
    out.push_back(sql::statement(sql::send_standard(rows), std::move(params)));
  }
}

// Fair queues: once a message of the queue has a group, every group the
// send names ("" included) gets its row in the turns.
void add_groups(const PgQueue& queue, const std::vector<Staged>& staged, std::vector<Statement>& out) {
  const bool grouped = queue.has_groups ||
                       std::any_of(staged.begin(), staged.end(), [](const Staged& s) { return !s.group_id.empty(); });
  if (!grouped) return;
  std::vector<std::string_view> groups;
  for (const Staged& s : staged) {
    if (std::find(groups.begin(), groups.end(), s.group_id) == groups.end()) groups.push_back(s.group_id);
  }
  out.push_back(sql::statement(sql::kSendGroups, {std::to_string(queue.id), sql::text_array(groups)}));
}

// After COMMIT: the listener hears of every delayed message's deadline and,
// once, of messages visible now (as RocksEngine tells it).
void settle(PgEngine& engine, int64_t queue_id, const std::string& queue_name, const std::vector<Staged>& staged,
            int64_t now) {
  bool visible_now = false;
  for (const Staged& s : staged) {
    if (s.delay_ms <= 0) {
      visible_now = true;
    } else {
      engine.notify_deadline(now + s.delay_ms);
    }
  }
  if (visible_now) engine.notify_available(queue_name);
  QueueActivity sent;
  sent.sent = staged.size();
  engine.count_activity(queue_id, sent);
}

// This node's time, for a send whose answer (with the database's time) was
// lost: only the listener's deadlines use it.
int64_t local_now_ms(const PgEngine& engine) {
  if (engine.options().now_ms) return engine.options().now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void send_standard(PgEngine& engine, const PgQueue& queue, std::vector<NewMessage> messages, Engine::SendKind kind,
                   Done<Result<SendResults>> done) {
  const SendRules rules = send_rules_of(false, queue.attributes, queue.dedup_per_group);
  if (kind == Engine::SendKind::Batch) {
    if (auto whole = check_fifo_batch(rules, messages); !whole) return done(whole.error());
  }
  SendResults results;
  results.reserve(messages.size());
  std::vector<Staged> staged;
  staged.reserve(messages.size());
  for (auto& message : messages) {
    if (auto valid = validate_new_message(rules, message); !valid) {
      results.emplace_back(valid.error());
      continue;
    }
    staged.push_back(Staged{results.size(), effective_delay_ms(rules, message), message.group_id});
    results.emplace_back(SentMessage{random_uuid(), std::string()});
  }
  if (staged.empty()) return done(std::move(results));
  std::vector<Statement> statements;
  add_inserts(engine, queue, messages, staged, results, statements);
  add_groups(queue, staged, statements);
  // At most once across a COMMIT in doubt (section 6.2.1). FIFO sends need
  // no token: a retry of the same send is deduplicated.
  const std::string token = sql::send_token(std::chrono::system_clock::now());
  statements.push_back(sql::statement(sql::kSendToken, {token}));
  run_statements_fenced(
      engine.pool(), std::move(statements), sql::statement(sql::kFenceSendToken, {token}),
      [&engine, queue_id = queue.id, name = queue.name, staged = std::move(staged), results = std::move(results),
       done = std::move(done)](Result<std::vector<QueryResult>> answered) mutable {
        if (!answered) return done(answered.error());
        // Empty: it committed, its answers were lost with the connection.
        const int64_t now = answered->empty() ? local_now_ms(engine) : sql::int_at(answered->front(), 0, 0);
        settle(engine, queue_id, name, staged, now);
        done(std::move(results));
      });
}

// --- FIFO (section 6.3) ---------------------------------------------------

// A valid FIFO message of the send: where its answer goes, its
// deduplication key and, when an earlier entry of the same batch has that
// key, that entry (its answer is this one's too).
struct FifoStaged {
  size_t result;
  std::string key;
  std::string group_id;
  std::optional<size_t> same_as;
};

// The INSERT statements of the staged messages whose key is new in the
// batch, at most kMaxSendRows each.
void add_fifo_inserts(PgEngine& engine, const PgQueue& queue, const PgParam& now, int64_t delay_ms,
                      std::vector<NewMessage>& messages, const std::vector<FifoStaged>& staged,
                      const SendResults& results, std::vector<Statement>& out) {
  std::vector<const FifoStaged*> rows_of;
  for (const FifoStaged& s : staged) {
    if (!s.same_as) rows_of.push_back(&s);
  }
  const std::string window = std::to_string(engine.options().dedup_window_ms);
  const std::string delay = std::to_string(delay_ms);
  for (size_t first = 0; first < rows_of.size(); first += sql::kMaxSendRows) {
    const size_t rows = std::min(sql::kMaxSendRows, rows_of.size() - first);
    std::vector<PgParam> params;
    params.reserve(3 + rows * sql::kFifoSendColumns);
    params.push_back(now);
    params.push_back(std::to_string(queue.id));
    params.push_back(window);
    for (size_t i = first; i < first + rows; ++i) {
      const FifoStaged& s = *rows_of[i];
      NewMessage& m = messages[s.result];
      SystemAttributes system;
      system.aws_trace_header = std::move(m.aws_trace_header);
      system.message_deduplication_id = std::move(m.deduplication_id);
      system.message_group_id = s.group_id;
      params.push_back(results[s.result]->message_id);
      params.push_back(s.group_id);
      params.push_back(s.key);
      params.push_back(delay);
      params.push_back(std::move(m.body));
      params.push_back(std::move(m.body_md5));
      params.push_back(std::move(m.message_attributes));
      params.push_back(encode_system_attributes(system));
    }
    out.push_back(sql::statement(sql::send_fifo(rows), std::move(params)));
  }
}

// After COMMIT: each entry answers the message its key stands for (its own
// when it was stored, else the original's); the stored ones are announced.
void settle_fifo(PgEngine& engine, const PgQueue& queue, int64_t delay_ms, const std::vector<FifoStaged>& staged,
                 const QueryResult& answers, int64_t now, SendResults& results) {
  size_t stored = 0;
  for (const FifoStaged& s : staged) {
    if (s.same_as) {
      results[s.result] = results[*s.same_as];
      continue;
    }
    for (int row = 0; row < answers.rows(); ++row) {
      if (answers.text(row, 0) != s.key) continue;
      SentMessage& sent = *results[s.result];
      if (answers.text(row, 1) == sent.message_id) ++stored;
      sent.message_id = answers.text(row, 1);
      sent.sequence_number = sequence_number_text(static_cast<uint64_t>(sql::int_at(answers, row, 2)));
      break;
    }
  }
  if (stored == 0) return;
  if (delay_ms > 0) {
    engine.notify_deadline(now + delay_ms);
  } else {
    engine.notify_available(queue.name);
  }
  QueueActivity sent;
  sent.sent = stored;
  engine.count_activity(queue.id, sent);
}

// One pipeline, one transaction: lock the groups (sorted), store the
// messages whose key was claimed, read what every key stands for, settle
// the groups that were empty.
void send_fifo(PgEngine& engine, const PgQueue& queue, std::vector<NewMessage> messages, Engine::SendKind kind,
               Done<Result<SendResults>> done) {
  const SendRules rules = send_rules_of(true, queue.attributes, queue.dedup_per_group);
  if (kind == Engine::SendKind::Batch) {
    if (auto whole = check_fifo_batch(rules, messages); !whole) return done(whole.error());
  }
  SendResults results;
  results.reserve(messages.size());
  std::vector<FifoStaged> staged;
  std::vector<std::string_view> keys, groups;
  for (auto& message : messages) {
    if (auto valid = validate_new_message(rules, message); !valid) {
      results.emplace_back(valid.error());
      continue;
    }
    FifoStaged s{results.size(), deduplication_scope_key(rules, message.group_id, message.deduplication_id),
                 message.group_id, std::nullopt};
    for (const FifoStaged& earlier : staged) {
      if (!earlier.same_as && earlier.key == s.key) s.same_as = earlier.result;
    }
    staged.push_back(std::move(s));
    results.emplace_back(SentMessage{random_uuid(), std::string()});
  }
  if (staged.empty()) return done(std::move(results));
  for (const FifoStaged& s : staged) {
    if (s.same_as) continue;
    keys.push_back(s.key);
    if (std::find(groups.begin(), groups.end(), s.group_id) == groups.end()) groups.push_back(s.group_id);
  }
  const std::string settled = sql::text_array(groups);  // in send order: the order they join the turns
  std::sort(groups.begin(), groups.end());              // the order they are locked in
  const PgParam now = engine.now_param();
  const std::string queue_id = std::to_string(queue.id);
  std::vector<Statement> statements;
  statements.push_back(sql::statement(sql::kFifoLockGroups, {queue_id, sql::text_array(groups)}));
  // FIFO queues have no per-message delay: every message takes the queue's.
  const int64_t delay_ms = effective_delay_ms(rules, messages[staged.front().result]);
  add_fifo_inserts(engine, queue, now, delay_ms, messages, staged, results, statements);
  statements.push_back(sql::statement(sql::kFifoDedupAnswers, {queue_id, sql::text_array(keys)}));
  const std::string retention = std::to_string(attribute_int(queue.attributes, "MessageRetentionPeriod") * 1000);
  statements.push_back(sql::statement(sql::kFifoSettleGroups, {now, queue_id, retention, settled, "{}", "{}"}));
  run_statements(engine.pool(), std::move(statements),
                 [&engine, queue, delay_ms, staged = std::move(staged), results = std::move(results),
                  done = std::move(done)](Result<std::vector<QueryResult>> answered) mutable {
                   if (!answered) return done(answered.error());
                   const auto& all = *answered;
                   settle_fifo(engine, queue, delay_ms, staged, all[all.size() - 2], sql::int_at(all[1], 0, 0),
                               results);
                   done(std::move(results));
                 });
}

}  // namespace

void PgEngine::async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                                   Done<Result<SendResults>> done) {
  find_queue(queue_name,
             [this, messages = std::move(messages), kind, done = std::move(done)](Result<PgQueue> found) mutable {
               if (!found) return done(found.error());
               if (found->fifo) return send_fifo(*this, found.value(), std::move(messages), kind, std::move(done));
               send_standard(*this, found.value(), std::move(messages), kind, std::move(done));
             });
}

}  // namespace wharf::storage::postgresql
