// SigV4 verification of SQS requests, when credentials are configured.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

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

// A verified signature: whose, and the region of its credential scope.
struct Signer {
  const Credential* credential = nullptr;
  std::string region;
};

// Checks the request's signature against the known secrets; `now_s` is the
// server's clock. Answers the signer's credential and region. Errors as AWS
// names them: MissingAuthenticationToken, IncompleteSignature,
// InvalidClientTokenId, SignatureDoesNotMatch, RequestExpired.
Result<Signer> verify_signature(const protocol::SignedRequest& request, const Credentials& credentials, int64_t now_s);

// AWS's answer to a request that carries no signature at all
// (MissingAuthenticationToken, "Request is missing Authentication Token"),
// followed by why and how to sign: with --auth on, an unsigned client (an
// SDK told not to sign, curl) is a common test mistake.
SqsError missing_signature_error();

// Who a request acts as, and in which region: a queue lives in one region
// of one account, as in AWS.
struct Caller {
  std::string account_id;
  std::string region;
};

// The caller of a request whose signature was verified: the credential's
// account (the server's when it names none), in the region the signature is
// scoped to (a region name, or the server's region however --region spells
// it).
Result<Caller> signed_caller(const Signer& signer, const std::string& server_account, const std::string& server_region);

// The caller of a request while authentication is off: the server's
// account, in the region the request's signature names when it is signed
// (the signature is not checked), else in the server's region.
Result<Caller> unverified_caller(std::string_view authorization, std::string_view target,
                                 const std::string& server_account, const std::string& server_region);

// A region name as a request's credential scope or --region may give it:
// lower-case letters, digits and dashes, starting with a letter, at most 32
// characters (it is also a directory name on disk).
bool is_region_name(std::string_view region);

// "KEY:SECRET" or "KEY:SECRET:ACCOUNT" (12 digits) entries separated by
// commas, spaces or newlines.
Result<Credentials> parse_credentials(const std::string& text);

}  // namespace wharf::server
