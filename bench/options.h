// Command-line options of wharf-bench.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sigv4.h"

namespace wharf::bench {

enum class Protocol { Json, Query };
enum class Scenario { Send, SendBatch, RecvDel, Pipeline, Fifo, LongPoll, Backlog };

const char* to_string(Protocol p);
const char* to_string(Scenario s);

struct BenchOptions {
  // One URL, or several separated by commas (nodes of one store): connection i
  // goes to endpoint i mod n; queue set-up and clean-up go to the first.
  std::string endpoint = "http://127.0.0.1:9324";
  Protocol protocol = Protocol::Json;
  Scenario scenario = Scenario::Send;
  unsigned connections = 16;
  double duration_s = 10;
  size_t size = 256;     // message body bytes
  unsigned groups = 16;  // fifo: message groups
  unsigned batch = 0;    // messages per send request (0: the scenario's default)
  double rate = 0;       // producers' total messages/s (0: as fast as they can; longpoll: 100)
  uint64_t prefill = 0;  // recvdel/backlog: messages sent before the timed phase (0: scenario default)
  bool prefill_set = false;
  std::string queue;             // use this queue instead of creating one
  std::vector<int> server_pids;  // their CPU and memory are added up
  Credentials credentials;
  unsigned threads = 0;         // client I/O threads (0: automatic)
  double drain_timeout_s = 10;  // give up draining after this long without progress
  bool verify_drain = false;    // recvdel/backlog: keep draining (untimed) after the duration
  bool json = false;
  bool keep_queue = false;
  int visibility_timeout = 60;
  bool quiet = false;
};

// Parses argv; returns an exit code (0 for --help) when the program should stop.
std::optional<int> parse_options(int argc, char** argv, BenchOptions& out);

}  // namespace wharf::bench
