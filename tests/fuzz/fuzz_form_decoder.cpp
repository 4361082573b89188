// protocol::parse_form + decode_query_params on arbitrary bytes: the input is
// a form body (or query string); its Action picks the action, and the tree
// is also decoded for the actions whose names differ (CreateQueue's "tags")
// and for a batch.
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/query_decoder.h"
#include "tests/fuzz/fuzz_support.h"

using namespace wharf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto params = protocol::parse_form(input);
  // Every pair comes from one '&'-separated piece.
  size_t pieces = 1;
  for (char c : input) pieces += c == '&';
  if (params.size() > pieces) fuzz::fail("parse_form made more pairs than there are pieces", input);
  std::string action;
  for (const auto& [name, value] : params) {
    if (name == "Action") action = value;
  }
  for (std::string_view a :
       {std::string_view(action), std::string_view("CreateQueue"), std::string_view("SendMessageBatch")}) {
    auto tree = protocol::decode_query_params(a, params);
    if (tree) {
      if (!tree->is_object()) fuzz::fail("decode_query_params answered a non-object", input);
      (void)tree->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  }
  return 0;
}
