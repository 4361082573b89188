// Runs one scenario end to end: queue set-up, prefill, the timed phase, the
// drain, the checks and the clean-up.
#pragma once

#include <atomic>

#include "options.h"
#include "report.h"

namespace wharf::bench {

// Throws std::runtime_error when the endpoint or the queue cannot be set up.
RunResult run_scenario(const BenchOptions& options, const std::atomic<bool>& interrupted);

}  // namespace wharf::bench
