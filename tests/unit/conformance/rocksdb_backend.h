// The RocksDB backend as the tests open it: its data dir is <place>/data.
#pragma once

#include <filesystem>
#include <functional>

#include "tests/unit/engine_fixture.h"

namespace wharf::storage {
struct RocksOptions;
}

namespace wharf::testing {

// `customize` may change the RocksOptions (sync_writes, write_fault, ...)
// before each open.
Backend rocksdb_backend(std::function<void(storage::RocksOptions&)> customize = {});

// Where rocksdb_backend() keeps a fixture's data.
inline std::filesystem::path rocksdb_data_dir(const std::filesystem::path& place) { return place / "data"; }

}  // namespace wharf::testing
