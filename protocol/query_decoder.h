// The query protocol's flattened form parameters -> the JSON protocol's tree.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sqs_error.h"

namespace wharf::protocol {

using FormParams = std::vector<std::pair<std::string, std::string>>;

// application/x-www-form-urlencoded (also a URL's query string). '+' is a
// space; bad percent escapes are kept literally, as lenient servers do.
FormParams parse_form(std::string_view text);

// Turns e.g. Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5 into
// {"Attributes":{"VisibilityTimeout":"5"}}, MessageAttribute.N.* into the
// MessageAttributes map, AttributeName.N into AttributeNames, batch entries
// into Entries, and integer members into numbers. "Action" and "Version" are
// dropped. `action` picks the few names that differ per action.
Result<nlohmann::json> decode_query_params(std::string_view action, const FormParams& params);

}  // namespace wharf::protocol
