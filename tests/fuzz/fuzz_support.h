// Small helpers shared by the fuzz targets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::fuzz {

// Reads an environment flag ("1" = on).
bool env_flag(const char* name);

// XML 1.0 Char production over valid UTF-8; false with the offset of the
// first bad byte.
bool xml_chars_ok(std::string_view text, size_t* bad_offset = nullptr);

// Prints what went wrong and aborts (libFuzzer then saves the input).
[[noreturn]] void fail(const std::string& what, std::string_view detail = {});

// Splits a fuzz input into requests at "\n%%\n" (at most `max` of them).
std::vector<std::string_view> split_requests(std::string_view input, size_t max = 8);

}  // namespace wharf::fuzz
