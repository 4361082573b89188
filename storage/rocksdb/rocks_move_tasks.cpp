// RocksEngine: message move tasks (StartMessageMoveTask and friends). A task
// drains a dead-letter queue at a bounded rate; each step moves its messages
// and records the task's progress in one write, so a crash neither loses nor
// duplicates a message, and a restart resumes RUNNING tasks.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "common/ids.h"
#include "storage/arn.h"
#include "storage/redrive_rules.h"
#include "storage/rocksdb/rocks_engine.h"
#include "storage/system_attributes.h"

namespace wharf::storage {
namespace {

constexpr int kDefaultRate = 500;  // messages per second when none is set (AWS's maximum)
constexpr int64_t kStepMs = 100;   // how often running tasks move their share

nlohmann::json task_json(const MoveTaskRecord& r) {
  const MoveTask& t = r.task;
  return {{"id", r.id},
          {"status", t.status},
          {"source_arn", t.source_arn},
          {"source_name", r.source_name},
          {"destination_arn", t.destination_arn},
          {"max_per_second", t.max_per_second},
          {"moved", t.moved},
          {"to_move", t.to_move},
          {"failure_reason", t.failure_reason},
          {"started_ms", t.started_ms}};
}

SqsError not_found(const std::string& what) { return make_error(ErrorCode::ResourceNotFoundException, what); }

// A failed task's FailureReason: as on AWS, the error code, not a sentence.
constexpr const char* kQueueMissing = "AWS.SimpleQueueService.NonExistentQueue";

}  // namespace

bool RocksEngine::load_move_tasks(std::string& error) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), tasks_cf_));
  const int64_t now = this->now();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto doc = nlohmann::json::parse(it->value().ToString(), nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      error = "corrupt move task record";
      return false;
    }
    MoveTaskRecord r;
    r.id = doc.value("id", "");
    r.source_name = doc.value("source_name", "");
    r.task.task_handle = r.id;
    r.task.status = doc.value("status", "FAILED");
    r.task.source_arn = doc.value("source_arn", "");
    r.task.destination_arn = doc.value("destination_arn", "");
    r.task.max_per_second = doc.value("max_per_second", 0);
    r.task.moved = doc.value("moved", uint64_t{0});
    r.task.to_move = doc.value("to_move", uint64_t{0});
    r.task.failure_reason = doc.value("failure_reason", "");
    r.task.started_ms = doc.value("started_ms", int64_t{0});
    r.last_step_ms = now;
    tasks_.emplace(r.id, std::move(r));
  }
  if (!it->status().ok()) error = it->status().ToString();
  return it->status().ok();
}

void RocksEngine::put_task_record(rocksdb::WriteBatch& batch, const MoveTaskRecord& task) {
  batch.Put(tasks_cf_, task.id, task_json(task).dump());
}

Result<std::string> RocksEngine::start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                                 std::optional<int> max_per_second) {
  std::lock_guard lock(mu_);
  auto source = queues_.find(source_name);
  if (source == queues_.end())
    return not_found("The resource that you specified for the SourceArn parameter doesn't exist.");
  const std::string source_arn = arn(source_name);
  const bool is_dead_letter_queue = std::any_of(queues_.begin(), queues_.end(), [&](const auto& entry) {
    auto policy = redrive_policy(entry.second.info.attributes);
    return policy && policy->dead_letter_target_arn == source_arn;
  });
  if (!is_dead_letter_queue) {
    return make_error(ErrorCode::InvalidParameterValue, "Source queue must be configured as a Dead Letter Queue.");
  }
  if (destination) {
    if (!queues_.count(*destination)) {
      return not_found("The resource that you specified for the DestinationArn parameter doesn't exist.");
    }
    if (*destination == source_name) {
      return make_error(ErrorCode::InvalidParameterValue, "The destination queue can not be the source queue.");
    }
    if (queues_.at(*destination).fifo != source->second.fifo) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "The destination queue must be of the same type as the source queue.");
    }
  }
  for (const auto& [id, task] : tasks_) {
    if (task.source_name == source_name && task.task.status == "RUNNING") {
      return make_error(ErrorCode::InvalidParameterValue,
                        "There is already a task running. Only one active task is allowed for a source queue arn at a "
                        "given time.");
    }
  }
  MoveTaskRecord r;
  r.id = random_uuid();
  r.source_name = source_name;
  r.task.task_handle = r.id;
  r.task.status = "RUNNING";
  r.task.source_arn = source_arn;
  r.task.destination_arn = destination ? arn(*destination) : "";
  r.task.max_per_second = max_per_second.value_or(0);
  r.task.to_move = source->second.messages.size();
  const int64_t now = this->now();
  r.task.started_ms = now;
  r.last_step_ms = now;
  rocksdb::WriteBatch batch;
  put_task_record(batch, r);
  if (auto st = write(batch); !st) return st.error();
  const std::string handle = r.id;
  tasks_.emplace(r.id, std::move(r));
  if (listener_) listener_->deadline_added(now);
  return handle;
}

Result<uint64_t> RocksEngine::cancel_move_task(const std::string& task_id) {
  std::lock_guard lock(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.task.status != "RUNNING") return not_found("Task does not exist.");
  MoveTaskRecord updated = it->second;
  updated.task.status = "CANCELLED";
  rocksdb::WriteBatch batch;
  put_task_record(batch, updated);
  if (auto st = write(batch); !st) return st.error();
  it->second.task.status = "CANCELLED";
  return it->second.task.moved;
}

Result<std::vector<MoveTask>> RocksEngine::list_move_tasks(const std::string& source_name, size_t max_results) {
  std::lock_guard lock(mu_);
  if (!queues_.count(source_name)) {
    return not_found("The resource that you specified for the SourceArn parameter doesn't exist.");
  }
  std::vector<MoveTask> out;
  for (const auto& [id, r] : tasks_) {
    if (r.source_name != source_name) continue;
    MoveTask t = r.task;
    if (t.status != "RUNNING") t.task_handle.clear();
    out.push_back(std::move(t));
  }
  std::sort(out.begin(), out.end(), [](const MoveTask& a, const MoveTask& b) { return a.started_ms > b.started_ms; });
  if (out.size() > max_results) out.resize(max_results);
  return out;
}

void RocksEngine::finish_task(MoveTaskRecord& task, const std::string& status, const std::string& reason) {
  MoveTaskRecord updated = task;
  updated.task.status = status;
  updated.task.failure_reason = reason;
  rocksdb::WriteBatch batch;
  put_task_record(batch, updated);
  if (write(batch)) task = std::move(updated);
}

std::optional<int64_t> RocksEngine::step_move_tasks(int64_t now) {
  bool running = false;
  for (auto& [id, task] : tasks_) {
    if (task.task.status != "RUNNING") continue;
    step_move_task(task, now);
    running = running || task.task.status == "RUNNING";
  }
  if (!running) return std::nullopt;
  return now + kStepMs;
}

void RocksEngine::step_move_task(MoveTaskRecord& task, int64_t now) {
  auto source_it = queues_.find(task.source_name);
  if (source_it == queues_.end()) return finish_task(task, "FAILED", kQueueMissing);
  Queue& source = source_it->second;
  promote_due(source, now);

  const double rate = task.task.max_per_second > 0 ? task.task.max_per_second : kDefaultRate;
  task.allowance = std::min(rate, task.allowance + rate * double(now - task.last_step_ms) / 1000.0);
  task.last_step_ms = now;
  const auto budget = static_cast<uint64_t>(std::floor(task.allowance));

  struct Move {
    uint64_t source_seq;
    Queue* destination;
    uint64_t destination_seq;
    MessageState state;
  };
  std::vector<Move> moves;
  MoveTaskRecord updated = task;
  rocksdb::WriteBatch batch;
  std::string failure;
  // In send order; on a FIFO queue a group whose earlier message is not
  // visible (in flight or delayed) waits, so each group keeps its order.
  std::set<const Group*> blocked;
  for (auto it = source.messages.begin();
       it != source.messages.end() && moves.size() < budget && updated.task.moved < updated.task.to_move; ++it) {
    const Live& live = it->second;
    if (live.where != Where::Visible || blocked.count(live.group)) {
      if (source.fifo) blocked.insert(live.group);
      continue;
    }
    auto content = read_content(source, it->first);
    if (!content) continue;
    SystemAttributes system = decode_system_attributes(content->system_attributes);
    const std::string destination_arn =
        task.task.destination_arn.empty() ? system.dead_letter_queue_source_arn : task.task.destination_arn;
    auto destination_name = queue_name_from_arn(destination_arn, options_.region, options_.account_id);
    auto destination = destination_name ? queues_.find(*destination_name) : queues_.end();
    if (destination == queues_.end()) {
      failure = kQueueMissing;  // no destination, or the message's source queue is gone
      break;
    }
    // AWS: "All redriven messages are considered new messages and are
    // assigned a new messageID and enqueueTime."
    returned_from_dead_letters(system);
    content->system_attributes = encode_system_attributes(system);
    content->message_id = random_uuid();
    content->sent_ms = now;
    MessageState state;
    state.sent_ms = now;
    state.visible_at_ms = now;
    state.group_id = live.group->id;
    stage_removal(batch, source.id, it->first);
    moves.push_back(
        Move{it->first, &destination->second, stage_message(destination->second, batch, *content, state), state});
    ++updated.task.moved;
  }
  const bool drained = updated.task.moved >= updated.task.to_move || source.messages.size() == moves.size();
  if (!failure.empty()) {
    updated.task.status = "FAILED";
    updated.task.failure_reason = failure;
  } else if (drained) {
    updated.task.status = "COMPLETED";
  }
  if (moves.empty() && updated.task.status == task.task.status) return;
  put_task_record(batch, updated);
  if (!write(batch)) return;
  for (const auto& m : moves) {
    forget_message(source, m.source_seq);
    index_message(*m.destination, m.destination_seq, m.state, now);
    notify_visible(m.destination->info.name);
  }
  updated.allowance = task.allowance - double(moves.size());
  task = std::move(updated);
}

}  // namespace wharf::storage
