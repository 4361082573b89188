#include "server/authentication.h"

#include <openssl/crypto.h>

namespace wharf::server {

namespace {

// AWS's answer to a credential scoped to a region it does not serve.
SqsError invalid_region(std::string_view region) {
  return make_error(ErrorCode::SignatureDoesNotMatch,
                    "Credential should be scoped to a valid region, not '" + std::string(region) + "'.");
}

}  // namespace

bool is_region_name(std::string_view region) {
  if (region.empty() || region.size() > 32 || region[0] < 'a' || region[0] > 'z') return false;
  for (char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

Result<Caller> signed_caller(const Signer& signer, const std::string& server_account,
                             const std::string& server_region) {
  if (signer.region != server_region && !is_region_name(signer.region)) return invalid_region(signer.region);
  const std::string& account = signer.credential->account_id;
  return Caller{account.empty() ? server_account : account, signer.region};
}

Result<Caller> unverified_caller(std::string_view authorization, std::string_view target,
                                 const std::string& server_account, const std::string& server_region) {
  const std::string_view region = protocol::credential_scope_region(authorization, target);
  if (region.empty()) return Caller{server_account, server_region};
  if (region != server_region && !is_region_name(region)) return invalid_region(region);
  return Caller{server_account, std::string(region)};
}

SqsError missing_signature_error() {
  return make_error(ErrorCode::MissingAuthenticationToken,
                    "Request is missing Authentication Token. This Wharf server runs with --auth: every SQS request "
                    "must be signed with AWS Signature Version 4 by one of the access keys the server was given "
                    "(WHARF_CREDENTIALS or --credentials-file, as KEY:SECRET[:ACCOUNT]). The AWS SDKs and CLI sign "
                    "by default with the client's credentials (e.g. AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); "
                    "do not configure them to send unsigned requests.");
}

Result<Signer> verify_signature(const protocol::SignedRequest& request, const Credentials& credentials, int64_t now_s) {
  auto auth = protocol::parse_sigv4(request);
  if (!auth && auth.error().code == ErrorCode::MissingAuthenticationToken) return missing_signature_error();
  if (!auth) return auth.error();
  auto secret = credentials.find(auth->access_key);
  if (secret == credentials.end()) {
    return make_error(ErrorCode::InvalidClientTokenId, "The security token included in the request is invalid.");
  }
  if (auth->service != "sqs") {
    return make_error(ErrorCode::SignatureDoesNotMatch, "Credential should be scoped to correct service: 'sqs'.");
  }
  const int64_t signed_at = protocol::parse_amz_date(auth->amz_date);
  if (signed_at < 0 || auth->amz_date.substr(0, 8) != auth->day) {
    return make_error(ErrorCode::IncompleteSignature, "The X-Amz-Date " + auth->amz_date +
                                                          " is malformed or does not "
                                                          "match the credential scope's date.");
  }
  if (auth->presigned) {
    if (auth->expires_seconds < 1 || auth->expires_seconds > 604800) {
      return make_error(ErrorCode::IncompleteSignature, "X-Amz-Expires must be between 1 and 604800 seconds.");
    }
    if (now_s > signed_at + auth->expires_seconds || signed_at > now_s + kClockSkewSeconds) {
      return make_error(ErrorCode::RequestExpired, "Request has expired.");
    }
  } else if (signed_at < now_s - kClockSkewSeconds || signed_at > now_s + kClockSkewSeconds) {
    return make_error(ErrorCode::RequestExpired, "Signature expired: " + auth->amz_date +
                                                     " is now outside the 15 minute window of the server's "
                                                     "clock.");
  }
  const std::string expected = protocol::expected_signature(request, auth.value(), secret->second.secret);
  if (expected.size() != auth->signature.size() ||
      CRYPTO_memcmp(expected.data(), auth->signature.data(), expected.size()) != 0) {
    return make_error(ErrorCode::SignatureDoesNotMatch,
                      "The request signature we calculated does not match the signature you provided. Check your AWS "
                      "Secret Access Key and signing method. Consult the service documentation for details.");
  }
  return Signer{&secret->second, std::move(auth->region)};
}

Result<Credentials> parse_credentials(const std::string& text) {
  Credentials out;
  std::string entry;
  auto flush = [&]() -> Status {
    if (entry.empty()) return Ok{};
    auto colon = entry.find(':');
    if (colon == 0 || colon == std::string::npos || colon + 1 == entry.size()) {
      return make_error(ErrorCode::InvalidParameterValue,
                        "credentials must be KEY:SECRET or KEY:SECRET:ACCOUNT, got an entry without both");
    }
    Credential credential;
    credential.secret = entry.substr(colon + 1);
    if (auto second = credential.secret.find(':'); second != std::string::npos) {
      credential.account_id = credential.secret.substr(second + 1);
      credential.secret.resize(second);
      if (credential.secret.empty() || credential.account_id.size() != 12 ||
          credential.account_id.find_first_not_of("0123456789") != std::string::npos) {
        return make_error(ErrorCode::InvalidParameterValue,
                          "credentials must be KEY:SECRET or KEY:SECRET:ACCOUNT with a 12-digit account id");
      }
    }
    out[entry.substr(0, colon)] = std::move(credential);
    entry.clear();
    return Ok{};
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      if (auto st = flush(); !st) return st.error();
    } else {
      entry.push_back(c);
    }
  }
  if (auto st = flush(); !st) return st.error();
  return out;
}

}  // namespace wharf::server
