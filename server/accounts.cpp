#include "server/accounts.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "server/log.h"
#include "storage/rocksdb/open.h"
#ifdef WHARF_POSTGRESQL
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_groups.h"
#include "storage/postgresql/pg_janitor.h"
#include "storage/postgresql/pg_notify.h"
#include "storage/postgresql/transaction.h"
#endif

namespace wharf::server {
namespace {

storage::EngineOptions engine_options(const Settings& settings, const std::string& account_id,
                                      const std::string& region) {
  storage::EngineOptions options;
  options.region = region;
  options.account_id = account_id;
  options.dedup_window_ms = int64_t(settings.dedup_window_seconds) * 1000;
  options.queue_delete_cooldown_ms = int64_t(settings.queue_delete_cooldown_seconds) * 1000;
  return options;
}

bool uses_postgresql(const Settings& settings) { return settings.storage == "postgresql"; }

#ifdef WHARF_POSTGRESQL
namespace pg = storage::postgresql;

pg::PgOptions postgres_options(const Settings& settings) {
  pg::PgOptions options;
  options.url = settings.postgres_url;
  options.schema = settings.postgres_schema;
  const unsigned threads = request_threads(settings, std::thread::hardware_concurrency());
  options.connections =
      static_cast<int>(settings.postgres_connections ? settings.postgres_connections : std::max(2u, 2 * threads));
  return options;
}

// SELECT DISTINCT region FROM queues WHERE account_id = $1 (start-up only:
// it waits).
std::vector<std::string> postgres_regions(pg::PgCluster& cluster, const std::string& account_id, std::string& error) {
  std::vector<pg::Statement> statements;
  statements.push_back(pg::Statement{"SELECT DISTINCT region FROM queues WHERE account_id = $1", {account_id}});
  std::promise<Result<std::vector<pg::QueryResult>>> answered;
  pg::run_statements(cluster.pool(), std::move(statements),
                     [&answered](Result<std::vector<pg::QueryResult>> r) { answered.set_value(std::move(r)); });
  auto results = answered.get_future().get();
  std::vector<std::string> regions;
  if (!results.ok()) {
    error = "PostgreSQL: cannot read the regions of account " + account_id + ": " + results.error().message;
    return regions;
  }
  const pg::QueryResult& rows = results->front();
  for (int row = 0; row < rows.rows(); ++row) regions.emplace_back(rows.text(row, 0));
  return regions;
}

// Waits (up to 2 s) until no transaction holds or waits for a connection:
// an operation in flight ends in a completion that uses its engine, so the
// engines must outlive it. Runs the check on the cluster's thread, where
// the pool's state lives.
void drain(pg::PgCluster& cluster) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::promise<bool> idle;
    boost::asio::post(cluster.io(), [&cluster, &idle] {
      const pg::Pool& pool = cluster.pool();
      idle.set_value(pool.open_connections() == pool.idle_connections() && pool.waiting() == 0);
    });
    if (idle.get_future().get()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  log::warn("PostgreSQL operations still in flight at shutdown");
}

// One group's engine of (account, region): its sends announced on that
// group's control connection.
std::unique_ptr<pg::PgEngine> postgres_engine(const std::shared_ptr<pg::PgCluster>& cluster,
                                              const std::shared_ptr<pg::PgNotifier>& notifier,
                                              const storage::EngineOptions& options) {
  auto engine = std::make_unique<pg::PgEngine>(cluster, options);
  engine->set_announcer([notifier = std::weak_ptr<pg::PgNotifier>(notifier), account_id = options.account_id,
                         region = options.region](const std::string& queue) {
    if (auto live = notifier.lock()) live->announce(account_id, region, queue);
  });
  return engine;
}
#endif

}  // namespace

// The one place the server picks its storage backend; the backend knows
// where each account's data in each region lives.
std::unique_ptr<storage::Engine> Accounts::open_engine(const std::string& account_id, const std::string& region,
                                                       std::string& error) {
  const Settings& settings = *settings_;
  storage::EngineOptions options = engine_options(settings, account_id, region);
  if (uses_postgresql(settings)) {
#ifdef WHARF_POSTGRESQL
    if (!pg_groups_) return postgres_engine(pg_clusters_.front(), pg_notifiers_.front(), options);
    std::vector<std::unique_ptr<pg::PgEngine>> engines;
    for (size_t i = 0; i < pg_clusters_.size(); ++i)
      engines.push_back(postgres_engine(pg_clusters_[i], pg_notifiers_[i], options));
    return std::make_unique<pg::GroupedEngine>(pg_groups_, std::move(engines), options);
#else
    error = "unreachable: storage postgresql without the backend";
    return nullptr;
#endif
  }
  storage::RocksOptions rocks;
  rocks.data_dir = settings.data_dir;
  rocks.send_reserve_bytes = int64_t(settings.min_free_disk_mb) << 20;
  rocks.write_floor_bytes = rocks.send_reserve_bytes / 4;
  rocks.in_memory = settings.ephemeral;
  rocks.buffered_log = !settings.fsync;  // flushed before each answer (SqsEndpoint::settle)
  return storage::open_rocksdb_account_engine(options, std::move(rocks), account_id == settings.account_id,
                                              region == settings.region, error);
}

std::vector<std::string> Accounts::regions_with_data(const std::string& id, std::string& error) {
#ifdef WHARF_POSTGRESQL
  if (!pg_clusters_.empty()) {
    std::set<std::string> regions;  // every group's
    for (auto& cluster : pg_clusters_) {
      for (auto& region : postgres_regions(*cluster, id, error)) regions.insert(std::move(region));
      if (!error.empty()) break;
    }
    return {regions.begin(), regions.end()};
  }
#endif
  (void)error;
  return storage::rocksdb_regions_on_disk(settings_->data_dir, id);
}

bool Accounts::open_postgresql(std::string& error) {
#ifdef WHARF_POSTGRESQL
  const pg::PgOptions options = postgres_options(*settings_);
  if (settings_->postgres_group_urls.empty()) {
    auto cluster = pg::open_postgresql_cluster(options, error);
    if (!cluster) return false;
    pg_clusters_.push_back(std::move(cluster));
  } else {
    std::vector<pg::PgOptions> groups;
    for (const auto& url : settings_->postgres_group_urls) {
      groups.push_back(options);
      groups.back().url = url;
    }
    pg_groups_ = pg::open_postgresql_groups(groups, error);
    if (!pg_groups_) return false;
    for (const auto& group : pg_groups_->groups()) pg_clusters_.push_back(group.cluster);
    log::info("PostgreSQL groups open", log::Fields().add("groups", std::to_string(pg_clusters_.size())));
  }
  LongPolls* long_polls = long_polls_;
  for (const auto& cluster : pg_clusters_) {
    pg_notifiers_.push_back(pg::PgNotifier::start(
        cluster, [long_polls](std::string_view account, std::string_view region, std::string_view queue) {
          long_polls->notify(long_poll_key(account, region, queue));
        }));
    pg_janitors_.push_back(pg::PgJanitor::start(cluster, int64_t(settings_->queue_delete_cooldown_seconds) * 1000,
                                                /*step_move_tasks=*/!pg_groups_));
  }
  return true;
#else
  error =
      "storage postgresql: this wharf was built without the PostgreSQL backend (cmake -DWHARF_POSTGRESQL=ON); use "
      "storage rocksdb or a wharf built with it";
  return false;
#endif
}

bool Accounts::storage_ready() const {
#ifdef WHARF_POSTGRESQL
  // The catalog group's control connection (the only one without groups):
  // another group down makes only its queues unavailable, not the node.
  if (!pg_notifiers_.empty()) return pg_notifiers_.front()->listening();
#endif
  return true;
}

std::unique_ptr<Account> Accounts::open_account(const std::string& id, const std::string& region, std::string& error) {
  auto account = std::make_unique<Account>();
  account->id = id;
  account->region = region;
  account->engine = open_engine(id, region, error);
  if (!account->engine) return nullptr;
  account->scheduler = std::make_unique<Scheduler>(*io_, *account->engine, *long_polls_, id, region);
  if (settings_->fsync && !uses_postgresql(*settings_)) account->syncer = std::make_unique<WalSyncer>(*account->engine);
  return account;
}

bool Accounts::open(boost::asio::io_context& io, const Settings& settings, LongPolls& long_polls, std::string& error) {
  io_ = &io;
  settings_ = &settings;
  long_polls_ = &long_polls;
  own_id_ = settings.account_id;
  default_region_ = settings.region;
  if (uses_postgresql(settings) && !open_postgresql(error)) return false;
  std::set<std::string> ids = {own_id_};
  for (const auto& [key, credential] : settings.credentials) {
    if (!credential.account_id.empty()) ids.insert(credential.account_id);
  }
  for (const auto& id : ids) {
    Tenant& tenant = tenants_[id];
    tenant.home = open_account(id, default_region_, error);
    if (!tenant.home) return false;
    const auto regions = regions_with_data(id, error);
    if (!error.empty()) return false;
    for (const auto& region : regions) {
      if (region == settings.region && uses_postgresql(settings)) continue;  // opened above
      if (region == default_region_ || !is_region_name(region)) {
        log::warn("region data left unopened", log::Fields().add("account", id).add("region", region));
        continue;
      }
      auto account = open_account(id, region, error);
      if (!account) return false;
      tenant.others.push_back(std::move(account));
    }
  }
  return true;
}

void Accounts::add(std::unique_ptr<Account> account) {
  if (tenants_.empty()) {
    own_id_ = account->id;
    default_region_ = account->region;
  }
  const std::string id = account->id;
  tenants_[id].home = std::move(account);
}

void Accounts::for_each(const std::function<void(Account&)>& visit) {
  for (auto& [id, tenant] : tenants_) visit(*tenant.home);
  std::shared_lock lock(regions_mu_);
  for (auto& [id, tenant] : tenants_) {
    for (auto& account : tenant.others) visit(*account);
  }
}

void Accounts::start() {
  std::unique_lock lock(regions_mu_);
  started_ = true;
  for (auto& [id, tenant] : tenants_) {
    tenant.home->scheduler->start();
    for (auto& account : tenant.others) account->scheduler->start();
  }
}

void Accounts::stop() {
  std::unique_lock lock(regions_mu_);
  started_ = false;
  for (auto& [id, tenant] : tenants_) {
    if (tenant.home->scheduler) tenant.home->scheduler->stop();
    for (auto& account : tenant.others) account->scheduler->stop();
  }
}

void Accounts::close() {
  std::unique_lock lock(regions_mu_);
  auto close_one = [](Account& account) {
    if (account.syncer) account.syncer->stop();
    // The engine first: a backend that completes later may still call an
    // operation's done as it closes, and the scheduler's uses the scheduler.
    account.engine.reset();
    account.scheduler.reset();
    account.syncer.reset();
  };
  // With PostgreSQL: the control connection first (no more wake-ups of the
  // long polls), then the engines, then the cluster (its pool and thread).
#ifdef WHARF_POSTGRESQL
  for (auto& notifier : pg_notifiers_) notifier->stop();
  for (auto& janitor : pg_janitors_) janitor->stop();
  for (auto& cluster : pg_clusters_) drain(*cluster);
#endif
  pg_notifiers_.clear();
  pg_janitors_.clear();
  for (auto& [id, tenant] : tenants_) {
    close_one(*tenant.home);
    for (auto& account : tenant.others) close_one(*account);
  }
  pg_groups_.reset();
  pg_clusters_.clear();
}

Account* Accounts::find(std::string_view id) {
  auto it = tenants_.find(id);
  return it == tenants_.end() ? nullptr : it->second.home.get();
}

Result<Account*> Accounts::find(std::string_view id, std::string_view region) {
  auto it = tenants_.find(id);
  if (it == tenants_.end()) return static_cast<Account*>(nullptr);
  Tenant& tenant = it->second;
  if (region == default_region_) return tenant.home.get();
  {
    std::shared_lock lock(regions_mu_);
    for (auto& account : tenant.others) {
      if (account->region == region) return account.get();
    }
  }
  std::unique_lock lock(regions_mu_);
  return open_region(tenant, region);
}

Result<Account*> Accounts::open_region(Tenant& tenant, std::string_view region) {
  for (auto& account : tenant.others) {  // opened meanwhile by another request
    if (account->region == region) return account.get();
  }
  const std::string& id = tenant.home->id;
  if (!settings_ || !io_ || tenant.others.size() >= kMaxRegionsPerAccount) {
    log::warn("region refused: too many regions", log::Fields().add("account", id).add("region", region));
    return make_error(ErrorCode::SignatureDoesNotMatch,
                      "Credential should be scoped to a valid region, not '" + std::string(region) + "'.");
  }
  std::string error;
  auto account = open_account(id, std::string(region), error);
  if (!account) {
    log::error("cannot open region", log::Fields().add("account", id).add("region", region).add("error", error));
    return make_error(ErrorCode::ServiceUnavailable, "The region's storage cannot be opened.");
  }
  if (started_) account->scheduler->start();
  log::info("region opened", log::Fields().add("account", id).add("region", region));
  tenant.others.push_back(std::move(account));
  return tenant.others.back().get();
}

}  // namespace wharf::server
