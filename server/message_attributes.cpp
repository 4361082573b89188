#include "server/message_attributes.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "protocol/checksums.h"
#include "server/params.h"
#include "storage/message_text.h"

namespace wharf::server {
namespace {

using nlohmann::json;

SqsError invalid(const std::string& message) { return make_error(ErrorCode::InvalidParameterValue, message); }

bool starts_with_ci(const std::string& s, const std::string& prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 256) return false;
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) return false;
  if (starts_with_ci(name, "AWS.") || starts_with_ci(name, "Amazon.")) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

// A decimal number as AWS accepts for Number: optional sign, digits, optional
// fraction, optional exponent; at most 38 significant digits.
bool valid_number(const std::string& s) {
  size_t i = 0, digits = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool any = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits, any = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits, any = true;
  }
  if (!any) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    bool exp = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, exp = true;
    if (!exp) return false;
  }
  return i == s.size() && digits <= 38;
}

enum class BaseType { String, Number, Binary, Invalid };

BaseType base_type(const std::string& data_type) {
  auto dot = data_type.find('.');
  const std::string base = data_type.substr(0, dot);
  if (dot != std::string::npos && dot + 1 == data_type.size()) return BaseType::Invalid;
  if (data_type.size() > 256) return BaseType::Invalid;
  if (base == "String") return BaseType::String;
  if (base == "Number") return BaseType::Number;
  if (base == "Binary") return BaseType::Binary;
  return BaseType::Invalid;
}

Result<size_t> validate_value(const std::string& name, const json& value, json& normalised) {
  if (!value.is_object()) return invalid("The message attribute '" + name + "' must be a structure.");
  const std::string data_type =
      value.contains("DataType") && value["DataType"].is_string() ? value["DataType"].get<std::string>() : "";
  if (data_type.empty()) {
    return invalid("The message attribute '" + name + "' must contain a non-empty attribute type.");
  }
  for (const char* list : {"StringListValues", "BinaryListValues"}) {
    if (value.contains(list) && value.at(list).is_array() && !value.at(list).empty()) {
      return invalid("Message attribute list values in SendMessage operation are not supported.");
    }
  }
  const BaseType type = base_type(data_type);
  if (!storage::is_valid_message_text(data_type)) {
    return invalid("The type of message attribute '" + name + "' contains characters that are not allowed.");
  }
  normalised = json{{"DataType", data_type}};
  if (type == BaseType::Invalid) {
    return invalid("The type of message attribute '" + name +
                   "' is invalid. You must use only the following "
                   "supported type prefixes: Binary, Number, String.");
  }
  if (type == BaseType::Binary) {
    if (!value.contains("BinaryValue") || !value.at("BinaryValue").is_string()) {
      return invalid("The message attribute '" + name + "' with type 'Binary' must use field 'Binary'.");
    }
    auto raw = protocol::base64_decode(value.at("BinaryValue").get<std::string>());
    if (!raw) return invalid("The message attribute '" + name + "' has an invalid base64 BinaryValue.");
    if (raw->empty())
      return invalid("The message attribute '" + name + "' must contain a non-empty value of type 'Binary'.");
    normalised["BinaryValue"] = value.at("BinaryValue");
    return name.size() + data_type.size() + raw->size();
  }
  const char* type_name = type == BaseType::String ? "String" : "Number";
  if (!value.contains("StringValue") || !value.at("StringValue").is_string()) {
    return invalid("The message attribute '" + name + "' with type '" + type_name + "' must use field 'String'.");
  }
  const std::string s = value.at("StringValue").get<std::string>();
  if (s.empty()) {
    return invalid("The message attribute '" + name + "' must contain a non-empty value of type '" + type_name + "'.");
  }
  // The characters a message body may hold (what XML 1.0 can carry).
  if (!storage::is_valid_message_text(s)) {
    return invalid("The message attribute '" + name + "' contains characters that are not allowed.");
  }
  if (type == BaseType::Number && !valid_number(s)) {
    return invalid("Can't cast the value of message (user) attribute '" + name + "' to a number.");
  }
  normalised["StringValue"] = s;
  return name.size() + data_type.size() + s.size();
}

}  // namespace

Result<ValidatedAttributes> validate_message_attributes(const json* attributes) {
  ValidatedAttributes out;
  if (!attributes) return out;
  if (!attributes->is_object()) return invalid("MessageAttributes must be a map.");
  if (attributes->size() > 10) {
    return invalid("Number of message attributes [" + std::to_string(attributes->size()) +
                   "] exceeds the allowed maximum [10].");
  }
  for (auto it = attributes->begin(); it != attributes->end(); ++it) {
    if (!valid_name(it.key())) {
      return invalid("Message (user) attribute name '" + it.key() + "' is invalid.");
    }
    json normalised;
    auto size = validate_value(it.key(), it.value(), normalised);
    if (!size) return size.error();
    out.size += size.value();
    out.attributes[it.key()] = std::move(normalised);
  }
  return out;
}

Result<ValidatedAttributes> validate_system_attributes(const json* attributes) {
  ValidatedAttributes out;
  if (!attributes) return out;
  if (!attributes->is_object()) return invalid("MessageSystemAttributes must be a map.");
  for (auto it = attributes->begin(); it != attributes->end(); ++it) {
    if (it.key() != "AWSTraceHeader") {
      return invalid("Message system attribute name '" + it.key() + "' is invalid.");
    }
    json normalised;
    auto size = validate_value(it.key(), it.value(), normalised);
    if (!size) return size.error();
    if (normalised.at("DataType") != "String") {
      return invalid("The message system attribute 'AWSTraceHeader' must be of type String.");
    }
    out.attributes[it.key()] = std::move(normalised);
  }
  return out;
}

Status validate_fifo_token(const std::string& name, const std::string& value) {
  const bool valid = !value.empty() && value.size() <= 128 &&
                     std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
  if (valid) return Ok{};
  return invalid("Value " + value + " for parameter " + name + " is invalid. Reason: " + name +
                 " can only include alphanumeric and punctuation characters. 1 to 128 in length.");
}

Result<PreparedSend> prepare_send(const json& params) {
  Params p(params);
  auto body = p.required_string("MessageBody");
  if (!body) return body.error();
  auto delay = p.optional_int("DelaySeconds", 0, 900);
  if (!delay) return delay.error();
  auto attributes = validate_message_attributes(p.object("MessageAttributes"));
  if (!attributes) return attributes.error();
  auto system = validate_system_attributes(p.object("MessageSystemAttributes"));
  if (!system) return system.error();
  PreparedSend out;
  for (const char* name : {"MessageGroupId", "MessageDeduplicationId"}) {
    auto id = p.optional_string(name);
    if (!id) return id.error();
    if (!id.value()) continue;
    if (auto st = validate_fifo_token(name, *id.value()); !st) return st.error();
    (std::string_view(name) == "MessageGroupId" ? out.message.group_id : out.message.deduplication_id) = *id.value();
  }
  out.message.body_md5 = protocol::md5_hex(body.value());
  out.checksums = {{"MD5OfMessageBody", out.message.body_md5}};
  if (!attributes->attributes.empty()) {
    out.checksums["MD5OfMessageAttributes"] = protocol::md5_of_attributes(attributes->attributes);
    out.message.message_attributes = attributes->attributes.dump();
  }
  if (!system->attributes.empty()) {
    out.checksums["MD5OfMessageSystemAttributes"] = protocol::md5_of_attributes(system->attributes);
    out.message.aws_trace_header = system->attributes.at("AWSTraceHeader").at("StringValue").get<std::string>();
  }
  out.message.body = std::move(body.value());
  out.message.delay_seconds = delay.value();
  out.message.attributes_size = attributes->size;
  return out;
}

}  // namespace wharf::server
