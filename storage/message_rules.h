// The SQS rules for messages that do not depend on how a backend stores
// them: what a send may carry and how it is counted, the deduplication keys
// of FIFO queues, the text of sequence numbers, which messages of a FIFO
// group a receive may take and in which order groups are served, and the
// in-flight limit.
// Every backend calls these, so both answer alike; they allocate nothing
// on the success path beyond what their results hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  bool deduplication_per_group = false;      // FIFO: the effective DeduplicationScope is messageGroup
};
// `deduplication_per_group` is the queue's effective scope (see
// deduplication_per_group_of), which backends keep with the queue.
SendRules send_rules_of(bool fifo, const AttributeMap& attributes, bool deduplication_per_group);

// The DeduplicationScope deduplication follows: the one the queue was
// created with. SetQueueAttributes changes the attribute GetQueueAttributes
// reports, not the scope in effect (observed on AWS: a queue created with
// scope queue keeps deduplicating queue-wide after a change to messageGroup,
// also for ids first used after the change). Backends store this with the
// queue when it is created; a queue stored before they did takes it from
// its attributes.
bool deduplication_per_group_of(const AttributeMap& created_attributes);

// Checks one message against its queue's rules, in AWS's order: a body,
// valid characters, size (body plus attributes_size, at most
// MaximumMessageSize), then on FIFO queues a group id, no per-message delay,
// and a deduplication id or ContentBasedDeduplication (which fills in
// `message.deduplication_id`: the only change made); on standard queues no
// deduplication id (group ids are fair-queue groups there). The error is the
// one that entry answers. On FIFO queues a DelaySeconds of 0 is accepted
// (only a non-zero one is refused).
Status validate_new_message(const SendRules& rules, NewMessage& message);

// SendMessageBatch on a FIFO queue: an entry without a MessageGroupId, or
// without a MessageDeduplicationId while ContentBasedDeduplication is off,
// fails the whole request (InvalidParameterValue), before any entry is
// judged on its own. (A single SendMessage answers these per message, with
// validate_new_message.) Ok on standard queues.
Status check_fifo_batch(const SendRules& rules, const std::vector<NewMessage>& messages);

// When a valid message becomes visible, in milliseconds after its send: its
// own DelaySeconds, else the queue's. FIFO queues have no per-message delay
// (a DelaySeconds of 0 does not override the queue's).
inline int64_t effective_delay_ms(const SendRules& rules, const NewMessage& message) {
  if (rules.fifo) return int64_t(rules.default_delay_seconds) * 1000;
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

// A FIFO message's SequenceNumber, from the queue's sequence number (its
// send order): 20 decimal digits around 1.88e19, as AWS's look
// (18849496460467696128), strictly increasing with `seq`, so the text sorts
// as the numbers do. Exact for every `seq` below 2^48.
std::string sequence_number_text(uint64_t seq);

// Message groups (FIFO queues; fair queues on standard ones), as every
// backend serves them:
//
// - A FIFO group can be received from as soon as its first message (in send
//   order) is visible. A receive takes the group's messages in order from
//   the first, up to the first that is not visible (in flight or delayed):
//   the later ones stay blocked, whatever their own state
//   (fifo_receivable_run).
// - The groups that can be received from form a queue. A group joins it at
//   the back when it becomes receivable (its first message becomes visible:
//   sent, its visibility timeout ended or was changed to end, the messages
//   before it deleted). A receive takes from the groups at the front; a
//   group it took from leaves the queue while its first message is in
//   flight, and when it is still receivable after the receive (visibility
//   timeout 0) it goes to the back, in the order the receive took the
//   groups. A receive takes from each group once. Standard queues take one
//   message per group per turn in the same order (fair queues).
//
// So with groups g1, g2, g3 of 2, 2 and 1 messages, a receive of 3 with
// visibility timeout 0 answers g1-m1, g1-m2, g2-m1, and the next receive of
// 10 answers g3-m1, g1-m1, g1-m2, g2-m1, g2-m2.
//
// How many of a FIFO group's messages a receive takes, given the group's
// messages in send order [first, last) and whether each is visible: the
// visible ones from the first on, stopping at the first that is not, at
// most `wanted`.
template <class It, class IsVisible>
size_t fifo_receivable_run(It first, It last, size_t wanted, IsVisible&& is_visible) {
  size_t n = 0;
  for (; first != last && n < wanted && is_visible(*first); ++first) ++n;
  return n;
}

// A receive is refused (OverLimit) while this many messages are in flight.
inline constexpr size_t kMaxInFlightMessages = 120'000;
Status check_in_flight_limit(size_t in_flight);

}  // namespace wharf::storage
