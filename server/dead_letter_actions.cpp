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

json move_task_entry(const storage::MoveTask& t) {
  json entry = {{"Status", t.status},
                {"SourceArn", t.source_arn},
                {"ApproximateNumberOfMessagesMoved", t.moved},
                {"ApproximateNumberOfMessagesToMove", t.to_move},
                {"StartedTimestamp", t.started_ms}};
  if (!t.task_handle.empty()) entry["TaskHandle"] = task_handle(t.task_handle, t.source_arn);
  if (!t.destination_arn.empty()) entry["DestinationArn"] = t.destination_arn;
  if (t.max_per_second > 0) entry["MaxNumberOfMessagesPerSecond"] = t.max_per_second;
  if (!t.failure_reason.empty()) entry["FailureReason"] = t.failure_reason;
  return entry;
}

}  // namespace

// Each handler checks its parameters, then calls the engine; the answer is
// built in the engine's continuation, which keeps `&call` (see Call) and
// owns whatever else it needs.

void list_dead_letter_source_queues(const Call& call, Reply) {
  call.engine.async_dead_letter_source_queues(call.queue_name, [&call](Result<std::vector<std::string>> sources) {
    if (!sources) return call.reply(sources.error());
    auto page = paginate_queue_urls(call, sources.value());
    if (!page) return call.reply(page.error());
    json out = {{"queueUrls", std::move(page->urls)}};
    if (!page->next_token.empty()) out["NextToken"] = page->next_token;
    call.reply(Answer{std::move(out), {}});
  });
}

void start_message_move_task(const Call& call, Reply reply) {
  auto source = queue_from_arn(call, "SourceArn");
  if (!source) return reply(source.error());
  Params p(call.params);
  std::optional<std::string> destination;
  if (p.has("DestinationArn")) {
    auto name = queue_from_arn(call, "DestinationArn");
    if (!name) return reply(name.error());
    destination = name.value();
  }
  auto rate = p.optional_int("MaxNumberOfMessagesPerSecond", 1, 500);
  if (!rate) return reply(rate.error());
  call.engine.async_start_move_task(source.value(), destination, rate.value(), [&call](Result<std::string> task_id) {
    if (!task_id) return call.reply(task_id.error());
    const std::string source_arn = Params(call.params).required_string("SourceArn").value();
    call.reply(Answer{json{{"TaskHandle", task_handle(task_id.value(), source_arn)}}, {}});
  });
}

// Two engine calls, chained: whether the task's source queue still exists,
// then the cancel.
void cancel_message_move_task(const Call& call, Reply reply) {
  auto handle = Params(call.params).required_string("TaskHandle");
  if (!handle) return reply(handle.error());
  auto parsed = parse_task_handle(handle.value());
  if (!parsed) return reply(make_error(ErrorCode::InvalidParameterValue, "Value for parameter TaskHandle is invalid."));
  // A well-formed handle whose source queue is gone: AWS names the SourceArn.
  auto source = queue_named_by(call, parsed->source_arn, "SourceArn");
  if (!source) return reply(source.error());
  call.engine.async_get_queue(
      source.value(), [&call, task_id = std::move(parsed->task_id)](Result<storage::QueueInfo> queue) {
        if (!queue) {
          return call.reply(make_error(ErrorCode::ResourceNotFoundException,
                                       "The resource that you specified for the SourceArn parameter doesn't exist."));
        }
        call.engine.async_cancel_move_task(task_id, [&call](Result<uint64_t> moved) {
          if (!moved) return call.reply(moved.error());
          call.reply(Answer{json{{"ApproximateNumberOfMessagesMoved", moved.value()}}, {}});
        });
      });
}

void list_message_move_tasks(const Call& call, Reply reply) {
  auto source = queue_from_arn(call, "SourceArn");
  if (!source) return reply(source.error());
  auto max = Params(call.params).optional_int("MaxResults", 1, 10);
  if (!max) return reply(max.error());
  call.engine.async_list_move_tasks(source.value(), static_cast<size_t>(max.value().value_or(1)),
                                    [&call](Result<std::vector<storage::MoveTask>> tasks) {
                                      if (!tasks) return call.reply(tasks.error());
                                      json results = json::array();
                                      for (const auto& t : tasks.value()) results.push_back(move_task_entry(t));
                                      call.reply(Answer{json{{"Results", std::move(results)}}, {}});
                                    });
}

}  // namespace wharf::server
