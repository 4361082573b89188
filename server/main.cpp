// wharf: an Amazon SQS-compatible message queue server.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "server/accounts.h"
#include "server/authentication.h"
#include "server/config.h"
#include "server/health_command.h"
#include "server/http_server.h"
#include "server/long_polls.h"
#include "server/scheduler.h"
#include "server/settings.h"
#include "server/wal_syncer.h"
#include "storage/engine.h"

using wharf::server::Settings;

namespace {

// Exit codes: 0 clean stop, 1 bad usage, 2 data dir unusable, 3 cannot listen.
// Credentials never come from the command line, where `ps` would show them.
int load_credentials(bool auth, const std::string& file, Settings& s) {
  std::string text;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "wharf: cannot read --credentials-file " << file << "\n";
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (const char* env = std::getenv("WHARF_CREDENTIALS")) {
    text = env;
  }
  if (!auth && file.empty()) return -1;
  auto credentials = wharf::server::parse_credentials(text);
  if (!credentials) {
    std::cerr << "wharf: " << credentials.error().message << "\n";
    return 1;
  }
  if (credentials->empty()) {
    std::cerr << "wharf: --auth needs credentials in WHARF_CREDENTIALS or --credentials-file\n";
    return 1;
  }
  s.credentials = std::move(credentials.value());
  return -1;
}

// Flags, environment and config file (server/config.h), then the
// credentials they point to.
int parse_settings(int argc, char** argv, Settings& s, std::vector<wharf::server::DeclaredQueue>& queues) {
  wharf::server::StartupConfig config;
  config.settings = s;
  if (int code = wharf::server::load_config(argc, argv, wharf::server::process_environment, config, std::cout, std::cerr);
      code >= 0) {
    return code;
  }
  s = std::move(config.settings);
  queues = std::move(config.queues);
  return load_credentials(config.auth, config.credentials_file, s);
}

}  // namespace

// Connections need file descriptors: take the hard limit.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "health") return wharf::server::health_command(argc - 1, argv + 1);
  Settings settings;
  std::vector<wharf::server::DeclaredQueue> declared_queues;
  if (int code = parse_settings(argc, argv, settings, declared_queues); code >= 0) return code;
  raise_fd_limit();

  std::string error;
  const unsigned threads = settings.threads ? settings.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));
  wharf::server::LongPolls long_polls(io, settings.max_long_polls);
  wharf::server::Accounts accounts;
  if (!accounts.open(io, settings, long_polls, error)) {
    std::cerr << "wharf: " << error << "\n";
    return 2;
  }
  if (!wharf::server::apply_declared_queues(*accounts.own().engine, declared_queues, error)) {
    std::cerr << "wharf: " << error << "\n";
    return 1;
  }
  wharf::server::HttpServer http(io, {settings, accounts, long_polls});
  if (!http.listen(error)) {
    std::cerr << "wharf: " << error << "\n";
    return 3;
  }
  accounts.start();
  std::cout << "wharf " WHARF_VERSION " listening on " << settings.bind << ":" << http.port() << ", data dir "
            << settings.data_dir << ", durability " << (settings.fsync ? "fsync" : "wal") << ", auth "
            << (settings.credentials.empty() ? "off" : "sigv4");
  if (http.tls_port()) std::cout << ", tls on " << settings.bind << ":" << http.tls_port();
  std::cout << std::endl;

  // Stop: no new connections, long polls answered (empty), a moment for the
  // answers to be written, then the threads end and RocksDB is closed.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer drain(io);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    std::cout << "wharf stopping" << std::endl;
    http.stop();
    accounts.stop();
    long_polls.shutdown();
    drain.expires_after(std::chrono::milliseconds(200));
    drain.async_wait([&](const boost::system::error_code&) { io.stop(); });
  });

  // A handler that throws is a bug; log it and keep the thread serving.
  auto serve = [&io] {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        std::cerr << "wharf: internal error: " << e.what() << std::endl;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < threads; ++i) pool.emplace_back(serve);
  serve();
  for (auto& t : pool) t.join();
  accounts.close();
  std::cout << "wharf stopped" << std::endl;
  return 0;
}
