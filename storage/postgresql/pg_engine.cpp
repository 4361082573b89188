// PgEngine: what its operations share (the queue row, the clock parameter,
// the listener, the activity counters), and the operations not built yet.
#include "storage/postgresql/pg_engine.h"

#include <nlohmann/json.hpp>

#include <utility>

namespace wharf::storage::postgresql {

namespace {

const char* const kQueueColumns =
    "SELECT id, name, fifo, dedup_per_group, has_groups, attributes, tags, coalesce(dead_letter_target, ''),"
    " created_ms, modified_ms, last_purge_ms FROM queues"
    " WHERE account_id = $1 AND region = $2 AND name = $3 AND deleted_ms IS NULL";

int64_t to_int(std::string_view text) { return std::stoll(std::string(text)); }

// AttributeMap and TagMap are both string maps, stored as JSON objects.
std::map<std::string, std::string> map_of(std::string_view json_text) {
  std::map<std::string, std::string> out;
  const auto parsed = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return out;
  for (const auto& [key, value] : parsed.items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

}  // namespace

std::unique_ptr<Engine> open_postgresql_engine(std::shared_ptr<PgCluster> cluster, const EngineOptions& options) {
  return std::make_unique<PgEngine>(std::move(cluster), options);
}

PgEngine::PgEngine(std::shared_ptr<PgCluster> cluster, const EngineOptions& options)
    : cluster_(std::move(cluster)), options_(options) {}

PgEngine::~PgEngine() = default;

void PgEngine::set_listener(EngineListener* listener) {
  std::lock_guard lock(mutex_);
  listener_ = listener;
}

PgParam PgEngine::now_param() const {
  if (!options_.now_ms) return std::nullopt;
  return std::to_string(options_.now_ms());
}

Statement PgEngine::queue_row_statement(const std::string& name, bool lock) const {
  if (lock) {
    return Statement{std::string(kQueueColumns) + " FOR UPDATE",
                     {options_.account_id, options_.region, name},
                     "wharf_queue_row_for_update"};
  }
  return Statement{kQueueColumns, {options_.account_id, options_.region, name}, "wharf_queue_row"};
}

std::optional<PgQueue> PgEngine::queue_from_row(const QueryResult& result, int row) {
  if (result.rows() <= row) return std::nullopt;
  PgQueue q;
  q.id = to_int(result.text(row, 0));
  q.name = std::string(result.text(row, 1));
  q.fifo = result.text(row, 2) == "t";
  q.dedup_per_group = result.text(row, 3) == "t";
  q.has_groups = result.text(row, 4) == "t";
  q.attributes = map_of(result.text(row, 5));
  q.tags = map_of(result.text(row, 6));
  q.dead_letter_target = std::string(result.text(row, 7));
  q.created_ms = to_int(result.text(row, 8));
  q.modified_ms = to_int(result.text(row, 9));
  q.last_purge_ms = to_int(result.text(row, 10));
  return q;
}

bool PgEngine::can_name_queue(std::string_view name) {
  return is_valid_queue_name(name, false) || is_valid_queue_name(name, true);
}

void PgEngine::find_queue(const std::string& name, std::function<void(Result<PgQueue>)> then) {
  if (!can_name_queue(name)) return then(no_such_queue(name));
  std::vector<Statement> statements;
  statements.push_back(queue_row_statement(name, false));
  run_statements(pool(), std::move(statements),
                 [name, then = std::move(then)](Result<std::vector<QueryResult>> results) {
                   if (!results.ok()) return then(results.error());
                   auto queue = queue_from_row(results->front());
                   if (!queue) return then(no_such_queue(name));
                   then(std::move(*queue));
                 });
}

SqsError PgEngine::no_such_queue(const std::string&) {
  return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
}

void PgEngine::notify_available(const std::string& queue_name) {
  if (announce_) announce_(queue_name);
  std::lock_guard lock(mutex_);
  if (listener_) listener_->messages_available(queue_name);
}

void PgEngine::notify_deadline(int64_t when_ms) {
  std::lock_guard lock(mutex_);
  if (listener_) listener_->deadline_added(when_ms);
}

void PgEngine::count_activity(int64_t queue_id, const QueueActivity& more) {
  std::lock_guard lock(mutex_);
  QueueActivity& a = activity_[queue_id];
  a.sent += more.sent;
  a.received += more.received;
  a.deleted += more.deleted;
  a.moved_to_dead_letter += more.moved_to_dead_letter;
}

QueueActivity PgEngine::activity_of(int64_t queue_id) const {
  std::lock_guard lock(mutex_);
  auto it = activity_.find(queue_id);
  return it == activity_.end() ? QueueActivity{} : it->second;
}

// Not cached yet (the janitor of section 8 will keep it): 0.
uint64_t PgEngine::storage_bytes() { return 0; }

// Move tasks are in pg_move_tasks.cpp; time-driven work (section 7.4) in
// pg_due_work.cpp.

}  // namespace wharf::storage::postgresql
