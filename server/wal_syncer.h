// Group commit for --durability=fsync: answers wait until a WAL sync that
// started after their write has finished; one fsync covers every request
// that arrived while the previous one ran. No I/O thread waits: a dedicated
// thread syncs and then calls the answers back.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/sqs_error.h"
#include "storage/engine.h"

namespace wharf::server {

class WalSyncer {
 public:
  explicit WalSyncer(storage::Engine& engine);
  ~WalSyncer();

  // Calls `done` (from the syncer's thread) once everything written before
  // this call is on disk, or with the error if the sync failed.
  void after_sync(std::function<void(Status)> done);
  void stop();

 private:
  struct Waiter {
    uint64_t position;
    std::function<void(Status)> done;
  };
  void run();

  storage::Engine& engine_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::vector<Waiter> waiting_;
  uint64_t synced_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace wharf::server
