#include "storage/redrive_rules.h"

#include "storage/arn.h"

namespace wharf::storage {

Status check_redrive_target(const RedriveScope& scope, const std::string& source_name, const AttributeMap& attributes) {
  auto policy_text = attributes.find("RedrivePolicy");
  if (policy_text == attributes.end() || policy_text->second.empty()) return Ok{};
  auto policy = redrive_policy(attributes);
  auto reject = [&](const std::string& reason) {
    return make_error(ErrorCode::InvalidParameterValue,
                      "Value " + policy_text->second + " for parameter RedrivePolicy is invalid. Reason: " + reason);
  };
  auto target = queue_name_from_arn(policy->dead_letter_target_arn, scope.region, scope.account_id);
  const AttributeMap* target_attributes = target ? scope.find_queue(*target) : nullptr;
  if (!target_attributes) return reject("Dead letter target does not exist.");
  // A queue may name itself as its dead-letter target: AWS accepts it.
  if (is_fifo(*target_attributes) != is_fifo(attributes)) {
    return reject("Dead-letter queue must be same type of queue as the source.");
  }
  const std::string source_arn = queue_arn(scope.region, scope.account_id, source_name);
  if (!allows_redrive_from(*target_attributes, source_arn)) {
    return reject("Queue " + source_arn + " is not allowed to use " + policy->dead_letter_target_arn +
                  " as its dead letter queue (RedriveAllowPolicy).");
  }
  return Ok{};
}

std::optional<std::string> redrive_target(const AttributeMap& source_attributes, std::string_view source_name,
                                          std::string_view region, std::string_view account_id) {
  auto policy = redrive_policy(source_attributes);
  if (!policy) return std::nullopt;
  auto target = queue_name_from_arn(policy->dead_letter_target_arn, region, account_id);
  if (target && *target == source_name) return std::nullopt;
  return target;
}

DeadLetteredMessage dead_lettered(SystemAttributes system_attributes, int64_t sent_ms, bool fifo,
                                  std::string source_arn, const std::string& message_id, int64_t now_ms) {
  DeadLetteredMessage out{std::move(system_attributes), sent_ms};
  out.system_attributes.dead_letter_queue_source_arn = std::move(source_arn);
  if (fifo) {
    out.sent_ms = now_ms;
    out.system_attributes.message_deduplication_id = message_id;
  }
  return out;
}

}  // namespace wharf::storage
