// Tests of the RocksDB backend itself: opening data dirs, sync_writes, the
// record layouts and message keys, failed writes (RocksOptions::write_fault)
// and the FIFO deduplication records on disk. What every backend must do is
// in the conformance suite (tests/unit/conformance/).
#include <catch2/catch.hpp>

#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/ids.h"
#include "storage/rocksdb/open.h"
#include "storage/rocksdb/records.h"
#include "tests/unit/conformance/rocksdb_backend.h"

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
namespace fs = std::filesystem;

namespace {

// The fixture over the RocksDB backend with its write-fault hook, and a look
// at the records on disk.
struct RocksFixture : RocksFaultFixture {
  fs::path data_dir() const { return rocksdb_data_dir(dir.path()); }

  // The number of FIFO dedup records on disk (the engine is closed and
  // reopened around the look).
  size_t dedup_records_on_disk() {
    engine.reset();
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "queues", "message_content", "message_state", "move_tasks", "dedup"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), data_dir().string(), families, &handles, &raw);
    INFO(s.ToString());
    REQUIRE(s.ok());
    size_t n = 0;
    {
      std::unique_ptr<rocksdb::Iterator> it(raw->NewIterator(rocksdb::ReadOptions(), handles[5]));
      for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
    reopen();
    return n;
  }
};

}  // namespace

TEST_CASE("a data dir that cannot be opened gives nullptr and an error", "[durability]") {
  TempDir dir;
  const fs::path file = dir.path() / "not-a-dir";
  {
    std::ofstream out(file);
    out << "just a file";
  }
  for (const fs::path& bad : {file, file / "sub"}) {
    CAPTURE(bad.string());
    RocksOptions rocks;
    rocks.data_dir = bad.string();
    std::string error;
    auto engine = open_rocksdb_engine(EngineOptions{}, rocks, error);
    CHECK(engine == nullptr);
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("sync_writes mode works and persists", "[durability]") {
  TempDir dir;
  int64_t now = kStart;
  EngineOptions options;
  options.now_ms = [&now] { return now; };
  RocksOptions rocks;
  rocks.data_dir = (dir.path() / "data").string();
  rocks.sync_writes = true;
  std::string error;
  {
    auto engine = open_rocksdb_engine(options, rocks, error);
    REQUIRE(engine);
    REQUIRE(engine->create_queue("q", {}, {}).ok());
    NewMessage m;
    m.body = "synced";
    REQUIRE(engine->send_message("q", m).ok());
  }
  auto engine = open_rocksdb_engine(options, rocks, error);
  INFO(error);
  REQUIRE(engine);
  auto got = engine->receive_messages("q", 10, std::nullopt);
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1);
  CHECK(got.value()[0].body == "synced");
}

namespace {

// What a crash of the process would leave: the data dir's files as the OS
// has them, copied while the engine is open, then opened on their own.
size_t messages_after_crash(const fs::path& data, const fs::path& copy) {
  fs::copy(data, copy, fs::copy_options::recursive);
  fs::remove(copy / "LOCK");
  RocksOptions rocks;
  rocks.data_dir = copy.string();
  std::string error;
  auto engine = open_rocksdb_engine(EngineOptions{}, rocks, error);
  INFO(error);
  REQUIRE(engine);
  auto got = engine->receive_messages("q", 10, std::nullopt);
  REQUIRE(got.ok());
  return got->size();
}

}  // namespace

TEST_CASE("a buffered log keeps deferred writes in the process until flush_log", "[durability]") {
  TempDir dir;
  RocksOptions rocks;
  rocks.data_dir = (dir.path() / "data").string();
  rocks.buffered_log = true;
  std::string error;
  auto engine = open_rocksdb_engine(EngineOptions{}, rocks, error);
  REQUIRE(engine);
  REQUIRE(engine->create_queue("q", {}, {}).ok());
  NewMessage m;
  m.body = "written";
  auto send_deferred = [&] {
    DeferredLogFlush deferred;
    CHECK(log_flush_deferred());
    REQUIRE(engine->send_message("q", m).ok());
  };

  SECTION("writes outside a deferral are in the OS when their call returns") {
    REQUIRE(engine->send_message("q", m).ok());
    CHECK_FALSE(engine->log_buffered());
    CHECK(messages_after_crash(rocks.data_dir, dir.path() / "crash") == 1);
  }
  SECTION("deferred writes wait for flush_log, which hands over all of them") {
    send_deferred();
    send_deferred();
    CHECK_FALSE(log_flush_deferred());
    CHECK(engine->log_buffered());
    CHECK(messages_after_crash(rocks.data_dir, dir.path() / "before") == 0);
    REQUIRE(engine->flush_log().ok());
    CHECK_FALSE(engine->log_buffered());
    CHECK(messages_after_crash(rocks.data_dir, dir.path() / "after") == 2);
  }
  SECTION("a write outside a deferral hands over the buffered ones too") {
    send_deferred();
    REQUIRE(engine->send_message("q", m).ok());
    CHECK_FALSE(engine->log_buffered());
    CHECK(messages_after_crash(rocks.data_dir, dir.path() / "crash") == 2);
  }
  SECTION("sync_log and closing the engine flush it") {
    send_deferred();
    REQUIRE(engine->sync_log().ok());
    CHECK_FALSE(engine->log_buffered());
    send_deferred();
    engine.reset();
    CHECK(messages_after_crash(rocks.data_dir, dir.path() / "closed") == 2);
  }
}

// ---------------------------------------------------------------------------
// Records and receipt handles

TEST_CASE("message content records round-trip", "[records]") {
  MessageContent c;
  c.sent_ms = 1'700'000'123'456;
  c.message_id = "0f1e2d3c-4b5a-4697-8877-665544332211";
  c.body = std::string("body with \0 and \xff bytes", 23);
  c.message_attributes = R"({"a":{"DataType":"String","StringValue":"x"}})";
  c.system_attributes = "";
  const std::string bytes = encode_content(c);
  auto back = decode_content(bytes);
  REQUIRE(back.has_value());
  CHECK(back->sent_ms == c.sent_ms);
  CHECK(back->message_id == c.message_id);
  CHECK(back->body == c.body);
  CHECK(back->message_attributes == c.message_attributes);
  CHECK(back->system_attributes == c.system_attributes);

  MessageContent empty;
  auto empty_back = decode_content(encode_content(empty));
  REQUIRE(empty_back.has_value());
  CHECK(empty_back->sent_ms == 0);
  CHECK(empty_back->body.empty());

  SECTION("every truncation is rejected") {
    for (size_t len = 0; len < bytes.size(); ++len) {
      CAPTURE(len);
      CHECK_FALSE(decode_content(std::string_view(bytes).substr(0, len)).has_value());
    }
  }
  SECTION("an unknown version is rejected") {
    std::string other = bytes;
    other[0] = 99;
    CHECK_FALSE(decode_content(other).has_value());
  }
}

TEST_CASE("message content records keep the body's MD5 in 16 bytes, and read records written without it", "[records]") {
  MessageContent c;
  c.sent_ms = 42;
  c.message_id = "id";
  c.body = "hello";
  const std::string without = encode_content(c);
  c.body_md5 = "5d41402abc4b2a76b9719d911017c592";  // MD5("hello")
  const std::string with = encode_content(c);
  CHECK(with.size() == without.size() + 16);
  CHECK(without[0] == 1);  // the first version's layout, unchanged
  CHECK(with[0] == 2);

  auto back = decode_content(with);
  REQUIRE(back.has_value());
  CHECK(back->body_md5 == c.body_md5);
  CHECK(back->body == "hello");
  auto old = decode_content(without);
  REQUIRE(old.has_value());
  CHECK(old->body_md5.empty());
  CHECK(old->body == "hello");

  for (size_t len = 0; len < with.size(); ++len) {
    CAPTURE(len);
    CHECK_FALSE(decode_content(std::string_view(with).substr(0, len)).has_value());
  }
  // Anything but 32 lowercase hex digits is not stored.
  c.body_md5 = "5D41402ABC4B2A76B9719D911017C592";
  CHECK(encode_content(c) == without);
}

TEST_CASE("message state records round-trip", "[records]") {
  MessageState s;
  s.visible_at_ms = 1'700'000'030'000;
  s.receive_count = 4'000'000'000u;
  s.first_receive_ms = 1'700'000'000'001;
  s.sent_ms = 1'699'999'999'999;
  const std::string bytes = encode_state(s);
  auto back = decode_state(bytes);
  REQUIRE(back.has_value());
  CHECK(back->visible_at_ms == s.visible_at_ms);
  CHECK(back->receive_count == s.receive_count);
  CHECK(back->first_receive_ms == s.first_receive_ms);
  CHECK(back->sent_ms == s.sent_ms);

  for (size_t len = 0; len < bytes.size(); ++len) {
    CAPTURE(len);
    CHECK_FALSE(decode_state(std::string_view(bytes).substr(0, len)).has_value());
  }
  CHECK_FALSE(decode_state(bytes + "x").has_value());
  std::string other = bytes;
  other[0] = 99;
  CHECK_FALSE(decode_state(other).has_value());
}

TEST_CASE("message keys sort by queue, then by sequence", "[records]") {
  CHECK(message_key(1, 1).size() == 16);
  CHECK(message_key(1, 1) < message_key(1, 2));
  CHECK(message_key(1, 255) < message_key(1, 256));
  CHECK(message_key(1, 65535) < message_key(1, 65536));
  CHECK(message_key(1, std::numeric_limits<uint64_t>::max()) < message_key(2, 0));
  CHECK(message_key(255, 7) < message_key(256, 0));
  CHECK(message_key(2, 0) < message_key(2, 1));

  // A queue's keys form one contiguous range: [prefix(q), prefix(q + 1)).
  CHECK(message_key(7, 123).compare(0, 8, queue_prefix(7)) == 0);
  CHECK(queue_prefix(7) <= message_key(7, 0));
  CHECK(message_key(7, std::numeric_limits<uint64_t>::max()) < queue_prefix(8));

  uint64_t queue = 0, seq = 0;
  REQUIRE(parse_message_key(message_key(0x0102030405060708ULL, 0xF0E0D0C0B0A09080ULL), queue, seq));
  CHECK(queue == 0x0102030405060708ULL);
  CHECK(seq == 0xF0E0D0C0B0A09080ULL);
  CHECK_FALSE(parse_message_key(message_key(1, 1).substr(0, 15), queue, seq));
  CHECK_FALSE(parse_message_key(message_key(1, 1) + "x", queue, seq));
}

// ---- failed writes (RocksOptions::write_fault) --------------------------------

TEST_CASE("a send whose write fails is not kept, and its deduplication id is free again", "[faults]") {
  RocksFixture f;
  const bool fifo = GENERATE(false, true);
  const std::string queue = fifo ? "faulty.fifo" : "faulty";
  f.create(queue, fifo ? AttributeMap{{"FifoQueue", "true"}} : AttributeMap{});
  auto message = [&] {
    NewMessage m;
    m.body = "hello";
    if (fifo) {
      m.group_id = "g";
      m.deduplication_id = "x";
    }
    return m;
  };
  f.write_fault = [] { return true; };
  auto failed = f->send_message(queue, message());
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::InternalError);
  f.write_fault = nullptr;
  CHECK_COUNTS(f, queue, 0, 0, 0);
  auto none = f->receive_messages(queue, 10, std::nullopt, "");
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto sent = f->send_message(queue, message());  // FIFO: not a duplicate of the failed one
  REQUIRE(sent.ok());
  CHECK_COUNTS(f, queue, 1, 0, 0);
  f.reopen();
  CHECK_COUNTS(f, queue, 1, 0, 0);
  auto got = f->receive_messages(queue, 10, std::nullopt, "");
  REQUIRE(got.ok());
  REQUIRE(got->size() == 1u);
  CHECK(got->front().message_id == sent->message_id);
}

// The send's write is held up (and then fails) while another request comes
// in: a FIFO duplicate of it, or a receive that may pick it. Whatever the
// timing, nothing is acknowledged or delivered that was not stored.
TEST_CASE("requests that meet a send whose write fails see nothing of it", "[faults]") {
  RocksFixture f;
  const bool fifo = GENERATE(false, true);
  const std::string queue = fifo ? "slow.fifo" : "slow";
  f.create(queue, fifo ? AttributeMap{{"FifoQueue", "true"}} : AttributeMap{});
  auto message = [&](const std::string& body) {
    NewMessage m;
    m.body = body;
    if (fifo) {
      m.group_id = "g";
      m.deduplication_id = body;
    }
    return m;
  };
  std::promise<void> writing;
  std::atomic<int> writes{0};
  f.write_fault = [&] {
    if (writes++ > 0) return false;  // only the first write: the send's
    writing.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return true;
  };
  std::thread sender([&] {
    auto r = f->send_message(queue, message("first"));
    CHECK_FALSE(r.ok());
  });
  writing.get_future().wait();
  std::optional<Result<std::vector<ReceivedMessage>>> got;
  std::thread receiver([&] { got = f->receive_messages(queue, 10, std::nullopt, ""); });
  std::optional<Result<SentMessage>> duplicate;
  if (fifo) duplicate = f->send_message(queue, message("first"));
  receiver.join();
  sender.join();
  f.write_fault = nullptr;
  REQUIRE(got);
  REQUIRE(got->ok());
  CHECK(got->value().empty());
  if (duplicate) {
    // Found while the original was written: refused. (Only if this thread
    // was held up past the failure could it have been stored as new.)
    if (duplicate->ok()) {
      WARN("the duplicate came after the failed write; stored as a new message");
      CHECK_COUNTS(f, queue, 1, 0, 0);
    } else {
      CHECK(duplicate->error().code == ErrorCode::InternalError);
      CHECK_COUNTS(f, queue, 0, 0, 0);
    }
  } else {
    CHECK_COUNTS(f, queue, 0, 0, 0);
  }
  // The group is not left locked, and nothing of the failed send is on disk.
  f.reopen();
  auto after = f->send_message(queue, message("second"));
  REQUIRE(after.ok());
  std::set<std::string> bodies;
  auto again = f->receive_messages(queue, 10, std::nullopt, "");
  REQUIRE(again.ok());
  for (const auto& m : again.value()) bodies.insert(m.body);
  CHECK(bodies.count("second") == 1);
  CHECK(bodies.size() == (duplicate && duplicate->ok() ? 2u : 1u));
}

// The engine side of these is in the conformance suite ("FIFO dedup entries
// survive reopen within the window and expire after it"); here, what the
// compaction filter keeps on disk.
TEST_CASE("FIFO dedup records on disk: kept within the window, dropped after it", "[fifo][dedup][durability]") {
  RocksFixture f;
  f.create("q.fifo", fifo());
  const SentMessage first = f.send_to_group("q.fifo", "first", "g", "d1");

  SECTION("within the window the record is kept when RocksDB writes it out") {
    f.advance_ms(kWindow - 1);
    f->run_due_work();
    f.reopen();  // the recovery flush writes the WAL out through the compaction filter
    CHECK(f.dedup_records_on_disk() == 1);
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == first.message_id);
  }

  SECTION("expired entries leave memory, and disk when RocksDB next writes them out") {
    f.advance_ms(kWindow - 1);
    f->run_due_work();
    CHECK(f.send_to_group("q.fifo", "dup", "g", "d1").message_id == first.message_id);
    f.advance_ms(1);
    f->run_due_work();
    f.reopen();  // the recovery flush drops the expired record
    CHECK(f.dedup_records_on_disk() == 0);
    SECTION("a reopen after the sweep does not bring them back") {
      f.reopen();
      const SentMessage fresh = f.send_to_group("q.fifo", "fresh", "g", "d1");
      CHECK(fresh.message_id != first.message_id);
      CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    }
    SECTION("without a reopen either") {
      CHECK(f.send_to_group("q.fifo", "fresh", "g", "d1").message_id != first.message_id);
      CHECK_COUNTS(f, "q.fifo", 2, 0, 0);
    }
  }
}

// The queue record keeps the DeduplicationScope in effect (the created one);
// a record written before it did takes it from its attributes.
TEST_CASE("FIFO queue records keep the created deduplication scope; older records read the attribute",
          "[fifo][dedup][records]") {
  RocksFixture f;
  f.create("q.fifo", fifo({{"DeduplicationScope", "queue"}}));
  REQUIRE(f->set_queue_attributes("q.fifo", {{"DeduplicationScope", "messageGroup"}}).ok());
  const SentMessage first = f.send_to_group("q.fifo", "g-one", "g", "d1");
  f.reopen();
  CHECK(f.send_to_group("q.fifo", "h-one", "h", "d1").message_id == first.message_id);  // still queue-wide

  // Rewrite the record as an older Wharf wrote it: no "deduplication_scope".
  f.engine.reset();
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const char* name : {"default", "queues", "message_content", "message_state", "move_tasks", "dedup"}) {
      families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(rocksdb::DBOptions(), f.data_dir().string(), families, &handles, &raw).ok());
    std::string value;
    REQUIRE(raw->Get(rocksdb::ReadOptions(), handles[1], "q.fifo", &value).ok());
    auto record = nlohmann::json::parse(value);
    CHECK(record.at("deduplication_scope") == "queue");
    record.erase("deduplication_scope");
    REQUIRE(raw->Put(rocksdb::WriteOptions(), handles[1], "q.fifo", record.dump()).ok());
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  f.reopen();
  // The attribute now says messageGroup: that is the scope an older record gets.
  CHECK(f.send_to_group("q.fifo", "h-two", "h", "d1").message_id != first.message_id);
}

TEST_CASE("PurgeQueue removes a FIFO queue's dedup records from disk", "[fifo][dedup][purge]") {
  RocksFixture f;
  f.create("q.fifo", fifo());
  f.create("other.fifo", fifo());
  f.send_to_group("q.fifo", "first", "g", "d1");
  f.send_to_group("q.fifo", "second", "g", "d2");
  f.send_to_group("other.fifo", "kept", "g", "d1");
  CHECK(f.dedup_records_on_disk() == 3);
  REQUIRE(f->purge_queue("q.fifo").ok());
  CHECK(f.dedup_records_on_disk() == 1);  // the other queue's stays
}
