// Typed reads of an action's parameters (the JSON protocol's tree, which the
// query protocol is decoded into), with AWS's errors for missing or bad ones.
#pragma once

#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/sqs_error.h"

namespace wharf::server {

class Params {
 public:
  explicit Params(const nlohmann::json& tree) : tree_(tree) {}

  bool has(const char* name) const { return tree_.contains(name) && !tree_.at(name).is_null(); }

  Result<std::string> required_string(const char* name) const {
    if (!has(name)) return missing(name);
    const auto& v = tree_.at(name);
    if (!v.is_string()) return invalid(name, "must be a string");
    return v.get<std::string>();
  }

  Result<std::optional<std::string>> optional_string(const char* name) const {
    if (!has(name)) return std::optional<std::string>();
    const auto& v = tree_.at(name);
    if (!v.is_string()) return invalid(name, "must be a string");
    return std::optional<std::string>(v.get<std::string>());
  }

  // An integer in [min, max]; AWS's message names the range.
  Result<std::optional<int>> optional_int(const char* name, int min, int max) const {
    if (!has(name)) return std::optional<int>();
    const auto& v = tree_.at(name);
    if (!v.is_number_integer()) return invalid(name, "must be an integer");
    const auto n = v.get<int64_t>();
    if (n < min || n > max) {
      return invalid(name, "Must be between " + std::to_string(min) + " and " + std::to_string(max) + ", if provided.",
                     std::to_string(n));
    }
    return std::optional<int>(static_cast<int>(n));
  }

  Result<std::vector<std::string>> string_list(const char* name) const {
    std::vector<std::string> out;
    if (!has(name)) return out;
    const auto& v = tree_.at(name);
    if (!v.is_array()) return invalid(name, "must be a list");
    for (const auto& item : v) {
      if (!item.is_string()) return invalid(name, "must be a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  Result<std::map<std::string, std::string>> string_map(const char* name) const {
    std::map<std::string, std::string> out;
    if (!has(name)) return out;
    const auto& v = tree_.at(name);
    if (!v.is_object()) return invalid(name, "must be a map");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_string()) return invalid(name, "must be a map of strings");
      out[it.key()] = it.value().get<std::string>();
    }
    return out;
  }

  const nlohmann::json* object(const char* name) const { return has(name) ? &tree_.at(name) : nullptr; }

 private:
  static SqsError missing(const char* name) {
    return make_error(ErrorCode::MissingParameter, std::string("The request must contain the parameter ") + name + ".");
  }
  SqsError invalid(const char* name, const std::string& reason, std::optional<std::string> shown = {}) const {
    std::string value = shown ? *shown : tree_.at(name).dump();
    return make_error(ErrorCode::InvalidParameterValue,
                      "Value " + value + " for parameter " + name + " is invalid. Reason: " + reason);
  }

  const nlohmann::json& tree_;
};

}  // namespace wharf::server
