// Raw bytes as a client would send them on one keep-alive connection: Beast's
// request parser with the server's limits, then the server's request path
// (server/http_server.cpp: the body-limit answer, /health, SigV4
// verification, decode_request, run_action, the encoded answer made into a
// Beast response and serialised).
// Pipelined requests are served in order until one fails to parse or asks
// to close. http_server.cpp keeps this logic in an anonymous-namespace
// Session bound to a socket, so the steps are mirrored here; keep them in
// step with it.
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstddef>
#include <cstdint>
#include <sstream>

#include "server/authentication.h"
#include "tests/fuzz/server_harness.h"

using namespace wharf;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {

// As in server/http_server.cpp.
constexpr uint64_t kMaxBodyBytes = 8ull * 1024 * 1024;
constexpr uint32_t kMaxHeaderBytes = 64 * 1024;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

protocol::HttpRequestView view_of(const Request& r) {
  protocol::HttpRequestView v;
  v.method = std::string_view(r.method_string().data(), r.method_string().size());
  v.target = std::string_view(r.target().data(), r.target().size());
  auto ct = r.find(http::field::content_type);
  if (ct != r.end()) v.content_type = std::string_view(ct->value().data(), ct->value().size());
  auto at = r.find("X-Amz-Target");
  if (at != r.end()) v.amz_target = std::string_view(at->value().data(), at->value().size());
  v.body = r.body();
  return v;
}

std::string serialise(const Request& request, const protocol::EncodedResponse& encoded) {
  Response res{static_cast<http::status>(encoded.status), request.version()};
  res.set(http::field::server, "wharf");
  res.set(http::field::content_type, encoded.content_type);
  res.set("x-amzn-RequestId", "00000000-0000-4000-8000-000000000000");
  for (const auto& [name, value] : encoded.headers) res.set(name, value);
  res.keep_alive(request.keep_alive());
  res.body() = encoded.body;
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

// SigV4 verification as http_server.cpp's authenticate() runs it when
// credentials are configured. Its answer is ignored here so that the request
// still reaches the decoder; the clock is the request's own X-Amz-Date when it
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
        head.keep_alive(false);
        const auto proto = protocol::detect_protocol(view_of(head));
        (void)serialise(head, protocol::encode_error(proto,
                                                     make_error(ErrorCode::RequestTooLarge,
                                                                "The request body is larger than the server accepts."),
                                                     "id"));
        break;
      }
      if (ec || !parser.is_done()) break;
      auto request = std::make_shared<Request>(parser.release());
      if (request->method() == http::verb::get && (request->target() == "/health" || request->target() == "/health/")) {
        protocol::EncodedResponse ok;
        ok.content_type = "text/plain";
        ok.body = "ok\n";
        (void)serialise(*request, ok);
        if (!request->keep_alive()) break;
        continue;
      }
      authenticate(*request);
      auto host_it = request->find(http::field::host);
      const std::string host = host_it == request->end() ? "" : std::string(host_it->value());
      // Odd requests as if they came over the TLS port (https queue URLs).
      session.request(
          view_of(*request), host,
          [request](const protocol::EncodedResponse& encoded) { (void)serialise(*request, encoded); }, served % 2 == 1);
      if (!request->keep_alive()) break;
    }
  });
  return 0;
}
