// Dead-letter queues: ListDeadLetterSourceQueues and the message move tasks
// (StartMessageMoveTask, CancelMessageMoveTask, ListMessageMoveTasks).
#include "protocol/checksums.h"
#include "server/actions.h"
#include "server/params.h"
#include "server/queue_urls.h"
#include "storage/arn.h"

namespace wharf::server {
namespace {

using nlohmann::json;

// The name of the caller's queue that `arn` names; ResourceNotFoundException
// for `parameter` when it names none.
Result<std::string> queue_named_by(const Call& call, const std::string& arn, const char* parameter) {
  auto name = storage::queue_name_from_arn(arn, request_region(call), owner_account(call));
  if (!name) {
    return make_error(ErrorCode::ResourceNotFoundException, std::string("The resource that you specified for the ") +
                                                                parameter + " parameter doesn't exist.");
  }
  return *name;
}

Result<std::string> queue_from_arn(const Call& call, const char* parameter) {
  auto arn = Params(call.params).required_string(parameter);
  if (!arn) return arn.error();
  return queue_named_by(call, arn.value(), parameter);
}

// Task handles are, as on AWS, base64 of {"taskId": ..., "sourceArn": ...}.
std::string task_handle(const std::string& task_id, const std::string& source_arn) {
  return protocol::base64_encode(json{{"taskId", task_id}, {"sourceArn", source_arn}}.dump());
}

struct TaskHandle {
  std::string task_id;
  std::string source_arn;
};

std::optional<TaskHandle> parse_task_handle(const std::string& handle) {
  auto text = protocol::base64_decode(handle);
  if (!text) return std::nullopt;
  auto doc = json::parse(*text, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  for (const char* member : {"taskId", "sourceArn"}) {
    if (!doc.contains(member) || !doc[member].is_string()) return std::nullopt;
  }
  return TaskHandle{doc["taskId"].get<std::string>(), doc["sourceArn"].get<std::string>()};
}

}  // namespace

Result<json> list_dead_letter_source_queues(const Call& call) {
  const std::string& name = call.queue_name;
  auto sources = call.engine.dead_letter_source_queues(name);
  if (!sources) return sources.error();
  auto page = paginate_queue_urls(call, sources.value());
  if (!page) return page.error();
  json out = {{"queueUrls", std::move(page->urls)}};
  if (!page->next_token.empty()) out["NextToken"] = page->next_token;
  return out;
}

Result<json> start_message_move_task(const Call& call) {
  auto source = queue_from_arn(call, "SourceArn");
  if (!source) return source.error();
  Params p(call.params);
  std::optional<std::string> destination;
  if (p.has("DestinationArn")) {
    auto name = queue_from_arn(call, "DestinationArn");
    if (!name) return name.error();
    destination = name.value();
  }
  auto rate = p.optional_int("MaxNumberOfMessagesPerSecond", 1, 500);
  if (!rate) return rate.error();
  auto task_id = call.engine.start_move_task(source.value(), destination, rate.value());
  if (!task_id) return task_id.error();
  return json{{"TaskHandle", task_handle(task_id.value(), Params(call.params).required_string("SourceArn").value())}};
}

Result<json> cancel_message_move_task(const Call& call) {
  auto handle = Params(call.params).required_string("TaskHandle");
  if (!handle) return handle.error();
  auto parsed = parse_task_handle(handle.value());
  if (!parsed) return make_error(ErrorCode::InvalidParameterValue, "Value for parameter TaskHandle is invalid.");
  // A well-formed handle whose source queue is gone: AWS names the SourceArn.
  auto source = queue_named_by(call, parsed->source_arn, "SourceArn");
  if (!source) return source.error();
  if (!call.engine.get_queue(source.value())) {
    return make_error(ErrorCode::ResourceNotFoundException,
                      "The resource that you specified for the SourceArn parameter doesn't exist.");
  }
  auto moved = call.engine.cancel_move_task(parsed->task_id);
  if (!moved) return moved.error();
  return json{{"ApproximateNumberOfMessagesMoved", moved.value()}};
}

Result<json> list_message_move_tasks(const Call& call) {
  auto source = queue_from_arn(call, "SourceArn");
  if (!source) return source.error();
  auto max = Params(call.params).optional_int("MaxResults", 1, 10);
  if (!max) return max.error();
  auto tasks = call.engine.list_move_tasks(source.value(), static_cast<size_t>(max.value().value_or(1)));
  if (!tasks) return tasks.error();
  json results = json::array();
  for (const auto& t : tasks.value()) {
    json entry = {{"Status", t.status},
                  {"SourceArn", t.source_arn},
                  {"ApproximateNumberOfMessagesMoved", t.moved},
                  {"ApproximateNumberOfMessagesToMove", t.to_move},
                  {"StartedTimestamp", t.started_ms}};
    if (!t.task_handle.empty()) entry["TaskHandle"] = task_handle(t.task_handle, t.source_arn);
    if (!t.destination_arn.empty()) entry["DestinationArn"] = t.destination_arn;
    if (t.max_per_second > 0) entry["MaxNumberOfMessagesPerSecond"] = t.max_per_second;
    if (!t.failure_reason.empty()) entry["FailureReason"] = t.failure_reason;
    results.push_back(std::move(entry));
  }
  return json{{"Results", std::move(results)}};
}

}  // namespace wharf::server
