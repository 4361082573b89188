// The SQS rules for messages that do not depend on how a backend stores
// them: what a send may carry and how it is counted, the deduplication keys
// of FIFO queues, the text of sequence numbers, and the in-flight limit.
// Every backend calls these, so both answer alike; they allocate nothing
// on the success path beyond what their results hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/sqs_error.h"
#include "storage/engine.h"

namespace wharf::storage {

// What a send needs to know of its queue, read once per send request from
// the queue's stored attributes.
struct SendRules {
  bool fifo = false;
  int64_t max_message_size = 0;              // MaximumMessageSize: body plus attributes, in bytes
  int default_delay_seconds = 0;             // DelaySeconds
  bool content_based_deduplication = false;  // FIFO: ContentBasedDeduplication
  bool deduplication_per_group = false;      // FIFO: DeduplicationScope messageGroup
};
SendRules send_rules_of(bool fifo, const AttributeMap& attributes);

// Checks one message against its queue's rules, in AWS's order: a body,
// valid characters, size (body plus attributes_size, at most
// MaximumMessageSize), then on FIFO queues a group id, no per-message delay,
// and a deduplication id or ContentBasedDeduplication (which fills in
// `message.deduplication_id`: the only change made); on standard queues no
// deduplication id (group ids are fair-queue groups there). The error is the
// one that entry answers.
Status validate_new_message(const SendRules& rules, NewMessage& message);

// When a valid message becomes visible, in milliseconds after its send: its
// own DelaySeconds, else the queue's.
inline int64_t effective_delay_ms(const SendRules& rules, const NewMessage& message) {
  return int64_t(message.delay_seconds.value_or(rules.default_delay_seconds)) * 1000;
}

// The content-based MessageDeduplicationId: SHA-256 of the body, 64
// lowercase hex digits.
std::string content_deduplication_id(std::string_view body);

// The key a FIFO message is deduplicated by within its window: the
// deduplication id, per queue, or per message group (DeduplicationScope
// messageGroup: group id, '\n', deduplication id; '\n' cannot be in a group id).
std::string deduplication_scope_key(const SendRules& rules, std::string_view group_id,
                                    std::string_view deduplication_id);

// A FIFO message's SequenceNumber: 20 decimal digits, "1" then the queue's
// sequence number zero-padded, so the text grows with the number.
std::string sequence_number_text(uint64_t seq);

// A receive is refused (OverLimit) while this many messages are in flight.
inline constexpr size_t kMaxInFlightMessages = 120'000;
Status check_in_flight_limit(size_t in_flight);

}  // namespace wharf::storage
