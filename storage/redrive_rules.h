// Dead-letter queues: which queues a RedrivePolicy may name, when a receive
// moves a message to its dead-letter queue instead, and what the message
// becomes there. Backend-neutral: a backend gives a way to look queues up.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/sqs_error.h"
#include "storage/queue_attributes.h"
#include "storage/system_attributes.h"

namespace wharf::storage {

// Where a source queue lives (its ARN) and how to find the attributes of
// another queue of its account by name (null: no such queue).
struct RedriveScope {
  std::string_view region;
  std::string_view account_id;
  std::function<const AttributeMap*(const std::string& name)> find_queue;
};

// A RedrivePolicy in `attributes` (the source's attributes as they would
// become) must name an existing queue of this account, of the same type,
// that accepts the source (its RedriveAllowPolicy). It may name the source
// itself (AWS accepts that). Ok when there is no policy.
Status check_redrive_target(const RedriveScope& scope, const std::string& source_name, const AttributeMap& attributes);

// The queue (by name, in this account and region) that receives from
// `source_name` move messages to under the source's RedrivePolicy: none
// without a policy, and none when the policy names the source itself (a
// queue that is its own dead-letter queue keeps delivering its messages
// past maxReceiveCount, as on AWS).
std::optional<std::string> redrive_target(const AttributeMap& source_attributes, std::string_view source_name,
                                          std::string_view region, std::string_view account_id);

// Whether a receive of a message already received `receive_count` times
// moves it to the dead-letter queue instead of returning it: the receive
// would push ApproximateReceiveCount past maxReceiveCount.
inline bool redrives_on_receive(uint32_t receive_count, int max_receive_count) {
  return receive_count >= static_cast<uint32_t>(max_receive_count);
}

// What a message moved to a dead-letter queue carries there.
struct DeadLetteredMessage {
  SystemAttributes system_attributes;  // with DeadLetterQueueSourceArn
  int64_t sent_ms = 0;                 // its enqueue time in the dead-letter queue
};
// Standard queues keep the enqueue time (retention counts from the first
// send); FIFO queues reset it to `now_ms` and, as AWS documents, replace the
// deduplication id with the message id.
DeadLetteredMessage dead_lettered(SystemAttributes system_attributes, int64_t sent_ms, bool fifo,
                                  std::string source_arn, const std::string& message_id, int64_t now_ms);

// What a message returned from a dead-letter queue by a move task carries:
// no DeadLetterQueueSourceArn (AWS: "All redriven messages are considered new
// messages"; the caller gives it a new message id and enqueue time).
inline void returned_from_dead_letters(SystemAttributes& system_attributes) {
  system_attributes.dead_letter_queue_source_arn.clear();
}

}  // namespace wharf::storage
