// wharf: an Amazon SQS-compatible message queue server.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "server/accounts.h"
#include "server/authentication.h"
#include "server/config.h"
#include "server/ephemeral.h"
#include "server/health_command.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/long_polls.h"
#include "server/scheduler.h"
#include "server/settings.h"
#include "server/wal_syncer.h"
#include "storage/engine.h"

using wharf::server::Settings;

namespace {

// Exit codes: 0 clean stop, 1 bad usage, 2 storage unusable (data dir, or
// the PostgreSQL database: unreachable, refused, or settings that do not
// apply to it), 3 cannot listen.
// Credentials never come from the command line, where `ps` would show them.
int load_credentials(bool auth, const std::string& file, Settings& s) {
  std::string text;
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) {
      wharf::server::log::error("cannot read --credentials-file " + file);
      return 1;
    }
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (const char* env = std::getenv("WHARF_CREDENTIALS")) {
    text = env;
  }
  if (!auth && file.empty()) return -1;
  auto credentials = wharf::server::parse_credentials(text);
  if (!credentials) {
    wharf::server::log::error(credentials.error().message);
    return 1;
  }
  if (credentials->empty()) {
    wharf::server::log::error("--auth needs credentials in WHARF_CREDENTIALS or --credentials-file");
    return 1;
  }
  s.credentials = std::move(credentials.value());
  return -1;
}

// Problems with the configuration: as they are written (with the usage
// after a bad flag), or one JSON log line each when JSON logs were asked for.
void report_config_problems(const std::string& text, bool json) {
  if (!json) {
    std::cerr << text << std::flush;
    return;
  }
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("wharf: ")) wharf::server::log::error(line.substr(7));
  }
}

// Flags, environment and config file (server/config.h), then the
// credentials they point to.
int parse_settings(int argc, char** argv, Settings& s, std::vector<wharf::server::DeclaredQueue>& queues) {
  wharf::server::StartupConfig config;
  config.settings = s;
  std::ostringstream problems;
  const int code =
      wharf::server::load_config(argc, argv, wharf::server::process_environment, config, std::cout, problems);
  namespace log = wharf::server::log;
  log::configure(log::parse_level(config.settings.log_level), config.settings.log_json);
  if (code > 0) report_config_problems(problems.str(), config.settings.log_json);
  if (code >= 0) return code;
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

namespace {

// One io_context per thread; the first also runs the listeners, timers and
// signals.
struct IoThreads {
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts;
  std::vector<boost::asio::io_context*> workers;
  boost::asio::io_context& first() { return *workers.front(); }
};

IoThreads make_io_threads(unsigned threads) {
  IoThreads io;
  for (unsigned i = 0; i < threads; ++i) {
    io.contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    io.workers.push_back(io.contexts.back().get());
  }
  return io;
}

// The first line: test harnesses and scripts read the port from it. Then,
// whatever the log level and format, one line on stdout for harnesses that
// read the endpoint: WHARF_ENDPOINT=http://127.0.0.1:PORT.
void log_started(const Settings& settings, const wharf::server::HttpServer& http, size_t declared_queues,
                 unsigned threads) {
  namespace log = wharf::server::log;
  const std::string durability = std::string(", durability ") + (settings.fsync ? "fsync" : "wal");
  const std::string storage =
      settings.storage == "postgresql" ? "storage postgresql, schema " + settings.postgres_schema
      : settings.ephemeral             ? "storage rocksdb in memory (ephemeral: nothing on disk, gone at exit)"
                                       : "data dir " + settings.data_dir + durability;
  std::string started = "wharf " WHARF_VERSION " listening on " + settings.bind + ":" + std::to_string(http.port()) +
                        ", " + storage + ", auth " + (settings.credentials.empty() ? "off" : "sigv4");
  if (http.tls_port()) started += ", tls on " + settings.bind + ":" + std::to_string(http.tls_port());
  log::info(started, log::Fields()
                         .add("declared_queues", static_cast<int64_t>(declared_queues))
                         .add("threads", threads)
                         .add("console", settings.console ? "on" : "off")
                         .add("auto_create_queues", settings.auto_create_queues ? "on" : "off"));
  // One write, so that no other thread's log line splits it.
  const std::string endpoint = "WHARF_ENDPOINT=" + wharf::server::local_endpoint(settings.bind, http.port()) + "\n";
  std::fwrite(endpoint.data(), 1, endpoint.size(), stdout);
  std::fflush(stdout);
  // After the first line, which scripts read the port from.
  const std::string why = settings.ephemeral ? "an ephemeral server keeps its data in memory"
                                             : "it does not apply to storage " + settings.storage;
  for (const auto& key : settings.ignored_settings) {
    log::warn("setting ignored: " + why, log::Fields().add("setting", key));
  }
}

// Runs every context until the stop, with or without connections; this
// thread runs the first. A handler that throws is a bug; log it and keep
// the thread serving.
void serve_until_stopped(const std::vector<boost::asio::io_context*>& workers) {
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> keep_running;
  for (auto* worker : workers) keep_running.push_back(boost::asio::make_work_guard(*worker));
  auto serve = [](boost::asio::io_context& context) {
    for (;;) {
      try {
        context.run();
        return;
      } catch (const std::exception& e) {
        wharf::server::log::error("internal error", wharf::server::log::Fields().add("exception", e.what()));
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < workers.size(); ++i) pool.emplace_back(serve, std::ref(*workers[i]));
  serve(*workers.front());
  for (auto& t : pool) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "health") return wharf::server::health_command(argc - 1, argv + 1);
  Settings settings;
  std::vector<wharf::server::DeclaredQueue> declared_queues;
  if (int code = parse_settings(argc, argv, settings, declared_queues); code >= 0) return code;
  raise_fd_limit();

  namespace log = wharf::server::log;
  std::string error;
  // RocksDB's in-memory Env holds an ephemeral server's data (nothing on
  // disk, even after a SIGKILL): the data dir is only a name in it.
  if (settings.ephemeral) settings.data_dir = "/wharf-ephemeral";
  const unsigned threads = wharf::server::request_threads(settings, std::thread::hardware_concurrency());
  IoThreads io_threads = make_io_threads(threads);
  boost::asio::io_context& io = io_threads.first();
  wharf::server::LongPolls long_polls(io, settings.max_long_polls);
  wharf::server::Accounts accounts;
  if (!accounts.open(io, settings, long_polls, error)) {
    log::error(error);
    return 2;
  }
  // Before serving, on this thread (no I/O thread runs yet): the engine's
  // synchronous forms, which wait, are allowed here and nowhere a request runs.
  if (!wharf::server::apply_declared_queues(*accounts.own().engine, declared_queues, error)) {
    log::error(error);
    return 1;
  }
  wharf::server::HttpServer http(io, io_threads.workers, {settings, accounts, long_polls});
  if (!http.listen(error)) {
    log::error(error);
    return 3;
  }
  // Caught before the first line: a harness may stop the server as soon as
  // it has read it.
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  accounts.start();
  log_started(settings, http, declared_queues.size(), threads);

  // Stop: no new connections, long polls answered (empty), a moment for the
  // answers to be written, then the threads end and RocksDB is closed.
  boost::asio::steady_timer drain(io);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log::info("wharf stopping", log::Fields().add("signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"));
    http.stop();
    accounts.stop();
    long_polls.shutdown();
    drain.expires_after(std::chrono::milliseconds(200));
    drain.async_wait([&](const boost::system::error_code&) {
      for (auto* worker : io_threads.workers) worker->stop();
    });
  });

  serve_until_stopped(io_threads.workers);
  accounts.close();
  log::info("wharf stopped");
  return 0;
}
