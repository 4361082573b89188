#include "server/accounts.h"

#include <set>

#include "storage/rocksdb/open.h"

namespace wharf::server {
namespace {

// The one place the server picks its storage backend; the backend knows
// where each account's data lives.
std::unique_ptr<storage::Engine> open_engine(const Settings& settings, const std::string& account_id, bool own_account,
                                             std::string& error) {
  storage::EngineOptions options;
  options.region = settings.region;
  options.account_id = account_id;
  options.dedup_window_ms = int64_t(settings.dedup_window_seconds) * 1000;
  options.queue_delete_cooldown_ms = int64_t(settings.queue_delete_cooldown_seconds) * 1000;
  storage::RocksOptions rocks;
  rocks.data_dir = settings.data_dir;
  rocks.send_reserve_bytes = int64_t(settings.min_free_disk_mb) << 20;
  rocks.write_floor_bytes = rocks.send_reserve_bytes / 4;
  return storage::open_rocksdb_account_engine(options, std::move(rocks), own_account, error);
}

}  // namespace

bool Accounts::open(boost::asio::io_context& io, const Settings& settings, LongPolls& long_polls, std::string& error) {
  own_id_ = settings.account_id;
  std::set<std::string> ids = {own_id_};
  for (const auto& [key, credential] : settings.credentials) {
    if (!credential.account_id.empty()) ids.insert(credential.account_id);
  }
  for (const auto& id : ids) {
    auto account = std::make_unique<Account>();
    account->id = id;
    account->region = settings.region;
    account->engine = open_engine(settings, id, id == own_id_, error);
    if (!account->engine) return false;
    account->scheduler = std::make_unique<Scheduler>(io, *account->engine, long_polls, id);
    if (settings.fsync) account->syncer = std::make_unique<WalSyncer>(*account->engine);
    accounts_[id] = std::move(account);
  }
  return true;
}

void Accounts::start() {
  for (auto& [id, account] : accounts_) account->scheduler->start();
}

void Accounts::stop() {
  for (auto& [id, account] : accounts_) account->scheduler->stop();
}

void Accounts::close() {
  for (auto& [id, account] : accounts_) {
    if (account->syncer) account->syncer->stop();
    account->scheduler.reset();
    account->syncer.reset();
    account->engine.reset();
  }
}

Account* Accounts::find(const std::string& id) {
  auto it = accounts_.find(id);
  return it == accounts_.end() ? nullptr : it->second.get();
}

}  // namespace wharf::server
