// PgEngine's sends to standard queues (docs/design/postgresql.md section
// 6.2): the neutral rules in C++ (storage/message_rules.h), then one
// pipeline, one implicit transaction: the messages' INSERT (one statement
// per 10 messages) and, for fair queues, the groups' rows. Answered only
// after it committed. FIFO sends (6.3) are not built yet.
#include <algorithm>

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

SqsError fifo_not_built(const std::string& what) {
  return make_error(ErrorCode::UnsupportedOperation, what + " on FIFO queues is not yet implemented on PostgreSQL.");
}

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
  run_statements(
      engine.pool(), std::move(statements),
      [&engine, queue_id = queue.id, name = queue.name, staged = std::move(staged), results = std::move(results),
       done = std::move(done)](Result<std::vector<QueryResult>> answered) mutable {
        if (!answered) return done(answered.error());
        settle(engine, queue_id, name, staged, sql::int_at(answered->front(), 0, 0));
        done(std::move(results));
      });
}

}  // namespace

void PgEngine::async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                                   Done<Result<SendResults>> done) {
  find_queue(queue_name,
             [this, messages = std::move(messages), kind, done = std::move(done)](Result<PgQueue> found) mutable {
               if (!found) return done(found.error());
               if (found->fifo) return done(fifo_not_built("SendMessage"));
               send_standard(*this, found.value(), std::move(messages), kind, std::move(done));
             });
}

}  // namespace wharf::storage::postgresql
