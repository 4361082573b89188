#include "protocol/query_json_encoder.h"

#include <cctype>

#include "common/action_facts.h"

#include "protocol/errors.h"
#include "protocol/json_writer.h"

namespace wharf::protocol {
namespace {

using nlohmann::json;

// The action facts' XML list whose JSON key this is, or nullptr.
const XmlListMember* result_list(const ActionFacts* facts, std::string_view key) {
  if (!facts) return nullptr;
  for (const auto& list : facts->xml_lists) {
    if (!list.json_key.empty() && list.json_key == key) return &list;
  }
  return nullptr;
}

void append_member_name(std::string& out, bool& first, std::string_view name, bool lower_camel) {
  if (!first) out += ',';
  first = false;
  std::string text(name);
  if (lower_camel && !text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  append_json_string(text, out);
  out += ':';
}

void append_result(std::string& out, const ActionFacts* facts, const json& result) {
  out += '{';
  bool first = true;
  if (result.is_object()) {
    for (auto it = result.begin(); it != result.end(); ++it) {
      if (it.value().is_null()) continue;
      append_member_name(out, first, it.key(), result_list(facts, it.key()) != nullptr);
      append_json(it.value(), out);
    }
  }
  if (facts) {
    for (const auto& list : facts->xml_lists) {
      if (list.json_key.empty()) continue;
      if (result.is_object() && result.contains(list.json_key) && !result[list.json_key].is_null()) continue;
      append_member_name(out, first, list.json_key, true);
      out += "null";
    }
  }
  out += '}';
}

}  // namespace

std::string encode_query_json_response(std::string_view action, const nlohmann::json& result,
                                       std::string_view request_id) {
  std::string out = "{";
  append_json_string(std::string(action) + "Response", out);
  out += ":{";
  const ActionFacts* facts = find_action_facts(action);
  if (!facts || facts->xml_result_element) {
    append_json_string(std::string(action) + "Result", out);
    out += ':';
    append_result(out, facts, result);
    out += ',';
  }
  out += "\"ResponseMetadata\":{\"RequestId\":";
  append_json_string(request_id, out);
  out += "}}}";
  return out;
}

std::string encode_query_json_error(const SqsError& error, std::string_view request_id) {
  const ErrorWireInfo& info = wire_info(error.code);
  std::string out = "{\"Error\":{\"Code\":";
  append_json_string(info.query_code, out);
  out += ",\"Message\":";
  append_json_string(query_error_message(error), out);
  out += ",\"Type\":";
  append_json_string(info.sender_fault ? "Sender" : "Receiver", out);
  out += "},\"RequestId\":";
  append_json_string(request_id, out);
  out += '}';
  return out;
}

}  // namespace wharf::protocol
