// Validation of message attributes and system attributes as AWS applies it.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "common/sqs_error.h"
#include "storage/engine.h"

namespace wharf::server {

struct ValidatedAttributes {
  nlohmann::json attributes = nlohmann::json::object();  // normalised wire shape
  size_t size = 0;  // name + type + value bytes, counted against MaximumMessageSize
};

// MessageAttributes: at most 10; names 1-256 characters of letters and
// digits (other scripts' too), '_', '-', '.', no "AWS." or "Amazon." prefix,
// no leading, trailing or doubled '.'; DataType String,
// Number or Binary with an optional ".custom" suffix; the matching value.
Result<ValidatedAttributes> validate_message_attributes(const nlohmann::json* attributes);

// MessageSystemAttributes: only AWSTraceHeader, of type String.
Result<ValidatedAttributes> validate_system_attributes(const nlohmann::json* attributes);

// An optional integer parameter in [min, max]; out of range, AWS's words for
// that parameter: "Value N for parameter NAME is invalid. Reason: <reason>".
Result<std::optional<int>> optional_int_within(const nlohmann::json& params, const char* name, int min, int max,
                                               const std::string& reason);

// MessageGroupId, MessageDeduplicationId, ReceiveRequestAttemptId: 1-128
// alphanumeric and punctuation characters.
Status validate_fifo_token(const std::string& name, const std::string& value);

// One message to send, read from SendMessage's parameters or one
// SendMessageBatch entry, validated, with the checksums to answer.
// `trace_header` (the request's X-Amzn-Trace-Id) becomes its AWSTraceHeader
// unless the message sets that system attribute itself.
struct PreparedSend {
  storage::NewMessage message;
  nlohmann::json checksums;  // MD5OfMessageBody, MD5OfMessageAttributes, MD5OfMessageSystemAttributes
};
Result<PreparedSend> prepare_send(const nlohmann::json& params, std::string_view trace_header = {});

}  // namespace wharf::server
