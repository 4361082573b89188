// PgEngine: queues, their attributes, tags and Policy (docs/design/
// postgresql.md section 6.1). The SQS rules are the neutral ones
// (queue_attributes.h, queue_tags.h, redrive_rules.h), applied exactly as
// RocksEngine applies them; this file only reads and writes rows.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <utility>

#include "storage/arn.h"
#include "storage/message_rules.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/queue_tags.h"
#include "storage/redrive_rules.h"

namespace wharf::storage::postgresql {

// A create's request, checked by the neutral rules before any round trip.
struct NewQueue {
  std::string name;
  AttributeMap given;    // validated, as the request gave them (compared with an existing queue)
  AttributeMap initial;  // the defaults with `given` applied
  TagMap tags;
  bool fifo = false;
};

namespace {

constexpr int64_t kPurgeIntervalMs = 60'000;

using Results = std::vector<QueryResult>;

int64_t to_int(std::string_view text) { return std::stoll(std::string(text)); }

std::string json_of(const std::map<std::string, std::string>& map) { return nlohmann::json(map).dump(); }

QueueInfo info_of(PgQueue q) {
  QueueInfo info;
  info.name = std::move(q.name);
  info.attributes = std::move(q.attributes);
  info.tags = std::move(q.tags);
  info.created_s = q.created_ms / 1000;
  info.modified_s = q.modified_ms / 1000;
  return info;
}

// The dead-letter target's ARN that a queue's attributes name (the column
// dead_letter_target, for dead_letter_source_queues), or NULL.
PgParam dead_letter_target_of(const AttributeMap& attributes) {
  auto policy = redrive_policy(attributes);
  if (!policy) return std::nullopt;
  return policy->dead_letter_target_arn;
}

SqsError invalid_name(bool fifo) {
  return make_error(ErrorCode::InvalidParameterValue,
                    fifo ? "The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                           "underscores, must end with .fifo suffix and be 1 to 80 in length."
                         : "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
}

Result<NewQueue> check_new_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags) {
  auto validated = validate_queue_attributes(attributes, /*creating=*/true);
  if (!validated) return validated.error();
  NewQueue q{name, std::move(validated.value()), {}, tags, false};
  q.fifo = is_fifo(q.given);
  if (!is_valid_queue_name(name, q.fifo)) return invalid_name(q.fifo);
  q.initial = default_queue_attributes(q.fifo);
  apply_attributes(q.initial, q.given);
  if (auto st = check_queue_type_rules(q.fifo, q.given, q.initial); !st) return st.error();
  if (auto st = validate_tags(tags); !st) return st.error();
  return q;
}

// An existing queue answers a create when every attribute given matches.
Result<QueueInfo> existing_answer(PgQueue existing, const AttributeMap& given) {
  for (const auto& [key, value] : given) {
    auto h = existing.attributes.find(key);
    if ((h == existing.attributes.end() ? "" : h->second) != value) {
      return make_error(ErrorCode::QueueNameExists,
                        "A queue already exists with the same name and a different value for attribute " + key);
    }
  }
  return info_of(std::move(existing));
}

}  // namespace

// --- statements --------------------------------------------------------------

namespace {

Statement now_statement(PgParam now) { return sql::statement(sql::kNow, {std::move(now)}); }

// The queue a RedrivePolicy in `attributes` names, when it is one of this
// engine's (account, region): its row is read with the others so that
// check_redrive_target's lookup is served from the same transaction.
std::optional<std::string> redrive_target_name(const EngineOptions& options, const AttributeMap& attributes) {
  auto policy = redrive_policy(attributes);
  if (!policy) return std::nullopt;
  auto name = queue_name_from_arn(policy->dead_letter_target_arn, options.region, options.account_id);
  if (name && !PgEngine::can_name_queue(*name)) return std::nullopt;  // no such queue: nothing to read
  return name;
}

// check_redrive_target (neutral) with the queues read in this transaction.
Status check_redrive(const EngineOptions& options, const std::string& source, const AttributeMap& attributes,
                     const std::map<std::string, AttributeMap>& known) {
  const RedriveScope scope{options.region, options.account_id, [&known](const std::string& name) {
                             auto it = known.find(name);
                             return it == known.end() ? nullptr : &it->second;
                           }};
  return check_redrive_target(scope, source, attributes);
}

}  // namespace

// --- create ------------------------------------------------------------------

void PgEngine::async_create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags,
                                  Done<Result<QueueInfo>> done) {
  auto checked = check_new_queue(name, attributes, tags);
  if (!checked) return done(checked.error());
  auto request = std::make_shared<NewQueue>(std::move(checked.value()));
  const auto target = redrive_target_name(options_, request->initial);
  if (!target || !grouped()) return create_checked(std::move(request), std::nullopt, std::move(done));
  hooks_.attributes_elsewhere(
      *target, [this, request, done = std::move(done)](Result<std::optional<AttributeMap>> elsewhere) mutable {
        if (!elsewhere.ok()) return done(elsewhere.error());
        create_checked(std::move(request), std::move(*elsewhere), std::move(done));
      });
}

// The create's transaction. `target_elsewhere`: the attributes of the
// dead-letter queue its RedrivePolicy names, when that lives on another group.
void PgEngine::create_checked(std::shared_ptr<NewQueue> request, std::optional<AttributeMap> target_elsewhere,
                              Done<Result<QueueInfo>> done) {
  auto answer = std::make_shared<std::optional<Result<QueueInfo>>>();
  auto race_lost = std::make_shared<bool>(false);
  run_transaction(
      pool(),
      [this, request, answer, race_lost, target_elsewhere](std::shared_ptr<Tx> tx) {
        std::vector<Statement> reads;
        reads.push_back(now_statement(now_param()));
        reads.push_back(queue_row_statement(request->name, false));
        reads.push_back(
            Statement{"SELECT max(deleted_ms) FROM queues WHERE account_id = $1 AND region = $2"
                      " AND name = $3 AND deleted_ms IS NOT NULL",
                      {options_.account_id, options_.region, request->name},
                      "wq_tombstone"});
        const auto target = redrive_target_name(options_, request->initial);
        if (target) reads.push_back(queue_row_statement(*target, false));
        tx->step(std::move(reads), [this, tx, request, answer, race_lost, target, target_elsewhere](Results& r) {
          const int64_t now = to_int(r[0].text(0, 0));
          if (auto existing = queue_from_row(r[1])) {
            *answer = existing_answer(std::move(*existing), request->given);
            return tx->commit();
          }
          if (!r[2].is_null(0, 0) && now - to_int(r[2].text(0, 0)) < options_.queue_delete_cooldown_ms) {
            return tx->fail(make_error(ErrorCode::QueueDeletedRecently,
                                       "You must wait 60 seconds after deleting a queue before you can create "
                                       "another with the same name."));
          }
          std::map<std::string, AttributeMap> known;
          if (target) {
            if (auto row = queue_from_row(r[3])) known.emplace(*target, std::move(row->attributes));
            if (target_elsewhere) known.emplace(*target, *target_elsewhere);
          }
          if (auto st = check_redrive(options_, request->name, request->initial, known); !st) {
            return tx->fail(st.error());
          }
          const bool dedup_per_group = request->fifo && deduplication_per_group_of(request->initial);
          std::vector<Statement> insert;
          insert.push_back(
              Statement{"INSERT INTO queues (account_id, region, name, fifo, dedup_per_group, attributes, tags,"
                        " dead_letter_target, created_ms, modified_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
                        " ON CONFLICT (account_id, region, name) WHERE deleted_ms IS NULL DO NOTHING RETURNING id",
                        {options_.account_id, options_.region, request->name, request->fifo ? "t" : "f",
                         dedup_per_group ? "t" : "f", json_of(request->initial), json_of(request->tags),
                         dead_letter_target_of(request->initial), std::to_string(now)},
                        "wq_create"});
          tx->commit_with(std::move(insert), [request, answer, race_lost, now](Results& inserted) {
            // Another node created it meanwhile: compare with theirs (below).
            if (inserted[0].rows() == 0) {
              *race_lost = true;
              return;
            }
            QueueInfo info;
            info.name = request->name;
            info.attributes = request->initial;
            info.tags = request->tags;
            info.created_s = info.modified_s = now / 1000;
            *answer = std::move(info);
          });
        });
      },
      [this, request, answer, race_lost, done = std::move(done)](Status status) {
        if (!status.ok()) return done(status.error());
        if (*race_lost) return async_create_queue(request->name, request->given, request->tags, done);
        done(std::move(**answer));
      });
}

// --- reads -------------------------------------------------------------------

void PgEngine::async_get_queue(const std::string& name, Done<Result<QueueInfo>> done) {
  find_queue(name, [done = std::move(done)](Result<PgQueue> q) {
    if (!q.ok()) return done(q.error());
    done(info_of(std::move(q.value())));
  });
}

void PgEngine::async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                         Done<Result<int64_t>> done) {
  find_queue(name, [attribute, done = std::move(done)](Result<PgQueue> q) {
    if (!q.ok()) return done(q.error());
    done(attribute_int(q->attributes, attribute));
  });
}

void PgEngine::async_list_queues(std::string_view prefix, Done<Result<std::vector<std::string>>> done) {
  // A prefix no queue name can start with (a byte outside names' alphabet).
  const bool in_alphabet = std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
  if (!in_alphabet || prefix.size() > 80) return done(std::vector<std::string>{});
  std::vector<Statement> statements;
  // C collation: byte order, as RocksDB lists; `>=` starts the index range.
  statements.push_back(
      Statement{"SELECT name FROM queues WHERE account_id = $1 AND region = $2"
                " AND deleted_ms IS NULL AND name >= $3 AND starts_with(name, $3) ORDER BY name",
                {options_.account_id, options_.region, std::string(prefix)},
                "wq_list"});
  run_statements(pool(), std::move(statements), [done = std::move(done)](Result<Results> r) {
    if (!r.ok()) return done(r.error());
    std::vector<std::string> names;
    const QueryResult& rows = r->front();
    names.reserve(rows.rows());
    for (int i = 0; i < rows.rows(); ++i) names.emplace_back(rows.text(i, 0));
    done(std::move(names));
  });
}

void PgEngine::async_dead_letter_source_queues(const std::string& name, Done<Result<std::vector<std::string>>> done) {
  dead_letter_sources(name, true, std::move(done));
}

void PgEngine::dead_letter_sources(const std::string& name, bool here, Done<Result<std::vector<std::string>>> done) {
  if (!can_name_queue(name)) return done(no_such_queue(name));
  std::vector<Statement> statements;
  statements.push_back(queue_row_statement(name, false));
  statements.push_back(
      Statement{"SELECT name FROM queues WHERE account_id = $1 AND region = $2"
                " AND deleted_ms IS NULL AND dead_letter_target = $3 ORDER BY name",
                {options_.account_id, options_.region, queue_arn(options_.region, options_.account_id, name)},
                "wq_dead_letter_sources"});
  run_statements(pool(), std::move(statements), [name, here, done = std::move(done)](Result<Results> r) {
    if (!r.ok()) return done(r.error());
    if ((*r)[0].rows() == 0 && here) return done(no_such_queue(name));
    std::vector<std::string> names;
    for (int i = 0; i < (*r)[1].rows(); ++i) names.emplace_back((*r)[1].text(i, 0));
    done(std::move(names));
  });
}

// One statement over the queue's unexpired messages (section 6.1); the
// activity counters are this engine's, in memory.
void PgEngine::async_queue_counts(const std::string& name, Done<Result<QueueCounts>> done) {
  if (!can_name_queue(name)) return done(no_such_queue(name));
  std::vector<Statement> statements;
  statements.push_back(Statement{
      "SELECT q.id,"
      " count(m.seq) FILTER (WHERE m.visible_at_ms <= n.now),"
      " count(m.seq) FILTER (WHERE m.visible_at_ms > n.now AND m.flight),"
      " count(m.seq) FILTER (WHERE m.visible_at_ms > n.now AND NOT m.flight),"
      " coalesce((SELECT o.sent_ms FROM messages o WHERE o.queue_id = q.id AND o.sent_ms > n.now - q.retention"
      "   ORDER BY o.seq LIMIT 1), 0)"
      " FROM (SELECT id, (attributes::json->>'MessageRetentionPeriod')::bigint * 1000 AS retention FROM queues"
      "   WHERE account_id = $1 AND region = $2 AND name = $3 AND deleted_ms IS NULL) q"
      " CROSS JOIN (SELECT now_ms($4::bigint) AS now) n"
      " LEFT JOIN messages m ON m.queue_id = q.id AND m.sent_ms > n.now - q.retention"
      " GROUP BY q.id, q.retention, n.now",
      {options_.account_id, options_.region, name, now_param()},
      "wq_counts"});
  run_statements(pool(), std::move(statements), [this, name, done = std::move(done)](Result<Results> r) {
    if (!r.ok()) return done(r.error());
    const QueryResult& row = r->front();
    if (row.rows() == 0) return done(no_such_queue(name));
    QueueCounts counts;
    counts.visible = std::stoull(std::string(row.text(0, 1)));
    counts.in_flight = std::stoull(std::string(row.text(0, 2)));
    counts.delayed = std::stoull(std::string(row.text(0, 3)));
    counts.oldest_sent_ms = to_int(row.text(0, 4));
    const QueueActivity activity = activity_of(to_int(row.text(0, 0)));
    counts.sent = activity.sent;
    counts.received = activity.received;
    counts.deleted = activity.deleted;
    counts.moved_to_dead_letter = activity.moved_to_dead_letter;
    done(counts);
  });
}

// --- changes -----------------------------------------------------------------

void PgEngine::async_delete_queue(const std::string& name, Done<Status> done) {
  if (!can_name_queue(name)) return done(no_such_queue(name));
  std::vector<Statement> statements;
  // The row stays as the tombstone (QueueDeletedRecently); its messages
  // wait for the janitor (section 8).
  statements.push_back(
      Statement{"UPDATE queues SET deleted_ms = now_ms($4::bigint) WHERE account_id = $1"
                " AND region = $2 AND name = $3 AND deleted_ms IS NULL RETURNING id",
                {options_.account_id, options_.region, name, now_param()},
                "wq_delete"});
  run_statements(pool(), std::move(statements), [name, done = std::move(done)](Result<Results> r) {
    if (!r.ok()) return done(r.error());
    if (r->front().rows() == 0) return done(no_such_queue(name));
    done(Ok{});
  });
}

// The queue's row FOR UPDATE and `now`, then `change` (pure, on this thread)
// on the row, then the UPDATE it asks for, COMMIT: 2 round trips. `extra`
// names one more queue to read (a RedrivePolicy's target).
void PgEngine::change_queue(const std::string& name, std::optional<std::string> extra, QueueChange change,
                            Done<Status> done, std::optional<AttributeMap> extra_elsewhere) {
  if (!can_name_queue(name)) return done(no_such_queue(name));
  run_transaction(
      pool(),
      [this, name, extra, change = std::move(change), extra_elsewhere](std::shared_ptr<Tx> tx) {
        std::vector<Statement> reads;
        reads.push_back(now_statement(now_param()));
        reads.push_back(queue_row_statement(name, true));
        if (extra) reads.push_back(queue_row_statement(*extra, false));
        tx->step(std::move(reads), [this, tx, name, extra, change, extra_elsewhere](Results& r) {
          auto row = queue_from_row(r[1]);
          if (!row) return tx->fail(no_such_queue(name));
          std::map<std::string, AttributeMap> known;
          if (extra) {
            // The queue itself, as stored, when it names itself.
            if (auto other = *extra == name ? row : queue_from_row(r[2])) known.emplace(*extra, other->attributes);
            if (extra_elsewhere) known.emplace(*extra, *extra_elsewhere);
          }
          auto update = change(*row, to_int(r[0].text(0, 0)), known);
          if (!update.ok()) return tx->fail(update.error());
          tx->commit_with(std::move(update.value()), nullptr);
        });
      },
      std::move(done));
}

void PgEngine::async_set_queue_attributes(const std::string& name, const AttributeMap& attributes, Done<Status> done) {
  auto validated = validate_queue_attributes(attributes, /*creating=*/false);
  if (!validated) return done(validated.error());
  auto changes = std::make_shared<AttributeMap>(std::move(validated.value()));
  const bool redrive_changes = changes->count("RedrivePolicy") > 0;
  std::optional<std::string> target = redrive_changes ? redrive_target_name(options_, *changes) : std::nullopt;
  if (target && grouped()) {  // the target may live on another group: its attributes from there
    const std::string wanted = *target;
    return hooks_.attributes_elsewhere(wanted, [this, name, attributes, done = std::move(done)](
                                                   Result<std::optional<AttributeMap>> elsewhere) mutable {
      if (!elsewhere.ok()) return done(elsewhere.error());
      set_queue_attributes(name, attributes, std::move(*elsewhere), std::move(done));
    });
  }
  set_queue_attributes(name, attributes, std::nullopt, std::move(done));
}

void PgEngine::set_queue_attributes(const std::string& name, const AttributeMap& attributes,
                                    std::optional<AttributeMap> target_elsewhere, Done<Status> done) {
  auto validated = validate_queue_attributes(attributes, /*creating=*/false);
  if (!validated) return done(validated.error());
  auto changes = std::make_shared<AttributeMap>(std::move(validated.value()));
  const bool redrive_changes = changes->count("RedrivePolicy") > 0;
  std::optional<std::string> target = redrive_changes ? redrive_target_name(options_, *changes) : std::nullopt;
  change_queue(
      name, target,
      [this, changes, redrive_changes](
          PgQueue& q, int64_t now, const std::map<std::string, AttributeMap>& known) -> Result<std::vector<Statement>> {
        AttributeMap updated = q.attributes;
        apply_attributes(updated, *changes);
        if (auto st = check_queue_type_rules(q.fifo, *changes, updated); !st) return st.error();
        if (redrive_changes) {
          if (auto st = check_redrive(options_, q.name, updated, known); !st) return st.error();
        }
        std::vector<Statement> update;
        update.push_back(
            Statement{"UPDATE queues SET attributes = $2, dead_letter_target = $3, modified_ms = $4"
                      " WHERE id = $1",
                      {std::to_string(q.id), json_of(updated), dead_letter_target_of(updated), std::to_string(now)},
                      "wq_set_attributes"});
        return update;
      },
      std::move(done), std::move(target_elsewhere));
}

void PgEngine::async_modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change,
                                  Done<Status> done) {
  change_queue(
      name, std::nullopt,
      [change = std::move(change)](PgQueue& q, int64_t,
                                   const std::map<std::string, AttributeMap>&) -> Result<std::vector<Statement>> {
        const int64_t id = q.id;
        const int64_t modified_ms = q.modified_ms;
        QueueInfo info = info_of(std::move(q));
        const int64_t modified_s = info.modified_s;
        if (auto st = change(info); !st) return st.error();
        std::vector<Statement> update;
        update.push_back(Statement{
            "UPDATE queues SET attributes = $2, tags = $3, dead_letter_target = $4, modified_ms = $5 WHERE id = $1",
            {std::to_string(id), json_of(info.attributes), json_of(info.tags), dead_letter_target_of(info.attributes),
             std::to_string(info.modified_s == modified_s ? modified_ms : info.modified_s * 1000)},
            "wq_modify"});
        return update;
      },
      std::move(done));
}

// Messages, groups, deduplication entries and receive attempts go; a used
// MessageDeduplicationId is accepted again afterwards (as on AWS and RocksDB).
void PgEngine::async_purge_queue(const std::string& name, Done<Status> done) {
  change_queue(
      name, std::nullopt,
      [name](PgQueue& q, int64_t now, const std::map<std::string, AttributeMap>&) -> Result<std::vector<Statement>> {
        if (now - q.last_purge_ms < kPurgeIntervalMs) {
          return make_error(ErrorCode::PurgeQueueInProgress,
                            "Only one PurgeQueue operation on " + name + " is allowed every 60 seconds.");
        }
        const std::string id = std::to_string(q.id);
        std::vector<Statement> purge;
        purge.push_back(Statement{"DELETE FROM messages WHERE queue_id = $1", {id}, "wq_purge_messages"});
        purge.push_back(Statement{"DELETE FROM groups WHERE queue_id = $1", {id}, "wq_purge_groups"});
        purge.push_back(Statement{"DELETE FROM dedup WHERE queue_id = $1", {id}, "wq_purge_dedup"});
        purge.push_back(Statement{"DELETE FROM receive_attempts WHERE queue_id = $1", {id}, "wq_purge_attempts"});
        purge.push_back(Statement{
            "UPDATE queues SET last_purge_ms = $2 WHERE id = $1", {id, std::to_string(now)}, "wq_purge_mark"});
        return purge;
      },
      std::move(done));
}

}  // namespace wharf::storage::postgresql
