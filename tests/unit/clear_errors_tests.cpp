// The texts of the errors a test suite most often meets by mistake: a QueueUrl
// of another account, region or server, and an unsigned request under
// --auth. AWS's words come first (its error codes are unchanged); Wharf's
// explanation follows only when there is something to explain.
#include <catch2/catch.hpp>

#include <string>

#include "protocol/errors.h"
#include "server/authentication.h"
#include "server/queue_urls.h"

using wharf::ErrorCode;
using wharf::make_error;
using wharf::server::queue_does_not_exist_text;
using wharf::server::queue_url_at;
using wharf::server::QueueUrlExpectation;
using wharf::server::split_queue_url;

namespace {

constexpr const char* kAwsWords = "The specified queue does not exist.";

QueueUrlExpectation here() {
  return QueueUrlExpectation{"http://127.0.0.1:9324", "127.0.0.1:9324", "", "000000000000", "us-east-1", "us-east-1"};
}

std::string text_for(const std::string& url, const QueueUrlExpectation& expected = here()) {
  return queue_does_not_exist_text(url, split_queue_url(url), expected);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("Queue URLs under a base name the region only outside the default one", "[queue-urls]") {
  CHECK(queue_url_at("http://h:1", "us-east-1", "us-east-1", "000000000000", "q") == "http://h:1/000000000000/q");
  CHECK(queue_url_at("http://h:1", "eu-west-1", "us-east-1", "000000000000", "q") ==
        "http://h:1/queue/eu-west-1/000000000000/q");
}

TEST_CASE("A QueueUrl as expected keeps AWS's words alone", "[clear-errors]") {
  CHECK(text_for("http://127.0.0.1:9324/000000000000/missing") == kAwsWords);
  CHECK(text_for("HTTP://LOCALHOST:9324/000000000000/missing", [] {
          auto e = here();
          e.host = "localhost:9324";
          return e;
        }()) == kAwsWords);
  CHECK(text_for("/000000000000/missing") == kAwsWords);  // a path: no host to compare
  CHECK(text_for("missing") == kAwsWords);                // a bare name: the caller's own
}

TEST_CASE("A QueueUrl of another account says which account Wharf serves", "[clear-errors]") {
  const std::string text = text_for("http://127.0.0.1:9324/123456789012/orders");
  CHECK(text.starts_with(kAwsWords));
  CHECK(text ==
        "The specified queue does not exist. Wharf at http://127.0.0.1:9324 serves this request as account "
        "000000000000 in region us-east-1; the QueueUrl names account 123456789012. Its URL for a queue named "
        "orders is http://127.0.0.1:9324/000000000000/orders, as CreateQueue and GetQueueUrl answer it.");
}

TEST_CASE("A QueueUrl of another region says the region the request is signed for", "[clear-errors]") {
  const std::string text = text_for("http://127.0.0.1:9324/queue/eu-west-1/000000000000/orders");
  CHECK(contains(text, "in region us-east-1; the QueueUrl names region eu-west-1."));
  CHECK(contains(text, "is http://127.0.0.1:9324/000000000000/orders,"));

  // A default-region URL while the client signs for another region.
  auto signed_elsewhere = here();
  signed_elsewhere.region = "eu-west-1";
  const std::string other = text_for("http://127.0.0.1:9324/000000000000/orders", signed_elsewhere);
  CHECK(contains(other, "in region eu-west-1; the QueueUrl names region us-east-1 (a URL without /queue/REGION"));
  CHECK(contains(other, "is http://127.0.0.1:9324/queue/eu-west-1/000000000000/orders,"));
}

TEST_CASE("A QueueUrl of another server names both hosts but only when no queue was found", "[clear-errors]") {
  const std::string text = text_for("http://localhost:4566/000000000000/orders");
  CHECK(text.starts_with(kAwsWords));
  CHECK(contains(text, "Wharf at http://127.0.0.1:9324 serves this request"));
  CHECK(contains(text, "the QueueUrl names host localhost:4566 (Wharf finds a queue by the URL's path"));
  CHECK(contains(text, "is this URL from another server?"));
  CHECK(contains(text, "is http://127.0.0.1:9324/000000000000/orders,"));

  // Several differences are named together.
  const std::string both = text_for("http://sqs.us-east-1.localhost.localstack.cloud:4566/123456789012/orders");
  CHECK(contains(both, "names account 123456789012 and host sqs.us-east-1.localhost.localstack.cloud:4566 ("));

  // --public-url's host is this server's too (a proxy, a port mapping).
  auto behind_proxy = here();
  behind_proxy.base_url = "https://sqs.example.test";
  behind_proxy.public_url = "https://sqs.example.test/";
  CHECK(text_for("https://sqs.example.test/000000000000/missing", behind_proxy) == kAwsWords);
}

TEST_CASE("A QueueUrl that is no queue URL says the form Wharf expects", "[clear-errors]") {
  const std::string text = text_for("http://127.0.0.1:9324/a/b/c");
  CHECK(text.starts_with(kAwsWords));
  CHECK(contains(text, "The QueueUrl 'http://127.0.0.1:9324/a/b/c' is not a queue URL."));
  CHECK(contains(text, "whose queue URLs are http://127.0.0.1:9324/000000000000/NAME"));
}

TEST_CASE("The client's words are quoted back bounded", "[clear-errors]") {
  const std::string long_url = "http://127.0.0.1:9324/" + std::string(5000, 'x') + "/y/z";
  const std::string text = text_for(long_url);
  CHECK(contains(text, "...' is not a queue URL."));
  CHECK(text.size() < 600);
}

TEST_CASE("The query protocol keeps Wharf's explanation after AWS's wsdl words", "[clear-errors]") {
  CHECK(wharf::protocol::query_error_message(make_error(ErrorCode::QueueDoesNotExist, kAwsWords)) ==
        "The specified queue does not exist for this wsdl version.");
  CHECK(wharf::protocol::query_error_message(
            make_error(ErrorCode::QueueDoesNotExist, std::string(kAwsWords) + " Wharf at X serves ...")) ==
        "The specified queue does not exist for this wsdl version. Wharf at X serves ...");
  CHECK(wharf::protocol::query_error_message(make_error(ErrorCode::InvalidParameterValue, "as is")) == "as is");
}

TEST_CASE("An unsigned request under --auth keeps AWS's code and words, then says how to sign", "[clear-errors]") {
  const auto error = wharf::server::missing_signature_error();
  CHECK(error.code == ErrorCode::MissingAuthenticationToken);
  CHECK(error.message.starts_with("Request is missing Authentication Token"));
  CHECK(contains(error.message, "--auth"));
  CHECK(contains(error.message, "Signature Version 4"));
  CHECK(contains(error.message, "WHARF_CREDENTIALS"));
  CHECK(contains(error.message, "AWS_ACCESS_KEY_ID"));

  // verify_signature answers it for a request without any signature.
  wharf::protocol::SignedRequest unsigned_request;
  unsigned_request.method = "POST";
  unsigned_request.target = "/";
  unsigned_request.headers = {{"Host", "127.0.0.1:9324"}};
  wharf::server::Credentials credentials{{"AKID", wharf::server::Credential{"secret", ""}}};
  auto verified = wharf::server::verify_signature(unsigned_request, credentials, 0);
  REQUIRE_FALSE(verified);
  CHECK(verified.error().code == ErrorCode::MissingAuthenticationToken);
  CHECK(verified.error().message == error.message);
  CHECK(wharf::protocol::wire_info(error.code).http_status == 403);
}
