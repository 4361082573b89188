// The byte layout of what the engine keeps in RocksDB. Keys sort by queue,
// then by send order, so one queue's messages form one contiguous range.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/big_endian.h"

namespace wharf::storage {

// 8-byte big-endian queue id + 8-byte big-endian sequence number.
std::string message_key(uint64_t queue_id, uint64_t seq);
std::string queue_prefix(uint64_t queue_id);
// Meta key holding a queue's reserved sequence numbers.
std::string seq_reservation_key(uint64_t queue_id);
// Dedup entries of a FIFO queue: queue id + dedup key.
std::string dedup_key(uint64_t queue_id, std::string_view key);
bool parse_message_key(std::string_view key, uint64_t& queue_id, uint64_t& seq);

// Immutable content, written once at send.
struct MessageContent {
  int64_t sent_ms = 0;
  std::string message_id;
  std::string body;
  std::string message_attributes;  // JSON text, the wire shape; "" if none
  std::string system_attributes;   // encode_system_attributes text (storage/system_attributes.h); "" if none
  std::string body_md5;            // 32 lowercase hex digits, stored as 16 bytes; "" if unknown
};
std::string encode_content(const MessageContent& content);
std::optional<MessageContent> decode_content(std::string_view bytes);

// Small mutable state, rewritten at every receive and visibility change.
// Holds what start-up needs to rebuild the indices without reading content.
struct MessageState {
  int64_t visible_at_ms = 0;  // delay end or visibility deadline
  uint32_t receive_count = 0;
  int64_t first_receive_ms = 0;
  int64_t sent_ms = 0;   // enqueue time, for retention
  std::string group_id;  // MessageGroupId (FIFO and fair queues); "" for none
};
std::string encode_state(const MessageState& state);
std::optional<MessageState> decode_state(std::string_view bytes);

}  // namespace wharf::storage
