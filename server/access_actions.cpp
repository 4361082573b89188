// Tags and permissions: TagQueue, UntagQueue, ListQueueTags, AddPermission,
// RemovePermission.
#include "server/actions.h"
#include "server/params.h"
#include "storage/arn.h"
#include "storage/queue_tags.h"

namespace wharf::server {

using nlohmann::json;

Result<json> tag_queue(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto tags = p.string_map("Tags");
  if (!tags) return tags.error();
  // No Tags and an empty map read the same, in both protocols.
  if (tags->empty()) return make_error(ErrorCode::MissingParameter, "The request must contain the parameter Tags.");
  auto st = call.engine.modify_queue(name, [&](storage::QueueInfo& q) { return storage::add_tags(q, tags.value()); });
  if (!st) return st.error();
  return json::object();
}

Result<json> untag_queue(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto keys = p.string_list("TagKeys");
  if (!keys) return keys.error();
  // No TagKeys and an empty list read the same.
  if (keys->empty()) {
    return make_error(ErrorCode::InvalidParameterValue, "Tag keys must be between 1 and 128 characters in length.");
  }
  auto st = call.engine.modify_queue(name, [&](storage::QueueInfo& q) {
    storage::remove_tags(q, keys.value());
    return Status(Ok{});
  });
  if (!st) return st.error();
  return json::object();
}

Result<json> list_queue_tags(const Call& call) {
  const std::string& name = call.queue_name;
  auto queue = call.engine.get_queue(name);
  if (!queue) return queue.error();
  if (queue->tags.empty()) return json::object();
  return json{{"Tags", queue->tags}};
}

Result<json> add_permission(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto label = p.required_string("Label");
  if (!label) return label.error();
  if (!p.has("AWSAccountIds")) {
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter AWSAccountIds.");
  }
  auto accounts = p.string_list("AWSAccountIds");
  if (!accounts) return accounts.error();
  auto actions = p.string_list("Actions");
  if (!actions) return actions.error();
  // No Actions and an empty list read the same.
  if (actions->empty())
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter Actions.");
  const std::string arn = storage::queue_arn(request_region(call), owner_account(call), name);
  const storage::Permission permission{label.value(), accounts.value(), actions.value()};
  auto st = call.engine.modify_queue(
      name, [&](storage::QueueInfo& q) { return storage::add_permission(q, arn, permission); });
  if (!st) return st.error();
  return json::object();
}

Result<json> remove_permission(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto label = p.required_string("Label");
  if (!label) return label.error();
  auto st = call.engine.modify_queue(
      name, [&](storage::QueueInfo& q) { return storage::remove_permission(q, label.value()); });
  if (!st) return st.error();
  return json::object();
}

}  // namespace wharf::server
