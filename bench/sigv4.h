// AWS Signature Version 4 for the POST requests wharf-bench sends.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace wharf::bench {

struct Credentials {
  std::string access_key = "x";
  std::string secret_key = "x";
  std::string region = "us-east-1";
};

std::string sha256_hex(std::string_view data);

// The headers a signed request carries besides its own.
struct SignedHeaders {
  std::string amz_date;       // X-Amz-Date
  std::string authorization;  // Authorization
};

// Signs a POST with an empty query string. Headers signed: content-type,
// host, x-amz-date and, when non-empty, x-amz-target. One signer per thread:
// it caches the day's signing key and the current second's date strings.
class SigV4Signer {
 public:
  explicit SigV4Signer(Credentials credentials, std::string service = "sqs");
  ~SigV4Signer();
  SigV4Signer(const SigV4Signer&) = delete;
  SigV4Signer& operator=(const SigV4Signer&) = delete;

  SignedHeaders sign(std::string_view host, std::string_view path, std::string_view content_type,
                     std::string_view amz_target, std::string_view body, std::chrono::system_clock::time_point now);

 private:
  void refresh_dates(std::chrono::system_clock::time_point now);
  std::string digest_hex(std::string_view data);

  Credentials credentials_;
  std::string service_;
  long long cached_second_ = -1;
  std::string amz_date_;  // 20240101T000000Z
  std::string day_;       // 20240101
  std::string key_day_;   // the day signing_key_ is for
  std::string signing_key_;
  std::string scope_;
  // OpenSSL objects fetched once and reused: the per-call implicit fetches
  // of the one-shot functions cost more than hashing a small request.
  struct Crypto;
  std::unique_ptr<Crypto> crypto_;
};

}  // namespace wharf::bench
