// The rules of queue names and queue attributes: names, ranges, defaults.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/sqs_error.h"

namespace wharf::storage {

using AttributeMap = std::map<std::string, std::string>;
using TagMap = std::map<std::string, std::string>;

bool is_valid_queue_name(std::string_view name);

// The settable attributes of a new standard queue, with AWS's defaults.
AttributeMap default_queue_attributes();

// Checks names and values against AWS's rules (InvalidAttributeName,
// InvalidAttributeValue) and returns them normalised. `creating` allows the
// create-only attributes.
Result<AttributeMap> validate_queue_attributes(const AttributeMap& requested, bool creating);

// Typed reads of stored attributes (always valid once stored).
int64_t attribute_int(const AttributeMap& attributes, const std::string& name);

// A queue's RedrivePolicy, when it has one.
struct RedrivePolicy {
  std::string dead_letter_target_arn;
  int max_receive_count = 0;
};
std::optional<RedrivePolicy> redrive_policy(const AttributeMap& attributes);

// Whether a queue with these attributes accepts `source_arn` as a source of
// dead letters (RedriveAllowPolicy; no policy allows all).
bool allows_redrive_from(const AttributeMap& attributes, const std::string& source_arn);

}  // namespace wharf::storage
