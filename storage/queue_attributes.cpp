#include "storage/queue_attributes.h"

#include <nlohmann/json.hpp>

#include "common/text.h"

#include <cctype>
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

// A policy document, or a discarded value when it is not JSON or nests deeper
// than any policy needs (deep documents would recurse when printed).
nlohmann::json parse_policy_document(const std::string& text) {
  if (json_nests_too_deep(text)) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

// "true" or "false" in any letter case, as AWS reads FifoQueue and
// ContentBasedDeduplication ("True" is true), in lower case.
std::optional<std::string> parse_bool(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "true" && lower != "false") return std::nullopt;
  return lower;
}

std::optional<int64_t> parse_int(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

SqsError invalid_value(const std::string& name) {
  return make_error(ErrorCode::InvalidAttributeValue, "Invalid value for the parameter " + name + ".");
}

SqsError invalid_policy(const std::string& name, const std::string& value, const std::string& reason) {
  return make_error(ErrorCode::InvalidParameterValue,
                    "Value " + value + " for parameter " + name + " is invalid. Reason: " + reason);
}

// {"deadLetterTargetArn": "...", "maxReceiveCount": 1..1000 (number or
// numeric string)} -> AWS's normalised text; "" removes the policy.
Result<std::string> normalise_redrive_policy(const std::string& value) {
  if (value.empty()) return std::string();
  auto doc = parse_policy_document(value);
  if (doc.is_discarded() || !doc.is_object()) {
    return invalid_policy("RedrivePolicy", value, "Redrive policy is not a valid JSON map.");
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "deadLetterTargetArn" && it.key() != "maxReceiveCount") {
      return invalid_policy("RedrivePolicy", value,
                            "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount].");
    }
  }
  if (!doc.contains("deadLetterTargetArn") || !doc["deadLetterTargetArn"].is_string()) {
    return invalid_policy("RedrivePolicy", value, "Redrive policy does not contain deadLetterTargetArn.");
  }
  if (!doc.contains("maxReceiveCount")) {
    return invalid_policy("RedrivePolicy", value, "Redrive policy does not contain maxReceiveCount.");
  }
  std::optional<int64_t> count;
  const auto& raw = doc["maxReceiveCount"];
  if (raw.is_number_integer()) count = raw.get<int64_t>();
  if (raw.is_string()) count = parse_int(raw.get<std::string>());
  if (!count || *count < 1 || *count > 1000) {
    return invalid_policy(
        "RedrivePolicy", value,
        "Invalid value for maxReceiveCount: " + (raw.is_string() ? raw.get<std::string>() : raw.dump()) +
            ", valid values are from 1 to 1000 both inclusive.");
  }
  nlohmann::json out = {{"deadLetterTargetArn", doc["deadLetterTargetArn"]}, {"maxReceiveCount", *count}};
  return out.dump();
}

// {"redrivePermission": "allowAll"|"denyAll"|"byQueue", "sourceQueueArns":
// [...] (1-10, byQueue only)}; "" removes the policy.
Result<std::string> normalise_redrive_allow_policy(const std::string& value) {
  if (value.empty()) return std::string();
  auto doc = parse_policy_document(value);
  if (doc.is_discarded() || !doc.is_object()) {
    return invalid_policy("RedriveAllowPolicy", value, "Redrive allow policy is not a valid JSON map.");
  }
  const auto& raw_permission = doc.contains("redrivePermission") ? doc["redrivePermission"] : nlohmann::json();
  const std::string permission = raw_permission.is_string() ? raw_permission.get<std::string>() : "";
  if (permission != "allowAll" && permission != "denyAll" && permission != "byQueue") {
    return invalid_policy("RedriveAllowPolicy", value,
                          "Amazon SQS can't create the redrive allow policy, as it's in an unsupported format.");
  }
  nlohmann::json out = {{"redrivePermission", permission}};
  const bool has_sources = doc.contains("sourceQueueArns");
  if (permission == "byQueue") {
    const auto& sources = has_sources ? doc["sourceQueueArns"] : nlohmann::json();
    if (!sources.is_array() || sources.empty() || sources.size() > 10) {
      return invalid_policy("RedriveAllowPolicy", value,
                            "The redrive allow policy with byQueue needs 1 to 10 sourceQueueArns.");
    }
    for (const auto& arn : sources) {
      if (!arn.is_string()) return invalid_policy("RedriveAllowPolicy", value, "sourceQueueArns must be strings.");
    }
    out["sourceQueueArns"] = sources;
  } else if (has_sources) {
    return invalid_policy("RedriveAllowPolicy", value,
                          "sourceQueueArns can only be specified when redrivePermission is byQueue.");
  }
  return out.dump();
}

}  // namespace

bool is_valid_queue_name(std::string_view name, bool fifo) {
  if (name.empty() || name.size() > 80) return false;
  constexpr std::string_view kFifoSuffix = ".fifo";
  if (fifo) {
    if (name.size() <= kFifoSuffix.size() || name.substr(name.size() - kFifoSuffix.size()) != kFifoSuffix) return false;
    name.remove_suffix(kFifoSuffix.size());
  }
  for (char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

AttributeMap default_queue_attributes(bool fifo) {
  AttributeMap out = {
      {"DelaySeconds", "0"},
      {"MaximumMessageSize", "1048576"},
      {"MessageRetentionPeriod", "345600"},
      {"ReceiveMessageWaitTimeSeconds", "0"},
      {"VisibilityTimeout", "30"},
      {"SqsManagedSseEnabled", "true"},
  };
  if (fifo) {
    out["FifoQueue"] = "true";
    out["ContentBasedDeduplication"] = "false";
    out["DeduplicationScope"] = "queue";
    out["FifoThroughputLimit"] = "perQueue";
  }
  return out;
}

bool is_fifo(const AttributeMap& attributes) {
  auto it = attributes.find("FifoQueue");
  return it != attributes.end() && it->second == "true";
}

Status check_queue_type_rules(bool fifo, const AttributeMap& changes, const AttributeMap& result) {
  if (auto type = changes.find("FifoQueue"); type != changes.end()) {
    // A standard queue knows no FifoQueue, not even "false"; a FIFO queue
    // takes "true" again as a no-op but cannot become standard.
    if (!fifo) return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute FifoQueue.");
    if (type->second != "true") {
      return make_error(ErrorCode::InvalidAttributeValue,
                        "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.");
    }
  }
  if (!fifo && changes.count("ContentBasedDeduplication")) {
    return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute ContentBasedDeduplication.");
  }
  for (const char* name : {"DeduplicationScope", "FifoThroughputLimit"}) {
    if (changes.count(name) && !fifo) {
      return make_error(ErrorCode::InvalidAttributeName,
                        std::string("You can specify the ") + name + " only when FifoQueue is set to true.");
    }
  }
  if (fifo) {
    auto get = [&](const char* name) {
      auto it = result.find(name);
      return it == result.end() ? std::string() : it->second;
    };
    if (get("FifoThroughputLimit") == "perMessageGroupId" && get("DeduplicationScope") != "messageGroup") {
      return make_error(ErrorCode::InvalidAttributeValue,
                        "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId is only "
                        "allowed with DeduplicationScope messageGroup.");
    }
  }
  return Ok{};
}

Result<AttributeMap> validate_queue_attributes(const AttributeMap& requested, bool /*creating*/) {
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
        auto doc = parse_policy_document(value);
        if (doc.is_discarded() || !doc.is_object()) return invalid_value(name);
      }
      out[name] = value;
    } else if (name == "FifoQueue" || name == "ContentBasedDeduplication") {
      auto flag = parse_bool(value);
      if (!flag) return invalid_value(name);
      out[name] = *flag;
    } else if (name == "DeduplicationScope") {
      if (value != "messageGroup" && value != "queue") return invalid_value(name);
      out[name] = value;
    } else if (name == "FifoThroughputLimit") {
      if (value != "perQueue" && value != "perMessageGroupId") return invalid_value(name);
      out[name] = value;
    } else if (name == "RedrivePolicy" || name == "RedriveAllowPolicy") {
      auto normalised =
          name == "RedrivePolicy" ? normalise_redrive_policy(value) : normalise_redrive_allow_policy(value);
      if (!normalised) return normalised.error();
      out[name] = normalised.value();
    } else {
      return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute " + name + ".");
    }
  }
  return out;
}

void apply_attributes(AttributeMap& attributes, const AttributeMap& changes) {
  const AttributeMap defaults = default_queue_attributes();
  for (const auto& [key, value] : changes) {
    if (value.empty() && !defaults.count(key)) {
      attributes.erase(key);
    } else {
      attributes[key] = value;
    }
  }
  // A KMS key replaces SQS-managed encryption (with AWS's default data key
  // reuse period); no key ends KMS encryption, reuse period included.
  if (auto key = changes.find("KmsMasterKeyId"); key != changes.end()) {
    if (key->second.empty()) {
      attributes.erase("KmsDataKeyReusePeriodSeconds");
    } else {
      attributes["SqsManagedSseEnabled"] = "false";
      attributes.emplace("KmsDataKeyReusePeriodSeconds", "300");
    }
  }
}

int64_t attribute_int(const AttributeMap& attributes, const std::string& name) {
  auto it = attributes.find(name);
  if (it == attributes.end()) return 0;
  return parse_int(it->second).value_or(0);
}

std::optional<RedrivePolicy> redrive_policy(const AttributeMap& attributes) {
  auto it = attributes.find("RedrivePolicy");
  if (it == attributes.end() || it->second.empty()) return std::nullopt;
  auto doc = nlohmann::json::parse(it->second, nullptr, false);
  if (!doc.is_object()) return std::nullopt;
  return RedrivePolicy{doc.value("deadLetterTargetArn", ""), doc.value("maxReceiveCount", 0)};
}

bool allows_redrive_from(const AttributeMap& attributes, const std::string& source_arn) {
  auto it = attributes.find("RedriveAllowPolicy");
  if (it == attributes.end() || it->second.empty()) return true;
  auto doc = nlohmann::json::parse(it->second, nullptr, false);
  const std::string permission = doc.value("redrivePermission", "allowAll");
  if (permission == "allowAll") return true;
  if (permission == "denyAll") return false;
  for (const auto& arn : doc.value("sourceQueueArns", nlohmann::json::array())) {
    if (arn == source_arn) return true;
  }
  return false;
}

}  // namespace wharf::storage
