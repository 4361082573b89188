// Lowercase hexadecimal, as checksums, message ids and SigV4 write it.
#pragma once

#include <cstddef>
#include <string>

namespace wharf {

inline void append_hex(std::string& out, const void* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[p[i] >> 4]);
    out.push_back(kHex[p[i] & 0xF]);
  }
}

inline std::string hex_lower(const void* bytes, size_t size) {
  std::string out;
  out.reserve(2 * size);
  append_hex(out, bytes, size);
  return out;
}

// A lowercase hex digit's value; -1 for any other character.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace wharf
