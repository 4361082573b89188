// The request pipeline, with no socket in sight: a parsed HTTP request in,
// its answer out (status, headers, body). For SQS requests: authenticate,
// decode, route to the account, run the action, wait for the fsync
// (--durability=fsync), encode, count in the metrics, write the access log.
// It also answers /health, /ready, /metrics and the web console (its files
// and its API). The HTTP server's connections, the unit tests and the fuzz
// targets all serve requests through it.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/action_facts.h"
#include "protocol/codec.h"
#include "server/accounts.h"
#include "server/actions.h"
#include "server/console.h"
#include "server/long_polls.h"
#include "server/metrics.h"
#include "server/settings.h"

namespace wharf::server {

struct Services {
  const Settings& settings;
  Accounts& accounts;  // each with its engine and, with --durability=fsync, its syncer
  LongPolls& long_polls;
};

// What the endpoint and the connections share: counted by every connection,
// read by /metrics and /ready.
struct EndpointState {
  std::atomic<unsigned> open_connections{0};  // for --max-connections and /metrics
  std::atomic<bool> stopping{false};          // SIGTERM: /ready says so
  RequestMetrics requests;
};

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

class WalSyncer;

// One request and, once answered, its answer. The caller of
// SqsEndpoint::serve keeps it alive until `answered` has run; a connection
// reuses one for each of its requests in turn.
class Exchange {
 public:
  virtual ~Exchange() = default;

  // In: the parsed request (moved in), whether it came over TLS, and the
  // caller's address (for the access log; only read with --access-log).
  HttpRequest request;
  bool tls = false;
  boost::asio::ip::address client;

  // Out, when answered: the answer and the request's id (x-amzn-RequestId).
  protocol::EncodedResponse response;
  std::string request_id;

 protected:
  // Called exactly once per serve, perhaps later and on another thread
  // (long polls, fsync waits), perhaps before serve returns.
  virtual void answered() = 0;
  // Runs `work` once the work already queued on this exchange's thread has
  // run (a connection posts it to its executor); by default at once.
  virtual void run_later(std::function<void()> work) { work(); }

 private:
  friend class SqsEndpoint;
  // The pipeline's own per-request state.
  std::chrono::steady_clock::time_point started_;
  nlohmann::json params_;
  std::string action_;                  // as the request named it
  const ActionFacts* facts_ = nullptr;  // nullptr: not an SQS action (or not known yet)
  protocol::Protocol protocol_ = protocol::Protocol::Json;
  protocol::AnswerFormat format_ = protocol::AnswerFormat::Json;  // the protocol, and Accept for query
  WalSyncer* syncer_ = nullptr;
  std::optional<Result<Answer>> settled_;  // waiting for the log flush
  // The handler's view of the request (SQS actions and the console API),
  // pointing into params_ and request: it lives until the answer, so async
  // handlers may keep it across continuations (see Call).
  std::optional<Call> call_;
};

class SqsEndpoint {
 public:
  SqsEndpoint(Services services, std::shared_ptr<EndpointState> state);

  // Answers `exchange.request`; see Exchange::answered. Exceptions (bugs)
  // are answered with InternalError and logged; `on_internal_error`, when
  // set, hears of them too (the fuzz targets fail on them).
  void serve(Exchange& exchange) const;
  std::function<void(const std::string& what)> on_internal_error;

  EndpointState& state() const { return *state_; }
  const Settings& settings() const { return services_.settings; }

 private:
  bool answer_operational(Exchange& x) const;
  bool answer_console(Exchange& x) const;
  void console_api(Exchange& x, const ConsoleCall& api) const;
  void serve_sqs(Exchange& x) const;
  void serve_routed(Exchange& x, Result<Account*> account) const;
  void settle(Exchange& x, Result<Answer> result) const;
  void finish_sqs(Exchange& x, Result<Answer> result) const;
  void answer_counted(Exchange& x, protocol::EncodedResponse response) const;
  void log_access(const Exchange& x, std::chrono::steady_clock::duration took) const;
  Result<Caller> authenticate(const HttpRequest& request) const;

  Services services_;
  std::shared_ptr<EndpointState> state_;
};

// The protocol-level view of a request (method, target, Content-Type,
// X-Amz-Target, body), pointing into `request`.
protocol::HttpRequestView view_of(const HttpRequest& request);

// The answer to a request whose body is over the limit (only its head was
// read), in the protocol the head claims.
protocol::EncodedResponse request_too_large(const HttpRequest& head, std::string_view request_id);

// The status line and headers of an answer, as they go on the wire before
// its body. Keep-alive as HTTP/1.1 and 1.0 spell it: 1.1 says when it
// closes, 1.0 when it stays open. No x-amzn-RequestId when `request_id` is
// empty.
std::string response_head(unsigned version, bool keep_alive, const protocol::EncodedResponse& response,
                          std::string_view request_id);

}  // namespace wharf::server
