// The server's request path without a socket, for the request-level fuzz
// targets: each request goes through server::SqsEndpoint, the same pipeline
// the server's connections call (decode, route, run the action against a
// real RocksDB engine, encode, count), with authentication off so that
// requests reach the decoder.
//
// One engine per process (a temp dir, removed at exit), kept across inputs;
// queues are deleted every few hundred inputs so memory stays bounded. Time
// is a fake clock that each request moves on, so visibility timeouts, delays,
// dedup windows and move tasks run without sleeping.
//
// Checks beyond the sanitizers (each aborts, so libFuzzer keeps the input):
//  - no exception is thrown by decoding, a handler or encoding (DESIGN.md:
//    invalid input is a typed SqsError; exceptions are bugs; the endpoint
//    answers them with InternalError and reports them), unless
//    WHARF_FUZZ_ALLOW_EXCEPTIONS=1;
//  - every request is answered exactly once (long polls included);
//  - with WHARF_FUZZ_STRICT=1 also: no InternalError (500); JSON answers parse;
//    XML answers hold only characters XML 1.0 allows, in valid UTF-8;
//  - with WHARF_FUZZ_STACK_KB=n, requests run on an n KiB stack, so deep
//    recursion shows up with small inputs.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/codec.h"
#include "server/accounts.h"
#include "server/long_polls.h"
#include "server/settings.h"
#include "server/sqs_endpoint.h"
#include "storage/engine.h"
#include "tests/fuzz/fuzz_support.h"

namespace wharf::fuzz {

class Harness;

// Runs one fuzz input's work: inline, or with WHARF_FUZZ_STACK_KB=n on a
// worker thread with an n KiB stack (see Harness::stack_kb).
void run_input(const std::function<void()>& work);

// One fuzz input: a sequence of requests sharing an io_context, so that a
// long poll left waiting by one request can be woken by a later send. At the
// end every waiting long poll is expired and every request must have been
// answered.
class Session {
 public:
  explicit Session(Harness& harness);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  using OnResponse = std::function<void(const server::Exchange&)>;

  // One HTTP request as the server sees it after Beast parsed it (Host
  // `host` unless empty); `on_response` (if any) gets the answered exchange,
  // perhaps later (long polls). Placeholders ("$RH<n>", "$TH") in its body
  // and query string become live handles first.
  void request(const protocol::HttpRequestView& view, std::string_view host = "localhost:9324",
               OnResponse on_response = {}, bool tls = false);
  void request(server::HttpRequest request, OnResponse on_response = {}, bool tls = false);

  // Moves the fake clock and runs the engine's due work.
  void advance_ms(int64_t ms);

  size_t answered() const { return answered_; }

 private:
  struct Pending;
  void answer(Pending& pending);
  void poll();

  Harness& harness_;
  boost::asio::io_context io_;
  server::LongPolls long_polls_;
  server::SqsEndpoint endpoint_;
  std::deque<std::shared_ptr<Pending>> pending_;
  size_t answered_ = 0;
};

class Harness {
 public:
  // The process-wide engine (created on first use).
  static Harness& instance();

  storage::Engine& engine() { return *accounts_.own().engine; }
  server::Accounts& accounts() { return accounts_; }
  const server::Settings& settings() const { return settings_; }
  int64_t now_ms() const { return now_ms_; }
  void advance_ms(int64_t ms);

  // Called at the start of each input: bounds the number of queues.
  void begin_input();

  // Receipt handles of recent receives, newest first, and task handles.
  void remember_receipt(const std::string& handle);
  void remember_task(const std::string& handle);
  // Reads the handles an answer carries (JSON or XML).
  void remember_handles(const server::Exchange& answered);
  // "$RH" / "$RH<n>" -> the n-th newest receipt handle; "$TH" -> task handle;
  // whole JSON strings ("$RH1") or form values (=$RH1 or =%24RH1, the handle
  // percent-encoded).
  void substitute_placeholders(std::string& text) const;

  // The Session currently running, whose long polls the engine wakes.
  Session* current = nullptr;
  server::LongPolls* current_long_polls = nullptr;

  bool strict = false;
  // WHARF_FUZZ_ALLOW_EXCEPTIONS=1: an exception is answered with
  // InternalError as the server does (logged once per kind), not a finding;
  // for fuzzing past a known bug.
  bool allow_exceptions = false;
  void note_exception(const std::string& what);
  // WHARF_FUZZ_STACK_KB=n: run_input runs each input on a thread with an
  // n KiB stack (the server's threads have 8 MiB), so that recursion over
  // input nesting overflows at the input sizes the fuzzer tries. 0: inline.
  size_t stack_kb = 0;
  std::string dump_results_dir;  // WHARF_FUZZ_DUMP_RESULTS: write each result JSON there

 private:
  Harness();
  ~Harness();

  server::Settings settings_;
  std::string dir_;
  int64_t now_ms_ = 1'767'225'600'000;  // 2026-01-01
  server::Accounts accounts_;           // one account, its engine on the fake clock
  std::unique_ptr<storage::EngineListener> listener_;
  std::vector<std::string> receipts_;
  std::vector<std::string> tasks_;
  uint64_t inputs_ = 0;
  std::set<std::string> exceptions_seen_;
};

}  // namespace wharf::fuzz
