// Batch actions: SendMessageBatch, DeleteMessageBatch,
// ChangeMessageVisibilityBatch. Whole-request errors as AWS gives them; past
// those, each entry succeeds or fails on its own, and the engine stores the
// successful ones in one write.
#include <set>

#include "protocol/errors.h"
#include "server/actions.h"
#include "server/message_attributes.h"
#include "server/params.h"

namespace wharf::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxEntries = 10;
// A SendMessageBatch's entries together, whatever the queue's
// MaximumMessageSize (which bounds each entry on its own).
constexpr size_t kMaxBatchBytes = 1048576;

bool valid_entry_id(const std::string& id) {
  if (id.empty() || id.size() > 80) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

// The entries of a batch, checked as a whole: present, at most 10, each with
// a valid Id, all Ids distinct. Answers the request's array of them.
Result<const json*> batch_entries(const Call& call, const std::string& entry_name) {
  Params p(call.params);
  const json* entries = p.object("Entries");
  if (!entries || !entries->is_array() || entries->empty()) {
    return make_error(ErrorCode::EmptyBatchRequest, "There should be at least one " + entry_name + " in the request.");
  }
  if (entries->size() > kMaxEntries) {
    return make_error(
        ErrorCode::TooManyEntriesInBatchRequest,
        "Maximum number of entries per request are 10. You have sent " + std::to_string(entries->size()) + ".");
  }
  std::set<std::string_view> ids;
  for (const auto& entry : *entries) {
    static const std::string kNone;
    const std::string& id = entry.is_object() && entry.contains("Id") && entry["Id"].is_string()
                                ? entry["Id"].get_ref<const std::string&>()
                                : kNone;
    if (!valid_entry_id(id)) {
      return make_error(ErrorCode::InvalidBatchEntryId,
                        "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can "
                        "be at most 80 letters long.");
    }
    if (!ids.insert(id).second) {
      return make_error(ErrorCode::BatchEntryIdsNotDistinct, "Id " + id + " repeated.");
    }
  }
  return entries;
}

json failure(const std::string& id, const SqsError& error) {
  const auto& wire = protocol::wire_info(error.code);
  return {{"Id", id}, {"SenderFault", wire.sender_fault}, {"Code", wire.query_code}, {"Message", error.message}};
}

json batch_result(json successful, json failed) {
  return {{"Successful", std::move(successful)}, {"Failed", std::move(failed)}};
}

// The answer of a batch whose entries succeed with just their Id.
json status_results(const std::vector<std::string>& ids, const std::vector<Status>& results, json failed) {
  json successful = json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (results[i]) {
      successful.push_back({{"Id", ids[i]}});
    } else {
      failed.push_back(failure(ids[i], results[i].error()));
    }
  }
  return batch_result(std::move(successful), std::move(failed));
}

// An entry over the queue's MaximumMessageSize fails on its own (in AWS's
// words for a batch entry); the others go on.
void fail_oversized(size_t max_message, std::vector<std::string>& ids, std::vector<PreparedSend>& prepared,
                    json& failed) {
  size_t kept = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (prepared[i].message.body.size() + prepared[i].message.attributes_size > max_message) {
      failed.push_back(failure(ids[i], make_error(ErrorCode::InvalidParameterValue,
                                                  "One or more parameters cannot be validated. Reason: Message must "
                                                  "be shorter than " +
                                                      std::to_string(max_message) + " bytes.")));
      continue;
    }
    if (kept != i) {
      ids[kept] = std::move(ids[i]);
      prepared[kept] = std::move(prepared[i]);
    }
    ++kept;
  }
  ids.resize(kept);
  prepared.erase(prepared.begin() + static_cast<std::ptrdiff_t>(kept), prepared.end());
}

// What a batch's answer needs once the engine has answered: the ids of the
// entries it was given (in order) and the failures found before. Moved
// into the engine's continuation (the handler's stack is gone by then when
// the backend completes later): one allocation per batch request.
struct PendingBatch {
  std::vector<std::string> ids;
  json failed = json::array();
};

void answer_statuses(const Call& call, PendingBatch& batch, Result<std::vector<Status>> results) {
  if (!results) return call.reply(results.error());
  call.reply(Answer{status_results(batch.ids, results.value(), std::move(batch.failed)), {}});
}

// SendMessageBatch once the queue's MaximumMessageSize is known: each entry
// prepared (or failed), then the rest sent in one write.
void send_entries(const Call& call, const json& entries, size_t max_message) {
  PendingBatch batch;
  std::vector<PreparedSend> prepared;
  size_t total = 0;
  for (const auto& entry : entries) {
    const std::string id = entry["Id"].get<std::string>();
    auto one = prepare_send(entry, call.trace_header);
    if (!one) {
      batch.failed.push_back(failure(id, one.error()));
      continue;
    }
    total += one->message.body.size() + one->message.attributes_size;
    batch.ids.push_back(id);
    prepared.push_back(std::move(one.value()));
  }
  if (total > kMaxBatchBytes) {
    return call.reply(make_error(ErrorCode::BatchRequestTooLong,
                                 "Batch requests cannot be longer than " + std::to_string(kMaxBatchBytes) +
                                     " bytes. You have sent " + std::to_string(total) + " bytes."));
  }
  fail_oversized(max_message, batch.ids, prepared, batch.failed);
  std::vector<storage::NewMessage> messages;
  std::vector<json> checksums;
  messages.reserve(prepared.size());
  checksums.reserve(prepared.size());
  for (auto& p : prepared) {
    messages.push_back(std::move(p.message));
    checksums.push_back(std::move(p.checksums));
  }
  call.engine.async_send_messages(
      call.queue_name, std::move(messages), storage::Engine::SendKind::Batch,
      [&call, batch = std::move(batch),
       checksums = std::move(checksums)](Result<std::vector<Result<storage::SentMessage>>> sent) mutable {
        if (!sent) return call.reply(sent.error());
        json successful = json::array();
        for (size_t i = 0; i < batch.ids.size(); ++i) {
          auto& result = sent.value()[i];
          if (!result) {
            batch.failed.push_back(failure(batch.ids[i], result.error()));
            continue;
          }
          json ok = std::move(checksums[i]);
          ok["Id"] = batch.ids[i];
          ok["MessageId"] = result->message_id;
          if (!result->sequence_number.empty()) ok["SequenceNumber"] = result->sequence_number;
          successful.push_back(std::move(ok));
        }
        call.reply(Answer{batch_result(std::move(successful), std::move(batch.failed)), {}});
      });
}

}  // namespace

// Two engine calls, chained: the queue's MaximumMessageSize, then the send.
void send_message_batch(const Call& call, Reply reply) {
  auto entries = batch_entries(call, "SendMessageBatchRequestEntry");
  if (!entries) return reply(entries.error());
  // The entries are in call.params, which lives as long as the call.
  call.engine.async_queue_int_attribute(call.queue_name, "MaximumMessageSize",
                                        [&call, entries = entries.value()](Result<int64_t> max_size) {
                                          if (!max_size) return call.reply(max_size.error());
                                          send_entries(call, *entries, static_cast<size_t>(max_size.value()));
                                        });
}

void delete_message_batch(const Call& call, Reply reply) {
  auto entries = batch_entries(call, "DeleteMessageBatchRequestEntry");
  if (!entries) return reply(entries.error());
  PendingBatch batch;
  std::vector<std::string> handles;
  for (const auto& entry : *entries.value()) {
    const std::string id = entry["Id"].get<std::string>();
    auto handle = Params(entry).required_string("ReceiptHandle");
    if (!handle) {
      batch.failed.push_back(failure(id, handle.error()));
      continue;
    }
    batch.ids.push_back(id);
    handles.push_back(std::move(handle.value()));
  }
  call.engine.async_delete_messages(call.queue_name, handles,
                                    [&call, batch = std::move(batch)](Result<std::vector<Status>> results) mutable {
                                      answer_statuses(call, batch, std::move(results));
                                    });
}

void change_message_visibility_batch(const Call& call, Reply reply) {
  auto entries = batch_entries(call, "ChangeMessageVisibilityBatchRequestEntry");
  if (!entries) return reply(entries.error());
  PendingBatch batch;
  std::vector<storage::VisibilityChange> changes;
  for (const auto& entry : *entries.value()) {
    const std::string id = entry["Id"].get<std::string>();
    Params p(entry);
    auto handle = p.required_string("ReceiptHandle");
    if (!handle) {
      batch.failed.push_back(failure(id, handle.error()));
      continue;
    }
    auto timeout = p.optional_int("VisibilityTimeout", 0, 43200);
    if (!timeout || !timeout.value()) {
      batch.failed.push_back(failure(id, timeout ? make_error(ErrorCode::MissingParameter,
                                                              "The request must contain the parameter "
                                                              "VisibilityTimeout.")
                                                 : timeout.error()));
      continue;
    }
    batch.ids.push_back(id);
    changes.push_back(storage::VisibilityChange{std::move(handle.value()), *timeout.value()});
  }
  call.engine.async_change_visibilities(call.queue_name, changes,
                                        [&call, batch = std::move(batch)](Result<std::vector<Status>> results) mutable {
                                          answer_statuses(call, batch, std::move(results));
                                        });
}

}  // namespace wharf::server
