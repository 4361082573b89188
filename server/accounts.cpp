#include "server/accounts.h"

#include <filesystem>

namespace wharf::server {

bool Accounts::open(boost::asio::io_context& io, const Settings& settings, LongPolls& long_polls, std::string& error) {
  own_id_ = settings.account_id;
  std::map<std::string, std::string> dirs = {{own_id_, settings.data_dir}};
  for (const auto& [key, credential] : settings.credentials) {
    if (credential.account_id.empty() || dirs.count(credential.account_id)) continue;
    dirs[credential.account_id] =
        (std::filesystem::path(settings.data_dir) / "accounts" / credential.account_id).string();
  }
  for (const auto& [id, dir] : dirs) {
    if (id != own_id_) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        error = "cannot create " + dir + ": " + ec.message();
        return false;
      }
    }
    storage::EngineOptions options;
    options.data_dir = dir;
    options.region = settings.region;
    options.account_id = id;
    options.dedup_window_ms = int64_t(settings.dedup_window_seconds) * 1000;
    options.send_reserve_bytes = int64_t(settings.min_free_disk_mb) << 20;
    options.write_floor_bytes = options.send_reserve_bytes / 4;
    auto account = std::make_unique<Account>();
    account->id = id;
    account->region = settings.region;
    account->engine = storage::open_rocksdb_engine(options, error);
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
