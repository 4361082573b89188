// The accounts this server holds queues for: the server's own (--account-id)
// and each other account that a credential names. Each account is a
// separate engine with its own data (where it lives under --data-dir is the
// storage backend's choice: storage/rocksdb/open.h), timer and group-commit
// syncer, so two teams' queues, ARNs and dead-letter relations never meet.
#pragma once

#include <boost/asio/io_context.hpp>

#include <map>
#include <memory>
#include <string>

#include "server/long_polls.h"
#include "server/scheduler.h"
#include "server/settings.h"
#include "server/wal_syncer.h"
#include "storage/engine.h"

namespace wharf::server {

struct Account {
  std::string id;
  std::string region;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<WalSyncer> syncer;  // --durability=fsync only
};

class Accounts {
 public:
  // Opens every account's engine; false with a message when one cannot be.
  bool open(boost::asio::io_context& io, const Settings& settings, LongPolls& long_polls, std::string& error);
  void start();  // the timers
  void stop();   // the timers (from any thread)
  void close();  // syncers, then engines (after the I/O threads have ended)

  Account& own() { return *accounts_.at(own_id_); }
  Account* find(const std::string& id);  // nullptr when this server holds no such account

  // An account whose engine the caller opened (the fuzz targets, with their
  // fake clock); the first one is the server's own.
  void add(std::unique_ptr<Account> account) {
    if (accounts_.empty()) own_id_ = account->id;
    const std::string id = account->id;
    accounts_[id] = std::move(account);
  }

 private:
  std::string own_id_;
  std::map<std::string, std::unique_ptr<Account>> accounts_;
};

}  // namespace wharf::server
