// Queue ARNs: arn:aws:sqs:<region>:<account>:<name>.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace wharf::storage {

inline std::string queue_arn(std::string_view region, std::string_view account, std::string_view name) {
  std::string out = "arn:aws:sqs:";
  out.append(region).append(":").append(account).append(":").append(name);
  return out;
}

// The queue name, when `arn` names a queue of this region and account.
inline std::optional<std::string> queue_name_from_arn(std::string_view arn, std::string_view region,
                                                      std::string_view account) {
  const std::string prefix = queue_arn(region, account, "");
  if (arn.size() <= prefix.size() || arn.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view name = arn.substr(prefix.size());
  if (name.find(':') != std::string_view::npos) return std::nullopt;
  return std::string(name);
}

}  // namespace wharf::storage
