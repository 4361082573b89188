#include "tests/fuzz/fuzz_support.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace wharf::fuzz {
namespace {

std::string truncated(std::string_view s, size_t max = 2000) {
  if (s.size() <= max) return std::string(s);
  return std::string(s.substr(0, max)) + "...(" + std::to_string(s.size()) + " bytes)";
}

}  // namespace

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && std::string_view(v) == "1";
}

void fail(const std::string& what, std::string_view detail) {
  std::fprintf(stderr, "\n==WHARF-FUZZ== FINDING: %s\n", what.c_str());
  if (!detail.empty()) std::fprintf(stderr, "==WHARF-FUZZ== detail: %s\n", truncated(detail).c_str());
  std::fflush(stderr);
  std::abort();
}

bool xml_chars_ok(std::string_view s, size_t* bad_offset) {
  size_t i = 0;
  auto bad = [&] {
    if (bad_offset) *bad_offset = i;
    return false;
  };
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp;
    size_t len;
    if (b0 < 0x80) {
      cp = b0, len = 1;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1F, len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0F, len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07, len = 4;
    } else {
      return bad();
    }
    if (i + len > s.size()) return bad();
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return bad();
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    const bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                         (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
    if (cp < kMinForLength[len] || !allowed) return bad();
    i += len;
  }
  return true;
}

std::vector<std::string_view> split_requests(std::string_view input, size_t max) {
  std::vector<std::string_view> out;
  constexpr std::string_view kSep = "\n%%\n";
  while (out.size() + 1 < max) {
    auto at = input.find(kSep);
    if (at == std::string_view::npos) break;
    out.push_back(input.substr(0, at));
    input.remove_prefix(at + kSep.size());
  }
  out.push_back(input);
  return out;
}

}  // namespace wharf::fuzz
