#include "storage/message_rules.h"

#include <openssl/evp.h>

#include <algorithm>

#include "common/hex.h"
#include "storage/message_text.h"

namespace wharf::storage {
namespace {

bool attribute_is(const AttributeMap& attributes, const std::string& name, std::string_view value) {
  auto it = attributes.find(name);
  return it != attributes.end() && it->second == value;
}

Status invalid(std::string message) { return make_error(ErrorCode::InvalidParameterValue, std::move(message)); }

Status check_fifo_message(const SendRules& rules, NewMessage& message) {
  if (message.group_id.empty()) {
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter MessageGroupId.");
  }
  if (message.delay_seconds) {
    return invalid("Value " + std::to_string(*message.delay_seconds) +
                   " for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid "
                   "for this queue type.");
  }
  if (message.deduplication_id.empty()) {
    if (!rules.content_based_deduplication) {
      return invalid(
          "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
          "explicitly");
    }
    message.deduplication_id = content_deduplication_id(message.body);
  }
  return Ok{};
}

}  // namespace

SendRules send_rules_of(bool fifo, const AttributeMap& attributes) {
  SendRules rules;
  rules.fifo = fifo;
  rules.max_message_size = attribute_int(attributes, "MaximumMessageSize");
  rules.default_delay_seconds = static_cast<int>(attribute_int(attributes, "DelaySeconds"));
  rules.content_based_deduplication = attribute_is(attributes, "ContentBasedDeduplication", "true");
  rules.deduplication_per_group = attribute_is(attributes, "DeduplicationScope", "messageGroup");
  return rules;
}

Status validate_new_message(const SendRules& rules, NewMessage& message) {
  if (message.body.empty()) {
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter MessageBody.");
  }
  if (!is_valid_message_text(message.body)) {
    return make_error(ErrorCode::InvalidMessageContents,
                      "Invalid binary character in the message body. Only #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 "
                      "to #xFFFD | #x10000 to #x10FFFF are allowed.");
  }
  if (static_cast<int64_t>(message.body.size() + message.attributes_size) > rules.max_message_size) {
    return invalid("One or more parameters are invalid. Reason: Message must be shorter than " +
                   std::to_string(rules.max_message_size) + " bytes.");
  }
  if (rules.fifo) return check_fifo_message(rules, message);
  if (!message.deduplication_id.empty()) {
    return invalid("The request include parameter MessageDeduplicationId that is not valid for this queue type.");
  }
  return Ok{};
}

std::string content_deduplication_id(std::string_view body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(body.data(), body.size(), digest, &len, EVP_sha256(), nullptr);
  return hex_lower(digest, len);
}

std::string deduplication_scope_key(const SendRules& rules, std::string_view group_id,
                                    std::string_view deduplication_id) {
  std::string key;
  if (rules.deduplication_per_group) {
    key.reserve(group_id.size() + 1 + deduplication_id.size());
    key.append(group_id).push_back('\n');
  }
  key.append(deduplication_id);
  return key;
}

std::string sequence_number_text(uint64_t seq) {
  // "1", then the number in 19 digits with leading zeros.
  std::string out(20, '0');
  out[0] = '1';
  for (size_t i = 19; seq != 0 && i > 0; --i, seq /= 10) out[i] = static_cast<char>('0' + seq % 10);
  return out;
}

Status check_in_flight_limit(size_t in_flight) {
  if (in_flight < kMaxInFlightMessages) return Ok{};
  return make_error(ErrorCode::OverLimit, "The maximum number of in flight messages (120000) has been reached.");
}

}  // namespace wharf::storage
