// The backends the conformance suite runs on. A new backend joins with one
// entry in conformance_backends() (and one link line in CMakeLists.txt).
#include <algorithm>

#include "storage/rocksdb/open.h"
#ifdef WHARF_POSTGRESQL
#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_groups.h"
#include "tests/unit/pg_test_cluster.h"
#endif
#include "tests/unit/conformance/rocksdb_backend.h"
#include "tests/unit/engine_fixture.h"

namespace wharf::testing {

Backend rocksdb_backend(std::function<void(storage::RocksOptions&)> customize) {
  Backend b;
  b.name = "rocksdb";
  b.open = [customize](const storage::EngineOptions& options, const std::filesystem::path& place, std::string& error) {
    storage::RocksOptions rocks;
    rocks.data_dir = rocksdb_data_dir(place).string();
    if (customize) customize(rocks);
    return storage::open_rocksdb_engine(options, rocks, error);
  };
  return b;
}

RocksFaultFixture::RocksFaultFixture()
    : Fixture(rocksdb_backend([this](storage::RocksOptions& rocks) {
        rocks.write_fault = [this] { return write_fault && write_fault(); };
      })) {}

#ifdef WHARF_POSTGRESQL
// PostgreSQL: the test cluster of this binary (pg_test_cluster.h), a schema
// of its own per fixture (named after its directory; reopening opens a new
// cluster over the same schema). Only the tests of what is built so far.
Backend postgresql_backend() {
  Backend b;
  b.name = "postgresql";
  b.only_tags = {"queues",  "tags",        "permissions", "policy", "messages", "visibility", "handles",
                 "delay",   "retention",   "validation",  "purge",  "batches",  "durability", "fair",
                 "redrive", "scheduler",   "move-tasks",  "fifo",   "send",     "groups",     "dedup",
                 "model",   "concurrency", "attempts",    "peek",   "engine"};
  b.open = [](const storage::EngineOptions& options, const std::filesystem::path& place,
              std::string& error) -> std::unique_ptr<storage::Engine> {
    storage::postgresql::PgOptions pg;
    pg.url = test_postgres().url;
    pg.schema = test_schema_for(place, "conformance_");
    pg.connections = 2;
    auto cluster = storage::postgresql::open_postgresql_cluster(pg, error);
    if (!cluster) return nullptr;
    return storage::postgresql::open_postgresql_engine(std::move(cluster), options);
  };
  return b;
}

// Two database groups (storage/postgresql/pg_groups.h): two schemas of the
// test cluster, each with its own group id; the second named after a
// directory inside the fixture's place. Queues land on either group by
// the hash, so the redrive and move-task tests run across groups for the
// queues that land apart (pg_grouped_transfers.cpp).
Backend postgresql_groups_backend() {
  Backend b;
  b.name = "postgresql-groups";
  b.only_tags = postgresql_backend().only_tags;
  b.open = [](const storage::EngineOptions& options, const std::filesystem::path& place,
              std::string& error) -> std::unique_ptr<storage::Engine> {
    namespace pg = storage::postgresql;
    const auto second = place / (place.filename().string() + "_g2");
    std::filesystem::create_directories(second);
    std::vector<pg::PgOptions> groups(2);
    for (size_t i = 0; i < groups.size(); ++i) {
      groups[i].url = test_postgres().url;
      groups[i].schema = test_schema_for(i == 0 ? place : second, "conformance_");
      groups[i].connections = 2;
    }
    auto opened = pg::open_postgresql_groups(groups, error);
    if (!opened) return nullptr;
    std::vector<std::unique_ptr<pg::PgEngine>> engines;
    for (const auto& group : opened->groups())
      engines.push_back(std::make_unique<pg::PgEngine>(group.cluster, options));
    return std::make_unique<pg::GroupedEngine>(std::move(opened), std::move(engines), options);
  };
  return b;
}
#endif

bool runs_test(const Backend& backend, std::string_view tags) {
  if (backend.only_tags.empty()) return true;
  for (size_t open = tags.find('['); open != std::string_view::npos; open = tags.find('[', open + 1)) {
    const size_t close = tags.find(']', open);
    if (close == std::string_view::npos) break;
    const std::string tag(tags.substr(open + 1, close - open - 1));
    if (std::find(backend.only_tags.begin(), backend.only_tags.end(), tag) == backend.only_tags.end()) return false;
  }
  return true;
}

const std::vector<Backend>& conformance_backends() {
  static const std::vector<Backend> backends = [] {
    std::vector<Backend> all = {rocksdb_backend()};
#ifdef WHARF_POSTGRESQL
    if (!test_postgres().url.empty()) {
      all.push_back(postgresql_backend());
      all.push_back(postgresql_groups_backend());
    }
#endif
    return all;
  }();
  return backends;
}

}  // namespace wharf::testing
