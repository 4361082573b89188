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

// A Fixture over the RocksDB backend whose writes a test can fail or hold:
// `write_fault`, when set, is asked before every write (see
// RocksOptions::write_fault). The hook is a base, so it is made before the
// Fixture opens the engine and destroyed after.
struct WriteFaultHook {
  std::function<bool()> write_fault;
};
struct RocksFaultFixture : WriteFaultHook, Fixture {
  RocksFaultFixture();
};

// Where rocksdb_backend() keeps a fixture's data.
inline std::filesystem::path rocksdb_data_dir(const std::filesystem::path& place) { return place / "data"; }

}  // namespace wharf::testing
