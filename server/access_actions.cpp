// Tags and permissions: TagQueue, UntagQueue, ListQueueTags, AddPermission,
// RemovePermission.
#include "server/actions.h"
#include "server/params.h"
#include "storage/arn.h"
#include "storage/queue_tags.h"

namespace wharf::server {

using nlohmann::json;

namespace {

// The answer of an action that changes the queue and answers nothing.
void answer_empty(const Call& call, Status st) {
  if (!st) return call.reply(st.error());
  call.reply(Answer{json::object(), {}});
}

}  // namespace

// The engine may run a `change` later, on another thread: each owns what it
// reads (captured by value), and the continuations keep only `&call`.

void tag_queue(const Call& call, Reply reply) {
  Params p(call.params);
  auto tags = p.string_map("Tags");
  if (!tags) return reply(tags.error());
  // No Tags and an empty map read the same, in both protocols.
  if (tags->empty())
    return reply(make_error(ErrorCode::MissingParameter, "The request must contain the parameter Tags."));
  call.engine.async_modify_queue(
      call.queue_name, [tags = std::move(tags.value())](storage::QueueInfo& q) { return storage::add_tags(q, tags); },
      [&call](Status st) { answer_empty(call, std::move(st)); });
}

void untag_queue(const Call& call, Reply reply) {
  Params p(call.params);
  auto keys = p.string_list("TagKeys");
  if (!keys) return reply(keys.error());
  // No TagKeys and an empty list read the same.
  if (keys->empty()) {
    return reply(
        make_error(ErrorCode::InvalidParameterValue, "Tag keys must be between 1 and 128 characters in length."));
  }
  call.engine.async_modify_queue(
      call.queue_name,
      [keys = std::move(keys.value())](storage::QueueInfo& q) {
        storage::remove_tags(q, keys);
        return Status(Ok{});
      },
      [&call](Status st) { answer_empty(call, std::move(st)); });
}

void list_queue_tags(const Call& call, Reply) {
  call.engine.async_get_queue(call.queue_name, [&call](Result<storage::QueueInfo> queue) {
    if (!queue) return call.reply(queue.error());
    if (queue->tags.empty()) return call.reply(Answer{json::object(), {}});
    call.reply(Answer{json{{"Tags", queue->tags}}, {}});
  });
}

void add_permission(const Call& call, Reply reply) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto label = p.required_string("Label");
  if (!label) return reply(label.error());
  if (!p.has("AWSAccountIds")) {
    return reply(make_error(ErrorCode::MissingParameter, "The request must contain the parameter AWSAccountIds."));
  }
  auto accounts = p.string_list("AWSAccountIds");
  if (!accounts) return reply(accounts.error());
  auto actions = p.string_list("Actions");
  if (!actions) return reply(actions.error());
  // No Actions and an empty list read the same.
  if (actions->empty()) {
    return reply(make_error(ErrorCode::MissingParameter, "The request must contain the parameter Actions."));
  }
  call.engine.async_modify_queue(
      name,
      [arn = storage::queue_arn(request_region(call), owner_account(call), name),
       permission =
           storage::Permission{std::move(label.value()), std::move(accounts.value()), std::move(actions.value())}](
          storage::QueueInfo& q) { return storage::add_permission(q, arn, permission); },
      [&call](Status st) { answer_empty(call, std::move(st)); });
}

void remove_permission(const Call& call, Reply reply) {
  Params p(call.params);
  auto label = p.required_string("Label");
  if (!label) return reply(label.error());
  call.engine.async_modify_queue(
      call.queue_name,
      [label = std::move(label.value())](storage::QueueInfo& q) { return storage::remove_permission(q, label); },
      [&call](Status st) { answer_empty(call, std::move(st)); });
}

}  // namespace wharf::server
