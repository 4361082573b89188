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

// The queue Policy's answer for `principal_account` calling `action` (an SQS
// action name) on the queue `queue_arn`: a matching Deny wins, else a matching
// Allow allows. Principals match as "*", the account id, or any ARN in that
// account; actions as "sqs:<Action>" globs, case-insensitively (a batch action
// also as its single form); Resource, when given, as ARN globs. Statements
// with Condition, NotPrincipal, NotAction or NotResource are not evaluated.
enum class PolicyDecision { NoMatch, Allow, Deny };
PolicyDecision evaluate_policy(const std::string& policy_text, const std::string& principal_account,
                               const std::string& action, const std::string& queue_arn);

}  // namespace wharf::storage
