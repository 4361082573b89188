// Engine's single-entry forms: each is its batch of one.
#include "storage/engine.h"

namespace wharf::storage {

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

}  // namespace wharf::storage
