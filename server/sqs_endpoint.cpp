#include "server/sqs_endpoint.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>

#include "common/ids.h"
#include "protocol/json_writer.h"
#include "server/access_control.h"
#include "server/authentication.h"
#include "server/dev_api.h"
#include "server/log.h"
#include "server/queue_urls.h"
#include "server/wal_syncer.h"

namespace wharf::server {
namespace {

namespace http = boost::beast::http;

std::string_view text_of(boost::beast::string_view s) { return std::string_view(s.data(), s.size()); }

std::string_view header(const HttpRequest& request, http::field field) {
  auto it = request.find(field);
  return it == request.end() ? std::string_view() : text_of(it->value());
}

void append_header(std::string& head, std::string_view name, std::string_view value) {
  head.append(name).append(": ").append(value).append("\r\n");
}

protocol::EncodedResponse plain_text(int status, std::string body) {
  protocol::EncodedResponse answer;
  answer.status = status;
  answer.content_type = "text/plain";
  answer.body = std::move(body);
  return answer;
}

}  // namespace

protocol::HttpRequestView view_of(const HttpRequest& request) {
  protocol::HttpRequestView v;
  v.method = text_of(request.method_string());
  v.target = text_of(request.target());
  v.content_type = header(request, http::field::content_type);
  auto at = request.find("X-Amz-Target");
  if (at != request.end()) v.amz_target = text_of(at->value());
  v.accept = header(request, http::field::accept);
  v.body = request.body();
  return v;
}

protocol::EncodedResponse request_too_large(const HttpRequest& head, std::string_view request_id) {
  return protocol::encode_error(
      protocol::answer_format(view_of(head)),
      make_error(ErrorCode::RequestTooLarge, "The request body is larger than the server accepts."), request_id);
}

std::string response_head(unsigned version, bool keep_alive, const protocol::EncodedResponse& response,
                          std::string_view request_id) {
  std::string head;
  head.reserve(192);
  head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(response.status)).append(" ");
  head.append(text_of(http::obsolete_reason(static_cast<http::status>(response.status)))).append("\r\n");
  append_header(head, "Server", "wharf");
  append_header(head, "Content-Type", response.content_type);
  if (!request_id.empty()) append_header(head, "x-amzn-RequestId", request_id);
  for (const auto& [name, value] : response.headers) append_header(head, name, value);
  if (version == 10 && keep_alive) append_header(head, "Connection", "keep-alive");
  if (version != 10 && !keep_alive) append_header(head, "Connection", "close");
  append_header(head, "Content-Length", std::to_string(response.body.size()));
  head.append("\r\n");
  return head;
}

SqsEndpoint::SqsEndpoint(Services services, std::shared_ptr<EndpointState> state)
    : services_(services), state_(std::move(state)) {}

void SqsEndpoint::serve(Exchange& x) const {
  x.started_ = std::chrono::steady_clock::now();
  x.params_ = nlohmann::json();
  x.action_.assign(kUnknownActionLabel);  // until the request names one
  x.facts_ = nullptr;
  x.syncer_ = nullptr;
  x.call_.reset();
  x.request_id = random_uuid();
  if (answer_operational(x)) return;
  // Exceptions mean bugs; one must not take the server down with it.
  try {
    if (answer_console(x)) return;
    if (services_.settings.dev_api && is_dev_api_path(text_of(x.request.target()))) {
      return serve_dev_api(x.request, services_, authenticate(x.request), [&x](protocol::EncodedResponse answer) {
        x.response = std::move(answer);
        x.answered();
      });
    }
    serve_sqs(x);
  } catch (const std::exception& e) {
    log::error("internal error", log::Fields().add("request_id", x.request_id).add("exception", e.what()));
    if (on_internal_error) on_internal_error(e.what());
    const auto format = protocol::answer_format(view_of(x.request));
    x.facts_ = nullptr;
    x.action_.assign(kUnknownActionLabel);
    answer_counted(
        x, protocol::encode_error(format, make_error(ErrorCode::InternalError, "Internal error."), x.request_id));
  }
}

// GET /health, /ready and /metrics: for load balancers, orchestrators and
// Prometheus. Never signed (also with --auth), never counted as SQS
// requests; no SQS request uses these paths. True when it answered.
bool SqsEndpoint::answer_operational(Exchange& x) const {
  if (x.request.method() != http::verb::get) return false;
  const std::string_view target = text_of(x.request.target());
  std::string_view path = target.substr(0, target.find('?'));
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/health") {
    if (path != target && target != "/health/") return false;  // as before: no query string
    x.response = plain_text(200, "ok\n");
  } else if (path == "/ready") {
    // Storage is open and declared queues applied before the server
    // listens; it stops being ready when the shutdown begins, and while
    // the storage cannot serve (PostgreSQL unreachable).
    const bool stopping = state_->stopping.load();
    const bool storage = services_.accounts.storage_ready();
    x.response = plain_text(stopping || !storage ? 503 : 200,
                            stopping ? "stopping\n" : (storage ? "ready\n" : "storage unavailable\n"));
  } else if (path == "/metrics") {
    // Answered when every engine has given its counts (perhaps later).
    render_metrics(MetricsSources{services_.settings, services_.accounts, services_.long_polls, state_->requests,
                                  state_->open_connections.load()},
                   [&x](std::string text) {
                     x.response = plain_text(200, std::move(text));
                     x.response.content_type = std::string(kMetricsContentType);
                     x.answered();
                   });
    return true;
  } else {
    return false;
  }
  x.answered();
  return true;
}

// The web console (server/console.h): its files unsigned; its API (peek,
// delete a peeked message) signed and routed like the SQS action it
// stands for, answered in the JSON protocol. Not counted as SQS requests.
// True when it answered.
bool SqsEndpoint::answer_console(Exchange& x) const {
  const std::string_view target = text_of(x.request.target());
  const std::string_view path = target.substr(0, target.find('?'));
  if (!is_console_path(path)) return false;
  const ConsoleCall* api = find_console_call(path);
  if (!api || !services_.settings.console || x.request.method() != http::verb::post) {
    x.response = console_file_response(text_of(x.request.method_string()), path, services_.settings);
    x.answered();
  } else {
    console_api(x, *api);
  }
  return true;
}

// Answers x, perhaps later (routing and the call are asynchronous).
void SqsEndpoint::console_api(Exchange& x, const ConsoleCall& api) const {
  auto answer = [&x](Result<nlohmann::json> result) {
    if (!result) {
      x.response = protocol::encode_error(protocol::Protocol::Json, result.error(), x.request_id);
    } else {
      x.response = protocol::EncodedResponse{};
      x.response.content_type = "application/x-amz-json-1.0";
      x.response.body = protocol::to_json_text(result.value());
    }
    x.answered();
  };
  auto caller = authenticate(x.request);
  if (!caller) return answer(caller.error());
  caller->region = services_.settings.region;  // the console shows the default region
  x.params_ = nlohmann::json::parse(x.request.body(), nullptr, false);
  if (!x.params_.is_object()) return answer(make_error(ErrorCode::MalformedInput, "The body must be a JSON object."));
  route_request(services_.accounts, api.routed_as, x.params_, caller.value(), !services_.settings.credentials.empty(),
                [this, &x, &api, answer](Result<Account*> account) {
                  if (!account) return answer(account.error());
                  const Call& call = x.call_.emplace(
                      Call{x.params_, *account.value()->engine, services_.long_polls, services_.settings,
                           std::string(header(x.request, http::field::host)), x.tls, account.value()->id});
                  api.run(call, [answer](Result<Answer> result) {
                    if (!result) return answer(result.error());
                    answer(std::move(result->tree));
                  });
                });
}

// With credentials configured, every SQS request must carry a valid SigV4
// signature (header or presigned query string). Answers the account the
// request acts as, and in which region.
Result<Caller> SqsEndpoint::authenticate(const HttpRequest& request) const {
  const Settings& settings = services_.settings;
  if (settings.credentials.empty()) {
    return unverified_caller(header(request, http::field::authorization), text_of(request.target()),
                             settings.account_id, settings.region);
  }
  protocol::SignedRequest signed_request;
  signed_request.method = text_of(request.method_string());
  signed_request.target = text_of(request.target());
  for (const auto& field : request) {
    signed_request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  signed_request.body = request.body();
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  auto signer = verify_signature(signed_request, settings.credentials, now);
  if (!signer) return signer.error();
  return signed_caller(signer.value(), settings.account_id, settings.region);
}

void SqsEndpoint::serve_sqs(Exchange& x) const {
  const auto view = view_of(x.request);
  x.format_ = protocol::answer_format(view);
  // Names no operation: answered before authentication, as it touches nothing.
  if (protocol::is_queue_url_without_action(view)) return answer_counted(x, protocol::unknown_operation_response());
  auto caller = authenticate(x.request);
  if (!caller) return answer_counted(x, protocol::encode_error(x.format_, caller.error(), x.request_id));
  auto decoded = protocol::decode_request(view);
  if (!decoded) return answer_counted(x, protocol::encode_error(x.format_, decoded.error(), x.request_id));
  x.params_ = std::move(decoded->params);
  x.protocol_ = decoded->protocol;
  x.action_ = std::move(decoded->action);
  x.facts_ = find_action_facts(x.action_);
  // Routing may read another account's Policy from its engine: the rest
  // runs when it has (two pointers: std::function keeps them without
  // allocating).
  route_request(services_.accounts, x.action_, x.params_, caller.value(), !services_.settings.credentials.empty(),
                [this, &x](Result<Account*> account) { serve_routed(x, std::move(account)); });
}

void SqsEndpoint::serve_routed(Exchange& x, Result<Account*> account) const {
  if (!account) return answer_counted(x, protocol::encode_error(x.format_, account.error(), x.request_id));
  x.syncer_ = account.value()->syncer.get();
  if (!x.facts_) return settle(x, unknown_action(x.action_));
  // Kept in the exchange until answered: handlers may answer later (see Call).
  Call& call =
      x.call_.emplace(Call{x.params_, *account.value()->engine, services_.long_polls, services_.settings,
                           std::string(header(x.request, http::field::host)), x.tls, account.value()->id, x.protocol_});
  call.region = account.value()->region;
  call.trace_header = text_of(x.request["X-Amzn-Trace-Id"]);
  // The writes of requests handled in one turn of this thread's event loop
  // leave the log buffer together (see settle).
  storage::DeferredLogFlush together;
  // Two pointers: std::function keeps them without allocating.
  run_action(*x.facts_, call, [this, &x](Result<Answer> result) { settle(x, std::move(result)); });
}

// Acknowledge only what is written: with --durability=fsync, on disk;
// otherwise, handed to the OS. The log is flushed after the other requests
// already waiting on this thread have run, so one flush serves them all.
void SqsEndpoint::settle(Exchange& x, Result<Answer> result) const {
  if (x.syncer_) {
    return x.syncer_->after_sync([this, &x, result = std::move(result)](Status synced) mutable {
      if (!synced) return finish_sqs(x, synced.error());
      finish_sqs(x, std::move(result));
    });
  }
  if (!x.call_ || !x.call_->engine.log_buffered()) return finish_sqs(x, std::move(result));
  x.settled_.emplace(std::move(result));
  x.run_later([this, &x] {
    Result<Answer> settled = std::move(*x.settled_);
    x.settled_.reset();
    const Status flushed = x.call_->engine.flush_log();
    if (!flushed) return finish_sqs(x, flushed.error());
    finish_sqs(x, std::move(settled));
  });
}

void SqsEndpoint::finish_sqs(Exchange& x, Result<Answer> r) const {
  if (!r && x.call_) r = explain_queue_does_not_exist(*x.call_, r.error());  // what Wharf expected of the QueueUrl
  answer_counted(x, !r                     ? protocol::encode_error(x.format_, r.error(), x.request_id)
                    : r->json_text.empty() ? protocol::encode_result(x.format_, x.action_, r->tree, x.request_id)
                                           : protocol::encode_json_text(std::move(r->json_text)));
}

// Counts the request under its action (see RequestMetrics) by its answer,
// writes its access log line when asked to, and hands the answer over.
void SqsEndpoint::answer_counted(Exchange& x, protocol::EncodedResponse response) const {
  x.response = std::move(response);
  const auto took = std::chrono::steady_clock::now() - x.started_;
  state_->requests.record(x.facts_, static_cast<unsigned>(x.response.status), took);
  if (services_.settings.access_log) log_access(x, took);
  x.answered();
}

void SqsEndpoint::log_access(const Exchange& x, std::chrono::steady_clock::duration took) const {
  log::Fields fields;
  fields.add("action", x.action_);
  if (x.params_.is_object()) {
    // The queue's name: QueueName, or the last part of QueueUrl.
    auto name = x.params_.find("QueueName");
    if (name == x.params_.end()) name = x.params_.find("QueueUrl");
    if (name != x.params_.end() && name->is_string()) {
      const auto& text = name->get_ref<const std::string&>();
      fields.add("queue", std::string_view(text).substr(text.rfind('/') + 1));
    }
  }
  fields.add("status", x.response.status);
  if (!x.response.error_code.empty()) fields.add("error", x.response.error_code);
  fields.add("ms", std::chrono::duration<double, std::milli>(took).count());
  fields.add("request_id", x.request_id);
  if (!x.client.is_unspecified()) fields.add("client", x.client.to_string());
  log::info("request", fields);
}

}  // namespace wharf::server
