#include "protocol/query_decoder.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <map>

#include "common/hex.h"
#include "common/text.h"

namespace wharf::protocol {
namespace {

using nlohmann::json;

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < s.size() && hex_digit_value_any_case(s[i + 1]) >= 0 &&
               hex_digit_value_any_case(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit_value_any_case(s[i + 1]) * 16 + hex_digit_value_any_case(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A parameter tree keyed by the dotted name's segments: "A.1.B" -> A/1/B.
struct RawNode {
  std::string value;
  bool has_value = false;
  std::map<std::string, RawNode> children;
};

// Children whose keys are positive integers, in numeric order.
std::vector<const RawNode*> indexed_children(const RawNode& node) {
  std::vector<std::pair<long, const RawNode*>> items;
  for (const auto& [key, child] : node.children) {
    long index = 0;
    auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), index);
    if (ec == std::errc() && ptr == key.data() + key.size() && index > 0) items.emplace_back(index, &child);
  }
  std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<const RawNode*> out;
  for (auto& item : items) out.push_back(item.second);
  return out;
}

const RawNode* child(const RawNode& node, const std::string& key) {
  auto it = node.children.find(key);
  return it == node.children.end() ? nullptr : &it->second;
}

std::string child_value(const RawNode& node, const std::string& key) {
  const RawNode* c = child(node, key);
  return c ? c->value : std::string();
}

// A list of scalars: "AttributeName.1=..." (or a lone "AttributeName=...").
// A bare empty value is the query protocol's empty list (botocore sends
// StringListValues=[] as "...StringListValue=").
json scalar_list(const RawNode& node) {
  json out = json::array();
  if (node.has_value && !node.value.empty()) out.push_back(node.value);
  for (const RawNode* c : indexed_children(node)) out.push_back(c->value);
  return out;
}

json string_map(const RawNode& node, const std::string& key_name, const std::string& value_name) {
  json out = json::object();
  for (const RawNode* c : indexed_children(node)) out[child_value(*c, key_name)] = child_value(*c, value_name);
  return out;
}

json message_attribute_value(const RawNode& value) {
  json out = json::object();
  for (const auto& [key, c] : value.children) {
    if (key == "StringListValue" || key == "BinaryListValue") {
      out[key + "s"] = scalar_list(c);
    } else {
      out[key] = c.value;
    }
  }
  return out;
}

json message_attribute_map(const RawNode& node) {
  json out = json::object();
  for (const RawNode* c : indexed_children(node)) {
    const RawNode* value = child(*c, "Value");
    out[child_value(*c, "Name")] = value ? message_attribute_value(*value) : json::object();
  }
  return out;
}

// The JSON protocol's names of the request lists. botocore's query serializer
// sends an empty list under that name with an empty value ("AttributeNames=",
// "TagKeys=", "Entries="); AWS reads it as an empty list.
bool is_empty_list_member(const std::string& name, const RawNode& node) {
  static const char* const kLists[] = {"AttributeNames", "MessageAttributeNames", "MessageSystemAttributeNames",
                                       "TagKeys",        "AWSAccountIds",         "Actions",
                                       "Entries"};
  return node.value.empty() && node.children.empty() &&
         std::any_of(std::begin(kLists), std::end(kLists), [&](const char* n) { return name == n; });
}

bool is_integer_member(const std::string& name) {
  static const char* const kIntegers[] = {"MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds",
                                          "DelaySeconds",        "MaxResults",        "MaxNumberOfMessagesPerSecond"};
  return std::any_of(std::begin(kIntegers), std::end(kIntegers), [&](const char* n) { return name == n; });
}

Result<json> shape(std::string_view action, const RawNode& node);

Result<json> shape_member(std::string_view action, const std::string& key, const RawNode& c, json& out) {
  if (key == "AttributeName" || key == "MessageAttributeName" || key == "MessageSystemAttributeName" ||
      key == "TagKey" || key == "AWSAccountId") {
    out[key + "s"] = scalar_list(c);
  } else if (key == "ActionName") {
    out["Actions"] = scalar_list(c);
  } else if (key == "Attribute") {
    out["Attributes"] = string_map(c, "Name", "Value");
  } else if (key == "Tag") {
    out[action == "CreateQueue" ? "tags" : "Tags"] = string_map(c, "Key", "Value");
  } else if (key == "MessageAttribute" || key == "MessageSystemAttribute") {
    out[key + "s"] = message_attribute_map(c);
  } else if (key == "SendMessageBatchRequestEntry" || key == "DeleteMessageBatchRequestEntry" ||
             key == "ChangeMessageVisibilityBatchRequestEntry") {
    json entries = json::array();
    for (const RawNode* e : indexed_children(c)) {
      auto entry = shape(action, *e);
      if (!entry) return entry;
      entries.push_back(std::move(entry.value()));
    }
    out["Entries"] = std::move(entries);
  } else if (is_empty_list_member(key, c)) {
    if (!out.contains(key)) out[key] = json::array();  // "AttributeName.1=x" wins
  } else if (is_integer_member(key)) {
    int64_t n = 0;
    const std::string& v = c.value;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size()) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "Value " + v + " for parameter " + key + " is invalid. Reason: must be an integer.");
    }
    out[key] = n;
  } else {
    out[key] = c.value;
  }
  return json();
}

Result<json> shape(std::string_view action, const RawNode& node) {
  json out = json::object();
  for (const auto& [key, c] : node.children) {
    auto r = shape_member(action, key, c, out);
    if (!r) return r;
  }
  return out;
}

}  // namespace

FormParams parse_form(std::string_view text) {
  FormParams out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t amp = text.find('&', pos);
    if (amp == std::string_view::npos) amp = text.size();
    std::string_view pair = text.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.emplace_back(url_decode(pair), "");
      } else {
        out.emplace_back(url_decode(pair.substr(0, eq)), url_decode(pair.substr(eq + 1)));
      }
    }
    pos = amp + 1;
  }
  return out;
}

Result<nlohmann::json> decode_query_params(std::string_view action, const FormParams& params) {
  RawNode root;
  for (const auto& [name, value] : params) {
    if (name == "Action" || name == "Version") continue;
    // SQS parameter names have at most five segments
    // (SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue
    // has six); deeper ones would only make the tree walk recurse.
    if (std::count(name.begin(), name.end(), '.') > 8) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "The parameter name " + name.substr(0, 200) + " is not valid.");
    }
    // Every query value is text (binary values travel as base64), and text
    // that is not UTF-8 could be neither stored as JSON nor answered as XML.
    if (!is_valid_utf8(name) || !is_valid_utf8(value)) {
      const bool body = name.size() >= 11 && name.compare(name.size() - 11, 11, "MessageBody") == 0;
      return make_error(body ? ErrorCode::InvalidMessageContents : ErrorCode::InvalidParameterValue,
                        "The value of a parameter is not valid UTF-8.");
    }
    RawNode* node = &root;
    size_t start = 0;
    while (true) {
      size_t dot = name.find('.', start);
      node = &node->children[name.substr(start, dot == std::string::npos ? std::string::npos : dot - start)];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    node->value = value;
    node->has_value = true;
  }
  return shape(action, root);
}

}  // namespace wharf::protocol
