// Unit tests of what --ephemeral and the endpoint line rest on: RocksDB in
// memory (storage/rocksdb/open.h, RocksOptions::in_memory) and the endpoint a
// client on this machine reaches (server/ephemeral.h).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "server/ephemeral.h"
#include "storage/rocksdb/open.h"

using wharf::server::local_endpoint;
namespace fs = std::filesystem;
namespace storage = wharf::storage;

namespace {

// A real directory that must stay empty: the in-memory engine's data dir
// names a path under it.
struct Watched {
  fs::path path;
  Watched() {
    std::string pattern = (fs::temp_directory_path() / "ephemeral-tests-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()));
    path = pattern;
  }
  ~Watched() { fs::remove_all(path); }
};

std::unique_ptr<storage::Engine> open_in_memory(const std::string& data_dir, bool own_account = true,
                                                bool default_region = true) {
  storage::EngineOptions options;
  storage::RocksOptions rocks;
  rocks.data_dir = data_dir;
  rocks.in_memory = true;
  std::string error;
  auto engine = storage::open_rocksdb_account_engine(options, rocks, own_account, default_region, error);
  INFO(error);
  REQUIRE(engine);
  return engine;
}

}  // namespace

TEST_CASE("in memory: queues and messages work, nothing reaches the disk, reopening starts empty", "[ephemeral]") {
  Watched watched;
  const std::string data_dir = (watched.path / "data").string();
  {
    auto engine = open_in_memory(data_dir);
    REQUIRE(engine->create_queue("orders", {}, {}));
    REQUIRE(engine->create_queue("orders.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}}, {}));
    storage::NewMessage message;
    message.body = "hello";
    REQUIRE(engine->send_message("orders", message));
    message.group_id = "g";
    REQUIRE(engine->send_message("orders.fifo", message));
    CHECK(engine->list_queues("").size() == 2);
    CHECK(fs::is_empty(watched.path));
  }
  // Another account's and another region's engines make no directories.
  auto other_account = open_in_memory(data_dir, /*own_account=*/false);
  auto other_region = open_in_memory(data_dir, true, /*default_region=*/false);
  CHECK(fs::is_empty(watched.path));
  CHECK(open_in_memory(data_dir)->list_queues("").empty());
}

TEST_CASE("the endpoint: loopback for a wildcard bind, the bind address otherwise, IPv6 in brackets", "[ephemeral]") {
  CHECK(local_endpoint("0.0.0.0", 9324) == "http://127.0.0.1:9324");
  CHECK(local_endpoint("::", 40001) == "http://127.0.0.1:40001");
  CHECK(local_endpoint("0:0:0:0:0:0:0:0", 1) == "http://127.0.0.1:1");
  CHECK(local_endpoint("127.0.0.1", 5) == "http://127.0.0.1:5");
  CHECK(local_endpoint("10.1.2.3", 9324) == "http://10.1.2.3:9324");
  CHECK(local_endpoint("::1", 9324) == "http://[::1]:9324");
  CHECK(local_endpoint("fe80::1", 80) == "http://[fe80::1]:80");
}
