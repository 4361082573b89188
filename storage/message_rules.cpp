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
  if (message.delay_seconds.value_or(0) != 0) {
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

SendRules send_rules_of(bool fifo, const AttributeMap& attributes, bool deduplication_per_group) {
  SendRules rules;
  rules.fifo = fifo;
  rules.max_message_size = attribute_int(attributes, "MaximumMessageSize");
  rules.default_delay_seconds = static_cast<int>(attribute_int(attributes, "DelaySeconds"));
  rules.content_based_deduplication = attribute_is(attributes, "ContentBasedDeduplication", "true");
  rules.deduplication_per_group = fifo && deduplication_per_group;
  return rules;
}

bool deduplication_per_group_of(const AttributeMap& created_attributes) {
  return attribute_is(created_attributes, "DeduplicationScope", "messageGroup");
}

Status check_fifo_batch(const SendRules& rules, const std::vector<NewMessage>& messages) {
  if (!rules.fifo) return Ok{};
  for (const auto& message : messages) {
    if (message.group_id.empty()) return invalid("The request must contain the parameter MessageGroupId.");
    if (message.deduplication_id.empty() && !rules.content_based_deduplication) {
      return invalid(
          "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided "
          "explicitly");
    }
  }
  return Ok{};
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
  // 18849496460467696128 + seq * 65536, computed as 10^18 * high + low so
  // that nothing overflows: high has two digits, low 18.
  constexpr uint64_t kE18 = 1'000'000'000'000'000'000ull;
  constexpr uint64_t kBaseHigh = 18, kBaseLow = 849'496'460'467'696'128ull;
  constexpr uint64_t kStep = 65'536;
  const uint64_t offset = seq * kStep;
  const uint64_t low_sum = kBaseLow + offset % kE18;
  const uint64_t high = kBaseHigh + offset / kE18 + low_sum / kE18;
  uint64_t low = low_sum % kE18;
  std::string out(20, '0');
  for (size_t i = 20; i > 2; --i, low /= 10) out[i - 1] = static_cast<char>('0' + low % 10);
  out[1] = static_cast<char>('0' + high % 10);
  out[0] = static_cast<char>('0' + high / 10);
  return out;
}

Status check_in_flight_limit(size_t in_flight) {
  if (in_flight < kMaxInFlightMessages) return Ok{};
  return make_error(ErrorCode::OverLimit, "The maximum number of in flight messages (120000) has been reached.");
}

}  // namespace wharf::storage
