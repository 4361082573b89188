// CPU and memory of a process, from /proc (Linux), and of this process.
#pragma once

#include <vector>

namespace wharf::bench {

struct ProcessSample {
  bool ok = false;
  double cpu_seconds = 0;  // utime + stime
  long peak_rss_kb = 0;    // VmHWM
  long rss_kb = 0;         // VmRSS
};

ProcessSample sample_process(int pid);
// The sum over several processes (ok only when every one was read).
ProcessSample sample_processes(const std::vector<int>& pids);
double own_cpu_seconds();

// All cores together, from /proc/stat: seconds busy (not idle or iowait).
struct HostSample {
  bool ok = false;
  double busy_seconds = 0;
};
HostSample sample_host();

}  // namespace wharf::bench
