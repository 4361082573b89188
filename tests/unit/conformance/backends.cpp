// The backends the conformance suite runs on. A new backend joins with one
// entry in conformance_backends() (and one link line in CMakeLists.txt).
#include "storage/rocksdb/open.h"
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

const std::vector<Backend>& conformance_backends() {
  static const std::vector<Backend> backends = {
      rocksdb_backend(),
  };
  return backends;
}

}  // namespace wharf::testing
