// Text checks shared by the protocol and storage layers: strict UTF-8
// decoding, the XML 1.0 character set (which is also SQS's message character
// set), and a nesting-depth bound for JSON text before anything parses it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace wharf {

// Decodes the code point at text[i] and advances i past it; nullopt (i
// unchanged) for a malformed, truncated, overlong or surrogate sequence.
inline std::optional<uint32_t> next_code_point(std::string_view text, size_t& i) {
  const auto b0 = static_cast<uint8_t>(text[i]);
  uint32_t cp;
  size_t len;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    cp = b0 & 0x1F;
    len = 2;
  } else if ((b0 & 0xF0) == 0xE0) {
    cp = b0 & 0x0F;
    len = 3;
  } else if ((b0 & 0xF8) == 0xF0) {
    cp = b0 & 0x07;
    len = 4;
  } else {
    return std::nullopt;
  }
  if (i + len > text.size()) return std::nullopt;
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<uint8_t>(text[i + k]);
    if ((b & 0xC0) != 0x80) return std::nullopt;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
  i += len;
  return cp;
}

// Length of text's prefix of bytes in [0x20, 0x80), also stopping at '"'
// and '\\' when `json_specials`: what JSON readers and writers copy as it
// is. Eight bytes at a time (SWAR), as bodies are mostly such text.
inline size_t plain_ascii_prefix(std::string_view text, bool json_specials) {
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  constexpr uint64_t kHighs = 0x8080808080808080ull;
  const auto has_zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHighs; };
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    __builtin_memcpy(&word, text.data() + i, 8);
    uint64_t stop = (word & kHighs) | ((word - kOnes * 0x20) & ~word & kHighs);
    if (json_specials) stop |= has_zero_byte(word ^ (kOnes * '"')) | has_zero_byte(word ^ (kOnes * '\\'));
    if (stop) break;
  }
  for (; i < text.size(); ++i) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c < 0x20 || c >= 0x80 || (json_specials && (c == '"' || c == '\\'))) break;
  }
  return i;
}

inline bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (!next_code_point(text, i)) return false;
  }
  return true;
}

// #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
inline bool is_xml_char(uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

// SQS documents nest a few levels at most; deeper JSON is refused before it is
// parsed, because printing or destroying it recurses once per level.
constexpr int kMaxJsonDepth = 32;

inline bool json_nests_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

}  // namespace wharf
