// Opening the embedded RocksDB backend: the options only it has, and where
// each account's data in each region lives under the server's data dir.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "storage/engine.h"

namespace rocksdb {
class Env;
}

namespace wharf::storage {

struct RocksOptions {
  std::string data_dir;
  bool sync_writes = false;  // fsync inside each write (the server prefers WAL writes + sync_log)
  // The WAL written from the process's buffer on flush_log (see
  // Engine::log_buffered) instead of at every write.
  bool buffered_log = false;
  // Free space kept on the data dir's disk: below send_reserve_bytes new
  // messages are refused (ServiceUnavailable) while receives and deletes go
  // on; below write_floor_bytes every write is. RocksDB is never run into a
  // full disk (it cannot recover from that without a restart): its memtables
  // are sized to write_floor_bytes, so a flush always fits.
  int64_t send_reserve_bytes = 256ll << 20;
  int64_t write_floor_bytes = 64ll << 20;
  // Tests only: called before each RocksDB write (outside the engine lock);
  // returning true fails that write as an I/O error would.
  std::function<bool()> write_fault;
  // Everything in memory (RocksDB's in-memory Env), nothing on disk, gone
  // with the engine: --ephemeral. data_dir is then a name in that memory,
  // and the free-space floors do not apply.
  bool in_memory = false;
  // The engine's in-memory Env, set by open_rocksdb_engine: kept in the
  // engine's copy of these options, so that it outlives the engine's RocksDB.
  std::shared_ptr<rocksdb::Env> memory_env;
};

// Opens (or creates) rocks.data_dir. Fails with a message when it cannot be
// opened: never a silent fresh start over unreadable data.
std::unique_ptr<Engine> open_rocksdb_engine(const EngineOptions& options, const RocksOptions& rocks,
                                            std::string& error);

// The engine of one account (options.account_id) in one region
// (options.region) of a server whose data dir is rocks.data_dir. The
// server's default region keeps the layout from before regions existed, so
// data written then belongs to it: the server's own account in the data dir
// itself, every other account in <data dir>/accounts/<account id>. Every
// other region keeps each account in <data dir>/regions/<region>/<account
// id>. Directories are created when missing.
std::unique_ptr<Engine> open_rocksdb_account_engine(const EngineOptions& options, RocksOptions rocks, bool own_account,
                                                    bool default_region, std::string& error);

// The regions other than the default one that hold data of `account_id`
// under `data_dir` (as open_rocksdb_account_engine lays them out), sorted.
std::vector<std::string> rocksdb_regions_on_disk(const std::string& data_dir, const std::string& account_id);

}  // namespace wharf::storage
