// HTTP/1.1 front end: accepts connections, reads requests within limits,
// hands each to the SQS router, writes the answer; keep-alive.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/accounts.h"
#include "server/long_polls.h"
#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

struct Services {
  const Settings& settings;
  Accounts& accounts;  // each with its engine and, with --durability=fsync, its syncer
  LongPolls& long_polls;
};

// What the server and its connections share: counted by every session,
// read by /metrics and /ready. Shared, because a session may end after the
// server object.
struct ServerState;

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
  Services services_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp::acceptor tls_acceptor_;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;
  std::shared_ptr<ServerState> state_;
};

}  // namespace wharf::server
