// Engine's synchronous forms, each waiting for its asynchronous operation,
// and the single-entry forms: each is its batch of one.
#include "storage/engine.h"

#include <condition_variable>
#include <mutex>
#include <stdexcept>

namespace wharf::storage {
namespace {

// Starts an operation and waits for its `done`. A backend that completes
// inline has called it before `start` returns, so the wait ends at once.
// `done` stores under the lock and notifies before unlocking, so the waiter
// cannot return (and destroy the state) while `done` still uses it.
template <typename R, typename Start>
R wait_for(Start&& start) {
  struct State {
    std::mutex mutex;
    std::condition_variable ready;
    std::optional<R> value;
  } state;
  start([&state](R result) {
    std::lock_guard lock(state.mutex);
    state.value.emplace(std::move(result));
    state.ready.notify_one();
  });
  std::unique_lock lock(state.mutex);
  state.ready.wait(lock, [&state] { return state.value.has_value(); });
  return std::move(*state.value);
}

}  // namespace

Result<QueueInfo> Engine::create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags) {
  return wait_for<Result<QueueInfo>>([&](auto done) { async_create_queue(name, attributes, tags, std::move(done)); });
}

Result<QueueInfo> Engine::get_queue(const std::string& name) {
  return wait_for<Result<QueueInfo>>([&](auto done) { async_get_queue(name, std::move(done)); });
}

Result<int64_t> Engine::queue_int_attribute(const std::string& name, const std::string& attribute) {
  return wait_for<Result<int64_t>>([&](auto done) { async_queue_int_attribute(name, attribute, std::move(done)); });
}

std::vector<std::string> Engine::list_queues(std::string_view prefix) {
  auto names =
      wait_for<Result<std::vector<std::string>>>([&](auto done) { async_list_queues(prefix, std::move(done)); });
  if (!names) throw std::runtime_error("list_queues: " + names.error().message);
  return std::move(names.value());
}

Status Engine::delete_queue(const std::string& name) {
  return wait_for<Status>([&](auto done) { async_delete_queue(name, std::move(done)); });
}

Result<QueueCounts> Engine::queue_counts(const std::string& name) {
  return wait_for<Result<QueueCounts>>([&](auto done) { async_queue_counts(name, std::move(done)); });
}

Status Engine::set_queue_attributes(const std::string& name, const AttributeMap& attributes) {
  return wait_for<Status>([&](auto done) { async_set_queue_attributes(name, attributes, std::move(done)); });
}

void Engine::async_reset(Done<Status> done) {
  done(make_error(ErrorCode::InternalError, "This storage backend cannot reset its data."));
}

Status Engine::reset() {
  return wait_for<Status>([&](auto done) { async_reset(std::move(done)); });
}

Status Engine::purge_queue(const std::string& name) {
  return wait_for<Status>([&](auto done) { async_purge_queue(name, std::move(done)); });
}

Status Engine::modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change) {
  return wait_for<Status>([&](auto done) { async_modify_queue(name, std::move(change), std::move(done)); });
}

Result<std::vector<std::string>> Engine::dead_letter_source_queues(const std::string& name) {
  return wait_for<Result<std::vector<std::string>>>(
      [&](auto done) { async_dead_letter_source_queues(name, std::move(done)); });
}

Result<std::vector<Result<SentMessage>>> Engine::send_messages(const std::string& queue_name,
                                                               std::vector<NewMessage> messages, SendKind kind) {
  return wait_for<Result<std::vector<Result<SentMessage>>>>(
      [&](auto done) { async_send_messages(queue_name, std::move(messages), kind, std::move(done)); });
}

Result<std::vector<Status>> Engine::delete_messages(const std::string& queue_name,
                                                    const std::vector<std::string>& receipt_handles) {
  return wait_for<Result<std::vector<Status>>>(
      [&](auto done) { async_delete_messages(queue_name, receipt_handles, std::move(done)); });
}

Result<std::vector<Status>> Engine::change_visibilities(const std::string& queue_name,
                                                        const std::vector<VisibilityChange>& changes) {
  return wait_for<Result<std::vector<Status>>>(
      [&](auto done) { async_change_visibilities(queue_name, changes, std::move(done)); });
}

Result<std::vector<ReceivedMessage>> Engine::receive_messages(const std::string& queue_name, int max_messages,
                                                              std::optional<int> visibility_timeout,
                                                              const std::string& attempt_id) {
  return wait_for<Result<std::vector<ReceivedMessage>>>([&](auto done) {
    async_receive_messages(queue_name, max_messages, visibility_timeout, attempt_id, std::move(done));
  });
}

Result<std::vector<PeekedMessage>> Engine::peek_messages(const std::string& queue_name, size_t max_messages) {
  return wait_for<Result<std::vector<PeekedMessage>>>(
      [&](auto done) { async_peek_messages(queue_name, max_messages, std::move(done)); });
}

Status Engine::delete_peeked_message(const std::string& queue_name, const std::string& position,
                                     const std::string& message_id) {
  return wait_for<Status>(
      [&](auto done) { async_delete_peeked_message(queue_name, position, message_id, std::move(done)); });
}

Result<std::string> Engine::start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                            std::optional<int> max_per_second) {
  return wait_for<Result<std::string>>(
      [&](auto done) { async_start_move_task(source_name, std::move(destination), max_per_second, std::move(done)); });
}

Result<uint64_t> Engine::cancel_move_task(const std::string& task_id) {
  return wait_for<Result<uint64_t>>([&](auto done) { async_cancel_move_task(task_id, std::move(done)); });
}

Result<std::vector<MoveTask>> Engine::list_move_tasks(const std::string& source_name, size_t max_results) {
  return wait_for<Result<std::vector<MoveTask>>>(
      [&](auto done) { async_list_move_tasks(source_name, max_results, std::move(done)); });
}

std::optional<int64_t> Engine::run_due_work() {
  return wait_for<std::optional<int64_t>>([&](auto done) { async_run_due_work(std::move(done)); });
}

Result<SentMessage> Engine::send_message(const std::string& queue_name, NewMessage message) {
  std::vector<NewMessage> one;
  one.push_back(std::move(message));
  auto results = send_messages(queue_name, std::move(one), SendKind::Single);
  if (!results) return results.error();
  return std::move(results->front());
}

Status Engine::delete_message(const std::string& queue_name, const std::string& receipt_handle) {
  auto results = delete_messages(queue_name, {receipt_handle});
  if (!results) return results.error();
  return results->front();
}

Status Engine::change_visibility(const std::string& queue_name, const std::string& receipt_handle,
                                 int visibility_timeout) {
  auto results = change_visibilities(queue_name, {VisibilityChange{receipt_handle, visibility_timeout}});
  if (!results) return results.error();
  return results->front();
}

namespace {
thread_local int deferred_log_flushes = 0;
}  // namespace

DeferredLogFlush::DeferredLogFlush() { ++deferred_log_flushes; }
DeferredLogFlush::~DeferredLogFlush() { --deferred_log_flushes; }
bool log_flush_deferred() { return deferred_log_flushes > 0; }

}  // namespace wharf::storage
