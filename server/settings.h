// Process settings, from the command line.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "server/authentication.h"

namespace wharf::server {

struct Settings {
  std::string bind = "0.0.0.0";
  uint16_t port = 9324;
  std::string data_dir = "./data";
  std::string account_id = "000000000000";
  std::string region = "us-east-1";
  std::string public_url;              // base of queue URLs, scheme://host[:port]; "": from each request's Host header
  unsigned threads = 0;                // 0: request_threads() picks
  unsigned max_connections = 20000;    // past it, new connections get a 503 and are closed
  unsigned max_long_polls = 20000;     // past it, a long poll gets ServiceUnavailable
  unsigned idle_timeout_seconds = 60;  // a connection that sends no complete request for this long is closed
  bool fsync = false;
  // TLS on a second port when a certificate is given.
  uint16_t tls_port = 9325;
  std::string tls_cert;
  std::string tls_key;
  // SigV4 verification: on when there are credentials (access key -> secret
  // and account).
  Credentials credentials;
  unsigned min_free_disk_mb = 256;         // below it sends are refused; RocksDB never meets a full disk
  int dedup_window_seconds = 300;          // FIFO deduplication window; AWS's is 300, lower only for tests
  int queue_delete_cooldown_seconds = 60;  // a deleted queue's name is refused this long (AWS: 60; 0: off)
  std::string log_level = "info";          // debug, info, warn, error or off
  bool log_json = false;                   // one JSON object per line instead of text
  bool access_log = false;                 // a line per SQS request
  bool auto_create_queues = false;         // a missing queue named by a URL is created on first use
  bool console = true;                     // the web console at /console
  bool dev_api = false;                    // POST /_wharf/reset (server/dev_api.h): for test suites
  // Where queues live: "rocksdb" (under data_dir) or "postgresql" (the
  // database postgres_url names, shared by any number of nodes).
  std::string storage = "rocksdb";
  // RocksDB in its in-memory Env instead of data_dir: nothing on disk,
  // every queue gone at exit; a throwaway server for a test suite
  // (server/ephemeral.h).
  bool ephemeral = false;
  std::string postgres_url;  // libpq's URL or key=value words
  // Several database groups instead (exclusive with postgres_url): the
  // file listing one URL per line, and the URLs read from it at start (the
  // first is the catalog group).
  std::string postgres_groups;
  std::vector<std::string> postgres_group_urls;
  unsigned postgres_connections = 0;  // 0: 2 per I/O thread, at least 2
  std::string postgres_schema = "wharf";
  // Settings given that the chosen storage ignores: warned of at start.
  std::vector<std::string> ignored_settings;
};

// The request threads to run: `threads` when given; otherwise one per core
// (`cores`: std::thread::hardware_concurrency(), 0 when unknown), except
// that the embedded RocksDB engine gets one on a machine of at most 2
// cores. That engine applies one operation at a time, so a second thread
// there mostly waits for the first and costs CPU in lock hand-offs and
// context switches: on 2 cores one thread cost 0-42% less server CPU per
// message, by scenario, for 4-25% less batched throughput at full load
// (bench/README.md, ninth session).
inline unsigned request_threads(const Settings& settings, unsigned cores) {
  if (settings.threads) return settings.threads;
  if (settings.storage != "postgresql" && cores <= 2) return 1;
  return std::max(1u, cores);
}

}  // namespace wharf::server
