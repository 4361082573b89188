// HTTP/1.1 front end: accepts connections, reads requests within limits,
// hands each to the request pipeline (server/sqs_endpoint.h), writes the
// answer; keep-alive. Network I/O only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/sqs_endpoint.h"

namespace wharf::server {

class HttpServer {
 public:
  // Listens on `io`; each new connection lives on one of `workers` (in
  // turn), each run by one thread, so a connection's handlers never run
  // concurrently and need no strand.
  HttpServer(boost::asio::io_context& io, std::vector<boost::asio::io_context*> workers, Services services);

  // Binds and listens (and on the TLS port when a certificate is set); on
  // failure returns false with a message.
  bool listen(std::string& error);
  uint16_t port() const;
  uint16_t tls_port() const;  // 0 without TLS
  // Stops accepting; from then on /ready answers 503 "stopping" on the
  // connections still open.
  void stop();

 private:
  void accept(boost::asio::ip::tcp::acceptor& acceptor, bool tls);

  std::vector<boost::asio::io_context*> workers_;
  size_t next_worker_ = 0;
  const Settings& settings_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tls_acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;
  // Shared with the connections, which may end after the server object.
  std::shared_ptr<const SqsEndpoint> endpoint_;
};

}  // namespace wharf::server
