#include "sigv4.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <ctime>
#include <stdexcept>

#include "common/hex.h"

namespace wharf::bench {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
            data.size(), out, &size)) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(out), size);
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(data.data(), data.size(), out, &size, EVP_sha256(), nullptr)) {
    throw std::runtime_error("SHA-256 failed");
  }
  return hex_lower(out, size);
}

struct SigV4Signer::Crypto {
  EVP_MD* sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_MD_CTX* md_ctx = EVP_MD_CTX_new();
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  EVP_MAC_CTX* keyed = nullptr;  // HMAC keyed with the day's signing key

  Crypto() {
    if (!sha256 || !md_ctx || !hmac) throw std::runtime_error("OpenSSL: SHA256 or HMAC unavailable");
  }
  ~Crypto() {
    EVP_MAC_CTX_free(keyed);
    EVP_MAC_free(hmac);
    EVP_MD_CTX_free(md_ctx);
    EVP_MD_free(sha256);
  }
  void set_key(const std::string& key) {
    EVP_MAC_CTX_free(keyed);
    keyed = EVP_MAC_CTX_new(hmac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!keyed || !EVP_MAC_init(keyed, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params)) {
      throw std::runtime_error("HMAC-SHA256 init failed");
    }
  }
  std::string mac(std::string_view data) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed);
    unsigned char out[EVP_MAX_MD_SIZE];
    size_t size = 0;
    const bool ok = ctx && EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) &&
                    EVP_MAC_final(ctx, out, &size, sizeof out);
    EVP_MAC_CTX_free(ctx);
    if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), size);
  }
};

SigV4Signer::SigV4Signer(Credentials credentials, std::string service)
    : credentials_(std::move(credentials)), service_(std::move(service)), crypto_(std::make_unique<Crypto>()) {}

SigV4Signer::~SigV4Signer() = default;

std::string SigV4Signer::digest_hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_DigestInit_ex(crypto_->md_ctx, crypto_->sha256, nullptr) ||
      !EVP_DigestUpdate(crypto_->md_ctx, data.data(), data.size()) ||
      !EVP_DigestFinal_ex(crypto_->md_ctx, out, &size)) {
    throw std::runtime_error("SHA-256 failed");
  }
  return hex_lower(out, size);
}

void SigV4Signer::refresh_dates(std::chrono::system_clock::time_point now) {
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (second == cached_second_) return;
  cached_second_ = second;
  const std::time_t t = static_cast<std::time_t>(second);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  amz_date_ = buf;
  day_ = amz_date_.substr(0, 8);
  if (day_ != key_day_) {
    key_day_ = day_;
    std::string k = hmac_sha256("AWS4" + credentials_.secret_key, day_);
    k = hmac_sha256(k, credentials_.region);
    k = hmac_sha256(k, service_);
    signing_key_ = hmac_sha256(k, "aws4_request");
    crypto_->set_key(signing_key_);
    scope_ = day_ + "/" + credentials_.region + "/" + service_ + "/aws4_request";
  }
}

SignedHeaders SigV4Signer::sign(std::string_view host, std::string_view path, std::string_view content_type,
                                std::string_view amz_target, std::string_view body,
                                std::chrono::system_clock::time_point now) {
  refresh_dates(now);
  const bool with_target = !amz_target.empty();
  const std::string_view signed_headers =
      with_target ? "content-type;host;x-amz-date;x-amz-target" : "content-type;host;x-amz-date";

  // Paths wharf-bench sends ("/" or "/<account>/<queue>") hold only
  // unreserved characters, so they are already in canonical form.
  std::string canonical;
  canonical.reserve(256 + path.size());
  canonical.append("POST\n").append(path).append("\n\n");
  canonical.append("content-type:").append(content_type).append("\n");
  canonical.append("host:").append(host).append("\n");
  canonical.append("x-amz-date:").append(amz_date_).append("\n");
  if (with_target) canonical.append("x-amz-target:").append(amz_target).append("\n");
  canonical.append("\n").append(signed_headers).append("\n").append(digest_hex(body));

  std::string to_sign;
  to_sign.reserve(160);
  to_sign.append("AWS4-HMAC-SHA256\n").append(amz_date_).append("\n").append(scope_).append("\n");
  to_sign.append(digest_hex(canonical));

  const std::string signature = crypto_->mac(to_sign);
  SignedHeaders out;
  out.amz_date = amz_date_;
  out.authorization.reserve(200);
  out.authorization.append("AWS4-HMAC-SHA256 Credential=")
      .append(credentials_.access_key)
      .append("/")
      .append(scope_)
      .append(", SignedHeaders=")
      .append(signed_headers)
      .append(", Signature=")
      .append(hex_lower(signature.data(), signature.size()));
  return out;
}

}  // namespace wharf::bench
