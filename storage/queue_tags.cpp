#include "storage/queue_tags.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>
#include <string_view>

#include "common/action_facts.h"
#include "common/text.h"

namespace wharf::storage {
namespace {

constexpr size_t kMaxTags = 50;
constexpr size_t kMaxActionsPerStatement = 7;

SqsError invalid(const std::string& message) { return make_error(ErrorCode::InvalidParameterValue, message); }

bool valid_label(const std::string& label) {
  if (label.empty() || label.size() > 80) return false;
  return std::all_of(label.begin(), label.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; });
}

// Actions AddPermission may grant: the action facts' Policy names and "*".
bool grantable(const std::string& action) { return policy_may_grant(action); }

// A statement's Sid; the Policy is the user's own JSON, so any shape.
std::string sid_of(const nlohmann::json& statement) {
  if (!statement.is_object() || !statement.contains("Sid") || !statement["Sid"].is_string()) return "";
  return statement["Sid"].get<std::string>();
}

// The policy's statements as a list: IAM's grammar allows one object too.
nlohmann::json statements_of(const nlohmann::json& policy) {
  if (!policy.contains("Statement")) return nlohmann::json::array();
  const auto& statement = policy["Statement"];
  if (statement.is_array()) return statement;
  if (statement.is_object()) return nlohmann::json::array({statement});
  return nlohmann::json::array();
}

nlohmann::json one_or_list(const std::vector<std::string>& items) {
  if (items.size() == 1) return items.front();
  return items;
}

}  // namespace

Status validate_tags(const TagMap& tags) {
  for (const auto& [key, value] : tags) {
    if (key.empty() || key.size() > 128) return invalid("Tag key must be between 1 and 128 characters long.");
    if (value.size() > 256) return invalid("Tag value must be at most 256 characters long.");
    if (key.rfind("aws:", 0) == 0) return invalid("Tag keys starting with \"aws:\" are reserved.");
  }
  if (tags.size() > kMaxTags) return invalid("Too many tags added for queue. A queue can have at most 50 tags.");
  return Ok{};
}

Status add_tags(QueueInfo& queue, const TagMap& tags) {
  if (auto st = validate_tags(tags); !st) return st;
  TagMap merged = queue.tags;
  for (const auto& [key, value] : tags) merged[key] = value;
  if (merged.size() > kMaxTags) return invalid("Too many tags added for queue " + queue.name + ".");
  queue.tags = std::move(merged);
  return Ok{};
}

void remove_tags(QueueInfo& queue, const std::vector<std::string>& keys) {
  for (const auto& key : keys) queue.tags.erase(key);
}

Status add_permission(QueueInfo& queue, const std::string& queue_arn, const Permission& p) {
  if (!valid_label(p.label)) {
    return invalid("Value " + p.label +
                   " for parameter Label is invalid. Reason: Can only include alphanumeric "
                   "characters, hyphens, or underscores. 1 to 80 in length.");
  }
  if (p.account_ids.empty()) return invalid("Value [] for parameter AWSAccountIds is invalid.");
  if (p.actions.empty())
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter Actions.");
  if (p.actions.size() > kMaxActionsPerStatement) {
    return make_error(ErrorCode::OverLimit, std::to_string(p.actions.size()) +
                                                " Actions were found, maximum allowed is " +
                                                std::to_string(kMaxActionsPerStatement) + ".");
  }
  for (const auto& id : p.account_ids) {
    if (id.size() != 12 || id.find_first_not_of("0123456789") != std::string::npos) {
      return invalid("Value " + id +
                     " for parameter AWSAccountIds is invalid. Reason: An AWS account id is 12 digits.");
    }
  }
  std::vector<std::string> actions;
  for (const auto& action : p.actions) {
    if (!grantable(action)) {
      return invalid("Value SQS:" + action +
                     " for parameter ActionName is invalid. Reason: Only the queue owner is "
                     "allowed to invoke this action.");
    }
    actions.push_back("SQS:" + action);
  }
  nlohmann::json policy;
  auto current = queue.attributes.find("Policy");
  if (current != queue.attributes.end() && !current->second.empty() && !json_nests_too_deep(current->second)) {
    policy = nlohmann::json::parse(current->second, nullptr, false);
  }
  if (!policy.is_object()) {
    policy = {
        {"Version", "2008-10-17"}, {"Id", queue_arn + "/SQSDefaultPolicy"}, {"Statement", nlohmann::json::array()}};
  }
  policy["Statement"] = statements_of(policy);
  for (const auto& statement : policy["Statement"]) {
    if (sid_of(statement) == p.label) {
      return invalid("Value " + p.label + " for parameter Label is invalid. Reason: Already exists.");
    }
  }
  std::vector<std::string> principals;
  for (const auto& id : p.account_ids) principals.push_back("arn:aws:iam::" + id + ":root");
  policy["Statement"].push_back({{"Sid", p.label},
                                 {"Effect", "Allow"},
                                 {"Principal", {{"AWS", one_or_list(principals)}}},
                                 {"Action", one_or_list(actions)},
                                 {"Resource", queue_arn}});
  queue.attributes["Policy"] = policy.dump();
  return Ok{};
}

Status remove_permission(QueueInfo& queue, const std::string& label) {
  auto not_found = invalid("Value " + label + " for parameter Label is invalid. Reason: can't find label.");
  auto current = queue.attributes.find("Policy");
  if (current == queue.attributes.end() || current->second.empty() || json_nests_too_deep(current->second)) {
    return not_found;
  }
  auto policy = nlohmann::json::parse(current->second, nullptr, false);
  if (!policy.is_object()) return not_found;
  const nlohmann::json statements = statements_of(policy);
  const auto before = statements.size();
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& statement : statements) {
    if (sid_of(statement) != label) kept.push_back(statement);
  }
  if (kept.size() == before) return not_found;
  if (kept.empty()) {
    queue.attributes.erase("Policy");
  } else {
    policy["Statement"] = std::move(kept);
    queue.attributes["Policy"] = policy.dump();
  }
  return Ok{};
}

namespace {

// '*' any run, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto same = [ignore_case](char a, char b) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b))
                       : a == b;
  };
  size_t p = 0, t = 0, star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// A string or a list of strings; anything else matches nothing.
bool any_of_strings(const nlohmann::json& value, const std::function<bool(const std::string&)>& match) {
  if (value.is_string()) return match(value.get<std::string>());
  if (!value.is_array()) return false;
  return std::any_of(value.begin(), value.end(),
                     [&](const nlohmann::json& v) { return v.is_string() && match(v.get<std::string>()); });
}

bool principal_matches(const nlohmann::json& principal, const std::string& account) {
  auto match = [&](const std::string& p) {
    return p == "*" || p == account || p.rfind("arn:aws:iam::" + account + ":", 0) == 0;
  };
  if (principal.is_string()) return principal.get<std::string>() == "*";
  if (!principal.is_object() || !principal.contains("AWS")) return false;
  return any_of_strings(principal["AWS"], match);
}

}  // namespace

PolicyDecision evaluate_policy(const std::string& policy_text, const std::string& principal_account,
                               const std::string& action, const std::string& queue_arn) {
  if (policy_text.empty() || json_nests_too_deep(policy_text)) return PolicyDecision::NoMatch;
  const auto policy = nlohmann::json::parse(policy_text, nullptr, false);
  if (!policy.is_object()) return PolicyDecision::NoMatch;
  std::string single = action;
  if (single.size() > 5 && single.compare(single.size() - 5, 5, "Batch") == 0) single.resize(single.size() - 5);
  auto action_matches = [&](const std::string& pattern) {
    return glob_match(pattern, "sqs:" + action, true) || glob_match(pattern, "sqs:" + single, true);
  };
  auto resource_matches = [&](const std::string& pattern) { return glob_match(pattern, queue_arn, false); };
  PolicyDecision decision = PolicyDecision::NoMatch;
  for (const auto& statement : statements_of(policy)) {
    if (!statement.is_object()) continue;
    if (statement.contains("Condition") || statement.contains("NotPrincipal") || statement.contains("NotAction") ||
        statement.contains("NotResource")) {
      continue;
    }
    const std::string effect = statement.value("Effect", "");
    if (effect != "Allow" && effect != "Deny") continue;
    if (!statement.contains("Principal") || !principal_matches(statement["Principal"], principal_account)) continue;
    if (!statement.contains("Action") || !any_of_strings(statement["Action"], action_matches)) continue;
    if (statement.contains("Resource") && !any_of_strings(statement["Resource"], resource_matches)) continue;
    if (effect == "Deny") return PolicyDecision::Deny;
    decision = PolicyDecision::Allow;
  }
  return decision;
}

}  // namespace wharf::storage
