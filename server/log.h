// The process log: start, stop, configuration problems, errors and, when
// asked, one line per SQS request. Text or JSON lines through spdlog; info
// and debug go to stdout, warnings and errors to stderr. Only server/log.cpp
// sees spdlog.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::server::log {

enum class Level { Debug, Info, Warn, Error, Off };

// Key/value pairs after the message: ` key=value` in text (quoted when the
// value has spaces, quotes or control characters), members in JSON.
class Fields {
 public:
  Fields& add(std::string_view key, std::string_view value);
  Fields& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  Fields& add(std::string_view key, int64_t value);
  Fields& add(std::string_view key, double value);
  Fields& add(std::string_view key, int value) { return add(key, static_cast<int64_t>(value)); }
  Fields& add(std::string_view key, unsigned value) { return add(key, static_cast<int64_t>(value)); }

  struct Field {
    std::string key;
    std::string value;  // text, or the number's digits
    bool number = false;
  };
  const std::vector<Field>& fields() const { return fields_; }

 private:
  std::vector<Field> fields_;
};

// "debug", "info", "warn", "error" or "off"; anything else is Info.
Level parse_level(std::string_view name);

// Sets the level and format for the rest of the process (text until called).
void configure(Level level, bool json);

bool enabled(Level level);
void write(Level level, std::string_view message, const Fields& fields = {});

inline void debug(std::string_view message, const Fields& fields = {}) { write(Level::Debug, message, fields); }
inline void info(std::string_view message, const Fields& fields = {}) { write(Level::Info, message, fields); }
inline void warn(std::string_view message, const Fields& fields = {}) { write(Level::Warn, message, fields); }
inline void error(std::string_view message, const Fields& fields = {}) { write(Level::Error, message, fields); }

// The line's payload (after time and level), for tests: `message k=v ...` in
// text, `"msg":"message","k":v` in JSON.
std::string format_payload(std::string_view message, const Fields& fields, bool json);

}  // namespace wharf::server::log
