// wharf: an Amazon SQS-compatible message queue server.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/program_options.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "server/authentication.h"
#include "server/http_server.h"
#include "server/long_polls.h"
#include "server/scheduler.h"
#include "server/settings.h"
#include "server/wal_syncer.h"
#include "storage/engine.h"

namespace po = boost::program_options;
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

int parse_settings(int argc, char** argv, Settings& s) {
  std::string durability;
  bool auth = false;
  std::string credentials_file;
  po::options_description options("wharf " WHARF_VERSION " - an Amazon SQS-compatible message queue server\n\nOptions");
  options.add_options()
      ("help,h", "show this help and exit")
      ("version", "show the version and exit")
      ("port,p", po::value<uint16_t>(&s.port)->default_value(s.port), "TCP port (0 picks a free one)")
      ("bind,b", po::value<std::string>(&s.bind)->default_value(s.bind), "address to listen on")
      ("data-dir,d", po::value<std::string>(&s.data_dir)->default_value(s.data_dir), "RocksDB data directory")
      ("account-id", po::value<std::string>(&s.account_id)->default_value(s.account_id), "account id in queue URLs and ARNs")
      ("region", po::value<std::string>(&s.region)->default_value(s.region), "region in queue ARNs")
      ("durability", po::value<std::string>(&durability)->default_value("wal"),
       "wal: each acknowledged change is in the write-ahead log (survives a crash of the process); "
       "fsync: and fsynced before the answer, with group commit (survives power loss)")
      ("max-connections", po::value<unsigned>(&s.max_connections)->default_value(s.max_connections),
       "open connections at most; past it new ones get HTTP 503 and are closed")
      ("max-long-polls", po::value<unsigned>(&s.max_long_polls)->default_value(s.max_long_polls),
       "waiting long polls at most; past it a long poll gets ServiceUnavailable")
      ("idle-timeout", po::value<unsigned>(&s.idle_timeout_seconds)->default_value(s.idle_timeout_seconds),
       "seconds a connection may take to send a complete request (slow clients are closed)")
      ("auth", po::bool_switch(&auth), "verify SigV4 signatures; credentials (KEY:SECRET, comma-separated) come "
       "from the environment variable WHARF_CREDENTIALS or the file given by --credentials-file")
      ("credentials-file", po::value<std::string>(&credentials_file), "file of KEY:SECRET lines (implies --auth)")
      ("tls-port", po::value<uint16_t>(&s.tls_port)->default_value(s.tls_port), "TLS port, with --tls-cert (0 picks one)")
      ("tls-cert", po::value<std::string>(&s.tls_cert), "PEM certificate chain: serve HTTPS on --tls-port too")
      ("tls-key", po::value<std::string>(&s.tls_key), "PEM private key of --tls-cert")
      ("threads", po::value<unsigned>(&s.threads)->default_value(0), "worker threads (0: one per core)")
      ("dedup-window-seconds", po::value<int>(&s.dedup_window_seconds)->default_value(s.dedup_window_seconds),
       "FIFO deduplication and ReceiveRequestAttemptId window (AWS: 300; lower it only for tests)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, options), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "wharf: " << e.what() << "\n" << options << "\n";
    return 1;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "wharf " WHARF_VERSION "\n";
    return 0;
  }
  if (durability != "wal" && durability != "fsync") {
    std::cerr << "wharf: --durability must be wal or fsync\n";
    return 1;
  }
  s.fsync = durability == "fsync";
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    std::cerr << "wharf: --tls-cert and --tls-key go together\n";
    return 1;
  }
  if (int code = load_credentials(auth, credentials_file, s); code >= 0) return code;
  if (s.dedup_window_seconds < 1 || s.dedup_window_seconds > 300) {
    std::cerr << "wharf: --dedup-window-seconds must be 1 to 300\n";
    return 1;
  }
  if (s.account_id.size() != 12 || s.account_id.find_first_not_of("0123456789") != std::string::npos) {
    std::cerr << "wharf: --account-id must be 12 digits\n";
    return 1;
  }
  return -1;
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
  Settings settings;
  if (int code = parse_settings(argc, argv, settings); code >= 0) return code;
  raise_fd_limit();

  std::string error;
  wharf::storage::EngineOptions engine_options;
  engine_options.data_dir = settings.data_dir;
  engine_options.region = settings.region;
  engine_options.account_id = settings.account_id;
  engine_options.dedup_window_ms = int64_t(settings.dedup_window_seconds) * 1000;
  auto engine = wharf::storage::open_rocksdb_engine(engine_options, error);
  if (!engine) {
    std::cerr << "wharf: " << error << "\n";
    return 2;
  }

  const unsigned threads = settings.threads ? settings.threads : std::max(1u, std::thread::hardware_concurrency());
  boost::asio::io_context io(static_cast<int>(threads));
  wharf::server::LongPolls long_polls(io, settings.max_long_polls);
  wharf::server::Scheduler scheduler(io, *engine, long_polls);
  std::unique_ptr<wharf::server::WalSyncer> syncer;
  if (settings.fsync) syncer = std::make_unique<wharf::server::WalSyncer>(*engine);
  wharf::server::HttpServer http(io, {settings, *engine, long_polls, syncer.get()});
  if (!http.listen(error)) {
    std::cerr << "wharf: " << error << "\n";
    return 3;
  }
  scheduler.start();
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
    scheduler.stop();
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
  if (syncer) syncer->stop();
  engine.reset();
  std::cout << "wharf stopped" << std::endl;
  return 0;
}
