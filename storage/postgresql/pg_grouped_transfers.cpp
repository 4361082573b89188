// GroupedEngine's transfers between groups (docs/design/postgresql.md
// 12b): dead-letter redrive to a queue on another group, through the
// outbox a receive parks messages in, and the move tasks, whose steps may
// copy messages to other groups. Both copy first (pg_transfer.h: keyed by
// message id on the destination) and delete from the source after, so a
// crash between leaves a duplicate at worst, never a loss.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "storage/arn.h"
#include "storage/postgresql/pg_groups.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/postgresql/pg_transfer.h"
#include "storage/queue_attributes.h"

namespace wharf::storage::postgresql {

// A parked row, as the forwarder copies it.
struct Parked {
  int64_t id = 0;
  std::string source_name;
  TransferMessage message;
};

// One pass of the forwarder, across its asynchronous steps.
struct ForwardPass {
  size_t source = 0;
  int64_t now = 0;
  bool full = false;  // the batch was full: more may wait
  bool failed = false;
  std::vector<Parked> rows;
  std::map<std::string, std::optional<size_t>> placed;  // destination -> its group (nullopt: none)
  std::vector<size_t> targets;                          // groups to copy to, in order
  std::vector<int64_t> done_ids;                        // rows to delete from the outbox
  std::vector<Parked> put_back;                         // rows whose destination is gone
};

namespace {

// Parked messages forwarded per pass (a body may be 1 MiB).
constexpr int kForwardBatch = 50;
// How soon a pass that failed (a group down) is tried again.
constexpr int64_t kForwardRetryMs = 1'000;

// $1 account, $2 region, $3 limit: the parked messages, oldest first.
const sql::NamedSql kOutboxBatch = {
    "outbox_batch",
    "SELECT id, destination, source_name, message_id, group_id, sent_ms, first_receive_ms, receive_count, body, "
    "body_md5, message_attributes, system_attributes FROM outbox WHERE account_id = $1 AND region = $2 "
    "ORDER BY id LIMIT $3::bigint"};

// $1 ids: parked messages forwarded (or put back).
const sql::NamedSql kOutboxDelete = {"outbox_delete", "DELETE FROM outbox WHERE id = ANY($1::bigint[])"};

// The key a message put back into its source is copied under: one per
// parked row (a message parked again is a new row), the same for two
// forwarders passing over the same row at once.
std::string put_back_key(int64_t row_id) {
  char text[40];
  std::snprintf(text, sizeof text, "00000000-0000-4000-8000-%012llx", static_cast<unsigned long long>(row_id));
  return text;
}

std::vector<Parked> parked_rows(const QueryResult& rows) {
  std::vector<Parked> out;
  for (int row = 0; row < rows.rows(); ++row) {
    Parked p;
    p.id = sql::int_at(rows, row, 0);
    p.message.destination = std::string(rows.text(row, 1));
    p.source_name = std::string(rows.text(row, 2));
    p.message.key = p.message.message_id = std::string(rows.text(row, 3));
    p.message.group_id = std::string(rows.text(row, 4));
    p.message.sent_ms = sql::int_at(rows, row, 5);
    p.message.first_receive_ms = sql::int_at(rows, row, 6);
    p.message.receive_count = sql::int_at(rows, row, 7);
    p.message.body = std::string(rows.text(row, 8));
    p.message.body_md5 = std::string(rows.text(row, 9));
    p.message.message_attributes = std::string(rows.text(row, 10));
    p.message.system_attributes = std::string(rows.text(row, 11));
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

void GroupedEngine::install_hooks(size_t group) {
  PgEngine::GroupHooks hooks;
  // No placement: not elsewhere (the engine finds no such queue itself).
  hooks.elsewhere = [this, group](const std::string& name, std::function<void(Result<bool>)> then) {
    async_locate(name, [group, then = std::move(then)](Result<size_t> g) {
      if (!g.ok() && g.error().code != ErrorCode::QueueDoesNotExist) return then(g.error());
      then(g.ok() && *g != group);
    });
  };
  hooks.attributes_elsewhere = [this, group](const std::string& name,
                                             std::function<void(Result<std::optional<AttributeMap>>)> then) {
    using Found = Result<std::optional<AttributeMap>>;
    async_locate(name, [this, group, name, then = std::move(then)](Result<size_t> g) {
      if (!g.ok() && g.error().code != ErrorCode::QueueDoesNotExist) return then(g.error());
      if (!g.ok() || *g == group) return then(Found(std::nullopt));
      engines_[*g]->async_get_queue(name, [then](Result<QueueInfo> q) {
        if (!q.ok() && q.error().code != ErrorCode::QueueDoesNotExist) return then(q.error());
        if (!q.ok()) return then(Found(std::nullopt));
        then(Found(std::move(q->attributes)));
      });
    });
  };
  hooks.parked = [this, group](std::function<void()> then) {
    forward(group, [then = std::move(then)](std::optional<int64_t>) { then(); });
  };
  engines_[group]->set_group_hooks(std::move(hooks));
}

namespace {

// The destinations of a pass located, one after another, then `then`.
template <class Locate>
void locate_each(std::shared_ptr<ForwardPass> pass, std::vector<std::string> names, size_t next, Locate locate,
                 std::function<void()> then) {
  if (next >= names.size()) return then();
  const std::string name = names[next];
  locate(name, [pass, names = std::move(names), next, locate, then = std::move(then), name](Result<size_t> g) mutable {
    if (g.ok()) {
      pass->placed[name] = *g;
    } else if (g.error().code == ErrorCode::QueueDoesNotExist) {
      pass->placed[name] = std::nullopt;
    } else {
      pass->failed = true;  // the catalog is down: the rows wait
      pass->placed.erase(name);
    }
    locate_each(std::move(pass), std::move(names), next + 1, std::move(locate), std::move(then));
  });
}

}  // namespace

void GroupedEngine::forward(size_t group, Done<std::optional<int64_t>> done) {
  PgEngine& source = *engines_[group];
  std::vector<Statement> reads;
  reads.push_back(sql::statement(sql::kNow, {source.now_param()}));
  reads.push_back(sql::statement(kOutboxBatch, {options_.account_id, options_.region, std::to_string(kForwardBatch)}));
  run_statements(source.pool(), std::move(reads),
                 [this, group, done = std::move(done)](Result<std::vector<QueryResult>> r) mutable {
                   if (!r.ok()) return done(std::nullopt);  // unreachable: the next due work tries again
                   auto pass = std::make_shared<ForwardPass>();
                   pass->source = group;
                   pass->now = sql::int_at((*r)[0], 0, 0);
                   pass->rows = parked_rows((*r)[1]);
                   if (pass->rows.empty()) return done(std::nullopt);
                   pass->full = pass->rows.size() >= static_cast<size_t>(kForwardBatch);
                   std::vector<std::string> names;
                   for (const auto& p : pass->rows) {
                     if (std::find(names.begin(), names.end(), p.message.destination) == names.end())
                       names.push_back(p.message.destination);
                   }
                   auto locate = [this](const std::string& name, Done<Result<size_t>> d) {
                     async_locate(name, std::move(d));
                   };
                   locate_each(pass, std::move(names), 0, locate, [this, pass, done = std::move(done)]() mutable {
                     for (const auto& [name, g] : pass->placed) {
                       if (g && std::find(pass->targets.begin(), pass->targets.end(), *g) == pass->targets.end())
                         pass->targets.push_back(*g);
                     }
                     copy_parked(pass, 0, std::move(done));
                   });
                 });
}

// The pass's copies to pass->targets[next..], one group after another; then
// the rows put back and the outbox rows done deleted, in one transaction on
// the source's group.
void GroupedEngine::copy_parked(std::shared_ptr<ForwardPass> pass, size_t next, Done<std::optional<int64_t>> done) {
  if (next >= pass->targets.size()) return finish_forward(std::move(pass), std::move(done));
  const size_t target = pass->targets[next];
  std::vector<TransferMessage> messages;
  std::vector<const Parked*> sent;
  for (const auto& p : pass->rows) {
    auto placed = pass->placed.find(p.message.destination);
    if (placed == pass->placed.end() || placed->second != target) continue;
    messages.push_back(p.message);
    sent.push_back(&p);
  }
  std::vector<Statement> also;  // the destination is on the source's own group: delete in the same transaction
  if (target == pass->source) {
    std::vector<int64_t> ids;
    for (const Parked* p : sent) ids.push_back(p->id);
    also.push_back(sql::statement(kOutboxDelete, {sql::bigint_array(ids)}));
  }
  transfer_in(engines_[target]->pool(), engines_[target]->now_param(), options_.account_id, options_.region,
              std::move(messages), std::move(also),
              [this, pass, next, target, sent, done = std::move(done)](Result<TransferOutcome> r) mutable {
                if (!r.ok()) {
                  pass->failed = true;
                } else {
                  for (const Parked* p : sent) {
                    const auto& missing = r->missing;
                    if (std::find(missing.begin(), missing.end(), p->message.destination) != missing.end()) {
                      if (target != pass->source) pass->put_back.push_back(*p);
                      continue;
                    }
                    if (target != pass->source) pass->done_ids.push_back(p->id);
                  }
                  for (const auto& name : r->delivered) engines_[target]->notify_available(name);
                }
                copy_parked(std::move(pass), next + 1, std::move(done));
              });
}

void GroupedEngine::finish_forward(std::shared_ptr<ForwardPass> pass, Done<std::optional<int64_t>> done) {
  // Rows no group holds a queue for go back to their source queue as well.
  for (const auto& p : pass->rows) {
    auto placed = pass->placed.find(p.message.destination);
    if (placed != pass->placed.end() && !placed->second) pass->put_back.push_back(p);
  }
  std::vector<TransferMessage> back;
  for (const auto& p : pass->put_back) {
    TransferMessage m = p.message;
    m.destination = p.source_name;
    m.key = put_back_key(p.id);
    back.push_back(std::move(m));
    pass->done_ids.push_back(p.id);
  }
  const int64_t retry_at = pass->now + (pass->failed ? kForwardRetryMs : 0);
  const bool again = pass->failed || pass->full;
  if (pass->done_ids.empty()) return done(again ? std::optional<int64_t>(retry_at) : std::nullopt);
  std::vector<Statement> also;
  also.push_back(sql::statement(kOutboxDelete, {sql::bigint_array(pass->done_ids)}));
  PgEngine& source = *engines_[pass->source];
  // A put-back whose source queue is gone too is dropped with it, as that
  // queue's messages were.
  transfer_in(source.pool(), source.now_param(), options_.account_id, options_.region, std::move(back), std::move(also),
              [&source, again, retry_at, done = std::move(done)](Result<TransferOutcome> r) {
                if (r.ok()) {
                  for (const auto& name : r->delivered) source.notify_available(name);
                }
                done(again || !r.ok() ? std::optional<int64_t>(retry_at) : std::nullopt);
              });
}

void GroupedEngine::transfers_due(size_t group, std::optional<int64_t> earliest, Done<std::optional<int64_t>> done) {
  if (group >= engines_.size()) return done(earliest);
  auto sooner = [](std::optional<int64_t> a, std::optional<int64_t> b) {
    if (!a) return b;
    if (!b) return a;
    return std::optional<int64_t>(std::min(*a, *b));
  };
  forward(group, [this, group, earliest, sooner, done = std::move(done)](std::optional<int64_t> next) mutable {
    step_moves(group, [this, group, next = sooner(earliest, next), sooner,
                       done = std::move(done)](std::optional<int64_t> moves) mutable {
      transfers_due(group + 1, sooner(next, moves), std::move(done));
    });
  });
}

// --- move tasks ----------------------------------------------------------------

void GroupedEngine::step_moves(size_t group, Done<std::optional<int64_t>> done) {
  auto elsewhere = std::make_shared<MoveElsewhere>();
  elsewhere->own = group;
  elsewhere->locate = [this](const std::string& name, std::function<void(Result<size_t>)> then) {
    async_locate(name, std::move(then));
  };
  elsewhere->pool_of = [this](size_t g) -> Pool& { return engines_[g]->pool(); };
  elsewhere->notify = [this](size_t g, const std::string& name) { engines_[g]->notify_available(name); };
  PgEngine& engine = *engines_[group];
  step_running_move_tasks(
      engine.pool(), engine.now_param(), options_.account_id, options_.region,
      [&engine, done = std::move(done)](std::vector<MoveStepOutcome> steps) {
        std::optional<int64_t> next;
        for (const MoveStepOutcome& step : steps) {
          for (const auto& name : step.destinations) engine.notify_available(name);
          if (step.running && step.now > 0) {
            next = next ? std::min(*next, step.now + kMoveStepMs) : step.now + kMoveStepMs;
          }
        }
        done(next);
      },
      std::move(elsewhere));
}

// The source's group starts the task (its row lives there). Its checks
// look at the other groups too: whether a queue there names the source as
// its dead-letter queue, and the destination when it lives elsewhere.
void GroupedEngine::async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                          std::optional<int> max_per_second, Done<Result<std::string>> done) {
  async_locate(source_name, [this, source_name, destination, max_per_second,
                             done = std::move(done)](Result<size_t> g) mutable {
    if (!g.ok() && g.error().code != ErrorCode::QueueDoesNotExist) return done(g.error());
    if (!g.ok()) return engines_[0]->async_start_move_task(source_name, destination, max_per_second, std::move(done));
    const size_t group = *g;
    async_dead_letter_source_queues(source_name, [this, source_name, destination, max_per_second, group,
                                                  done = std::move(done)](Result<std::vector<std::string>> sources) {
      if (!sources.ok() && sources.error().code != ErrorCode::QueueDoesNotExist) return done(sources.error());
      PgEngine::StartElsewhere elsewhere;
      elsewhere.dead_letter_source_elsewhere = sources.ok() && !sources->empty();
      auto start = [this, source_name, destination, max_per_second, group, done](PgEngine::StartElsewhere e) {
        engines_[group]->start_move_task(source_name, destination, max_per_second, e, done);
      };
      if (!destination || !PgEngine::can_name_queue(*destination)) return start(elsewhere);
      async_locate(*destination, [this, destination, group, elsewhere, start, done](Result<size_t> d) mutable {
        if (!d.ok() && d.error().code != ErrorCode::QueueDoesNotExist) return done(d.error());
        if (!d.ok() || *d == group) return start(elsewhere);
        engines_[*d]->async_get_queue(*destination, [elsewhere, start, done](Result<QueueInfo> q) mutable {
          if (!q.ok() && q.error().code != ErrorCode::QueueDoesNotExist) return done(q.error());
          if (q.ok()) elsewhere.destination_fifo = is_fifo(q->attributes);
          start(elsewhere);  // gone meanwhile: the start answers that it does not exist
        });
      });
    });
  });
}

}  // namespace wharf::storage::postgresql
