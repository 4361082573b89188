#include "server/wal_syncer.h"

namespace wharf::server {

WalSyncer::WalSyncer(storage::Engine& engine) : engine_(engine), thread_([this] { run(); }) {}

WalSyncer::~WalSyncer() { stop(); }

void WalSyncer::after_sync(std::function<void(Status)> done) {
  const uint64_t position = engine_.log_position();
  bool stopping;
  {
    std::lock_guard lock(mu_);
    if (position <= synced_) {
      stopping = false;
    } else if (!stopping_) {
      waiting_.push_back(Waiter{position, std::move(done)});
      wake_.notify_one();
      return;
    } else {
      stopping = true;
    }
  }
  // Nothing new since the last sync; or shutting down: sync here.
  done(stopping ? engine_.sync_log() : Status(Ok{}));
}

void WalSyncer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

void WalSyncer::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty() && stopping_) return;
    // Everything written up to `target` is covered by the sync below;
    // requests that arrive meanwhile wait for the next one.
    const uint64_t target = engine_.log_position();
    std::vector<Waiter> batch;
    batch.swap(waiting_);
    lock.unlock();
    const Status status = engine_.sync_log();
    for (auto& waiter : batch) waiter.done(status);
    lock.lock();
    if (status) synced_ = std::max(synced_, target);
  }
}

}  // namespace wharf::server
