// JSON text of a tree, as nlohmann's dump(-1, ' ', false, replace) writes it
// (compact, keys in the tree's order, invalid UTF-8 replaced with U+FFFD),
// but quicker on what answers are mostly made of: plain ASCII strings, which
// are copied whole instead of decoded character by character.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace wharf::protocol {

void append_json(const nlohmann::json& value, std::string& out);
// A JSON string (quotes and escapes) of `text`, as append_json writes one.
void append_json_string(std::string_view text, std::string& out);
std::string to_json_text(const nlohmann::json& value);

}  // namespace wharf::protocol
