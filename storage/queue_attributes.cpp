#include "storage/queue_attributes.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <optional>

namespace wharf::storage {
namespace {

struct IntRange {
  const char* name;
  int64_t min;
  int64_t max;
};

constexpr IntRange kIntAttributes[] = {
    {"DelaySeconds", 0, 900},
    {"MaximumMessageSize", 1024, 1048576},
    {"MessageRetentionPeriod", 60, 1209600},
    {"ReceiveMessageWaitTimeSeconds", 0, 20},
    {"VisibilityTimeout", 0, 43200},
    {"KmsDataKeyReusePeriodSeconds", 60, 86400},
};

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

SqsError invalid_value(const std::string& name) {
  return make_error(ErrorCode::InvalidAttributeValue, "Invalid value for the parameter " + name + ".");
}

}  // namespace

bool is_valid_queue_name(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

AttributeMap default_queue_attributes() {
  return {
      {"DelaySeconds", "0"},
      {"MaximumMessageSize", "1048576"},
      {"MessageRetentionPeriod", "345600"},
      {"ReceiveMessageWaitTimeSeconds", "0"},
      {"VisibilityTimeout", "30"},
      {"SqsManagedSseEnabled", "true"},
  };
}

Result<AttributeMap> validate_queue_attributes(const AttributeMap& requested, bool creating) {
  AttributeMap out;
  for (const auto& [name, value] : requested) {
    bool known = false;
    for (const auto& range : kIntAttributes) {
      if (name != range.name) continue;
      known = true;
      auto v = parse_int(value);
      if (!v || *v < range.min || *v > range.max) return invalid_value(name);
      out[name] = std::to_string(*v);
    }
    if (known) continue;
    if (name == "SqsManagedSseEnabled") {
      if (value != "true" && value != "false") return invalid_value(name);
      out[name] = value;
    } else if (name == "KmsMasterKeyId") {
      out[name] = value;
    } else if (name == "Policy") {
      if (!value.empty()) {
        auto doc = nlohmann::json::parse(value, nullptr, false);
        if (doc.is_discarded() || !doc.is_object()) return invalid_value(name);
      }
      out[name] = value;
    } else if (name == "FifoQueue" && creating) {
      if (value == "true") {
        return make_error(ErrorCode::UnsupportedOperation, "FIFO queues are not supported by this Wharf version yet.");
      }
      if (value != "false") return invalid_value(name);
      // A standard queue; nothing to store.
    } else if (name == "RedrivePolicy" || name == "RedriveAllowPolicy") {
      return make_error(ErrorCode::UnsupportedOperation,
                        "The attribute " + name + " (dead-letter queues) is not supported by this Wharf version yet.");
    } else {
      // Includes ContentBasedDeduplication, DeduplicationScope and
      // FifoThroughputLimit, which AWS rejects on standard queues.
      return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute " + name + ".");
    }
  }
  return out;
}

int64_t attribute_int(const AttributeMap& attributes, const std::string& name) {
  auto it = attributes.find(name);
  if (it == attributes.end()) return 0;
  return parse_int(it->second).value_or(0);
}

}  // namespace wharf::storage
