#include "server/message_attributes.h"

#include <algorithm>
#include <limits>
#include <cctype>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

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

// The code point of the UTF-8 sequence at s[i], advancing i past it;
// nullopt when the bytes there are no well-formed UTF-8.
std::optional<char32_t> next_code_point(std::string_view s, size_t& i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > s.size()) return std::nullopt;
  char32_t c = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(s[i + k]);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    c = (c << 6) | (next & 0x3F);
  }
  constexpr char32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < kShortest[length] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
  i += length;
  return c;
}

// Letters and digits of the scripts in common use past ASCII, which AWS takes
// in attribute names ("attr.1\u00f8\u00df\u00e4"); symbols and punctuation
// such as U+00A7 (section sign), U+00D7 or U+00BF stay out.
bool is_letter_past_ascii(char32_t c) {
  static constexpr std::pair<char32_t, char32_t> kRanges[] = {
      {0xAA, 0xAA},     {0xB5, 0xB5},     {0xBA, 0xBA},     {0xC0, 0xD6},       {0xD8, 0xF6},     {0xF8, 0x2C1},
      {0x370, 0x373},   {0x376, 0x377},   {0x37B, 0x37D},   {0x386, 0x386},     {0x388, 0x3F5},   {0x3F7, 0x481},
      {0x48A, 0x52F},   {0x531, 0x556},   {0x561, 0x587},   {0x5D0, 0x5EA},     {0x620, 0x64A},   {0x660, 0x669},
      {0x671, 0x6D3},   {0x904, 0x939},   {0x966, 0x96F},   {0xE01, 0xE30},     {0x10A0, 0x10FF}, {0x1E00, 0x1FBC},
      {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3}, {0xF900, 0xFAFF},
      {0xFF10, 0xFF19}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x20000, 0x2FA1F},
  };
  return std::any_of(std::begin(kRanges), std::end(kRanges),
                     [c](const auto& range) { return c >= range.first && c <= range.second; });
}

// 1-256 characters: letters and digits (ASCII or of other scripts), '_',
// '-', '.'; no leading, trailing or doubled '.'; no "AWS." or "Amazon."
// prefix in any letter case.
bool valid_name(const std::string& name) {
  if (name.empty()) return false;
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos) return false;
  if (starts_with_ci(name, "AWS.") || starts_with_ci(name, "Amazon.")) return false;
  size_t characters = 0;
  for (size_t i = 0; i < name.size(); ++characters) {
    auto c = next_code_point(name, i);
    if (!c) return false;
    const bool ascii_ok = *c < 0x80 && (std::isalnum(static_cast<int>(*c)) || *c == '_' || *c == '-' || *c == '.');
    if (!ascii_ok && !is_letter_past_ascii(*c)) return false;
  }
  return characters <= 256;
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
    return invalid("The type of message (user) attribute '" + name +
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
      return invalid("Message (user) attribute '" + name + "' must contain a non-empty value of type 'Binary'.");
    normalised["BinaryValue"] = value.at("BinaryValue");
    return name.size() + data_type.size() + raw->size();
  }
  const char* type_name = type == BaseType::String ? "String" : "Number";
  if (!value.contains("StringValue") || !value.at("StringValue").is_string()) {
    return invalid("The message attribute '" + name + "' with type '" + type_name + "' must use field 'String'.");
  }
  const std::string s = value.at("StringValue").get<std::string>();
  if (s.empty()) {
    return invalid("Message (user) attribute '" + name + "' must contain a non-empty value of type '" + type_name +
                   "'.");
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

Result<std::optional<int>> optional_int_within(const json& params, const char* name, int min, int max,
                                               const std::string& reason) {
  Params p(params);
  auto value = p.optional_int(name, std::numeric_limits<int>::min(), std::numeric_limits<int>::max());
  if (!value || !value.value()) return value;
  const int n = *value.value();
  if (n < min || n > max) {
    return invalid("Value " + std::to_string(n) + " for parameter " + name + " is invalid. Reason: " + reason);
  }
  return value;
}

Result<PreparedSend> prepare_send(const json& params, std::string_view trace_header) {
  Params p(params);
  auto body = p.required_string("MessageBody");
  if (!body) return body.error();
  auto delay = optional_int_within(params, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.");
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
  } else if (!trace_header.empty()) {
    out.message.aws_trace_header = trace_header;
  }
  out.message.body = std::move(body.value());
  out.message.delay_seconds = delay.value();
  out.message.attributes_size = attributes->size;
  return out;
}

}  // namespace wharf::server
