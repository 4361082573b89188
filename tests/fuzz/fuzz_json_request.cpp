// The JSON protocol end to end (without the socket): each request of the
// input is "<X-Amz-Target>\n<body>", requests joined by "\n%%\n"; a line
// "~<seconds>" instead moves the fake clock. Content-Type is the JSON
// protocol's. "$RH<n>" / "$TH" strings become live receipt / task handles.
// Each body is also parsed by protocol::parse_json and nlohmann, which must agree.
#include <charconv>
#include <cstddef>
#include <cstdint>

#include "common/text.h"
#include "protocol/json_reader.h"
#include "tests/fuzz/server_harness.h"

using namespace wharf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::run_input([&] {
    auto& harness = fuzz::Harness::instance();
    harness.begin_input();
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    fuzz::Session session(harness);
    for (std::string_view one : fuzz::split_requests(input)) {
      const auto nl = one.find('\n');
      const std::string_view target = one.substr(0, nl);
      const std::string_view body = nl == std::string_view::npos ? std::string_view() : one.substr(nl + 1);
      if (!target.empty() && target[0] == '~') {
        unsigned seconds = 0;
        std::from_chars(target.data() + 1, target.data() + target.size(), seconds);
        session.advance_ms(int64_t(std::min(seconds, 3600u)) * 1000);
        continue;
      }
      protocol::HttpRequestView view;
      view.method = "POST";
      view.target = "/";
      view.content_type = "application/x-amz-json-1.0";
      view.amz_target = target;
      view.body = body;
      // The request parser must agree with nlohmann's on every body it is
      // given (the codec refuses deeper nesting before parsing), but for one
      // deliberate difference: nlohmann ends the text at a NUL byte between
      // tokens (so "{}\0junk" is "{}"); Wharf refuses any raw NUL.
      const auto ours = protocol::parse_json(body);
      if (json_nests_too_deep(body)) {
        // not parsed by the server: nothing to compare
      } else if (body.find('\0') != std::string_view::npos) {
        if (!ours.is_discarded()) __builtin_trap();
      } else {
        const auto reference = nlohmann::json::parse(body, nullptr, false);
        if (ours.is_discarded() != reference.is_discarded() || (!ours.is_discarded() && ours != reference)) {
          __builtin_trap();
        }
      }
      session.request(view);
    }
  });
  return 0;
}
