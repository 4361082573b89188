// A JSON document parsed into an nlohmann::json tree, as
// nlohmann::json::parse(text, nullptr, false) would give it (same values,
// same refusals: invalid UTF-8, control characters in strings, lone
// surrogates, trailing text; and a NUL byte after the value, which nlohmann
// takes for the end of the text, is refused), several times quicker on what
// SQS requests are made of: objects of ASCII strings. Strings are copied in
// runs rather than a character at a time; numbers, rare in requests, are
// handed to nlohmann so that they convert exactly as before.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace wharf::protocol {

// A discarded value (is_discarded()) when the text is not one JSON value or
// nests deeper than max_depth.
nlohmann::json parse_json(std::string_view text, int max_depth = 64);

}  // namespace wharf::protocol
