// RocksEngine's asynchronous contract: RocksDB answers from memory and its
// own write path on the calling thread, so each operation completes inline.
#include "storage/rocksdb/rocks_engine.h"

namespace wharf::storage {

void RocksEngine::async_create_queue(const std::string& name, const AttributeMap& attributes, const TagMap& tags,
                                     Done<Result<QueueInfo>> done) {
  done(create_queue(name, attributes, tags));
}

void RocksEngine::async_get_queue(const std::string& name, Done<Result<QueueInfo>> done) { done(get_queue(name)); }

void RocksEngine::async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                            Done<Result<int64_t>> done) {
  done(queue_int_attribute(name, attribute));
}

void RocksEngine::async_list_queues(std::string_view prefix, Done<Result<std::vector<std::string>>> done) {
  done(list_queues(prefix));
}

void RocksEngine::async_delete_queue(const std::string& name, Done<Status> done) { done(delete_queue(name)); }

void RocksEngine::async_queue_counts(const std::string& name, Done<Result<QueueCounts>> done) {
  done(queue_counts(name));
}

void RocksEngine::async_set_queue_attributes(const std::string& name, const AttributeMap& attributes,
                                             Done<Status> done) {
  done(set_queue_attributes(name, attributes));
}

void RocksEngine::async_purge_queue(const std::string& name, Done<Status> done) { done(purge_queue(name)); }

void RocksEngine::async_modify_queue(const std::string& name, std::function<Status(QueueInfo&)> change,
                                     Done<Status> done) {
  done(modify_queue(name, change));
}

void RocksEngine::async_dead_letter_source_queues(const std::string& name,
                                                  Done<Result<std::vector<std::string>>> done) {
  done(dead_letter_source_queues(name));
}

void RocksEngine::async_send_messages(const std::string& queue_name, std::vector<NewMessage> messages, SendKind kind,
                                      Done<Result<std::vector<Result<SentMessage>>>> done) {
  done(send_messages(queue_name, std::move(messages), kind));
}

void RocksEngine::async_delete_messages(const std::string& queue_name, const std::vector<std::string>& receipt_handles,
                                        Done<Result<std::vector<Status>>> done) {
  done(delete_messages(queue_name, receipt_handles));
}

void RocksEngine::async_change_visibilities(const std::string& queue_name, const std::vector<VisibilityChange>& changes,
                                            Done<Result<std::vector<Status>>> done) {
  done(change_visibilities(queue_name, changes));
}

void RocksEngine::async_receive_messages(const std::string& queue_name, int max_messages,
                                         std::optional<int> visibility_timeout, const std::string& attempt_id,
                                         Done<Result<std::vector<ReceivedMessage>>> done) {
  done(receive_messages(queue_name, max_messages, visibility_timeout, attempt_id));
}

void RocksEngine::async_peek_messages(const std::string& queue_name, size_t max_messages,
                                      Done<Result<std::vector<PeekedMessage>>> done) {
  done(peek_messages(queue_name, max_messages));
}

void RocksEngine::async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                              const std::string& message_id, Done<Status> done) {
  done(delete_peeked_message(queue_name, position, message_id));
}

void RocksEngine::async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                                        std::optional<int> max_per_second, Done<Result<std::string>> done) {
  done(start_move_task(source_name, std::move(destination), max_per_second));
}

void RocksEngine::async_cancel_move_task(const std::string& task_id, Done<Result<uint64_t>> done) {
  done(cancel_move_task(task_id));
}

void RocksEngine::async_list_move_tasks(const std::string& source_name, size_t max_results,
                                        Done<Result<std::vector<MoveTask>>> done) {
  done(list_move_tasks(source_name, max_results));
}

void RocksEngine::async_run_due_work(Done<std::optional<int64_t>> done) { done(run_due_work()); }

}  // namespace wharf::storage
