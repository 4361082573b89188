#include "protocol/codec.h"

#include <cctype>

#include "common/text.h"

#include "protocol/errors.h"
#include "protocol/json_reader.h"
#include "protocol/json_writer.h"
#include "protocol/query_decoder.h"
#include "protocol/query_json_encoder.h"
#include "protocol/xml_encoder.h"

namespace wharf::protocol {
namespace {

constexpr std::string_view kJsonContentType = "application/x-amz-json-1.0";
constexpr std::string_view kTargetPrefix = "AmazonSQS.";

std::string_view media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto media = content_type.substr(0, semi);
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  return media;
}

Result<DecodedRequest> decode_json(const HttpRequestView& request) {
  DecodedRequest out;
  out.protocol = Protocol::Json;
  if (media_type(request.content_type) != kJsonContentType) {
    return make_error(ErrorCode::UnsupportedMediaType,
                      "The AWS JSON protocol needs Content-Type " + std::string(kJsonContentType) + ".");
  }
  if (request.amz_target.substr(0, kTargetPrefix.size()) != kTargetPrefix) {
    return make_error(ErrorCode::InvalidAction,
                      "The X-Amz-Target " + std::string(request.amz_target) + " is not an SQS operation.");
  }
  out.action = std::string(request.amz_target.substr(kTargetPrefix.size()));
  if (request.body.empty()) {
    out.params = nlohmann::json::object();
    return out;
  }
  if (json_nests_too_deep(request.body)) {
    return make_error(ErrorCode::MalformedInput, "The request body nests deeper than SQS requests do.");
  }
  out.params = parse_json(request.body);
  if (out.params.is_discarded() || !out.params.is_object()) {
    return make_error(ErrorCode::MalformedInput, "The request body is not a valid JSON object.");
  }
  return out;
}

// "/000000000000/name" or "/queue/REGION/000000000000/name" -> itself; "/" or anything else -> empty.
std::string queue_path(std::string_view path) {
  if (path.starts_with("/queue/")) {  // a queue outside the server's default region
    const auto region_end = path.find('/', 7);
    if (region_end != std::string_view::npos && region_end > 7 && !queue_path(path.substr(region_end)).empty()) {
      return std::string(path);
    }
  }
  if (path.size() < 2 || path[0] != '/') return "";
  auto slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash == 1 || slash + 1 >= path.size()) return "";
  if (path.find('/', slash + 1) != std::string_view::npos) return "";
  return std::string(path);
}

// The query string's and (for POST) the form body's parameters.
FormParams query_params(const HttpRequestView& request) {
  auto question = request.target.find('?');
  FormParams params;
  if (question != std::string_view::npos) params = parse_form(request.target.substr(question + 1));
  if (request.method == "POST") {
    for (auto& p : parse_form(request.body)) params.push_back(std::move(p));
  }
  return params;
}

// Actions that name no queue, which AWS refuses at a queue's URL.
bool refused_at_queue_url(std::string_view action) { return action == "CreateQueue" || action == "ListQueues"; }

Result<DecodedRequest> decode_query(const HttpRequestView& request) {
  DecodedRequest out;
  out.protocol = Protocol::Query;
  std::string_view path = request.target.substr(0, request.target.find('?'));
  FormParams params = query_params(request);
  bool has_queue_url = false;
  for (const auto& [name, value] : params) {
    if (name == "Action") out.action = value;
    if (name == "QueueUrl") has_queue_url = true;
  }
  if (out.action.empty()) {
    return make_error(ErrorCode::MissingAction, "No action was supplied with this request.");
  }
  std::string from_path = queue_path(path);
  if (!from_path.empty() && refused_at_queue_url(out.action)) {
    return make_error(ErrorCode::InvalidAction, "The action " + out.action + " is not valid for this endpoint.");
  }
  auto tree = decode_query_params(out.action, params);
  if (!tree) return tree.error();
  out.params = std::move(tree.value());
  if (!has_queue_url && !from_path.empty()) out.params["QueueUrl"] = std::move(from_path);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether an Accept header lists application/json (not refused with q=0).
bool accepts_json(std::string_view accept) {
  while (!accept.empty()) {
    const size_t comma = accept.find(',');
    std::string_view item = accept.substr(0, comma);
    accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
    const size_t semi = item.find(';');
    if (!iequals(trimmed(item.substr(0, semi)), "application/json")) continue;
    if (semi == std::string_view::npos) return true;
    const std::string_view quality = trimmed(item.substr(semi + 1));
    if (quality.substr(0, 2) != "q=" || quality.find_first_not_of("0.", 2) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

Protocol detect_protocol(const HttpRequestView& request) {
  if (!request.amz_target.empty() || media_type(request.content_type) == kJsonContentType) return Protocol::Json;
  return Protocol::Query;
}

AnswerFormat answer_format(const HttpRequestView& request) {
  if (detect_protocol(request) == Protocol::Json) return AnswerFormat::Json;
  return accepts_json(request.accept) ? AnswerFormat::QueryJson : AnswerFormat::QueryXml;
}

Result<DecodedRequest> decode_request(const HttpRequestView& request) {
  if (detect_protocol(request) == Protocol::Json) return decode_json(request);
  return decode_query(request);
}

bool is_queue_url_without_action(const HttpRequestView& request) {
  if (request.method != "GET" || detect_protocol(request) != Protocol::Query) return false;
  if (queue_path(request.target.substr(0, request.target.find('?'))).empty()) return false;
  for (const auto& [name, value] : query_params(request)) {
    if (name == "Action") return false;
  }
  return true;
}

EncodedResponse unknown_operation_response() {
  EncodedResponse out;
  out.status = 404;
  out.content_type = "text/xml";
  out.body = "<UnknownOperationException/>";
  out.error_code = "UnknownOperationException";
  return out;
}

EncodedResponse encode_result(AnswerFormat format, std::string_view action, const nlohmann::json& result,
                              std::string_view request_id) {
  EncodedResponse out;
  if (format == AnswerFormat::Json) {
    out.content_type = std::string(kJsonContentType);
    out.body = result.is_null() ? "{}" : to_json_text(result);
  } else if (format == AnswerFormat::QueryJson) {
    out.content_type = std::string(kQueryJsonContentType);
    out.body = encode_query_json_response(action, result, request_id);
  } else {
    out.content_type = "text/xml";
    out.body = encode_query_response(action, result, request_id);
  }
  return out;
}

EncodedResponse encode_json_text(std::string body) {
  EncodedResponse out;
  out.content_type = std::string(kJsonContentType);
  out.body = std::move(body);
  return out;
}

EncodedResponse encode_error(AnswerFormat format, const SqsError& error, std::string_view request_id) {
  const ErrorWireInfo& info = wire_info(error.code);
  EncodedResponse out;
  out.status = info.http_status;
  out.error_code = error_name(error.code);
  const std::string fault = info.sender_fault ? "Sender" : "Receiver";
  if (format == AnswerFormat::Json) {
    out.content_type = std::string(kJsonContentType);
    nlohmann::json body = {{"__type", info.json_type}, {"message", error.message}};
    out.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    out.headers.emplace_back("x-amzn-query-error", std::string(info.query_code) + ";" + fault);
  } else if (format == AnswerFormat::QueryJson) {
    out.content_type = std::string(kQueryJsonContentType);
    out.body = encode_query_json_error(error, request_id);
  } else {
    out.content_type = "text/xml";
    out.body = encode_query_error(error, request_id);
  }
  return out;
}

}  // namespace wharf::protocol
