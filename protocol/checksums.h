// Checksums and encodings that SDKs verify byte for byte.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::protocol {

std::string md5_hex(std::string_view bytes);
std::string sha256_hex(std::string_view bytes);

std::string base64_encode(std::string_view bytes);
// Strict: rejects characters outside the alphabet and bad padding.
std::optional<std::string> base64_decode(std::string_view text);

// MD5OfMessageAttributes / MD5OfMessageSystemAttributes as AWS computes it,
// over attributes in the JSON protocol's shape:
//   {"name": {"DataType": "...", "StringValue": "..."|"BinaryValue": "<base64>"}}
// Names are sorted; each is encoded as len+name, len+type, transport byte
// (1 string, 2 binary), len+value. Returns "" for no attributes.
std::string md5_of_attributes(const nlohmann::json& attributes);

}  // namespace wharf::protocol
