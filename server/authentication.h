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

// Checks the request's signature against the known secrets; `now_s` is the
// server's clock. Errors as AWS names them: MissingAuthenticationToken,
// IncompleteSignature, InvalidClientTokenId, SignatureDoesNotMatch,
// RequestExpired.
Status verify_signature(const protocol::SignedRequest& request,
                        const std::map<std::string, std::string>& credentials, int64_t now_s);

// "KEY:SECRET" entries separated by commas, spaces or newlines.
Result<std::map<std::string, std::string>> parse_credentials(const std::string& text);

}  // namespace wharf::server
