// Receipt handles: opaque, unforgeable (HMAC-SHA256 under a per-data-dir
// secret), naming the exact receive they came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/sqs_error.h"

namespace wharf::storage {

struct ReceiptHandle {
  uint64_t queue_id = 0;
  uint64_t seq = 0;
  uint32_t receive_count = 0;  // which receive of the message issued it
};

std::string encode_receipt_handle(const ReceiptHandle& handle, std::string_view secret);
std::optional<ReceiptHandle> decode_receipt_handle(std::string_view text, std::string_view secret);

// What a receipt handle may still do, as every backend judges it (observed
// on AWS). A handle that never decodes (never issued, or of another queue)
// is ReceiptHandleIsInvalid (invalid_receipt_handle). For one that decodes,
// what counts is the message it names, as it is now:
struct HandledMessage {
  bool exists = false;          // not deleted (nor purged, expired or moved)
  bool received_since = false;  // received again after this handle was issued
  bool in_flight = false;       // its visibility timeout has not ended
};

// DeleteMessage. Standard queues: any handle of the message deletes it, also
// one older than its latest receive. FIFO queues: only the latest receive's
// handle, and only while the message is in flight; an expired one is
// refused and the message stays (receipt_handle_expired). A message already
// deleted: success, on both.
enum class DeleteVerdict : uint8_t { Delete, AlreadyDeleted, Expired };
DeleteVerdict judge_delete(bool fifo, const HandledMessage& message);

// ChangeMessageVisibility. Standard queues: any handle of a message that
// exists sets its visibility timeout from now, whatever its state (a
// visible message becomes invisible for that long; the receive count does
// not change). FIFO queues: the latest receive's handle of a message in
// flight. Otherwise MessageUnavailable (message_unavailable) or, FIFO, a
// message no longer in flight: NotInFlight (message_not_in_flight).
enum class VisibilityVerdict : uint8_t { Apply, MessageUnavailable, NotInFlight };
VisibilityVerdict judge_visibility_change(bool fifo, const HandledMessage& message);

// The errors those verdicts answer, naming the handle as given.
SqsError invalid_receipt_handle(const std::string& handle);
SqsError receipt_handle_expired(const std::string& handle);
SqsError message_unavailable(const std::string& handle);
SqsError message_not_in_flight();

}  // namespace wharf::storage
