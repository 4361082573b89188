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

// 1-80 characters of [A-Za-z0-9_-]; a FIFO queue's name ends in ".fifo"
// (counted in the 80), a standard queue's does not.
bool is_valid_queue_name(std::string_view name, bool fifo = false);

// The settable attributes of a new queue, with AWS's defaults.
AttributeMap default_queue_attributes(bool fifo = false);

// The rules that depend on the queue's type, checked on the attributes a
// request changes and on the result: FifoQueue and ContentBasedDeduplication
// on a standard queue are unknown, DeduplicationScope and FifoThroughputLimit
// need a FIFO queue; a FIFO queue stays one (FifoQueue=true is a no-op);
// perMessageGroupId throughput needs messageGroup deduplication scope.
Status check_queue_type_rules(bool fifo, const AttributeMap& changes, const AttributeMap& result);

bool is_fifo(const AttributeMap& attributes);

// Checks names and values against AWS's rules (InvalidAttributeName,
// InvalidAttributeValue) and returns them normalised (FifoQueue and
// ContentBasedDeduplication in any letter case become "true" / "false").
// `creating` is unused: FifoQueue is judged by check_queue_type_rules, the
// same on create and on set.
Result<AttributeMap> validate_queue_attributes(const AttributeMap& requested, bool creating);

// Applies validated `changes` to `attributes`: each is set, except that an
// attribute without a default disappears when set to "" (e.g. Policy). A
// KmsMasterKeyId turns SqsManagedSseEnabled to false; "" also removes
// KmsDataKeyReusePeriodSeconds.
void apply_attributes(AttributeMap& attributes, const AttributeMap& changes);

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
