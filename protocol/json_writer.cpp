#include "protocol/json_writer.h"

#include <charconv>
#include <string_view>

#include "common/text.h"

namespace wharf::protocol {
namespace {

using nlohmann::json;

// ASCII from 0x20 other than '"' and '\\' is written as it is.
bool plain(std::string_view text) { return plain_ascii_prefix(text, true) == text.size(); }

}  // namespace

void append_json_string(std::string_view text, std::string& out) {
  if (plain(text)) {
    out.push_back('"');
    out.append(text);
    out.push_back('"');
    return;
  }
  // Escapes and UTF-8 (checked, invalid bytes replaced) exactly as nlohmann does.
  out += json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

template <typename Integer>
void append_integer(Integer v, std::string& out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, v);
  out.append(digits, end);
}

}  // namespace

void append_json(const json& value, std::string& out) {
  switch (value.type()) {
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.items()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(key, out);
        out.push_back(':');
        append_json(member, out);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value) {
        if (!first) out.push_back(',');
        first = false;
        append_json(element, out);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::string:
      append_json_string(value.get_ref<const std::string&>(), out);
      return;
    case json::value_t::number_integer:
      append_integer(value.get<int64_t>(), out);
      return;
    case json::value_t::number_unsigned:
      append_integer(value.get<uint64_t>(), out);
      return;
    default:  // null, booleans, floats, binary: as nlohmann writes them
      out += value.dump(-1, ' ', false, json::error_handler_t::replace);
      return;
  }
}

std::string to_json_text(const json& value) {
  std::string out;
  out.reserve(256);
  append_json(value, out);
  return out;
}

}  // namespace wharf::protocol
