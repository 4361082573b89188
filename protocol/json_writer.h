// JSON text of a tree, as nlohmann's dump(-1, ' ', false, replace) writes it
// (compact, keys in the tree's order, invalid UTF-8 replaced with U+FFFD),
// but quicker on what answers are mostly made of: plain ASCII strings, which
// are copied whole instead of decoded character by character.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace wharf::protocol {

void append_json(const nlohmann::json& value, std::string& out);
std::string to_json_text(const nlohmann::json& value);

}  // namespace wharf::protocol
