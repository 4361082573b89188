// Recognises which SQS protocol a request speaks, decodes it into the JSON
// protocol's parameter tree, and encodes results and errors back.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sqs_error.h"

namespace wharf::protocol {

enum class Protocol { Json, Query };

// How an answer is written: the JSON protocol's body; the query protocol's
// XML; or, for a query request that accepts application/json, the query
// protocol's documents as JSON ({"ListQueuesResponse": {...}}), as AWS does.
enum class AnswerFormat { Json, QueryXml, QueryJson };

struct HttpRequestView {
  std::string_view method;        // "POST", "GET"
  std::string_view target;        // path and query string
  std::string_view content_type;  // Content-Type header
  std::string_view amz_target;    // X-Amz-Target header, empty if absent
  std::string_view accept;        // Accept header, empty if absent
  std::string_view body;
};

struct DecodedRequest {
  Protocol protocol = Protocol::Json;
  std::string action;
  nlohmann::json params;  // the action's input in the JSON protocol's shape
};

// Which protocol the request claims to speak; decided before decoding so that
// even a decoding error is answered in the caller's protocol.
Protocol detect_protocol(const HttpRequestView& request);
// The protocol and the Accept header: how the request's answers are written.
AnswerFormat answer_format(const HttpRequestView& request);
constexpr AnswerFormat answer_format(Protocol protocol) {
  return protocol == Protocol::Json ? AnswerFormat::Json : AnswerFormat::QueryXml;
}

// Query requests POSTed (or sent with GET) to a queue's own path
// "/<account>/<queue>" get that path as QueueUrl when they carry none.
Result<DecodedRequest> decode_request(const HttpRequestView& request);

struct EncodedResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view error_code;  // the error's name for logs ("QueueDoesNotExist"); empty on success
};

// AWS answers a GET on a queue's URL that names no Action with HTTP 404 and
// the body <UnknownOperationException/>, whatever the Accept header says.
bool is_queue_url_without_action(const HttpRequestView& request);
EncodedResponse unknown_operation_response();

EncodedResponse encode_result(AnswerFormat format, std::string_view action, const nlohmann::json& result,
                              std::string_view request_id);
inline EncodedResponse encode_result(Protocol protocol, std::string_view action, const nlohmann::json& result,
                                     std::string_view request_id) {
  return encode_result(answer_format(protocol), action, result, request_id);
}
// A JSON protocol answer whose body the action wrote itself.
EncodedResponse encode_json_text(std::string body);
EncodedResponse encode_error(AnswerFormat format, const SqsError& error, std::string_view request_id);
inline EncodedResponse encode_error(Protocol protocol, const SqsError& error, std::string_view request_id) {
  return encode_error(answer_format(protocol), error, request_id);
}

}  // namespace wharf::protocol
