// The answer encoders on arbitrary results: the input is "<action>\n<JSON
// result>". encode_query_response and the JSON encoder get the result (when
// it parses); encode_query_error gets the whole input as a message; and
// xml_escape must leave no markup character unescaped.
//
// The encoders' contract is results in the handlers' shapes; arbitrary JSON
// can break it (e.g. a MessageAttributes value that is no object), so
// nlohmann's type errors are expected here and not findings. Sanitizer
// reports and other exceptions are.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/codec.h"
#include "protocol/xml_encoder.h"
#include "tests/fuzz/fuzz_support.h"

using namespace wharf;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nl = input.find('\n');
  const std::string_view action = input.substr(0, nl);
  const std::string_view text = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);

  const std::string escaped = protocol::xml_escape(input);
  for (char c : escaped) {
    if (c == '<' || c == '>' || c == '"' || c == '\'' || c == '\r') fuzz::fail("xml_escape left markup", input);
  }
  (void)protocol::encode_query_error(make_error(ErrorCode::InvalidParameterValue, std::string(input)), "req");
  (void)protocol::encode_error(protocol::Protocol::Json,
                               make_error(ErrorCode::InvalidParameterValue, std::string(input)), "req");

  auto result = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (result.is_discarded()) return 0;
  try {
    (void)protocol::encode_result(protocol::Protocol::Json, action, result, "req");
  } catch (const json::exception& e) {
    fuzz::fail(std::string("JSON encoder threw: ") + e.what(), input);
  }
  try {
    const std::string xml = protocol::encode_query_response(action, result, "req");
    if (xml.rfind("<?xml", 0) != 0) fuzz::fail("XML answer without declaration", input);
  } catch (const json::exception&) {
    // precondition broken by arbitrary JSON; see the comment above
  }
  return 0;
}
