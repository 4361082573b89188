#include "server/queues_from_env.h"

#include <nlohmann/json.hpp>
#include <set>

namespace wharf::server {
namespace {

using nlohmann::json;
using Reason = std::optional<std::string>;  // why a value is refused; nullopt: accepted

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view blank = " \t\r\n";
  const auto first = text.find_first_not_of(blank);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blank) - first + 1);
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const auto end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

std::string quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

// The attributes whose value is a JSON object, given member by member.
bool is_policy_document(std::string_view name) { return name == "RedrivePolicy" || name == "RedriveAllowPolicy"; }

// RedrivePolicy.deadLetterTargetName (or deadLetterQueue, the config file's
// key) names the dead-letter queue; parse_declared_queues makes it an ARN.
Reason add_policy_member(const std::string& policy, std::string member, std::string_view value, json& attributes) {
  if (member.empty()) return policy + ". needs a member name (" + policy + ".NAME=VALUE)";
  if (attributes.contains(policy) && attributes[policy].is_string()) {
    return "give " + policy + " whole or by its parts (" + policy + ".NAME=VALUE), not both";
  }
  json& document = attributes[policy];
  if (document.is_null()) document = json::object();
  if (policy == "RedrivePolicy" && (member == "deadLetterTargetName" || member == "deadLetterQueue")) {
    member = "deadLetterQueue";
  }
  if (document.contains(member)) return policy + "." + member + " is given twice";
  const bool names_target = member == "deadLetterQueue" || member == "deadLetterTargetArn";
  if (policy == "RedrivePolicy" && names_target &&
      (document.contains("deadLetterQueue") || document.contains("deadLetterTargetArn"))) {
    return "give RedrivePolicy.deadLetterTargetName or RedrivePolicy.deadLetterTargetArn, not both";
  }
  document[member] = std::string(value);
  return std::nullopt;
}

// One Key=Value part of an entry: an attribute, a policy member or a tag.
Reason add_part(std::string_view key, std::string_view value, json& item) {
  if (key.empty()) return "a part needs a name before '=' (Key=Value)";
  json& attributes = item["Attributes"];
  if (key.substr(0, 4) == "Tag.") {
    const std::string tag(key.substr(4));
    if (tag.empty()) return "Tag. needs a tag key (Tag.KEY=VALUE)";
    if (item["tags"].contains(tag)) return "tag " + tag + " is given twice";
    item["tags"][tag] = std::string(value);
    return std::nullopt;
  }
  if (const auto dot = key.find('.'); dot != std::string_view::npos) {
    const std::string policy(key.substr(0, dot));
    if (!is_policy_document(policy)) {
      return quoted(key) + ": only RedrivePolicy.NAME, RedriveAllowPolicy.NAME and Tag.KEY have a dotted part";
    }
    return add_policy_member(policy, std::string(key.substr(dot + 1)), value, attributes);
  }
  const std::string name(key);
  if (attributes.contains(name)) {
    if (attributes[name].is_object()) return "give " + name + " whole or by its parts (" + name + ".NAME), not both";
    return name + " is given twice";
  }
  attributes[name] = std::string(value);
  return std::nullopt;
}

// NAME or NAME:Key=Value,... as a "queues" item.
Reason parse_entry(std::string_view entry, json& item) {
  const auto colon = entry.find(':');
  const auto name = trimmed(entry.substr(0, colon));
  if (name.empty()) return "needs a queue name (an entry is NAME or NAME:Key=Value,...)";
  if (name.find_first_of("=,") != std::string_view::npos) {
    return quoted(name) + " is not a queue name (an entry is NAME or NAME:Key=Value,...)";
  }
  item = {{"QueueName", std::string(name)}, {"Attributes", json::object()}, {"tags", json::object()}};
  if (colon != std::string_view::npos) {
    for (auto part : split(entry.substr(colon + 1), ',')) {
      part = trimmed(part);
      const auto equals = part.find('=');
      if (equals == std::string_view::npos) {
        if (part.empty()) return "an empty part after ':' or ',' (parts are Key=Value, separated by ',')";
        return quoted(part) + " is not Key=Value (parts are separated by ',', so a value cannot hold one)";
      }
      if (auto why = add_part(trimmed(part.substr(0, equals)), trimmed(part.substr(equals + 1)), item)) return why;
    }
  }
  const bool fifo_name = name.size() > 5 && name.substr(name.size() - 5) == ".fifo";
  if (fifo_name && !item["Attributes"].contains("FifoQueue")) item["Attributes"]["FifoQueue"] = "true";
  return std::nullopt;
}

}  // namespace

Reason queues_list_from_environment(std::string_view text, json& list) {
  list = json::array();
  std::set<std::string> names;
  size_t number = 0;
  for (auto entry : split(text, ';')) {
    ++number;
    if (trimmed(entry).empty()) continue;
    json item;
    std::string where = "WHARF_QUEUES entry " + std::to_string(number);
    if (auto why = parse_entry(entry, item)) {
      if (item.contains("QueueName")) where += " (" + item["QueueName"].get<std::string>() + ")";
      return where + ": " + *why;
    }
    const auto name = item["QueueName"].get<std::string>();
    if (!names.insert(name).second) return where + " (" + name + "): " + name + " is declared twice in WHARF_QUEUES";
    list.push_back(std::move(item));
  }
  return std::nullopt;
}

Reason add_queues_from_environment(std::string_view text, const Settings& settings,
                                   std::vector<DeclaredQueue>& queues) {
  json list;
  if (auto why = queues_list_from_environment(text, list)) return why;
  for (const auto& item : list) {
    const auto name = item["QueueName"].get<std::string>();
    for (const auto& declared : queues) {
      if (declared.name == name) {
        return "WHARF_QUEUES: " + name +
               " is also declared in the config file's \"queues\"; declare each queue in one place";
      }
    }
  }
  return parse_declared_queues(list, settings, queues, "WHARF_QUEUES");
}

}  // namespace wharf::server
