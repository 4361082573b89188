#include "server/log.h"

// spdlog and fmt as headers only: Debian ships no static archive of either
// (the container image links statically), and only this file includes them.
// Debian's spdlog/tweakme.h already selects the external fmt.
#ifndef FMT_HEADER_ONLY
#define FMT_HEADER_ONLY
#endif

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

namespace wharf::server::log {
namespace {

// Info and debug lines to stdout, warnings and errors to stderr, each line
// flushed as it is written (containers and test harnesses read them live).
class SplitSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::FILE* out = msg.level >= spdlog::level::warn ? stderr : stdout;
    std::fwrite(line.data(), 1, line.size(), out);
    std::fflush(out);
  }
  void flush_() override {
    std::fflush(stdout);
    std::fflush(stderr);
  }
};

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";
constexpr const char* kJsonPattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})";

struct State {
  std::shared_ptr<spdlog::logger> logger;
  bool json = false;

  State() : logger(std::make_shared<spdlog::logger>("wharf", std::make_shared<SplitSink>())) {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
    logger->set_level(spdlog::level::info);
  }
};

State& state() {
  static State s;
  return s;
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::Debug:
      return spdlog::level::debug;
    case Level::Info:
      return spdlog::level::info;
    case Level::Warn:
      return spdlog::level::warn;
    case Level::Error:
      return spdlog::level::err;
    case Level::Off:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

std::string json_string(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Bare when it reads unambiguously, else a JSON string.
std::string text_value(std::string_view value) {
  bool bare = !value.empty();
  for (unsigned char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) bare = false;
  }
  return bare ? std::string(value) : json_string(value);
}

}  // namespace

Fields& Fields::add(std::string_view key, std::string_view value) {
  fields_.push_back({std::string(key), std::string(value), false});
  return *this;
}

Fields& Fields::add(std::string_view key, int64_t value) {
  fields_.push_back({std::string(key), std::to_string(value), true});
  return *this;
}

Fields& Fields::add(std::string_view key, double value) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%.3f", value);
  fields_.push_back({std::string(key), digits, true});
  return *this;
}

Level parse_level(std::string_view name) {
  if (name == "debug") return Level::Debug;
  if (name == "warn") return Level::Warn;
  if (name == "error") return Level::Error;
  if (name == "off") return Level::Off;
  return Level::Info;
}

void configure(Level level, bool json) {
  State& s = state();
  s.json = json;
  s.logger->set_formatter(
      std::make_unique<spdlog::pattern_formatter>(json ? kJsonPattern : kTextPattern, spdlog::pattern_time_type::utc));
  s.logger->set_level(to_spdlog(level));
}

bool enabled(Level level) { return state().logger->should_log(to_spdlog(level)); }

std::string format_payload(std::string_view message, const Fields& fields, bool json) {
  std::string out;
  if (json) {
    out = "\"msg\":" + json_string(message);
    for (const auto& f : fields.fields()) {
      out += ',' + json_string(f.key) + ':' + (f.number ? f.value : json_string(f.value));
    }
  } else {
    out = message;
    for (const auto& f : fields.fields()) out += ' ' + f.key + '=' + (f.number ? f.value : text_value(f.value));
  }
  return out;
}

void write(Level level, std::string_view message, const Fields& fields) {
  State& s = state();
  const auto spd = to_spdlog(level);
  if (!s.logger->should_log(spd)) return;
  s.logger->log(spd, "{}", format_payload(message, fields, s.json));
}

}  // namespace wharf::server::log
