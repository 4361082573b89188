#include "storage/system_attributes.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace wharf::storage {
namespace {

// What follows each name (from its closing quote) up to the value, and what
// closes the value.
constexpr std::string_view kBeforeValue = R"(":{"DataType":"String","StringValue":")";
constexpr std::string_view kAfterValue = R"("})";

bool is_printable_ascii(char c) { return c >= 0x20 && c <= 0x7e; }

bool needs_escape(char c) { return c == '"' || c == '\\'; }

std::string encode_with_library(const SystemAttributes& attributes) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& field : kSystemAttributeFields) {
    const std::string& value = attributes.*field.member;
    if (!value.empty()) doc[field.name] = {{"DataType", "String"}, {"StringValue", value}};
  }
  return doc.empty() ? std::string() : doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SystemAttributes decode_with_library(std::string_view stored) {
  SystemAttributes out;
  const auto doc = nlohmann::json::parse(stored, nullptr, false);
  if (!doc.is_object()) return out;
  for (const auto& field : kSystemAttributeFields) {
    auto entry = doc.find(field.name);
    if (entry == doc.end() || !entry->is_object()) continue;
    auto value = entry->find("StringValue");
    if (value != entry->end() && value->is_string()) out.*field.member = value->get<std::string>();
  }
  return out;
}

std::string* field_named(SystemAttributes& attributes, std::string_view name) {
  for (const auto& field : kSystemAttributeFields) {
    if (name == field.name) return &(attributes.*field.member);
  }
  return nullptr;
}

// Reads the text encode_system_attributes writes for printable ASCII values
// (`"` and `\` escaped, nothing else); false for anything else.
bool decode_plain(std::string_view text, SystemAttributes& out) {
  size_t i = 0;
  auto take = [&](std::string_view literal) {
    if (text.substr(i, literal.size()) != literal) return false;
    i += literal.size();
    return true;
  };
  if (!take("{")) return false;
  do {
    if (!take("\"")) return false;
    const size_t name_end = text.find('"', i);
    if (name_end == std::string_view::npos) return false;
    std::string* value = field_named(out, text.substr(i, name_end - i));
    i = name_end;
    if (!value || !take(kBeforeValue)) return false;
    value->clear();
    while (true) {
      const size_t run_start = i;
      while (i < text.size() && is_printable_ascii(text[i]) && !needs_escape(text[i])) ++i;
      value->append(text.substr(run_start, i - run_start));
      if (i + 1 >= text.size()) return false;
      if (text[i] == '"') break;
      if (text[i] != '\\' || !needs_escape(text[i + 1])) return false;
      value->push_back(text[i + 1]);
      i += 2;
    }
    ++i;  // the value's closing quote
    if (!take("}")) return false;
  } while (take(","));
  return take("}") && i == text.size();
}

}  // namespace

std::string encode_system_attributes(const SystemAttributes& attributes) {
  size_t size = 0;
  for (const auto& field : kSystemAttributeFields) {
    const std::string& value = attributes.*field.member;
    if (value.empty()) continue;
    if (!std::all_of(value.begin(), value.end(), is_printable_ascii)) return encode_with_library(attributes);
    size += 2 + std::char_traits<char>::length(field.name) + kBeforeValue.size() + value.size() +
            std::count_if(value.begin(), value.end(), needs_escape) + kAfterValue.size();
  }
  if (size == 0) return std::string();
  std::string out;
  out.reserve(size + 1);
  out += '{';
  for (const auto& field : kSystemAttributeFields) {
    const std::string& value = attributes.*field.member;
    if (value.empty()) continue;
    if (out.size() > 1) out += ',';
    out.append("\"").append(field.name).append(kBeforeValue);
    for (char c : value) {
      if (needs_escape(c)) out += '\\';
      out += c;
    }
    out.append(kAfterValue);
  }
  out += '}';
  return out;
}

SystemAttributes decode_system_attributes(std::string_view stored) {
  SystemAttributes out;
  if (stored.empty() || decode_plain(stored, out)) return out;
  return decode_with_library(stored);
}

}  // namespace wharf::storage
