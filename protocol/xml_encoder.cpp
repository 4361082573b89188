#include "protocol/xml_encoder.h"

#include "common/action_facts.h"
#include "common/text.h"

#include "protocol/errors.h"

namespace wharf::protocol {
namespace {

using nlohmann::json;

void element(std::string& out, std::string_view name, std::string_view text) {
  out += '<';
  out += name;
  out += '>';
  out += xml_escape(text);
  out += "</";
  out += name;
  out += '>';
}

std::string scalar_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

void encode_members(std::string& out, const ActionFacts* facts, const json& object);

void encode_string_map(std::string& out, std::string_view entry, std::string_view key_name, std::string_view value_name,
                       const json& map) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    out += '<';
    out += entry;
    out += '>';
    element(out, key_name, it.key());
    element(out, value_name, scalar_text(it.value()));
    out += "</";
    out += entry;
    out += '>';
  }
}

void encode_message_attributes(std::string& out, const json& map) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    out += "<MessageAttribute>";
    element(out, "Name", it.key());
    out += "<Value>";
    for (auto v = it.value().begin(); v != it.value().end(); ++v) {
      if (v.key() == "StringListValues" || v.key() == "BinaryListValues") {
        const std::string member = v.key().substr(0, v.key().size() - 1);
        for (const auto& item : v.value()) element(out, member, scalar_text(item));
      } else {
        element(out, v.key(), scalar_text(v.value()));
      }
    }
    out += "</Value></MessageAttribute>";
  }
}

// The query model's flattened member name for a JSON list member of the
// action's result (the action facts' XML lists); other lists keep their key.
std::string_view list_member_name(const ActionFacts* facts, const std::string& key) {
  if (facts) {
    for (const auto& list : facts->xml_lists) {
      if (!list.json_key.empty() && list.json_key == key) return list.xml_member;
    }
  }
  return key;
}

void encode_value(std::string& out, const ActionFacts* facts, const std::string& key, const json& value) {
  if (key == "Attributes") {
    encode_string_map(out, "Attribute", "Name", "Value", value);
  } else if (key == "Tags") {
    encode_string_map(out, "Tag", "Key", "Value", value);
  } else if (key == "MessageAttributes") {
    encode_message_attributes(out, value);
  } else if (value.is_array()) {
    const std::string member(list_member_name(facts, key));
    for (const auto& item : value) encode_value(out, facts, member, item);
  } else if (value.is_object()) {
    out += '<';
    out += key;
    out += '>';
    encode_members(out, facts, value);
    out += "</";
    out += key;
    out += '>';
  } else if (!value.is_null()) {
    element(out, key, scalar_text(value));
  }
}

void encode_members(std::string& out, const ActionFacts* facts, const json& object) {
  for (auto it = object.begin(); it != object.end(); ++it) encode_value(out, facts, it.key(), it.value());
}

}  // namespace

// Stored text is valid XML text already; anything else reaching here (input
// echoed in an error message) has each byte or character XML 1.0 cannot carry
// replaced by U+FFFD, so that the answer always parses.
std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#xD;";
        break;
      default: {
        const size_t start = i;
        auto cp = next_code_point(text, i);
        if (cp && is_xml_char(*cp)) {
          out.append(text.substr(start, i - start));
        } else {
          out += "\xEF\xBF\xBD";
          if (!cp) i = start + 1;
        }
        continue;
      }
    }
    ++i;
  }
  return out;
}

std::string encode_query_response(std::string_view action, const nlohmann::json& result, std::string_view request_id) {
  std::string out = "<?xml version=\"1.0\"?><";
  out += action;
  out += "Response xmlns=\"";
  out += kQueryXmlNamespace;
  out += "\">";
  // Actions whose query model has no output shape have no <ActionResult>;
  // every other one has it, even when empty (SDKs look it up by name).
  const ActionFacts* facts = find_action_facts(action);
  // An empty one is written <ActionResult/>, as AWS does.
  if (!facts || facts->xml_result_element) {
    out += '<';
    out += action;
    out += "Result>";
    const size_t empty_size = out.size();
    if (result.is_object()) encode_members(out, facts, result);
    if (out.size() == empty_size) {
      out.back() = '/';
      out += '>';
    } else {
      out += "</";
      out += action;
      out += "Result>";
    }
  }
  out += "<ResponseMetadata>";
  element(out, "RequestId", request_id);
  out += "</ResponseMetadata></";
  out += action;
  out += "Response>";
  return out;
}

std::string encode_query_error(const SqsError& error, std::string_view request_id) {
  const ErrorWireInfo& info = wire_info(error.code);
  std::string out = "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"";
  out += kQueryXmlNamespace;
  out += "\"><Error>";
  element(out, "Type", info.sender_fault ? "Sender" : "Receiver");
  element(out, "Code", info.query_code);
  element(out, "Message", query_error_message(error));
  out += "<Detail/></Error>";
  element(out, "RequestId", request_id);
  out += "</ErrorResponse>";
  return out;
}

}  // namespace wharf::protocol
