// The accounts this server holds queues for, in each region: the server's
// own account (--account-id) and each other account that a credential
// names. As in AWS, a queue lives in one region of one account: each
// (account, region) is a separate engine with its own data (where it lives
// under --data-dir is the storage backend's choice: storage/rocksdb/open.h),
// timer and group-commit syncer, so queues, ARNs, dead-letter relations and
// move tasks of two accounts or two regions never meet.
//
// The default region (--region) of every account is opened at start, and
// so is every other region that has data (on disk, or rows in PostgreSQL's
// queues table with --storage postgresql); a region that a request
// names for the first time is opened then (thread-safe). Finding the
// default region costs one map lookup and no allocation (the hot path);
// another region adds a shared lock and a scan of that account's few
// regions.
//
// With --storage postgresql, every (account, region) engine shares one
// PgCluster (the pool, on its own thread) and one PgNotifier (the control
// connection: other nodes' sends wake this node's long polls, and this
// node's are announced to them). With --postgres-groups, one of each (and
// a janitor) per database group, and each (account, region) engine is a
// GroupedEngine over one PgEngine per group (storage/postgresql/pg_groups.h).
#pragma once

#include <boost/asio/io_context.hpp>

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqs_error.h"
#include "server/long_polls.h"
#include "server/scheduler.h"
#include "server/settings.h"
#include "server/wal_syncer.h"
#include "storage/engine.h"

namespace wharf::storage::postgresql {
class PgCluster;
class PgGroups;
class PgJanitor;
class PgNotifier;
}  // namespace wharf::storage::postgresql

namespace wharf::server {

// Regions an account may have besides the default one: each is an engine
// (files, memory, a timer), and without --auth any caller can name one.
inline constexpr size_t kMaxRegionsPerAccount = 32;

struct Account {
  std::string id;
  std::string region;
  std::unique_ptr<storage::Engine> engine;
  std::unique_ptr<Scheduler> scheduler;
  std::unique_ptr<WalSyncer> syncer;  // --durability=fsync only
};

class Accounts {
 public:
  // Opens every account's engine in the default region and in each region
  // that has data on disk; false with a message when one cannot be.
  bool open(boost::asio::io_context& io, const Settings& settings, LongPolls& long_polls, std::string& error);
  void start();  // the timers
  void stop();   // the timers (from any thread)
  void close();  // syncers, then engines (after the I/O threads have ended)

  // False while the storage cannot serve: with PostgreSQL, while the
  // node's control connection to the database is down (/ready). Thread-safe.
  bool storage_ready() const;

  Account& own() { return *tenants_.at(own_id_).home; }
  const std::string& default_region() const { return default_region_; }

  // The account in the default region; nullptr when this server holds no
  // such account.
  Account* find(std::string_view id);

  // The account in `region` (a valid region name: is_region_name), opened
  // when first named. nullptr when this server holds no such account; an
  // error when the region cannot be opened (over kMaxRegionsPerAccount, or
  // storage failed).
  Result<Account*> find(std::string_view id, std::string_view region);

  // Every open (account, region), the default regions first.
  void for_each(const std::function<void(Account&)>& visit);

  // An account whose engine the caller opened (the fuzz targets, with their
  // fake clock); the first one is the server's own, and its region the
  // default. Accounts added this way open no other region.
  void add(std::unique_ptr<Account> account);

 private:
  // One account across regions.
  struct Tenant {
    std::unique_ptr<Account> home;                 // the default region; set before serving starts
    std::vector<std::unique_ptr<Account>> others;  // guarded by regions_mu_
  };
  Result<Account*> open_region(Tenant& tenant, std::string_view region);  // with regions_mu_ held exclusively
  std::unique_ptr<Account> open_account(const std::string& id, const std::string& region, std::string& error);
  std::unique_ptr<storage::Engine> open_engine(const std::string& id, const std::string& region, std::string& error);
  // The regions other than the default one that have data, per storage.
  std::vector<std::string> regions_with_data(const std::string& id, std::string& error);
  bool open_postgresql(std::string& error);  // the cluster, then the notifier

  std::string own_id_;
  std::string default_region_;
  std::map<std::string, Tenant, std::less<>> tenants_;  // fixed once open() (or add()) is done
  std::shared_mutex regions_mu_;
  bool started_ = false;  // guarded by regions_mu_: regions opened later start their timer at once
  // Set by open(); without them (add()) no other region can be opened.
  boost::asio::io_context* io_ = nullptr;
  const Settings* settings_ = nullptr;
  LongPolls* long_polls_ = nullptr;
  // --storage postgresql: one of each per database group (one without
  // --postgres-groups), in the order listed; the first is the catalog.
  std::vector<std::shared_ptr<storage::postgresql::PgCluster>> pg_clusters_;
  std::vector<std::shared_ptr<storage::postgresql::PgNotifier>> pg_notifiers_;
  std::vector<std::shared_ptr<storage::postgresql::PgJanitor>> pg_janitors_;  // work no request drives, under a lease
  std::shared_ptr<storage::postgresql::PgGroups> pg_groups_;                  // --postgres-groups only
};

}  // namespace wharf::server
