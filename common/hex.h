// Hexadecimal, the one writer and reader: lowercase as checksums, message
// ids, SigV4 and JSON \u escapes write it; uppercase in percent-escapes, as
// RFC 3986 recommends and SigV4 requires; either case read back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace wharf {

namespace hex_digits {
inline constexpr char kLower[] = "0123456789abcdef";
inline constexpr char kUpper[] = "0123456789ABCDEF";
}  // namespace hex_digits

inline void append_hex(std::string& out, const void* bytes, size_t size) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(hex_digits::kLower[p[i] >> 4]);
    out.push_back(hex_digits::kLower[p[i] & 0xF]);
  }
}

inline std::string hex_lower(const void* bytes, size_t size) {
  std::string out;
  out.reserve(2 * size);
  append_hex(out, bytes, size);
  return out;
}

// `value` as exactly `digits` lowercase hex digits, most significant first
// (leading zeros kept, higher digits dropped).
inline void append_hex_number(std::string& out, uint64_t value, int digits) {
  for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) out.push_back(hex_digits::kLower[(value >> shift) & 0xF]);
}

// A byte as "%" and two uppercase hex digits.
inline void append_percent_escape(std::string& out, unsigned char c) {
  out.push_back('%');
  out.push_back(hex_digits::kUpper[c >> 4]);
  out.push_back(hex_digits::kUpper[c & 0xF]);
}

// A lowercase hex digit's value; -1 for any other character.
inline int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// A hex digit's value in either case (percent-escapes, JSON \u escapes,
// XML character references); -1 for any other character.
inline int hex_digit_value_any_case(char c) {
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return hex_digit_value(c);
}

// The byte two lowercase hex digits spell; -1 when either is not one.
inline int hex_byte_value(char high, char low) {
  const int h = hex_digit_value(high), l = hex_digit_value(low);
  if (h < 0 || l < 0) return -1;
  return h << 4 | l;
}

}  // namespace wharf
