// The queue engine's contract: SQS-level operations on queues and messages.
// The server talks only to `Engine`; `open_rocksdb_engine` gives the embedded
// RocksDB backend (in-memory indices over durable state). A distributed
// backend would implement the same interface.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqs_error.h"
#include "storage/queue_attributes.h"

namespace wharf::storage {

struct QueueInfo {
  std::string name;
  AttributeMap attributes;  // settable attributes, stored values
  TagMap tags;
  int64_t created_s = 0;
  int64_t modified_s = 0;
};

struct NewMessage {
  std::string body;
  std::string message_attributes;  // JSON text in the wire shape; "" if none
  std::string system_attributes;   // JSON text; "" if none
  size_t attributes_size = 0;      // bytes counted against MaximumMessageSize
  std::optional<int> delay_seconds;
};

struct SentMessage {
  std::string message_id;
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string message_attributes;
  std::string system_attributes;
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  uint32_t receive_count = 0;
};

// Queue-level counts, computed at the time of the call.
struct QueueCounts {
  uint64_t visible = 0;
  uint64_t in_flight = 0;
  uint64_t delayed = 0;
};

// Notifications to the process that hosts the engine. Called with the
// engine's lock held: implementations must only post work elsewhere.
struct EngineListener {
  virtual ~EngineListener() = default;
  virtual void messages_available(const std::string& queue_name) = 0;
  virtual void deadline_added(int64_t when_ms) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  virtual void set_listener(EngineListener* listener) = 0;

  // Creates, or returns the existing queue when the given attributes match.
  virtual Result<QueueInfo> create_queue(const std::string& name, const AttributeMap& attributes,
                                         const TagMap& tags) = 0;
  virtual Result<QueueInfo> get_queue(const std::string& name) = 0;
  virtual std::vector<std::string> list_queues(std::string_view prefix) = 0;
  virtual Status delete_queue(const std::string& name) = 0;
  virtual Result<QueueCounts> queue_counts(const std::string& name) = 0;
  virtual Status set_queue_attributes(const std::string& name, const AttributeMap& attributes) = 0;
  virtual Status purge_queue(const std::string& name) = 0;

  virtual Result<SentMessage> send_message(const std::string& queue_name, NewMessage message) = 0;
  // Up to max_messages visible messages, made invisible for the visibility
  // timeout (the queue's when not given). Empty when none is visible.
  virtual Result<std::vector<ReceivedMessage>> receive_messages(const std::string& queue_name, int max_messages,
                                                                std::optional<int> visibility_timeout) = 0;
  virtual Status delete_message(const std::string& queue_name, const std::string& receipt_handle) = 0;
  virtual Status change_visibility(const std::string& queue_name, const std::string& receipt_handle,
                                   int visibility_timeout) = 0;

  // Time-driven work: delayed and in-flight messages whose time has come
  // become visible (listeners hear of it), retention expiry. Returns the next
  // time it has work, if any.
  virtual std::optional<int64_t> run_due_work() = 0;
};

struct EngineOptions {
  std::string data_dir;
  bool sync_writes = false;  // fsync each write (power-loss safe) or WAL only
  std::function<int64_t()> now_ms;  // defaults to the system clock
};

// Opens (or creates) the data dir. Fails with a message when it cannot be
// opened: never a silent fresh start over unreadable data.
std::unique_ptr<Engine> open_rocksdb_engine(const EngineOptions& options, std::string& error);

}  // namespace wharf::storage
