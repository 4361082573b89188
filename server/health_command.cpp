#include "server/health_command.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace wharf::server {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeout = std::chrono::seconds(2);

int usage(std::ostream& out, int code) {
  out << "usage: wharf health [--host ADDRESS] [--port N]\n"
         "  GET /health from a running wharf (default 127.0.0.1, port $WHARF_PORT or 9324);\n"
         "  exit 0 when it answers 200, 1 otherwise, within 2 seconds.\n"
         "  ADDRESS is numeric (IPv4 or IPv6) or localhost.\n";
  return code;
}

// Milliseconds left before the deadline, at least 0.
int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? int(left) : 0;
}

// Waits until fd is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A numeric address (IPv4, IPv6 with or without brackets) or "localhost".
struct Address {
  sockaddr_storage storage{};
  socklen_t size = 0;
  std::string numeric;  // without brackets
};

bool parse_address(const std::string& host, uint16_t port, Address& address) {
  address.numeric = host == "localhost" ? "127.0.0.1" : host;
  std::string& numeric = address.numeric;
  if (numeric.size() > 2 && numeric.front() == '[' && numeric.back() == ']')
    numeric = numeric.substr(1, numeric.size() - 2);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (::inet_pton(AF_INET, numeric.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address.size = sizeof(sockaddr_in);
    return true;
  }
  if (::inet_pton(AF_INET6, numeric.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address.size = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

// Connects the non-blocking socket fd, waiting until the deadline at most.
bool connect_until(int fd, const Address& address, Clock::time_point deadline, std::string& error) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.size) == 0) return true;
  if (errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    return false;
  }
  if (!wait_for(fd, POLLOUT, deadline)) {
    error = "connect: timed out";
    return false;
  }
  int so_error = 0;
  socklen_t size = sizeof so_error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &size);
  if (so_error != 0) {
    error = std::string("connect: ") + std::strerror(so_error);
    return false;
  }
  return true;
}

bool send_all(int fd, std::string_view request, Clock::time_point deadline, std::string& error) {
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += size_t(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, POLLOUT, deadline)) {
        error = "send: timed out";
        return false;
      }
    } else {
      error = std::string("send: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// Reads until the end of the first line (or 4 KiB, or the end of the stream):
// only the status line matters, "HTTP/1.1 200 OK\r\n".
bool read_first_line(int fd, Clock::time_point deadline, std::string& answer, std::string& error) {
  while (answer.find("\r\n") == std::string::npos && answer.size() < 4096) {
    char buffer[1024];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      answer.append(buffer, size_t(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!wait_for(fd, POLLIN, deadline)) {
        error = "no answer within 2 s";
        return false;
      }
    } else {
      error = std::string("recv: ") + std::strerror(errno);
      return false;
    }
  }
  return true;
}

// The status code of an HTTP answer's first line; -1 when it is not one.
int status_of(std::string_view answer, std::string& error) {
  std::string_view line = answer.substr(0, answer.find("\r\n"));
  int status = 0;
  if (line.substr(0, 5) != "HTTP/" || line.find(' ') == std::string_view::npos) {
    error = "not an HTTP answer";
    return -1;
  }
  std::string_view code = line.substr(line.find(' ') + 1, 3);
  if (std::from_chars(code.data(), code.data() + code.size(), status).ec != std::errc()) {
    error = "not an HTTP answer";
    return -1;
  }
  return status;
}

// The status code of one GET /health; -1 with an error message when there is
// none, -2 when the host is not an address this command can use.
int probe(const std::string& host, uint16_t port, std::string& error) {
  Address address;
  if (!parse_address(host, port, address)) {
    error = "--host must be a numeric address or localhost: " + host;
    return -2;
  }
  const auto deadline = Clock::now() + kTimeout;
  Fd fd(::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (!connect_until(fd.get(), address, deadline, error)) return -1;
  const std::string authority = address.storage.ss_family == AF_INET6 ? "[" + address.numeric + "]" : address.numeric;
  const std::string request = "GET /health HTTP/1.1\r\nHost: " + authority + ":" + std::to_string(port) +
                              "\r\nUser-Agent: wharf-health\r\nConnection: close\r\n\r\n";
  if (!send_all(fd.get(), request, deadline, error)) return -1;
  std::string answer;
  if (!read_first_line(fd.get(), deadline, answer, error)) return -1;
  return status_of(answer, error);
}

}  // namespace

int health_command(int argc, char** argv) {
  std::string host = "127.0.0.1";
  long port = 9324;
  // The server's own WHARF_PORT, when the container sets it.
  if (const char* env = std::getenv("WHARF_PORT")) {
    std::string_view text(env);
    long value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && value >= 1 && value <= 65535) port = value;
  }
  for (int i = 1; i < argc; ++i) {
    std::string_view arg(argv[i]);
    std::string_view value;
    std::string_view name = arg;
    if (auto eq = arg.find('='); eq != std::string_view::npos && arg.substr(0, 2) == "--") {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else if ((arg == "--host" || arg == "--port") && i + 1 < argc) {
      value = argv[++i];
    }
    if (name == "-h" || name == "--help") return usage(std::cout, 0);
    if (name == "--host" && !value.empty()) {
      host = std::string(value);
    } else if (name == "--port" && !value.empty()) {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), port);
      if (ec != std::errc() || end != value.data() + value.size() || port < 1 || port > 65535) {
        std::cerr << "wharf health: --port must be 1 to 65535\n";
        return 1;
      }
    } else {
      std::cerr << "wharf health: unexpected argument " << arg << "\n";
      return usage(std::cerr, 1);
    }
  }
  std::string error;
  int status = probe(host, uint16_t(port), error);
  if (status == -2) {
    std::cerr << "wharf health: " << error << "\n";
    return 1;
  }
  if (status == 200) {
    std::cout << "ok\n";
    return 0;
  }
  if (status > 0) {
    std::cerr << "wharf health: " << host << ":" << port << " answered HTTP " << status << "\n";
  } else {
    std::cerr << "wharf health: " << host << ":" << port << ": " << error << "\n";
  }
  return 1;
}

}  // namespace wharf::server
