// Unsigned 64-bit integers as 8 big-endian bytes: byte strings that sort as
// the numbers do (record keys), and fixed-width fields (receipt handles).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wharf::storage {

inline void put_u64(std::string& out, uint64_t v) {
  char bytes[8];
  for (int i = 7; i >= 0; --i, v >>= 8) bytes[i] = static_cast<char>(v & 0xFF);
  out.append(bytes, 8);
}

// Reads the first 8 bytes of `bytes` (the caller checks there are 8).
inline uint64_t get_u64(std::string_view bytes) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(bytes[i]);
  return v;
}

}  // namespace wharf::storage
