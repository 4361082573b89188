#include "server/ephemeral.h"

#include <boost/asio/ip/address.hpp>

namespace wharf::server {

std::string local_endpoint(const std::string& bind, uint16_t port) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(bind, ec);
  std::string host = bind;
  if (!ec && address.is_unspecified()) {
    host = "127.0.0.1";  // a wildcard bind listens on IPv4 loopback too (Linux: bindv6only is 0)
  } else if (!ec && address.is_v6()) {
    host = "[" + bind + "]";
  }
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace wharf::server
