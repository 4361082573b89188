// Opening the RocksDB backend: its column families and their options, the
// compaction filter that drops expired deduplication records, and where
// each account's data dir in each region is.
#include "storage/rocksdb/open.h"

#include <rocksdb/compaction_filter.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_manager.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <filesystem>
#include <string_view>

#include "storage/rocksdb/rocks_engine.h"

namespace wharf::storage {
namespace {

const char* const kColumnFamilies[] = {"default", "queues", "message_content", "message_state", "move_tasks", "dedup"};

// Drops deduplication records whose window has passed when RocksDB writes
// them out (flush, compaction, recovery): expiry deletes nothing itself.
// Dropping a record can only uncover older versions of its key, which
// expired earlier, and a lookup takes an expired record for none.
class DedupExpiryFilter : public rocksdb::CompactionFilter {
 public:
  explicit DedupExpiryFilter(int64_t now) : now_(now) {}
  bool Filter(int, const rocksdb::Slice&, const rocksdb::Slice& value, std::string*, bool*) const override {
    return value.size() >= 8 && static_cast<int64_t>(get_u64(std::string_view(value.data(), 8))) <= now_;
  }
  const char* Name() const override { return "wharf.DedupExpiry"; }

 private:
  int64_t now_;
};

class DedupExpiryFilterFactory : public rocksdb::CompactionFilterFactory {
 public:
  explicit DedupExpiryFilterFactory(std::function<int64_t()> now) : now_(std::move(now)) {}
  std::unique_ptr<rocksdb::CompactionFilter> CreateCompactionFilter(
      const rocksdb::CompactionFilter::Context&) override {
    return std::make_unique<DedupExpiryFilter>(now_());
  }
  bool ShouldFilterTableFileCreation(rocksdb::TableFileCreationReason reason) const override {
    return reason == rocksdb::TableFileCreationReason::kFlush ||
           reason == rocksdb::TableFileCreationReason::kCompaction ||
           reason == rocksdb::TableFileCreationReason::kRecovery;
  }
  const char* Name() const override { return "wharf.DedupExpiryFactory"; }

 private:
  std::function<int64_t()> now_;
};

}  // namespace

std::unique_ptr<Engine> open_rocksdb_engine(const EngineOptions& options, const RocksOptions& given,
                                            std::string& error) {
  RocksOptions rocks = given;
  rocksdb::DBOptions db_options;
  if (rocks.in_memory) {
    rocks.memory_env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
    db_options.env = rocks.memory_env.get();
  }
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.keep_log_file_num = 4;
  db_options.manual_wal_flush = rocks.buffered_log;
  // All memtables together stay within the free-space floor
  // (RocksOptions::write_floor_bytes), so a flush always has room.
  db_options.db_write_buffer_size = static_cast<size_t>(std::max<int64_t>(rocks.write_floor_bytes, 4ll << 20));
  // Tracks SST sizes: after a no-space error RocksDB holds back compactions
  // that would not fit and resumes by itself once space is freed.
  db_options.sst_file_manager.reset(rocksdb::NewSstFileManager(db_options.env));
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kColumnFamilies) {
    rocksdb::ColumnFamilyOptions family;
    // Messages' memtables are kept small (8 MB, not RocksDB's 64): a
    // receive or delete inserts near the head of a queue while sends append
    // at its tail, so most inserts search the skiplist from the top, and a
    // smaller one costs fewer comparisons and cache misses (receive+delete
    // about 20% faster; sends unchanged: bench/README.md).
    if (std::string_view(name) == "message_content" || std::string_view(name) == "message_state") {
      family.write_buffer_size = 8 << 20;
      // Messages mostly live for moments: compressing them at flush, and
      // decompressing them for a receive, cost CPU for little disk. XXH3
      // block checksums cost less CPU than CRC32C, which Debian's portable
      // build of RocksDB computes without the CPU's instruction.
      family.compression = rocksdb::kNoCompression;
      rocksdb::BlockBasedTableOptions table;
      table.checksum = rocksdb::kXXH3;
      family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    }
    if (std::string_view(name) == "dedup") {
      family.compaction_filter_factory = std::make_shared<DedupExpiryFilterFactory>(
          [clock = options.now_ms] { return clock ? clock() : wall_clock_ms(); });
      // Every FIFO send looks its key up here, and most keys are new: whole-
      // key Bloom filters (memtable and SST files, ~1% false positives)
      // answer those misses without searching the memtable or reading blocks.
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      table.whole_key_filtering = true;
      family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
      // The memtable's filter is allocated (and zeroed) with each memtable:
      // 0.1 of RocksDB's 64 MB default added 6.4 MB to an idle server's RSS.
      // A 16 MB memtable (about 120,000 entries) with a 2% filter: 320 KB,
      // about 20 bits per entry.
      family.write_buffer_size = 16 << 20;
      family.memtable_prefix_bloom_size_ratio = 0.02;
      family.memtable_whole_key_filtering = true;
    }
    families.emplace_back(name, family);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db_options, rocks.data_dir, families, &handles, &raw);
  if (!s.ok()) {
    error = "cannot open RocksDB data dir " + rocks.data_dir + ": " + s.ToString();
    return nullptr;
  }
  auto engine = std::make_unique<RocksEngine>(std::unique_ptr<rocksdb::DB>(raw), std::move(handles), options, rocks);
  if (!engine->load(error)) {
    error = "cannot load data dir " + rocks.data_dir + ": " + error;
    return nullptr;
  }
  return engine;
}

std::unique_ptr<Engine> open_rocksdb_account_engine(const EngineOptions& options, RocksOptions rocks, bool own_account,
                                                    bool default_region, std::string& error) {
  const std::filesystem::path root(rocks.data_dir);
  if (!default_region) {
    rocks.data_dir = (root / "regions" / options.region / options.account_id).string();
  } else if (!own_account) {
    rocks.data_dir = (root / "accounts" / options.account_id).string();
  }
  if ((!default_region || !own_account) && !rocks.in_memory) {
    std::error_code ec;
    std::filesystem::create_directories(rocks.data_dir, ec);
    if (ec) {
      error = "cannot create " + rocks.data_dir + ": " + ec.message();
      return nullptr;
    }
  }
  return open_rocksdb_engine(options, rocks, error);
}

std::vector<std::string> rocksdb_regions_on_disk(const std::string& data_dir, const std::string& account_id) {
  std::vector<std::string> regions;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(data_dir) / "regions", ec)) {
    std::error_code is_dir_ec;
    if (std::filesystem::is_directory(entry.path() / account_id, is_dir_ec)) {
      regions.push_back(entry.path().filename().string());
    }
  }
  std::sort(regions.begin(), regions.end());
  return regions;
}

}  // namespace wharf::storage
