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

// An operation's completion: called exactly once with its result, either
// before the `async_` call returns (RocksDB: always) or later on one of the
// backend's own threads (PostgreSQL), never with an engine lock held.
template <typename R>
using Done = std::function<void(R)>;

// The contract is asynchronous, so that no thread waits on a database: each
// operation is `async_<name>(arguments..., done)`. A backend copies whatever
// of the arguments it needs after it returns (the caller's references are
// not used afterwards; `modify_queue`'s `change` too may run later, on
// another thread). The synchronous forms below wait for `done`: they are for
// tests, start-up and tools, never for a server's I/O thread. With a backend
// that completes inline they cost a mutex and no allocation.
class Engine {
 public:
  virtual ~Engine() = default;

  virtual void set_listener(EngineListener* listener) = 0;

  // Creates, or returns the existing queue when the given attributes match.
  virtual void async_create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags,
                                  Done<Result<QueueInfo>> done) = 0;
  virtual void async_get_queue(const std::string& name, Done<Result<QueueInfo>> done) = 0;
  // One attribute as a number (without copying the queue's record), for the
  // hot paths that need one.
  virtual void async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                         Done<Result<int64_t>> done) = 0;
  // Queue names starting with `prefix`, sorted (an error only when the
  // store cannot be reached).
  virtual void async_list_queues(std::string_view prefix, Done<Result<std::vector<std::string>>> done) = 0;
  virtual void async_delete_queue(const std::string& name, Done<Status> done) = 0;
  virtual void async_queue_counts(const std::string& name, Done<Result<QueueCounts>> done) = 0;
  virtual void async_set_queue_attributes(const std::string& name, const AttributeMap& attributes,
                                          Done<Status> done) = 0;
  virtual void async_purge_queue(const std::string& name, Done<Status> done) = 0;

  // Read-modify-write of a queue's tags and Policy, atomic against other
  // changes of the queue; stored when `change` succeeds. (Other attributes
  // go through set_queue_attributes, which validates them.)
  virtual void async_modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change,
                                  Done<Status> done) = 0;
  // Queues whose RedrivePolicy names this one, sorted by name.
  virtual void async_dead_letter_source_queues(const std::string& name,
                                               Done<Result<std::vector<std::string>>> done) = 0;

  // Whether a send is a SendMessageBatch or one SendMessage: a FIFO batch
  // with an entry lacking its group or deduplication id fails as a whole,
  // a single send answers it on its own (storage/message_rules.h).
  enum class SendKind : uint8_t { Batch, Single };

  // Batches are one atomic write; the outer Result fails the whole request
  // (e.g. no such queue), the inner ones each entry.
  virtual void async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                                   Done<Result<std::vector<Result<SentMessage>>>> done) = 0;
  // What a receipt handle may still do (older handles on standard queues,
  // expired ones on FIFO queues) is storage/receipt_handle.h's rule.
  virtual void async_delete_messages(const std::string& queue_name, const std::vector<std::string>& receipt_handles,
                                     Done<Result<std::vector<Status>>> done) = 0;
  virtual void async_change_visibilities(const std::string& queue_name, const std::vector<VisibilityChange>& changes,
                                         Done<Result<std::vector<Status>>> done) = 0;

  // Up to max_messages visible messages, made invisible for the visibility
  // timeout (the queue's when not given). Empty when none is visible.
  // Messages past their queue's maxReceiveCount go to its dead-letter queue
  // in the same write instead. FIFO queues deliver each group in order, up
  // to its first message in flight, and serve the groups in turns
  // (storage/message_rules.h); a retry with the same non-empty
  // attempt id within the dedup window returns the same messages.
  virtual void async_receive_messages(const std::string& queue_name, int max_messages,
                                      std::optional<int> visibility_timeout, const std::string& attempt_id,
                                      Done<Result<std::vector<ReceivedMessage>>> done) = 0;

  // The first max_messages messages in send order, whatever their state,
  // read without changing anything (no visibility, receive count or
  // attempt is touched). For inspection (the web console), not delivery.
  virtual void async_peek_messages(const std::string& queue_name, size_t max_messages,
                                   Done<Result<std::vector<PeekedMessage>>> done) = 0;
  // Deletes the message a peek showed at `position` (the token that peek
  // gave), whatever its state (deleting an in-flight FIFO message lets the
  // rest of its group be received), checked by its message id: an
  // administrator's delete, for the console, since a peek gives no receipt
  // handle. InvalidParameterValue when it is no longer there, or `position`
  // is no token a peek gives.
  virtual void async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                           const std::string& message_id, Done<Status> done) = 0;

  // Message move tasks, from a dead-letter queue to `destination` or else
  // back to each message's source queue. Start answers the new task's id.
  virtual void async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                     std::optional<int> max_per_second, Done<Result<std::string>> done) = 0;
  virtual void async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) = 0;
  virtual void async_list_move_tasks(const std::string& source_name, size_t max_results,
                                     Done<Result<std::vector<MoveTask>>> done) = 0;

  // Time-driven work: delayed and in-flight messages whose time has come
  // become visible (listeners hear of it), retention expiry, the next steps
  // of message move tasks. Answers the next time it has work, if any.
  virtual void async_run_due_work(Done<std::optional<int64_t>> done) = 0;

  // Deletes everything of this engine's account and region: every queue,
  // message, deduplication entry, receive attempt, move task and name
  // cooldown (a queue of any name can be created at once afterwards), as one
  // change that is durable (synced) before `done` gets Ok; on an error
  // nothing is deleted. For test suites (--dev-api, POST /_wharf/reset).
  // An operation that ran before is deleted with the rest, one that runs
  // after sees an empty account; long polls waiting on a queue are told, and
  // find it gone. The default answers that the backend cannot.
  virtual void async_reset(Done<Status> done);

  // Durability. Every change is in the write-ahead log before the call that
  // made it completes; `sync_log` makes all of it so far survive power loss
  // (fsync). `log_position` grows with every write, so a caller can tell
  // whether a sync started after its write covers it. (A database backend
  // answers 0 and Ok: its commits are durable as the database is set up.)
  virtual uint64_t log_position() = 0;
  virtual Status sync_log() = 0;
  // A buffered log (RocksDB unless --durability=fsync): writes made on a
  // thread while a DeferredLogFlush lives there may wait in the process's
  // log buffer, so that one write(2) to the log carries several requests.
  // `log_buffered` is true while some write is there; `flush_log` hands all
  // of them to the OS (then they survive a crash of the process). Every
  // other write is handed over before its call completes.
  virtual bool log_buffered() { return false; }
  virtual Status flush_log() { return Ok{}; }
  // Approximate bytes the durable state takes (for monitoring).
  virtual uint64_t storage_bytes() = 0;

  // The synchronous forms: each waits for its async_ operation.
  Result<QueueInfo> create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags);
  Result<QueueInfo> get_queue(const std::string& name);
  Result<int64_t> queue_int_attribute(const std::string& name, const std::string& attribute);
  // Throws std::runtime_error when the store cannot be reached.
  std::vector<std::string> list_queues(std::string_view prefix);
  Status delete_queue(const std::string& name);
  Result<QueueCounts> queue_counts(const std::string& name);
  Status set_queue_attributes(const std::string& name, const AttributeMap& attributes);
  Status purge_queue(const std::string& name);
  Status modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change);
  Result<std::vector<std::string>> dead_letter_source_queues(const std::string& name);
  Result<std::vector<Result<SentMessage>>> send_messages(const std::string& queue_name,
                                                         std::vector<NewMessage> messages,
                                                         SendKind kind = SendKind::Batch);
  Result<std::vector<Status>> delete_messages(const std::string& queue_name,
                                              const std::vector<std::string>& receipt_handles);
  Result<std::vector<Status>> change_visibilities(const std::string& queue_name,
                                                  const std::vector<VisibilityChange>& changes);
  Result<std::vector<ReceivedMessage>> receive_messages(const std::string& queue_name, int max_messages,
                                                        std::optional<int> visibility_timeout,
                                                        const std::string& attempt_id = "");
  Result<std::vector<PeekedMessage>> peek_messages(const std::string& queue_name, size_t max_messages);
  Status delete_peeked_message(const std::string& queue_name, const std::string& position,
                               const std::string& message_id);
  Result<std::string> start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                      std::optional<int> max_per_second);
  Result<uint64_t> cancel_move_task(const std::string& task_id);
  Result<std::vector<MoveTask>> list_move_tasks(const std::string& source_name, size_t max_results);
  std::optional<int64_t> run_due_work();
  Status reset();

  // Single-entry forms of the batches.
  Result<SentMessage> send_message(const std::string& queue_name, NewMessage message);
  Status delete_message(const std::string& queue_name, const std::string& receipt_handle);
  Status change_visibility(const std::string& queue_name, const std::string& receipt_handle, int visibility_timeout);
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

// While one lives on a thread, the engine may leave that thread's writes in
// its log buffer (Engine::log_buffered): the holder promises to call
// flush_log before it acknowledges anything. Scopes nest.
class DeferredLogFlush {
 public:
  DeferredLogFlush();
  ~DeferredLogFlush();
  DeferredLogFlush(const DeferredLogFlush&) = delete;
  DeferredLogFlush& operator=(const DeferredLogFlush&) = delete;
};
bool log_flush_deferred();  // on this thread

}  // namespace wharf::storage
