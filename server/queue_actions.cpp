// Queue actions: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue,
// GetQueueAttributes, SetQueueAttributes, PurgeQueue.
#include <algorithm>
#include <set>

#include "server/actions.h"
#include "server/params.h"
#include "server/queue_urls.h"
#include "storage/arn.h"

namespace wharf::server {
namespace {

using nlohmann::json;

// Every name GetQueueAttributes accepts (botocore's QueueAttributeName enum).
const std::set<std::string>& known_attribute_names() {
  static const std::set<std::string> kNames = {"All",
                                               "Policy",
                                               "VisibilityTimeout",
                                               "MaximumMessageSize",
                                               "MessageRetentionPeriod",
                                               "ApproximateNumberOfMessages",
                                               "ApproximateNumberOfMessagesNotVisible",
                                               "CreatedTimestamp",
                                               "LastModifiedTimestamp",
                                               "QueueArn",
                                               "ApproximateNumberOfMessagesDelayed",
                                               "DelaySeconds",
                                               "ReceiveMessageWaitTimeSeconds",
                                               "RedrivePolicy",
                                               "FifoQueue",
                                               "ContentBasedDeduplication",
                                               "KmsMasterKeyId",
                                               "KmsDataKeyReusePeriodSeconds",
                                               "DeduplicationScope",
                                               "FifoThroughputLimit",
                                               "RedriveAllowPolicy",
                                               "SqsManagedSseEnabled"};
  return kNames;
}

}  // namespace

Result<json> create_queue(const Call& call) {
  Params p(call.params);
  auto name = p.required_string("QueueName");
  if (!name) return name.error();
  auto attributes = p.string_map("Attributes");
  if (!attributes) return attributes.error();
  auto tags = p.string_map("tags");
  if (!tags) return tags.error();
  auto queue = call.engine.create_queue(name.value(), attributes.value(), tags.value());
  if (!queue) return queue.error();
  return json{{"QueueUrl", queue_url(call, queue->name)}};
}

Result<json> get_queue_url(const Call& call) {
  Params p(call.params);
  auto name = p.required_string("QueueName");
  if (!name) return name.error();
  if (auto owner = p.optional_string("QueueOwnerAWSAccountId"); !owner) {
    return owner.error();
  } else if (owner.value() && *owner.value() != owner_account(call)) {
    return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
  }
  auto queue = call.engine.get_queue(name.value());
  if (!queue) return queue.error();
  return json{{"QueueUrl", queue_url(call, queue->name)}};
}

Result<json> list_queues(const Call& call) {
  Params p(call.params);
  auto prefix = p.optional_string("QueueNamePrefix");
  if (!prefix) return prefix.error();
  auto page = paginate_queue_urls(call, call.engine.list_queues(prefix.value().value_or("")));
  if (!page) return page.error();
  json out = json::object();
  if (!page->urls.empty()) out["QueueUrls"] = std::move(page->urls);
  if (!page->next_token.empty()) out["NextToken"] = page->next_token;
  return out;
}

Result<json> delete_queue(const Call& call) {
  const std::string& name = call.queue_name;
  if (auto st = call.engine.delete_queue(name); !st) return st.error();
  return json::object();
}

Result<json> get_queue_attributes(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto requested = p.string_list("AttributeNames");
  if (!requested) return requested.error();
  for (const auto& n : requested.value()) {
    if (!known_attribute_names().count(n)) {
      return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute " + n + ".");
    }
  }
  auto queue = call.engine.get_queue(name);
  if (!queue) return queue.error();
  auto counts = call.engine.queue_counts(name);
  if (!counts) return counts.error();

  std::map<std::string, std::string> all = queue->attributes;
  all["QueueArn"] = storage::queue_arn(request_region(call), owner_account(call), queue->name);
  all["ApproximateNumberOfMessages"] = std::to_string(counts->visible);
  all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(counts->in_flight);
  all["ApproximateNumberOfMessagesDelayed"] = std::to_string(counts->delayed);
  all["CreatedTimestamp"] = std::to_string(queue->created_s);
  all["LastModifiedTimestamp"] = std::to_string(queue->modified_s);

  const auto& names = requested.value();
  const bool everything = std::find(names.begin(), names.end(), "All") != names.end();
  json attributes = json::object();
  for (const auto& [key, value] : all) {
    if (everything || std::find(names.begin(), names.end(), key) != names.end()) attributes[key] = value;
  }
  if (attributes.empty()) return json::object();
  return json{{"Attributes", attributes}};
}

Result<json> set_queue_attributes(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  if (!p.has("Attributes")) {
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter Attributes.");
  }
  auto attributes = p.string_map("Attributes");
  if (!attributes) return attributes.error();
  if (auto st = call.engine.set_queue_attributes(name, attributes.value()); !st) return st.error();
  return json::object();
}

Result<json> purge_queue(const Call& call) {
  const std::string& name = call.queue_name;
  if (auto st = call.engine.purge_queue(name); !st) return st.error();
  return json::object();
}

}  // namespace wharf::server
