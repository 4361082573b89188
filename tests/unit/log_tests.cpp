// Unit tests of the process log's line payloads and levels (server/log.h).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "server/log.h"

using namespace wharf::server;

TEST_CASE("text payloads: key=value, quoted when the value would be ambiguous", "[log]") {
  log::Fields fields;
  fields.add("action", "SendMessage").add("status", 200).add("ms", 1.25).add("queue", "a b").add("empty", "");
  CHECK(log::format_payload("request", fields, false) ==
        R"(request action=SendMessage status=200 ms=1.250 queue="a b" empty="")");
  log::Fields tricky;
  tricky.add("error", "x=\"y\"\n");
  CHECK(log::format_payload("m", tricky, false) == R"(m error="x=\"y\"\n")");
  CHECK(log::format_payload("just a message", {}, false) == "just a message");
}

TEST_CASE("JSON payloads are members of one valid object, numbers as numbers", "[log]") {
  log::Fields fields;
  fields.add("action", "SendMessage").add("status", 400).add("ms", 0.5).add("error", "QueueDoesNotExist");
  fields.add("bytes", std::string_view("\xff\x01", 2));  // not UTF-8: replaced, never an invalid line
  const std::string line = "{" + log::format_payload("request \"quoted\"", fields, true) + "}";
  const auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["msg"] == "request \"quoted\"");
  CHECK(parsed["action"] == "SendMessage");
  CHECK(parsed["status"] == 400);
  CHECK(parsed["ms"] == 0.5);
  CHECK(parsed["error"] == "QueueDoesNotExist");
  CHECK(parsed["bytes"].get<std::string>() == "\xEF\xBF\xBD\x01");
}

TEST_CASE("levels: what is below the configured one is not written", "[log]") {
  CHECK(log::parse_level("debug") == log::Level::Debug);
  CHECK(log::parse_level("warn") == log::Level::Warn);
  CHECK(log::parse_level("error") == log::Level::Error);
  CHECK(log::parse_level("off") == log::Level::Off);
  CHECK(log::parse_level("info") == log::Level::Info);
  log::configure(log::Level::Warn, false);
  CHECK_FALSE(log::enabled(log::Level::Info));
  CHECK(log::enabled(log::Level::Warn));
  CHECK(log::enabled(log::Level::Error));
  log::configure(log::Level::Off, true);
  CHECK_FALSE(log::enabled(log::Level::Error));
  log::configure(log::Level::Debug, false);
  CHECK(log::enabled(log::Level::Debug));
  log::configure(log::Level::Info, false);
}
