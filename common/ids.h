// Random identifiers: message ids and request ids (UUID v4 text).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/hex.h"

namespace wharf {

// A UUID's 16 bytes, for keeping many message ids in memory (FIFO
// deduplication entries); the text is lowercase 8-4-4-4-12 hex digits.
using UuidBytes = std::array<uint8_t, 16>;

inline std::string uuid_text(const UuidBytes& bytes) {
  std::string out;
  out.reserve(36);
  append_hex(out, bytes.data(), 4);
  for (size_t at : {4, 6, 8}) {
    out.push_back('-');
    append_hex(out, bytes.data() + at, 2);
  }
  out.push_back('-');
  append_hex(out, bytes.data() + 10, 6);
  return out;
}

inline std::optional<UuidBytes> uuid_bytes(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  UuidBytes out{};
  size_t at = 0;
  for (size_t i = 0; i < 16; ++i) {
    if (at == 8 || at == 13 || at == 18 || at == 23) {
      if (text[at] != '-') return std::nullopt;
      ++at;
    }
    const int byte = hex_byte_value(text[at], text[at + 1]);
    if (byte < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(byte);
    at += 2;
  }
  return out;
}

inline std::string random_uuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32)};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  UuidBytes bytes;
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(lo >> (56 - 8 * i));
  }
  return uuid_text(bytes);
}

}  // namespace wharf
