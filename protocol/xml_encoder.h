// Results in the JSON protocol's shape -> the query protocol's XML documents.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/sqs_error.h"

namespace wharf::protocol {

inline constexpr std::string_view kQueryXmlNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";

// <ActionResponse><ActionResult>...</ActionResult><ResponseMetadata>...
// Lists and maps are flattened with the query model's member names
// (QueueUrl, Message, Attribute Name/Value, MessageAttribute, Tag Key/Value,
// batch result entries). Actions without an output shape (DeleteQueue, ...)
// have no Result element; the others always have one.
std::string encode_query_response(std::string_view action, const nlohmann::json& result, std::string_view request_id);

std::string encode_query_error(const SqsError& error, std::string_view request_id);

// Escapes text for an XML element; '\r' becomes &#xD; so that it survives
// parsers' end-of-line normalisation.
std::string xml_escape(std::string_view text);

}  // namespace wharf::protocol
