#include "server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "protocol/codec.h"
#include "protocol/json_writer.h"
#include "server/access_control.h"
#include "server/actions.h"
#include "server/authentication.h"
#include "server/console.h"
#include "server/log.h"
#include "server/metrics.h"
#include "server/wal_syncer.h"

namespace wharf::server {

struct ServerState {
  std::atomic<unsigned> open_connections{0};  // for --max-connections and /metrics
  std::atomic<bool> stopping{false};          // SIGTERM: /ready says so
  RequestMetrics requests;
};

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A little over a 1 MiB message in the query protocol's URL encoding.
constexpr uint64_t kMaxBodyBytes = 8ull * 1024 * 1024;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

using Request = http::request<http::string_body>;
// An answer as it goes on the wire: the head written here rather than by
// Beast's serializer (a quarter of the work of a small request), then the
// body.
struct Response {
  std::string head;
  std::string body;
  bool keep_alive = true;
};

void append_header(std::string& head, std::string_view name, std::string_view value) {
  head.append(name).append(": ").append(value).append("\r\n");
}

// Keep-alive as HTTP/1.1 and 1.0 spell it: 1.1 says when it closes, 1.0
// when it stays open.
Response make_response(unsigned version, int status, std::string_view content_type, std::string body, bool keep_alive,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       std::string_view request_id = {}) {
  Response res;
  res.keep_alive = keep_alive;
  res.head.reserve(192);
  res.head.append(version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ").append(std::to_string(status)).append(" ");
  res.head.append(http::obsolete_reason(static_cast<http::status>(status))).append("\r\n");
  append_header(res.head, "Server", "wharf");
  append_header(res.head, "Content-Type", content_type);
  if (!request_id.empty()) append_header(res.head, "x-amzn-RequestId", request_id);
  for (const auto& [name, value] : headers) append_header(res.head, name, value);
  if (version == 10 && keep_alive) append_header(res.head, "Connection", "keep-alive");
  if (version != 10 && !keep_alive) append_header(res.head, "Connection", "close");
  append_header(res.head, "Content-Length", std::to_string(body.size()));
  res.head.append("\r\n");
  res.body = std::move(body);
  return res;
}

Response make_response(const Request& request, protocol::EncodedResponse encoded, const std::string& request_id) {
  return make_response(request.version(), encoded.status, encoded.content_type, std::move(encoded.body),
                       request.keep_alive(), encoded.headers, request_id);
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain or TLS: reads requests, answers them, keep-alive.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  template <class... StreamArgs>
  Session(Services services, std::shared_ptr<ServerState> state, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        services_(services),
        timeout_(std::chrono::seconds(services.settings.idle_timeout_seconds)),
        state_(std::move(state)) {
    ++state_->open_connections;
  }
  ~Session() { --state_->open_connections; }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (std::is_same_v<Stream, TlsStream>) {
        beast::get_lowest_layer(self->stream_).expires_after(self->timeout_);
        self->stream_.async_handshake(net::ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();
          self->read();
        });
      } else {
        self->read();
      }
    });
  }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(kMaxBodyBytes);
    parser_->header_limit(kMaxHeaderBytes);
    beast::get_lowest_layer(stream_).expires_after(timeout_);  // the whole request must arrive within it
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
  }

  // Clients that send "Expect: 100-continue" (curl for bodies over 1 KiB,
  // some SDKs) wait for this interim answer before sending the body.
  void on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    auto expect = parser_->get().find(http::field::expect);
    if (expect != parser_->get().end() && beast::iequals(expect->value(), "100-continue") &&
        parser_->content_length().value_or(0) <= kMaxBodyBytes) {
      auto interim = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      return http::async_write(stream_, *interim, [self = shared_from_this(), interim](beast::error_code wec, size_t) {
        if (wec) return self->close();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // The rest of the body is unread: answer, then close.
      Request head = parser_->release();
      head.keep_alive(false);
      const std::string id = random_uuid();
      const auto proto = protocol::detect_protocol(view_of(head));
      auto encoded = protocol::encode_error(
          proto, make_error(ErrorCode::RequestTooLarge, "The request body is larger than the server accepts."), id);
      return write(make_response(head, encoded, id));
    }
    if (ec == http::error::header_limit) {
      // The header is unread past the limit: a plain answer, then close.
      Response res = make_response(11, 431, "text/plain", "Request header too large\n", false);
      return write(std::move(res));
    }
    if (ec) return close();
    request_ = parser_->release();
    beast::get_lowest_layer(stream_).expires_never();  // a long poll may take a while; the work bounds itself
    dispatch_request();
  }

  static protocol::HttpRequestView view_of(const Request& r) {
    protocol::HttpRequestView v;
    v.method = std::string_view(r.method_string().data(), r.method_string().size());
    v.target = std::string_view(r.target().data(), r.target().size());
    auto ct = r.find(http::field::content_type);
    if (ct != r.end()) v.content_type = std::string_view(ct->value().data(), ct->value().size());
    auto at = r.find("X-Amz-Target");
    if (at != r.end()) v.amz_target = std::string_view(at->value().data(), at->value().size());
    v.body = r.body();
    return v;
  }

  void dispatch_request() {
    started_ = std::chrono::steady_clock::now();
    params_ = nlohmann::json();
    const std::string request_id = random_uuid();
    if (answer_operational_request(request_id)) return;
    // Exceptions mean bugs; one must not take the server down with it.
    try {
      if (answer_console_request(request_id)) return;
      handle_sqs_request(request_id);
    } catch (const std::exception& e) {
      log::error("internal error", log::Fields().add("request_id", request_id).add("exception", e.what()));
      const auto proto = protocol::detect_protocol(view_of(request_));
      answer_now("unknown",
                 protocol::encode_error(proto, make_error(ErrorCode::InternalError, "Internal error."), request_id),
                 request_id);
    }
  }

  // GET /health, /ready and /metrics: for load balancers, orchestrators and
  // Prometheus. Never signed (also with --auth), never counted as SQS
  // requests; no SQS request uses these paths. True when it answered.
  bool answer_operational_request(const std::string& request_id) {
    if (request_.method() != http::verb::get) return false;
    const std::string_view target(request_.target().data(), request_.target().size());
    std::string_view path = target.substr(0, target.find('?'));
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    protocol::EncodedResponse answer;
    answer.content_type = "text/plain";
    if (path == "/health") {
      if (path != target && target != "/health/") return false;  // as before: no query string
      answer.body = "ok\n";
    } else if (path == "/ready") {
      // Storage is open and declared queues applied before the server
      // listens; it stops being ready when the shutdown begins.
      const bool stopping = state_->stopping.load();
      answer.status = stopping ? 503 : 200;
      answer.body = stopping ? "stopping\n" : "ready\n";
    } else if (path == "/metrics") {
      answer.content_type = std::string(kMetricsContentType);
      answer.body = render_metrics(MetricsSources{services_.settings, services_.accounts, services_.long_polls,
                                                  state_->requests, state_->open_connections.load()});
    } else {
      return false;
    }
    write(make_response(request_, answer, request_id));
    return true;
  }

  // Counts the request under `action` (see RequestMetrics) by its answer,
  // and writes its access log line when asked to.
  void record(std::string_view action, const protocol::EncodedResponse& encoded, const std::string& request_id) {
    const auto took = std::chrono::steady_clock::now() - started_;
    state_->requests.record(action, static_cast<unsigned>(encoded.status), took);
    if (services_.settings.access_log) log_access(action, encoded, request_id, took);
  }

  void log_access(std::string_view action, const protocol::EncodedResponse& encoded, const std::string& request_id,
                  std::chrono::steady_clock::duration took) const {
    log::Fields fields;
    fields.add("action", action);
    if (params_.is_object()) {
      // The queue's name: QueueName, or the last part of QueueUrl.
      auto name = params_.find("QueueName");
      if (name == params_.end()) name = params_.find("QueueUrl");
      if (name != params_.end() && name->is_string()) {
        const auto& text = name->get_ref<const std::string&>();
        fields.add("queue", std::string_view(text).substr(text.rfind('/') + 1));
      }
    }
    fields.add("status", encoded.status);
    if (!encoded.error_code.empty()) fields.add("error", encoded.error_code);
    fields.add("ms", std::chrono::duration<double, std::milli>(took).count());
    fields.add("request_id", request_id);
    beast::error_code ec;
    const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) fields.add("client", remote.address().to_string());
    log::info("request", fields);
  }

  // The web console (server/console.h): its files unsigned; its API (peek,
  // delete a peeked message) signed and routed like the SQS action it
  // stands for, answered in the JSON protocol. Not counted as SQS requests.
  // True when it answered.
  bool answer_console_request(const std::string& request_id) {
    const std::string_view target(request_.target().data(), request_.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (!is_console_path(path)) return false;
    const std::string_view method(request_.method_string().data(), request_.method_string().size());
    const ConsoleCall* api = find_console_call(path);
    if (!api || !services_.settings.console || request_.method() != http::verb::post) {
      write(make_response(request_, console_file_response(method, path, services_.settings), request_id));
      return true;
    }
    write(make_response(request_, console_api_response(*api, request_id), request_id));
    return true;
  }

  protocol::EncodedResponse console_api_response(const ConsoleCall& api, const std::string& request_id) {
    auto error = [&](const SqsError& e) { return protocol::encode_error(protocol::Protocol::Json, e, request_id); };
    auto authenticated = authenticate();
    if (!authenticated) return error(authenticated.error());
    params_ = nlohmann::json::parse(request_.body(), nullptr, false);
    if (!params_.is_object()) return error(make_error(ErrorCode::MalformedInput, "The body must be a JSON object."));
    auto account = route_request(services_.accounts, std::string(api.routed_as), params_, authenticated.value(),
                                 !services_.settings.credentials.empty());
    if (!account) return error(account.error());
    auto host_it = request_.find(http::field::host);
    const Call call{params_,
                    *account.value()->engine,
                    services_.long_polls,
                    services_.settings,
                    host_it == request_.end() ? "" : std::string(host_it->value()),
                    std::is_same_v<Stream, TlsStream>,
                    account.value()->id};
    auto result = api.run(call);
    if (!result) return error(result.error());
    protocol::EncodedResponse ok;
    ok.content_type = "application/x-amz-json-1.0";
    ok.body = protocol::to_json_text(result.value());
    return ok;
  }

  // Answers without running the action (refused before it ran).
  void answer_now(std::string_view action, const protocol::EncodedResponse& encoded, const std::string& request_id) {
    record(action, encoded, request_id);
    write(make_response(request_, encoded, request_id));
  }

  // With credentials configured, every SQS request must carry a valid SigV4
  // signature (header or presigned query string). Answers the account the
  // request acts as.
  Result<std::string> authenticate() const {
    if (services_.settings.credentials.empty()) return services_.settings.account_id;
    protocol::SignedRequest signed_request;
    signed_request.method = std::string_view(request_.method_string().data(), request_.method_string().size());
    signed_request.target = std::string_view(request_.target().data(), request_.target().size());
    for (const auto& field : request_) {
      signed_request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    signed_request.body = request_.body();
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto credential = verify_signature(signed_request, services_.settings.credentials, now);
    if (!credential) return credential.error();
    const std::string& account = credential.value()->account_id;
    return account.empty() ? services_.settings.account_id : account;
  }

  void handle_sqs_request(const std::string& request_id) {
    const auto view = view_of(request_);
    auto authenticated = authenticate();
    if (!authenticated) {
      return answer_now("unknown",
                        protocol::encode_error(protocol::detect_protocol(view), authenticated.error(), request_id),
                        request_id);
    }
    auto decoded = protocol::decode_request(view);
    if (!decoded) {
      return answer_now("unknown", protocol::encode_error(protocol::detect_protocol(view), decoded.error(), request_id),
                        request_id);
    }
    auto host_it = request_.find(http::field::host);
    std::string host = host_it == request_.end() ? "" : std::string(host_it->value());
    params_ = std::move(decoded->params);
    const auto proto = decoded->protocol;
    const std::string action = decoded->action;
    auto account = route_request(services_.accounts, action, params_, authenticated.value(),
                                 !services_.settings.credentials.empty());
    if (!account) return answer_now(action, protocol::encode_error(proto, account.error(), request_id), request_id);
    const Call call{params_,         *account.value()->engine,          services_.long_polls, services_.settings,
                    std::move(host), std::is_same_v<Stream, TlsStream>, account.value()->id,  proto};
    WalSyncer* syncer = account.value()->syncer.get();
    run_action(action, call, [self = shared_from_this(), proto, action, request_id, syncer](Result<Answer> result) {
      auto answer = [self, proto, action, request_id](Result<Answer> r) {
        auto encoded = !r                     ? protocol::encode_error(proto, r.error(), request_id)
                       : r->json_text.empty() ? protocol::encode_result(proto, action, r->tree, request_id)
                                              : protocol::encode_json_text(std::move(r->json_text));
        self->record(action, encoded, request_id);
        auto response = std::make_shared<Response>(make_response(self->request_, std::move(encoded), request_id));
        net::dispatch(self->stream_.get_executor(), [self, response] { self->write(std::move(*response)); });
      };
      if (!syncer) return answer(std::move(result));
      // --durability=fsync: acknowledge only what is on disk.
      syncer->after_sync([answer, result = std::move(result)](Status synced) mutable {
        if (!synced) return answer(synced.error());
        answer(std::move(result));
      });
    });
  }

  void write(Response response) {
    response_ = std::move(response);
    beast::get_lowest_layer(stream_).expires_after(timeout_);
    const std::array<net::const_buffer, 2> buffers{net::buffer(response_.head), net::buffer(response_.body)};
    net::async_write(stream_, buffers, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->response_.keep_alive) return self->close();
      self->read();
    });
  }

  void close() {
    beast::error_code ignored;
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.shutdown(tcp::socket::shutdown_send, ignored);
    socket.close(ignored);
  }

  Stream stream_;
  Services services_;
  std::chrono::seconds timeout_;
  std::shared_ptr<ServerState> state_;
  std::chrono::steady_clock::time_point started_;  // of the request being answered
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request request_;
  nlohmann::json params_;
  Response response_;
};

}  // namespace

HttpServer::HttpServer(net::io_context& io, std::vector<net::io_context*> workers, Services services)
    : workers_(std::move(workers)),
      services_(services),
      acceptor_(io),
      tls_acceptor_(io),
      state_(std::make_shared<ServerState>()) {}

namespace {

bool open_acceptor(tcp::acceptor& acceptor, const std::string& bind, uint16_t port, std::string& error) {
  beast::error_code ec;
  auto address = net::ip::make_address(bind, ec);
  if (ec) {
    error = "bad bind address " + bind + ": " + ec.message();
    return false;
  }
  tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) error = "cannot listen on " + bind + ":" + std::to_string(port) + ": " + ec.message();
  return !ec;
}

}  // namespace

bool HttpServer::listen(std::string& error) {
  const Settings& settings = services_.settings;
  if (!open_acceptor(acceptor_, settings.bind, settings.port, error)) return false;
  if (!settings.tls_cert.empty()) {
    tls_context_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    tls_context_->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                              net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                              net::ssl::context::no_tlsv1_1);
    beast::error_code ec;
    tls_context_->use_certificate_chain_file(settings.tls_cert, ec);
    if (!ec) tls_context_->use_private_key_file(settings.tls_key, net::ssl::context::pem, ec);
    if (ec) {
      error = "cannot load --tls-cert " + settings.tls_cert + " / --tls-key " + settings.tls_key + ": " + ec.message();
      return false;
    }
    if (!open_acceptor(tls_acceptor_, settings.bind, settings.tls_port, error)) return false;
    accept(tls_acceptor_, /*tls=*/true);
  }
  accept(acceptor_, /*tls=*/false);
  return true;
}

uint16_t HttpServer::port() const { return acceptor_.local_endpoint().port(); }

uint16_t HttpServer::tls_port() const { return tls_acceptor_.is_open() ? tls_acceptor_.local_endpoint().port() : 0; }

void HttpServer::stop() {
  state_->stopping = true;
  net::dispatch(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    tls_acceptor_.close(ignored);
  });
}

void HttpServer::accept(tcp::acceptor& acceptor, bool tls) {
  net::io_context& worker = *workers_[next_worker_++ % workers_.size()];
  acceptor.async_accept(worker, [this, &acceptor, tls](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec && state_->open_connections.load() >= services_.settings.max_connections) {
      // Over the cap: a short answer (plain connections), then close.
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
          "Connection: close\r\n\r\nToo many connections\n";
      beast::error_code ignored;
      if (!tls) net::write(socket, net::buffer(kBusy), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    } else if (!ec && tls) {
      std::make_shared<Session<TlsStream>>(services_, state_, std::move(socket), *tls_context_)->start();
    } else if (!ec) {
      std::make_shared<Session<PlainStream>>(services_, state_, std::move(socket))->start();
    }
    accept(acceptor, tls);
  });
}

}  // namespace wharf::server
