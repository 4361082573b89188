// wharf-bench: load generator and checker for Amazon SQS-compatible servers.
#include <atomic>
#include <csignal>
#include <iostream>

#include "options.h"
#include "report.h"
#include "scenarios.h"

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) {
  g_interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

// Exit codes: 0 ok, 1 a check failed (lost, duplicate, out of order or corrupt
// messages), 2 bad usage, 3 the endpoint or the queue could not be set up.
int main(int argc, char** argv) {
  using namespace wharf::bench;
  BenchOptions options;
  if (auto code = parse_options(argc, argv, options)) return *code;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::signal(SIGPIPE, SIG_IGN);
  RunResult result;
  try {
    result = run_scenario(options, g_interrupted);
  } catch (const std::exception& e) {
    std::cerr << "wharf-bench: " << e.what() << "\n";
    return 3;
  }
  if (options.json) {
    print_json(std::cout, result);
  } else {
    print_text(std::cout, result);
  }
  return verdict(result);
}
