// Checksums and base64 on arbitrary bytes:
//  - base64_decode(input); when it accepts, encoding the bytes again and
//    decoding that gives the same bytes;
//  - base64_encode(input) always decodes back to the input;
//  - md5_of_attributes over the input parsed as JSON (any shape: its
//    precondition is the wire shape, so nlohmann type errors are expected)
//    and over a well-formed attribute map built from the input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/checksums.h"
#include "tests/fuzz/fuzz_support.h"

using namespace wharf;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  if (auto decoded = protocol::base64_decode(input)) {
    if (decoded->size() != input.size() / 4 * 3 - (input.size() >= 1 && input.back() == '=') -
                               (input.size() >= 2 && input[input.size() - 2] == '=')) {
      fuzz::fail("base64_decode answered the wrong length", input);
    }
    auto again = protocol::base64_decode(protocol::base64_encode(*decoded));
    if (!again || *again != *decoded) fuzz::fail("base64 round trip of decoded bytes failed", input);
  }
  const std::string encoded = protocol::base64_encode(input);
  auto back = protocol::base64_decode(encoded);
  if (!back || *back != input) fuzz::fail("base64_decode(base64_encode(x)) != x", input);

  if (protocol::md5_hex(input).size() != 32 || protocol::sha256_hex(input).size() != 64) {
    fuzz::fail("digest of the wrong length", input);
  }

  // A well-formed map: names and values cut from the input.
  json attrs = json::object();
  const size_t third = size / 3;
  attrs[std::string(input.substr(0, third))] = {{"DataType", "String"},
                                                {"StringValue", std::string(input.substr(third))}};
  attrs["b"] = {{"DataType", "Binary.x"}, {"BinaryValue", encoded}};
  if (protocol::md5_of_attributes(attrs).size() != 32) fuzz::fail("md5_of_attributes of the wrong length", input);

  auto doc = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) {
    try {
      (void)protocol::md5_of_attributes(doc);
    } catch (const json::exception&) {
      // precondition (the wire shape) not met
    }
  }
  return 0;
}
