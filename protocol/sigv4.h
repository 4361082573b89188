// AWS Signature Version 4: reading a request's signature (Authorization
// header or presigned query string) and computing what it should be. Pure:
// the caller supplies the secret and the clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/sqs_error.h"

namespace wharf::protocol {

struct SignedRequest {
  std::string_view method;
  std::string_view target;                                   // path and query string, as sent
  std::vector<std::pair<std::string, std::string>> headers;  // as sent (any case)
  std::string_view body;
};

struct SigV4Auth {
  std::string access_key;
  std::string day;  // YYYYMMDD of the credential scope
  std::string region;
  std::string service;
  std::vector<std::string> signed_headers;  // lower case, in the signed order
  std::string signature;                    // hex
  std::string amz_date;                     // YYYYMMDDTHHMMSSZ
  bool presigned = false;
  int64_t expires_seconds = 0;  // presigned only
};

// Errors: MissingAuthenticationToken (no signature at all),
// IncompleteSignature (a signature missing parts or malformed).
Result<SigV4Auth> parse_sigv4(const SignedRequest& request);

// The hex signature the request should carry for `secret`.
std::string expected_signature(const SignedRequest& request, const SigV4Auth& auth, std::string_view secret);

// The region of the credential scope a request's signature names (its
// Authorization header's Credential, else its query string's
// X-Amz-Credential), without checking the signature; empty when it names
// none. Cheap: no allocation, a view into its arguments.
std::string_view credential_scope_region(std::string_view authorization, std::string_view target);

// Seconds since the epoch of an X-Amz-Date value, or -1 if malformed.
int64_t parse_amz_date(std::string_view amz_date);

}  // namespace wharf::protocol
