#include "http_connection.h"

#include <openssl/err.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

namespace wharf::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Endpoint parse_endpoint(const std::string& url) {
  Endpoint e;
  std::string rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    e.tls = true;
    rest = url.substr(8);
  } else {
    throw std::invalid_argument("endpoint must start with http:// or https://: " + url);
  }
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  if (authority.empty()) throw std::invalid_argument("endpoint has no host: " + url);
  // [v6]:port, host:port or host
  std::string host = authority, port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) throw std::invalid_argument("bad IPv6 endpoint: " + url);
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  e.host = host;
  e.port = port.empty() ? (e.tls ? "443" : "80") : port;
  e.host_header = authority;  // as the user wrote it, which is what SDKs sign too
  return e;
}

HttpConnection::HttpConnection(net::io_context& io, const Endpoint& endpoint, SigV4Signer& signer,
                               net::ssl::context* tls)
    : io_(io), endpoint_(endpoint), signer_(signer), tls_context_(tls) {}

beast::tcp_stream& HttpConnection::tcp() { return tls_ ? tls_->next_layer() : *plain_; }

void HttpConnection::close() {
  if (!plain_ && !tls_) return;
  beast::error_code ignored;
  auto& socket = tcp().socket();
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
  open_ = false;
}

void HttpConnection::cancel() {
  net::post(io_, [this] { close(); });
}

net::awaitable<beast::error_code> HttpConnection::connect(std::chrono::steady_clock::duration timeout) {
  beast::error_code ec;
  plain_.reset();
  tls_.reset();
  buffer_.clear();
  if (endpoint_.tls) {
    tls_.emplace(io_, *tls_context_);
    if (!SSL_set_tlsext_host_name(tls_->native_handle(), endpoint_.host.c_str())) {
      co_return beast::error_code(static_cast<int>(::ERR_get_error()), net::error::get_ssl_category());
    }
    tls_->set_verify_callback(net::ssl::host_name_verification(endpoint_.host));
  } else {
    plain_.emplace(io_);
  }
  tcp().expires_after(timeout);
  co_await tcp().async_connect(endpoint_.addresses, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return ec;
  tcp().socket().set_option(tcp::no_delay(true), ec);
  ec = {};
  if (tls_) {
    co_await tls_->async_handshake(net::ssl::stream_base::client, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return ec;
  }
  open_ = true;
  co_return ec;
}

net::awaitable<beast::error_code> HttpConnection::open(std::chrono::steady_clock::duration timeout) {
  if (open_) co_return beast::error_code{};
  auto ec = co_await connect(timeout);
  if (ec) close();
  co_return ec;
}

net::awaitable<HttpReply> HttpConnection::exchange(const HttpCall& call, std::chrono::steady_clock::duration timeout) {
  HttpReply reply;
  if (!open_) {
    if (auto ec = co_await connect(std::min<std::chrono::steady_clock::duration>(timeout, std::chrono::seconds(10)))) {
      close();
      reply.transport_error = ec;
      co_return reply;
    }
  }
  const auto signed_headers = signer_.sign(endpoint_.host_header, call.path, call.content_type, call.amz_target,
                                           call.body, std::chrono::system_clock::now());
  http::request<http::string_body> request{http::verb::post, call.path, 11};
  request.set(http::field::host, endpoint_.host_header);
  request.set(http::field::content_type, call.content_type);
  if (!call.amz_target.empty()) request.set("X-Amz-Target", call.amz_target);
  request.set("X-Amz-Date", signed_headers.amz_date);
  request.set(http::field::authorization, signed_headers.authorization);
  request.keep_alive(true);
  request.body() = call.body;
  request.prepare_payload();

  beast::error_code ec;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256ull * 1024 * 1024);
  tcp().expires_after(timeout);
  if (tls_) {
    co_await http::async_write(*tls_, request, net::redirect_error(net::use_awaitable, ec));
    if (!ec) co_await http::async_read(*tls_, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
  } else {
    co_await http::async_write(*plain_, request, net::redirect_error(net::use_awaitable, ec));
    if (!ec) co_await http::async_read(*plain_, buffer_, parser, net::redirect_error(net::use_awaitable, ec));
  }
  if (ec) {
    close();
    reply.transport_error = ec;
    co_return reply;
  }
  tcp().expires_never();
  auto response = parser.release();
  reply.status = static_cast<int>(response.result_int());
  reply.body = std::move(response.body());
  if (!response.keep_alive()) close();
  co_return reply;
}

}  // namespace wharf::bench
