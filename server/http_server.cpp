#include "server/http_server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/ids.h"
#include "server/sqs_endpoint.h"

namespace wharf::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

// A little over a 1 MiB message in the query protocol's URL encoding.
constexpr uint64_t kMaxBodyBytes = 8ull * 1024 * 1024;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

// An answer as it goes on the wire: the head written here rather than by
// Beast's serializer (a quarter of the work of a small request), then the
// body.
struct Response {
  std::string head;
  std::string body;
  bool keep_alive = true;
};

Response make_response(unsigned version, bool keep_alive, protocol::EncodedResponse encoded,
                       std::string_view request_id) {
  Response res;
  res.keep_alive = keep_alive;
  res.head = response_head(version, keep_alive, encoded, request_id);
  res.body = std::move(encoded.body);
  return res;
}

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection, plain or TLS: reads requests, has the endpoint answer
// them, writes the answers; keep-alive.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  template <class... StreamArgs>
  Session(std::shared_ptr<const SqsEndpoint> endpoint, StreamArgs&&... stream_args)
      : stream_(std::forward<StreamArgs>(stream_args)...),
        endpoint_(std::move(endpoint)),
        timeout_(std::chrono::seconds(endpoint_->settings().idle_timeout_seconds)),
        exchange_(*this) {
    ++endpoint_->state().open_connections;
    exchange_.tls = std::is_same_v<Stream, TlsStream>;
  }
  ~Session() { --endpoint_->state().open_connections; }

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
  // The request being answered; the endpoint calls `answered` once, perhaps
  // from another thread.
  struct SessionExchange final : Exchange {
    explicit SessionExchange(Session& s) : session(s) {}
    void answered() override { session.on_answered(); }
    void run_later(std::function<void()> work) override { net::post(session.stream_.get_executor(), std::move(work)); }
    Session& session;
  };

  void read() {
    // Beast reads max(512, free capacity) bytes at a time: from a small
    // buffer a 700-byte SendMessage took two reads, a SendMessageBatch of
    // ten 256-byte bodies several. Room for the connection's last request
    // (1-16 KiB) makes it one read (SendMessageBatch: 9.4 -> 8.1 us of
    // server CPU per message), while an idle long poll keeps 1 KiB.
    buffer_.reserve(read_reserve_);
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
      HttpRequest head = parser_->release();
      const std::string id = random_uuid();
      return write(make_response(head.version(), false, request_too_large(head, id), id));
    }
    if (ec == http::error::header_limit) {
      // The header is unread past the limit: a plain answer, then close.
      protocol::EncodedResponse answer;
      answer.status = 431;
      answer.content_type = "text/plain";
      answer.body = "Request header too large\n";
      return write(make_response(11, false, std::move(answer), {}));
    }
    if (ec) return close();
    exchange_.request = parser_->release();
    read_reserve_ = std::clamp<size_t>(exchange_.request.body().size() + 1024, 1024, 16384);
    beast::get_lowest_layer(stream_).expires_never();  // a long poll may take a while; the work bounds itself
    if (endpoint_->settings().access_log) {
      beast::error_code peer_ec;
      const auto remote = beast::get_lowest_layer(stream_).socket().remote_endpoint(peer_ec);
      exchange_.client = peer_ec ? net::ip::address() : remote.address();
    }
    // Kept alive by this reference until answered (nothing else holds the
    // session while the endpoint works); nothing here touches the exchange
    // after serve, which may have answered already.
    serving_ = shared_from_this();
    endpoint_->serve(exchange_);
  }

  void on_answered() {
    auto self = std::move(serving_);
    net::dispatch(stream_.get_executor(), [self = std::move(self)] {
      Exchange& x = self->exchange_;
      self->write(make_response(x.request.version(), x.request.keep_alive(), std::move(x.response), x.request_id));
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
  std::shared_ptr<const SqsEndpoint> endpoint_;
  std::chrono::seconds timeout_;
  SessionExchange exchange_;
  std::shared_ptr<Session> serving_;  // this, while the endpoint answers
  beast::flat_buffer buffer_;
  size_t read_reserve_ = 1024;  // see read()
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
};

}  // namespace

HttpServer::HttpServer(net::io_context& io, std::vector<net::io_context*> workers, Services services)
    : workers_(std::move(workers)),
      settings_(services.settings),
      acceptor_(io),
      tls_acceptor_(io),
      endpoint_(std::make_shared<SqsEndpoint>(services, std::make_shared<EndpointState>())) {}

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
  const Settings& settings = settings_;
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
  endpoint_->state().stopping = true;
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
    if (!ec && endpoint_->state().open_connections.load() >= settings_.max_connections) {
      // Over the cap: a short answer (plain connections), then close.
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
          "Connection: close\r\n\r\nToo many connections\n";
      beast::error_code ignored;
      if (!tls) net::write(socket, net::buffer(kBusy), ignored);
      socket.shutdown(tcp::socket::shutdown_both, ignored);
      socket.close(ignored);
    } else if (!ec && tls) {
      std::make_shared<Session<TlsStream>>(endpoint_, std::move(socket), *tls_context_)->start();
    } else if (!ec) {
      std::make_shared<Session<PlainStream>>(endpoint_, std::move(socket))->start();
    }
    accept(acceptor, tls);
  });
}

}  // namespace wharf::server
