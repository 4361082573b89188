// One keep-alive HTTP/1.1 connection (plain or TLS) that sends signed POSTs.
// A connection belongs to one io_context run by one thread: no locking.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "sigv4.h"

namespace wharf::bench {

struct Endpoint {
  bool tls = false;
  std::string host;  // name or address to connect to
  std::string port;
  std::string host_header;  // host[:port] as sent and signed
  boost::asio::ip::tcp::resolver::results_type addresses;
};

// Parses http[s]://host[:port][/...]; the path is ignored. Throws on bad input.
Endpoint parse_endpoint(const std::string& url);

struct HttpCall {
  std::string path = "/";
  std::string content_type;
  std::string amz_target;  // empty: no X-Amz-Target header
  std::string body;
};

struct HttpReply {
  boost::system::error_code transport_error;
  int status = 0;
  std::string body;
  bool ok() const { return !transport_error && status >= 200 && status < 300; }
};

class HttpConnection {
 public:
  HttpConnection(boost::asio::io_context& io, const Endpoint& endpoint, SigV4Signer& signer,
                 boost::asio::ssl::context* tls);

  // Sends one request and reads its answer, reconnecting first when the last
  // exchange failed or the server closed. Never throws for network errors.
  boost::asio::awaitable<HttpReply> exchange(const HttpCall& call, std::chrono::steady_clock::duration timeout);

  // Connects now unless connected already.
  boost::asio::awaitable<boost::system::error_code> open(std::chrono::steady_clock::duration timeout);

  // Closes the socket from any thread; a pending exchange ends with an error.
  void cancel();

  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::awaitable<boost::system::error_code> connect(std::chrono::steady_clock::duration timeout);
  boost::beast::tcp_stream& tcp();
  void close();

  boost::asio::io_context& io_;
  const Endpoint& endpoint_;
  SigV4Signer& signer_;
  boost::asio::ssl::context* tls_context_;
  std::optional<boost::beast::tcp_stream> plain_;
  std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
  boost::beast::flat_buffer buffer_;
  bool open_ = false;
};

}  // namespace wharf::bench
