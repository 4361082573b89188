// SigV4 verification of SQS requests, when credentials are configured.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/sqs_error.h"
#include "protocol/sigv4.h"

namespace wharf::server {

// AWS accepts header-signed requests within 15 minutes of its clock.
inline constexpr int64_t kClockSkewSeconds = 15 * 60;

// An access key's secret and the account its requests act as (empty: the
// server's --account-id).
struct Credential {
  std::string secret;
  std::string account_id;
};
using Credentials = std::map<std::string, Credential>;  // by access key

// Checks the request's signature against the known secrets; `now_s` is the
// server's clock. Answers the signer's credential. Errors as AWS names them:
// MissingAuthenticationToken, IncompleteSignature, InvalidClientTokenId,
// SignatureDoesNotMatch, RequestExpired.
Result<const Credential*> verify_signature(const protocol::SignedRequest& request, const Credentials& credentials,
                                           int64_t now_s);

// "KEY:SECRET" or "KEY:SECRET:ACCOUNT" (12 digits) entries separated by
// commas, spaces or newlines.
Result<Credentials> parse_credentials(const std::string& text);

}  // namespace wharf::server
