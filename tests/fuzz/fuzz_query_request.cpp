// The query protocol end to end (without the socket): each request of the
// input is "[GET |POST ]<path and query string>\n<form body>" (POST when no
// method is given; GET requests' bodies are ignored, as the server does),
// requests joined by "\n%%\n"; a line "~<seconds>" moves the fake clock.
// "$RH<n>" / "$TH" values become live receipt / task handles.
#include <charconv>
#include <cstddef>
#include <cstdint>

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
      std::string_view line = one.substr(0, nl);
      const std::string_view body = nl == std::string_view::npos ? std::string_view() : one.substr(nl + 1);
      if (!line.empty() && line[0] == '~') {
        unsigned seconds = 0;
        std::from_chars(line.data() + 1, line.data() + line.size(), seconds);
        session.advance_ms(int64_t(std::min(seconds, 3600u)) * 1000);
        continue;
      }
      protocol::HttpRequestView view;
      view.method = "POST";
      if (line.substr(0, 4) == "GET ") {
        view.method = "GET";
        line.remove_prefix(4);
      } else if (line.substr(0, 5) == "POST ") {
        line.remove_prefix(5);
      }
      view.target = line;
      view.content_type = "application/x-www-form-urlencoded; charset=utf-8";
      view.body = body;
      session.request(view);
    }
  });
  return 0;
}
