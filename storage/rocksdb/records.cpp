#include "storage/rocksdb/records.h"

#include <algorithm>

#include "common/hex.h"

namespace wharf::storage {
namespace {

// Version 2 adds the body's MD5 (16 bytes) at the end; version 1 records,
// written before, are still read.
constexpr char kContentVersion1 = 1;
constexpr char kContentVersion2 = 2;
constexpr char kStateVersion = 2;

void put_u32(std::string& out, uint32_t v) {
  char bytes[4];
  for (int i = 3; i >= 0; --i, v >>= 8) bytes[i] = static_cast<char>(v & 0xFF);
  out.append(bytes, 4);
}

uint32_t get_u32(std::string_view bytes) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_u32(out, static_cast<uint32_t>(bytes.size()));
  out.append(bytes);
}

bool take_bytes(std::string_view& in, std::string& out) {
  if (in.size() < 4) return false;
  uint32_t n = get_u32(in);
  in.remove_prefix(4);
  if (in.size() < n) return false;
  out.assign(in.substr(0, n));
  in.remove_prefix(n);
  return true;
}

bool is_md5_hex(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) { return hex_digit_value(c) >= 0; });
}

}  // namespace

std::string message_key(uint64_t queue_id, uint64_t seq) {
  std::string key;
  key.reserve(16);
  put_u64(key, queue_id);
  put_u64(key, seq);
  return key;
}

std::string queue_prefix(uint64_t queue_id) {
  std::string key;
  put_u64(key, queue_id);
  return key;
}

std::string seq_reservation_key(uint64_t queue_id) { return "seq_reserved/" + queue_prefix(queue_id); }

std::string dedup_key(uint64_t queue_id, std::string_view key) {
  std::string out = queue_prefix(queue_id);
  out.append(key);
  return out;
}

bool parse_message_key(std::string_view key, uint64_t& queue_id, uint64_t& seq) {
  if (key.size() != 16) return false;
  queue_id = get_u64(key.substr(0, 8));
  seq = get_u64(key.substr(8, 8));
  return true;
}

std::string encode_content(const MessageContent& c) {
  const bool with_md5 = is_md5_hex(c.body_md5);
  std::string out;
  out.reserve(1 + 8 + 16 + c.message_id.size() + c.body.size() + c.message_attributes.size() +
              c.system_attributes.size() + 16);
  out.push_back(with_md5 ? kContentVersion2 : kContentVersion1);
  put_u64(out, static_cast<uint64_t>(c.sent_ms));
  put_bytes(out, c.message_id);
  put_bytes(out, c.body);
  put_bytes(out, c.message_attributes);
  put_bytes(out, c.system_attributes);
  if (with_md5) {
    char digest[16];
    for (size_t i = 0; i < 16; ++i)
      digest[i] = static_cast<char>(hex_byte_value(c.body_md5[2 * i], c.body_md5[2 * i + 1]));
    out.append(digest, 16);
  }
  return out;
}

std::optional<MessageContent> decode_content(std::string_view in) {
  if (in.size() < 9 || (in[0] != kContentVersion1 && in[0] != kContentVersion2)) return std::nullopt;
  const bool with_md5 = in[0] == kContentVersion2;
  MessageContent c;
  c.sent_ms = static_cast<int64_t>(get_u64(in.substr(1, 8)));
  in.remove_prefix(9);
  if (!take_bytes(in, c.message_id) || !take_bytes(in, c.body) || !take_bytes(in, c.message_attributes) ||
      !take_bytes(in, c.system_attributes)) {
    return std::nullopt;
  }
  if (with_md5) {
    if (in.size() != 16) return std::nullopt;
    c.body_md5 = hex_lower(in.data(), 16);
    in.remove_prefix(16);
  }
  if (!in.empty()) return std::nullopt;
  return c;
}

std::string encode_state(const MessageState& s) {
  std::string out;
  out.reserve(33 + s.group_id.size());
  out.push_back(kStateVersion);
  put_u64(out, static_cast<uint64_t>(s.visible_at_ms));
  put_u32(out, s.receive_count);
  put_u64(out, static_cast<uint64_t>(s.first_receive_ms));
  put_u64(out, static_cast<uint64_t>(s.sent_ms));
  put_bytes(out, s.group_id);
  return out;
}

std::optional<MessageState> decode_state(std::string_view in) {
  if (in.size() < 33 || in[0] != kStateVersion) return std::nullopt;
  MessageState s;
  s.visible_at_ms = static_cast<int64_t>(get_u64(in.substr(1, 8)));
  s.receive_count = get_u32(in.substr(9, 4));
  s.first_receive_ms = static_cast<int64_t>(get_u64(in.substr(13, 8)));
  s.sent_ms = static_cast<int64_t>(get_u64(in.substr(21, 8)));
  in.remove_prefix(29);
  if (!take_bytes(in, s.group_id) || !in.empty()) return std::nullopt;
  return s;
}

}  // namespace wharf::storage
