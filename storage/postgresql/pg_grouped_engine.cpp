// GroupedEngine: one (account, region) over several database groups
// (pg_groups.h; docs/design/postgresql.md, "Several groups"). Each queue
// operation goes to the group the catalog places the queue on (cached on
// this node: placements never move); ListQueues and the others that span
// groups ask every group and merge. Cross-group redrive and move tasks are
// in pg_grouped_transfers.cpp.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

#include "storage/arn.h"
#include "storage/postgresql/pg_groups.h"
#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {

namespace {

const char* const kPlacementOf =
    "SELECT group_id FROM queue_placements WHERE account_id = $1 AND region = $2 AND name = $3";

bool is_missing(const SqsError& error) { return error.code == ErrorCode::QueueDoesNotExist; }

// The dead-letter queue a RedrivePolicy in `attributes` names, when it is
// one of this (account, region) (another one is the engine's to refuse).
// The request's attributes are not validated yet (redrive_policy() reads
// stored ones and may throw on others): anything malformed is left to the
// engine to refuse in its own words.
std::optional<std::string> dead_letter_name(const EngineOptions& options, const AttributeMap& attributes) {
  const auto policy = attributes.find("RedrivePolicy");
  if (policy == attributes.end() || policy->second.empty()) return std::nullopt;
  const auto parsed = nlohmann::json::parse(policy->second, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  const auto arn = parsed.find("deadLetterTargetArn");
  if (arn == parsed.end() || !arn->is_string()) return std::nullopt;
  auto name = queue_name_from_arn(arn->get_ref<const std::string&>(), options.region, options.account_id);
  if (name && !PgEngine::can_name_queue(*name)) return std::nullopt;
  return name;
}

// Every engine's answer to `op`, then `finish` with all of them (on the
// thread of the last group to answer).
template <class R>
struct Gathering {
  std::mutex mutex;
  std::vector<std::optional<R>> answers;
  size_t left = 0;
  std::function<void(std::vector<R>&)> finish;
};

template <class R, class Op>
void ask_every_group(const std::vector<std::unique_ptr<PgEngine>>& engines, Op op,
                     std::function<void(std::vector<R>&)> finish) {
  auto state = std::make_shared<Gathering<R>>();
  state->answers.resize(engines.size());
  state->left = engines.size();
  state->finish = std::move(finish);
  for (size_t i = 0; i < engines.size(); ++i) {
    op(*engines[i], Done<R>([state, i](R answer) {
      {
        std::lock_guard lock(state->mutex);
        state->answers[i].emplace(std::move(answer));
        if (--state->left > 0) return;
      }
      std::vector<R> all;
      all.reserve(state->answers.size());
      for (auto& a : state->answers) all.push_back(std::move(*a));
      state->finish(all);
    }));
  }
}

using Names = Result<std::vector<std::string>>;

// The union of every group's names, sorted; the first error unless
// `tolerate` accepts it (answered by the others then).
Names merge_names(std::vector<Names>& answers, bool (*tolerate)(const SqsError&)) {
  std::vector<std::string> names;
  for (auto& a : answers) {
    if (!a.ok()) {
      if (tolerate && tolerate(a.error())) continue;
      return a.error();
    }
    for (auto& n : *a) names.push_back(std::move(n));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace

GroupedEngine::GroupedEngine(std::shared_ptr<PgGroups> groups, std::vector<std::unique_ptr<PgEngine>> engines,
                             const EngineOptions& options)
    : groups_(std::move(groups)), engines_(std::move(engines)), options_(options) {
  for (size_t i = 0; i < engines_.size(); ++i) install_hooks(i);
}

GroupedEngine::~GroupedEngine() = default;

void GroupedEngine::set_listener(EngineListener* listener) {
  for (auto& engine : engines_) engine->set_listener(listener);
}

uint64_t GroupedEngine::storage_bytes() {
  uint64_t sum = 0;
  for (auto& engine : engines_) sum += engine->storage_bytes();
  return sum;
}

// --- placements ------------------------------------------------------------

std::optional<size_t> GroupedEngine::cached(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = placements_.find(name);
  if (it == placements_.end()) return std::nullopt;
  return it->second;
}

void GroupedEngine::remember(const std::string& name, size_t group) {
  std::lock_guard lock(mutex_);
  placements_.emplace(name, group);
}

void GroupedEngine::forget(const std::string& name) {
  std::lock_guard lock(mutex_);
  placements_.erase(name);
}

namespace {

// The listed position of a recorded group id; 503 when this node was not
// started with that group (it was added since: restart with the full list).
Result<size_t> listed_group(const PgGroups& groups, std::string_view group_id) {
  if (auto index = groups.index_of(group_id)) return *index;
  return make_error(ErrorCode::ServiceUnavailable,
                    "The queue is on database group " + std::string(group_id) +
                        ", which this node was not started with; restart it with the full list of groups.");
}

}  // namespace

void GroupedEngine::async_locate(const std::string& name, Done<Result<size_t>> done) {
  if (auto group = cached(name)) return done(*group);
  if (!PgEngine::can_name_queue(name)) return done(PgEngine::no_such_queue(name));
  std::vector<Statement> statements;
  statements.push_back(Statement{kPlacementOf, {options_.account_id, options_.region, name}, "wg_placement_of"});
  run_statements(groups_->catalog().pool(), std::move(statements),
                 [this, name, done = std::move(done)](Result<std::vector<QueryResult>> r) {
                   if (!r) return done(r.error());
                   if (r->front().rows() == 0) return done(PgEngine::no_such_queue(name));
                   auto group = listed_group(*groups_, r->front().text(0, 0));
                   if (group) remember(name, *group);
                   done(std::move(group));
                 });
}

void GroupedEngine::record_placement(const std::string& name, size_t preferred, Done<Result<size_t>> done) {
  std::vector<Statement> statements;
  statements.push_back(
      Statement{"INSERT INTO queue_placements (account_id, region, name, group_id, created_ms)"
                " VALUES ($1, $2, $3, $4, now_ms(NULL)) ON CONFLICT DO NOTHING",
                {options_.account_id, options_.region, name, groups_->groups()[preferred].id},
                "wg_record_placement"});
  // Read committed: this statement sees a record another node committed
  // while the INSERT above waited on it.
  statements.push_back(Statement{kPlacementOf, {options_.account_id, options_.region, name}, "wg_placement_of"});
  run_statements(groups_->catalog().pool(), std::move(statements),
                 [this, name, done = std::move(done)](Result<std::vector<QueryResult>> r) {
                   if (!r) return done(r.error());
                   if (r->back().rows() == 0) {
                     return done(make_error(ErrorCode::ServiceUnavailable, "The queue's placement was not recorded."));
                   }
                   auto group = listed_group(*groups_, r->back().text(0, 0));
                   if (group) remember(name, *group);
                   done(std::move(group));
                 });
}

// Runs `op(engine, name, done)` on the queue's group. A queue no record
// places is the catalog group's engine's to answer (QueueDoesNotExist, or
// its own words for move tasks) exactly as with one group. A cached group
// answering QueueDoesNotExist drops the entry: the next call looks again.
PgEngine* GroupedEngine::cached_engine(const std::string& name) const {
  auto group = cached(name);
  return group ? engines_[*group].get() : nullptr;
}

template <class R>
Done<R> GroupedEngine::forgetting(const std::string& name, Done<R> done) {
  return [this, name, done = std::move(done)](R answer) {
    if (!answer.ok() && is_missing(answer.error())) forget(name);
    done(std::move(answer));
  };
}

template <class R, class Op>
void GroupedEngine::route(const std::string& name, Done<R> done, Op op) {
  if (PgEngine* engine = cached_engine(name)) return op(*engine, name, forgetting(name, std::move(done)));
  async_locate(name, [this, name, done = std::move(done), op = std::move(op)](Result<size_t> group) mutable {
    if (!group && !is_missing(group.error())) return done(group.error());
    op(*engines_[group ? *group : 0], name, std::move(done));
  });
}

// --- queues ----------------------------------------------------------------

void GroupedEngine::async_create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags,
                                       Done<Result<QueueInfo>> done) {
  // A name no queue could have: the engine's own refusal, no placement.
  if (!PgEngine::can_name_queue(name)) return engines_[0]->async_create_queue(name, attributes, tags, std::move(done));
  auto target = dead_letter_name(options_, attributes);
  if (!target) return place_and_create(name, std::nullopt, attributes, tags, std::move(done));
  async_locate(*target, [this, name, attributes, tags, done = std::move(done)](Result<size_t> g) {
    if (!g && !is_missing(g.error())) return done(g.error());
    place_and_create(name, g ? std::optional<size_t>(*g) : std::nullopt, attributes, tags, done);
  });
}

// Co-location: a queue whose RedrivePolicy names an existing dead-letter
// queue goes to that queue's group; else the hash. The record decides.
void GroupedEngine::place_and_create(const std::string& name, std::optional<size_t> dead_letter_group,
                                     const AttributeMap& attributes, const TagMap& tags, Done<Result<QueueInfo>> done) {
  auto create_on = [this, name, dead_letter_group, attributes, tags, done = std::move(done)](Result<size_t> g) {
    if (!g) return done(g.error());
    engines_[*g]->async_create_queue(name, attributes, tags, done);
  };
  if (auto group = cached(name)) return create_on(*group);
  const size_t preferred =
      dead_letter_group.value_or(groups_->hashed_group(options_.account_id, options_.region, name));
  record_placement(name, preferred, std::move(create_on));
}

void GroupedEngine::async_get_queue(const std::string& name, Done<Result<QueueInfo>> done) {
  route(name, std::move(done),
        [](PgEngine& e, const std::string& n, Done<Result<QueueInfo>> d) { e.async_get_queue(n, std::move(d)); });
}

void GroupedEngine::async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                              Done<Result<int64_t>> done) {
  route(name, std::move(done), [attribute](PgEngine& e, const std::string& n, Done<Result<int64_t>> d) {
    e.async_queue_int_attribute(n, attribute, std::move(d));
  });
}

// Every group's list, merged: any group down fails the whole list (503),
// since a list missing that group's queues would be wrong without a sign.
void GroupedEngine::async_list_queues(std::string_view prefix, Done<Names> done) {
  ask_every_group<Names>(
      engines_,
      [prefix = std::string(prefix)](PgEngine& e, Done<Names> d) { e.async_list_queues(prefix, std::move(d)); },
      [done = std::move(done)](std::vector<Names>& answers) { done(merge_names(answers, nullptr)); });
}

void GroupedEngine::async_delete_queue(const std::string& name, Done<Status> done) {
  route(name, std::move(done),
        [](PgEngine& e, const std::string& n, Done<Status> d) { e.async_delete_queue(n, std::move(d)); });
}

void GroupedEngine::async_queue_counts(const std::string& name, Done<Result<QueueCounts>> done) {
  route(name, std::move(done),
        [](PgEngine& e, const std::string& n, Done<Result<QueueCounts>> d) { e.async_queue_counts(n, std::move(d)); });
}

void GroupedEngine::async_set_queue_attributes(const std::string& name, const AttributeMap& attributes,
                                               Done<Status> done) {
  route(name, std::move(done), [attributes](PgEngine& e, const std::string& n, Done<Status> d) {
    e.async_set_queue_attributes(n, attributes, std::move(d));
  });
}

void GroupedEngine::async_purge_queue(const std::string& name, Done<Status> done) {
  route(name, std::move(done),
        [](PgEngine& e, const std::string& n, Done<Status> d) { e.async_purge_queue(n, std::move(d)); });
}

void GroupedEngine::async_modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change,
                                       Done<Status> done) {
  route(name, std::move(done), [change = std::move(change)](PgEngine& e, const std::string& n, Done<Status> d) {
    e.async_modify_queue(n, change, std::move(d));
  });
}

// Merged over groups: the dead-letter queue's group answers whether it
// exists; every group adds the queues it holds that name it.
void GroupedEngine::async_dead_letter_source_queues(const std::string& name, Done<Names> done) {
  async_locate(name, [this, name, done = std::move(done)](Result<size_t> g) {
    if (!g.ok() && !is_missing(g.error())) return done(g.error());
    if (!g.ok()) return engines_[0]->async_dead_letter_source_queues(name, done);
    const size_t group = *g;
    ask_every_group<Names>(
        engines_,
        [this, name, group](PgEngine& e, Done<Names> d) {
          e.dead_letter_sources(name, &e == engines_[group].get(), std::move(d));
        },
        [done](std::vector<Names>& answers) { done(merge_names(answers, nullptr)); });
  });
}

// --- messages ----------------------------------------------------------------

void GroupedEngine::async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                                        Done<Result<std::vector<Result<SentMessage>>>> done) {
  using Answer = Result<std::vector<Result<SentMessage>>>;
  route(queue_name, Done<Answer>(std::move(done)),
        [messages = std::move(messages), kind](PgEngine& e, const std::string& n, Done<Answer> d) mutable {
          e.async_send_messages(n, std::move(messages), kind, std::move(d));
        });
}

void GroupedEngine::async_delete_messages(const std::string& queue_name,
                                          const std::vector<std::string>& receipt_handles,
                                          Done<Result<std::vector<Status>>> done) {
  if (PgEngine* engine = cached_engine(queue_name)) {  // no copy of the handles
    return engine->async_delete_messages(queue_name, receipt_handles, forgetting(queue_name, std::move(done)));
  }
  route(queue_name, std::move(done),
        [receipt_handles](PgEngine& e, const std::string& n, Done<Result<std::vector<Status>>> d) {
          e.async_delete_messages(n, receipt_handles, std::move(d));
        });
}

void GroupedEngine::async_change_visibilities(const std::string& queue_name,
                                              const std::vector<VisibilityChange>& changes,
                                              Done<Result<std::vector<Status>>> done) {
  if (PgEngine* engine = cached_engine(queue_name)) {
    return engine->async_change_visibilities(queue_name, changes, forgetting(queue_name, std::move(done)));
  }
  route(queue_name, std::move(done), [changes](PgEngine& e, const std::string& n, Done<Result<std::vector<Status>>> d) {
    e.async_change_visibilities(n, changes, std::move(d));
  });
}

void GroupedEngine::async_receive_messages(const std::string& queue_name, int max_messages,
                                           std::optional<int> visibility_timeout, const std::string& attempt_id,
                                           Done<Result<std::vector<ReceivedMessage>>> done) {
  if (PgEngine* engine = cached_engine(queue_name)) {
    return engine->async_receive_messages(queue_name, max_messages, visibility_timeout, attempt_id,
                                          forgetting(queue_name, std::move(done)));
  }
  route(queue_name, std::move(done),
        [max_messages, visibility_timeout, attempt_id](PgEngine& e, const std::string& n,
                                                       Done<Result<std::vector<ReceivedMessage>>> d) {
          e.async_receive_messages(n, max_messages, visibility_timeout, attempt_id, std::move(d));
        });
}

void GroupedEngine::async_peek_messages(const std::string& queue_name, size_t max_messages,
                                        Done<Result<std::vector<PeekedMessage>>> done) {
  route(queue_name, std::move(done),
        [max_messages](PgEngine& e, const std::string& n, Done<Result<std::vector<PeekedMessage>>> d) {
          e.async_peek_messages(n, max_messages, std::move(d));
        });
}

void GroupedEngine::async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                                const std::string& message_id, Done<Status> done) {
  route(queue_name, std::move(done), [position, message_id](PgEngine& e, const std::string& n, Done<Status> d) {
    e.async_delete_peeked_message(n, position, message_id, std::move(d));
  });
}

// --- move tasks and due work -----------------------------------------------

// A task's id names no group: every group is asked; the one that has it
// answers (else a group that could not answer, else "does not exist").
void GroupedEngine::async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) {
  using Answer = Result<uint64_t>;
  ask_every_group<Answer>(
      engines_, [task_id](PgEngine& e, Done<Answer> d) { e.async_cancel_move_task(task_id, std::move(d)); },
      [done = std::move(done)](std::vector<Answer>& answers) {
        for (auto& a : answers) {
          if (a.ok()) return done(std::move(a));
        }
        for (auto& a : answers) {
          if (a.error().code != ErrorCode::ResourceNotFoundException) return done(std::move(a));
        }
        done(std::move(answers.front()));
      });
}

void GroupedEngine::async_list_move_tasks(const std::string& source_name, size_t max_results,
                                          Done<Result<std::vector<MoveTask>>> done) {
  route(source_name, std::move(done),
        [max_results](PgEngine& e, const std::string& n, Done<Result<std::vector<MoveTask>>> d) {
          e.async_list_move_tasks(n, max_results, std::move(d));
        });
}

// Each group's own due work, then the transfers between groups
// (pg_grouped_transfers.cpp): the earliest time any has work again.
void GroupedEngine::async_run_due_work(Done<std::optional<int64_t>> done) {
  using Next = std::optional<int64_t>;
  ask_every_group<Next>(
      engines_, [](PgEngine& e, Done<Next> d) { e.async_run_due_work(std::move(d)); },
      [this, done = std::move(done)](std::vector<Next>& answers) {
        Next earliest;
        for (const auto& a : answers) {
          if (a && (!earliest || *a < *earliest)) earliest = a;
        }
        transfers_due(0, earliest, done);
      });
}

}  // namespace wharf::storage::postgresql
