// The queue engine's contract: SQS-level operations on queues and messages.
// The server talks only to `Engine`. Each backend implements it in a folder
// of its own under storage/, with its own options and its own factory.
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
#include "storage/system_attributes.h"

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
  std::string aws_trace_header;    // the AWSTraceHeader system attribute; "" if none
  std::string body_md5;            // MD5 of the body, 32 lowercase hex digits; "" to leave it unstored
  size_t attributes_size = 0;      // bytes counted against MaximumMessageSize
  std::optional<int> delay_seconds;
  std::string group_id;          // MessageGroupId: required on FIFO, fair queues on standard
  std::string deduplication_id;  // MessageDeduplicationId (FIFO)
};

struct SentMessage {
  std::string message_id;
  std::string sequence_number;  // FIFO only
};

struct VisibilityChange {
  std::string receipt_handle;
  int visibility_timeout = 0;
};

// A message move task (StartMessageMoveTask), as ListMessageMoveTasks shows it.
struct MoveTask {
  std::string task_handle;  // the task's id, only while RUNNING
  std::string status;       // RUNNING, COMPLETED, CANCELLED, FAILED
  std::string source_arn;
  std::string destination_arn;  // "" when each message returns to its source
  int max_per_second = 0;       // 0 when the caller set none
  uint64_t moved = 0;
  uint64_t to_move = 0;
  std::string failure_reason;
  int64_t started_ms = 0;
};

struct ReceivedMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string message_attributes;
  SystemAttributes system_attributes;
  std::string body_md5;  // as sent (32 hex digits); "" if it was not stored
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  uint32_t receive_count = 0;
  std::string sequence_number;  // FIFO only
};

// A message as a peek shows it: content and state, without receiving it.
struct PeekedMessage {
  std::string message_id;
  std::string body;
  std::string message_attributes;
  SystemAttributes system_attributes;
  std::string group_id;         // MessageGroupId; "" for none
  std::string sequence_number;  // FIFO only
  std::string state;            // "visible", "in_flight" or "delayed"
  std::string position;         // where it is in the queue, for delete_peeked_message (the backend's own token)
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;  // 0 when never received
  int64_t visible_at_ms = 0;     // end of the delay or visibility timeout (0 when visible)
  uint32_t receive_count = 0;
};

// Queue-level counts, computed at the time of the call.
struct QueueCounts {
  uint64_t visible = 0;
  uint64_t in_flight = 0;
  uint64_t delayed = 0;
  // Enqueue time of the queue's first message in arrival order (0 when
  // empty): the age of the oldest message, approximately (a message redriven
  // to a standard dead-letter queue keeps its first send time).
  int64_t oldest_sent_ms = 0;
  // Activity since the engine opened, kept in memory only (not across
  // restarts, nor across deleting and re-creating the queue): messages stored
  // by sends (FIFO duplicates not counted), handed out by receives, deleted,
  // and moved from this queue to its dead-letter queue by redrive.
  uint64_t sent = 0;
  uint64_t received = 0;
  uint64_t deleted = 0;
  uint64_t moved_to_dead_letter = 0;
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
  // One attribute as a number (without copying the queue's record), for the
  // hot paths that need one.
  virtual Result<int64_t> queue_int_attribute(const std::string& name, const std::string& attribute) = 0;
  virtual std::vector<std::string> list_queues(std::string_view prefix) = 0;
  virtual Status delete_queue(const std::string& name) = 0;
  virtual Result<QueueCounts> queue_counts(const std::string& name) = 0;
  virtual Status set_queue_attributes(const std::string& name, const AttributeMap& attributes) = 0;
  virtual Status purge_queue(const std::string& name) = 0;

  // Read-modify-write of a queue's tags and Policy under the engine's lock;
  // stored when `change` succeeds. (Other attributes go through
  // set_queue_attributes, which validates them.)
  virtual Status modify_queue(const std::string& name, const std::function<Status(QueueInfo&)>& change) = 0;
  // Queues whose RedrivePolicy names this one, sorted by name.
  virtual Result<std::vector<std::string>> dead_letter_source_queues(const std::string& name) = 0;

  // Whether a send is a SendMessageBatch or one SendMessage: a FIFO batch
  // with an entry lacking its group or deduplication id fails as a whole,
  // a single send answers it on its own (storage/message_rules.h).
  enum class SendKind : uint8_t { Batch, Single };

  // Batches are one atomic write; the outer Result fails the whole request
  // (e.g. no such queue), the inner ones each entry.
  virtual Result<std::vector<Result<SentMessage>>> send_messages(const std::string& queue_name,
                                                                 std::vector<NewMessage> messages,
                                                                 SendKind kind = SendKind::Batch) = 0;
  // What a receipt handle may still do (older handles on standard queues,
  // expired ones on FIFO queues) is storage/receipt_handle.h's rule.
  virtual Result<std::vector<Status>> delete_messages(const std::string& queue_name,
                                                      const std::vector<std::string>& receipt_handles) = 0;
  virtual Result<std::vector<Status>> change_visibilities(const std::string& queue_name,
                                                          const std::vector<VisibilityChange>& changes) = 0;

  // Up to max_messages visible messages, made invisible for the visibility
  // timeout (the queue's when not given). Empty when none is visible.
  // Messages past their queue's maxReceiveCount go to its dead-letter queue
  // in the same write instead. FIFO queues deliver each group in order, up
  // to its first message in flight, and serve the groups in turns
  // (storage/message_rules.h); a retry with the same non-empty
  // attempt id within the dedup window returns the same messages.
  virtual Result<std::vector<ReceivedMessage>> receive_messages(const std::string& queue_name, int max_messages,
                                                                std::optional<int> visibility_timeout,
                                                                const std::string& attempt_id = "") = 0;

  // The first max_messages messages in send order, whatever their state,
  // read without changing anything (no visibility, receive count or
  // attempt is touched). For inspection (the web console), not delivery.
  virtual Result<std::vector<PeekedMessage>> peek_messages(const std::string& queue_name, size_t max_messages) = 0;
  // Deletes the message a peek showed at `position` (the token that peek
  // gave), whatever its state (deleting an in-flight FIFO message lets the
  // rest of its group be received), checked by its message id: an administrator's delete, for the console,
  // since a peek gives no receipt handle. InvalidParameterValue when it is
  // no longer there, or `position` is no token a peek gives.
  virtual Status delete_peeked_message(const std::string& queue_name, const std::string& position,
                                       const std::string& message_id) = 0;

  // Message move tasks, from a dead-letter queue to `destination` or else
  // back to each message's source queue.
  // Answers the new task's id.
  virtual Result<std::string> start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                              std::optional<int> max_per_second) = 0;
  virtual Result<uint64_t> cancel_move_task(const std::string& task_id) = 0;
  virtual Result<std::vector<MoveTask>> list_move_tasks(const std::string& source_name, size_t max_results) = 0;

  // Single-entry forms of the batches.
  Result<SentMessage> send_message(const std::string& queue_name, NewMessage message);
  Status delete_message(const std::string& queue_name, const std::string& receipt_handle);
  Status change_visibility(const std::string& queue_name, const std::string& receipt_handle, int visibility_timeout);

  // Durability. Every change is in the write-ahead log before the call that
  // made it returns; `sync_log` makes all of it so far survive power loss
  // (fsync). `log_position` grows with every write, so a caller can tell
  // whether a sync started after its write covers it.
  virtual uint64_t log_position() = 0;
  virtual Status sync_log() = 0;
  // Approximate bytes the durable state takes (for monitoring).
  virtual uint64_t storage_bytes() = 0;

  // Time-driven work: delayed and in-flight messages whose time has come
  // become visible (listeners hear of it), retention expiry, the next steps
  // of message move tasks. Returns the next time it has work, if any.
  virtual std::optional<int64_t> run_due_work() = 0;
};

// What every backend is told. Each backend has its own options beside
// these (where its data lives, how it writes), in its folder.
struct EngineOptions {
  std::string region = "us-east-1";  // for queue ARNs
  std::string account_id = "000000000000";
  std::function<int64_t()> now_ms;    // defaults to the system clock
  int64_t dedup_window_ms = 300'000;  // FIFO deduplication and receive-attempt window
  // How long a deleted queue's name cannot be created again (AWS: 60 s,
  // QueueDeletedRecently); 0 lets test suites recreate queues at once.
  int64_t queue_delete_cooldown_ms = 60'000;
};

}  // namespace wharf::storage
