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

// Each handler checks its parameters, then calls the engine; the answer is
// built in the engine's continuation, which keeps only `&call` (see Call)
// and answers through call.reply.

void create_queue(const Call& call, Reply reply) {
  Params p(call.params);
  auto name = p.required_string("QueueName");
  if (!name) return reply(name.error());
  auto attributes = p.string_map("Attributes");
  if (!attributes) return reply(attributes.error());
  auto tags = p.string_map("tags");
  if (!tags) return reply(tags.error());
  call.engine.async_create_queue(name.value(), attributes.value(), tags.value(),
                                 [&call](Result<storage::QueueInfo> queue) {
                                   if (!queue) return call.reply(queue.error());
                                   call.reply(Answer{json{{"QueueUrl", queue_url(call, queue->name)}}, {}});
                                 });
}

void get_queue_url(const Call& call, Reply reply) {
  Params p(call.params);
  auto name = p.required_string("QueueName");
  if (!name) return reply(name.error());
  if (auto owner = p.optional_string("QueueOwnerAWSAccountId"); !owner) {
    return reply(owner.error());
  } else if (owner.value() && *owner.value() != owner_account(call)) {
    return reply(make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist."));
  }
  call.engine.async_get_queue(name.value(), [&call](Result<storage::QueueInfo> queue) {
    if (!queue) return call.reply(queue.error());
    call.reply(Answer{json{{"QueueUrl", queue_url(call, queue->name)}}, {}});
  });
}

void list_queues(const Call& call, Reply reply) {
  Params p(call.params);
  auto prefix = p.optional_string("QueueNamePrefix");
  if (!prefix) return reply(prefix.error());
  call.engine.async_list_queues(prefix.value().value_or(""), [&call](Result<std::vector<std::string>> names) {
    if (!names) return call.reply(names.error());
    auto page = paginate_queue_urls(call, names.value());
    if (!page) return call.reply(page.error());
    json out = json::object();
    if (!page->urls.empty()) out["QueueUrls"] = std::move(page->urls);
    if (!page->next_token.empty()) out["NextToken"] = page->next_token;
    call.reply(Answer{std::move(out), {}});
  });
}

void delete_queue(const Call& call, Reply) {
  call.engine.async_delete_queue(call.queue_name, [&call](Status st) {
    if (!st) return call.reply(st.error());
    call.reply(Answer{json::object(), {}});
  });
}

namespace {

// GetQueueAttributes' answer: the queue's stored attributes and the ones
// computed from its record and counts, those that were asked for.
json queue_attributes(const Call& call, const std::vector<std::string>& names, const storage::QueueInfo& queue,
                      const storage::QueueCounts& counts) {
  std::map<std::string, std::string> all = queue.attributes;
  all["QueueArn"] = storage::queue_arn(request_region(call), owner_account(call), queue.name);
  all["ApproximateNumberOfMessages"] = std::to_string(counts.visible);
  all["ApproximateNumberOfMessagesNotVisible"] = std::to_string(counts.in_flight);
  all["ApproximateNumberOfMessagesDelayed"] = std::to_string(counts.delayed);
  all["CreatedTimestamp"] = std::to_string(queue.created_s);
  all["LastModifiedTimestamp"] = std::to_string(queue.modified_s);

  const bool everything = std::find(names.begin(), names.end(), "All") != names.end();
  json attributes = json::object();
  for (const auto& [key, value] : all) {
    if (everything || std::find(names.begin(), names.end(), key) != names.end()) attributes[key] = value;
  }
  if (attributes.empty()) return json::object();
  return json{{"Attributes", attributes}};
}

}  // namespace

// Two engine calls, chained: the queue's record, then its counts.
void get_queue_attributes(const Call& call, Reply reply) {
  Params p(call.params);
  auto requested = p.string_list("AttributeNames");
  if (!requested) return reply(requested.error());
  for (const auto& n : requested.value()) {
    if (!known_attribute_names().count(n)) {
      return reply(make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute " + n + "."));
    }
  }
  call.engine.async_get_queue(
      call.queue_name, [&call, names = std::move(requested.value())](Result<storage::QueueInfo> queue) mutable {
        if (!queue) return call.reply(queue.error());
        call.engine.async_queue_counts(
            call.queue_name,
            [&call, names = std::move(names), queue = std::move(queue.value())](Result<storage::QueueCounts> counts) {
              if (!counts) return call.reply(counts.error());
              call.reply(Answer{queue_attributes(call, names, queue, counts.value()), {}});
            });
      });
}

void set_queue_attributes(const Call& call, Reply reply) {
  Params p(call.params);
  if (!p.has("Attributes")) {
    return reply(make_error(ErrorCode::MissingParameter, "The request must contain the parameter Attributes."));
  }
  auto attributes = p.string_map("Attributes");
  if (!attributes) return reply(attributes.error());
  call.engine.async_set_queue_attributes(call.queue_name, attributes.value(), [&call](Status st) {
    if (!st) return call.reply(st.error());
    call.reply(Answer{json::object(), {}});
  });
}

void purge_queue(const Call& call, Reply) {
  call.engine.async_purge_queue(call.queue_name, [&call](Status st) {
    if (!st) return call.reply(st.error());
    call.reply(Answer{json::object(), {}});
  });
}

}  // namespace wharf::server
