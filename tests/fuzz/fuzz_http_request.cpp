// Raw bytes as a client would send them on one keep-alive connection: Beast's
// request parser with the server's limits, then the server's request
// pipeline (server/sqs_endpoint.h, as server/http_server.cpp calls it: the
// body-limit answer, /health, /ready, /metrics, the console, decoding,
// routing, the actions), and the answer's head as the server writes it.
// Pipelined requests are served in order until one fails to parse or asks
// to close. The harness's endpoint runs without credentials (so requests
// reach the decoder); SigV4 verification is fuzzed beside it on every
// request.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>

#include "server/authentication.h"
#include "server/sqs_endpoint.h"
#include "tests/fuzz/server_harness.h"

using namespace wharf;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

// As in server/http_server.cpp.
constexpr uint64_t kMaxBodyBytes = 8ull * 1024 * 1024;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

using Request = server::HttpRequest;

// The answer's bytes as the server writes them.
std::string serialise(unsigned version, bool keep_alive, const protocol::EncodedResponse& response,
                      std::string_view request_id) {
  return server::response_head(version, keep_alive, response, request_id) + response.body;
}

// SigV4 verification as the endpoint runs it when credentials are
// configured. Its answer is ignored here so that the request still reaches
// the decoder; the clock is the request's own X-Amz-Date when it
// has one, so that well-formed signatures get as far as being recomputed.
void authenticate(const Request& request) {
  static const server::Credentials kCredentials = {{"x", {"x", ""}}, {"AKIDEXAMPLE", {"secret", "111122223333"}}};
  protocol::SignedRequest signed_request;
  signed_request.method = std::string_view(request.method_string().data(), request.method_string().size());
  signed_request.target = std::string_view(request.target().data(), request.target().size());
  for (const auto& field : request) {
    signed_request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  signed_request.body = request.body();
  int64_t now = 1'767'225'600;
  if (auto date = request.find("X-Amz-Date"); date != request.end()) {
    const int64_t t = protocol::parse_amz_date(std::string_view(date->value().data(), date->value().size()));
    if (t >= 0) now = t;
  }
  (void)server::verify_signature(signed_request, kCredentials, now);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::run_input([&] {
    auto& harness = fuzz::Harness::instance();
    harness.begin_input();
    fuzz::Session session(harness);
    const char* p = reinterpret_cast<const char*>(data);
    size_t left = size;
    for (int served = 0; left > 0 && served < 8; ++served) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(kMaxBodyBytes);
      parser.header_limit(kMaxHeaderBytes);
      parser.eager(true);
      beast::error_code ec;
      while (!parser.is_done()) {
        const size_t used = parser.put(net::buffer(p, left), ec);
        p += used;
        left -= used;
        if (ec == http::error::need_more) {
          ec = {};
          if (used == 0 || left == 0) {
            parser.put_eof(ec);  // the client closed: what is missing never comes
            break;
          }
          continue;
        }
        if (ec || used == 0) break;
      }
      if (ec == http::error::header_limit) break;  // a plain 431, then close
      if (ec == http::error::body_limit) {
        // The server answers RequestTooLarge from the head, then closes.
        Request head = parser.release();
        (void)serialise(head.version(), false, server::request_too_large(head, "id"), "id");
        break;
      }
      if (ec || !parser.is_done()) break;
      Request request = parser.release();
      authenticate(request);
      const unsigned version = request.version();
      const bool keep_alive = request.keep_alive();
      // Odd requests as if they came over the TLS port (https queue URLs).
      session.request(
          std::move(request),
          [version, keep_alive](const server::Exchange& x) {
            (void)serialise(version, keep_alive, x.response, x.request_id);
          },
          served % 2 == 1);
      if (!keep_alive) break;
    }
  });
  return 0;
}
