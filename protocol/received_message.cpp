#include "protocol/received_message.h"

#include "protocol/json_writer.h"

namespace wharf::protocol {
namespace {

bool has_message_attributes(const ReceivedMessageView& m) {
  return m.message_attributes != nullptr && m.message_attributes->is_object() && !m.message_attributes->empty();
}

void append_member(std::string_view key, std::string_view value, std::string& out) {
  append_json_string(key, out);
  out.push_back(':');
  append_json_string(value, out);
}

}  // namespace

nlohmann::json received_message_tree(const ReceivedMessageView& m) {
  nlohmann::json out = nlohmann::json::object();
  out["MessageId"] = m.message_id;
  out["ReceiptHandle"] = m.receipt_handle;
  out["MD5OfBody"] = m.md5_of_body;
  out["Body"] = m.body;
  if (!m.attributes.empty()) {
    auto& attributes = out["Attributes"] = nlohmann::json::object();
    for (const auto& [name, value] : m.attributes) attributes[std::string(name)] = value;
  }
  if (has_message_attributes(m)) {
    out["MD5OfMessageAttributes"] = m.md5_of_message_attributes;
    out["MessageAttributes"] = *m.message_attributes;
  }
  return out;
}

std::string received_messages_json(const std::vector<ReceivedMessageView>& messages) {
  if (messages.empty()) return "{}";
  std::string out;
  size_t guess = 16;
  for (const auto& m : messages) guess += 160 + m.body.size() + m.receipt_handle.size() + 40 * m.attributes.size();
  out.reserve(guess);
  out += "{\"Messages\":[";
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (i) out.push_back(',');
    // Members in the tree's (std::map's) order.
    out.push_back('{');
    if (!m.attributes.empty()) {
      out += "\"Attributes\":{";
      for (size_t a = 0; a < m.attributes.size(); ++a) {
        if (a) out.push_back(',');
        append_member(m.attributes[a].first, m.attributes[a].second, out);
      }
      out += "},";
    }
    append_member("Body", m.body, out);
    out.push_back(',');
    append_member("MD5OfBody", m.md5_of_body, out);
    if (has_message_attributes(m)) {
      out.push_back(',');
      append_member("MD5OfMessageAttributes", m.md5_of_message_attributes, out);
      out += ",\"MessageAttributes\":";
      append_json(*m.message_attributes, out);
    }
    out.push_back(',');
    append_member("MessageId", m.message_id, out);
    out.push_back(',');
    append_member("ReceiptHandle", m.receipt_handle, out);
    out.push_back('}');
  }
  out += "]}";
  return out;
}

}  // namespace wharf::protocol
