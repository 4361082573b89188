// The query protocol's answers as JSON, for query requests (form-encoded,
// Action=...) that send "Accept: application/json": AWS then writes the same
// documents as the XML ones, in JSON. Written from the same result tree and
// the same action facts as the XML writer (xml_encoder.h), so the two stay in
// step.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/sqs_error.h"

namespace wharf::protocol {

inline constexpr std::string_view kQueryJsonContentType = "application/json";

// {"<Action>Response": {"<Action>Result": {...}, "ResponseMetadata":
// {"RequestId": "..."}}}. As in AWS's recorded answers, the result's lists
// (the action facts' XML lists) take lowerCamel names ("queueUrls",
// "messages", "successful", "failed") and are null when unset; other members
// keep the JSON protocol's names and shapes. Actions without an output shape
// (DeleteQueue, ...) have no Result member, as in XML.
std::string encode_query_json_response(std::string_view action, const nlohmann::json& result,
                                       std::string_view request_id);

// {"Error": {"Code": "<query code>", "Message": "...", "Type": "Sender"},
// "RequestId": "..."}: the XML ErrorResponse's members.
std::string encode_query_json_error(const SqsError& error, std::string_view request_id);

}  // namespace wharf::protocol
