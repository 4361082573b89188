// Queue tags and the Policy document that AddPermission / RemovePermission
// maintain: pure rules on a QueueInfo, applied under Engine::modify_queue.
#pragma once

#include <string>
#include <vector>

#include "common/sqs_error.h"
#include "storage/engine.h"

namespace wharf::storage {

// Keys 1-128 characters, values 0-256, no "aws:" prefix; at most 50 per queue.
Status validate_tags(const TagMap& tags);
Status add_tags(QueueInfo& queue, const TagMap& tags);
void remove_tags(QueueInfo& queue, const std::vector<std::string>& keys);

struct Permission {
  std::string label;
  std::vector<std::string> account_ids;
  std::vector<std::string> actions;  // "SendMessage", "*", ...
};

// Adds an Allow statement with Sid = label to the queue's Policy.
Status add_permission(QueueInfo& queue, const std::string& queue_arn, const Permission& permission);
// Removes the statement with Sid = label.
Status remove_permission(QueueInfo& queue, const std::string& label);

}  // namespace wharf::storage
