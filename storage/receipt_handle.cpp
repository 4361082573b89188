#include "storage/receipt_handle.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

#include "storage/big_endian.h"

namespace wharf::storage {
namespace {

constexpr size_t kPayload = 8 + 8 + 4;
constexpr size_t kMac = 16;
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// HMAC-SHA256 with the key's inner and outer states computed once per thread
// and key, then copied per handle: OpenSSL 3's one-shot HMAC() looks the
// algorithm up and keys it on every call, which cost more than the rest of a
// receive.
class KeyedMac {
 public:
  KeyedMac() : inner_(EVP_MD_CTX_new()), outer_(EVP_MD_CTX_new()), work_(EVP_MD_CTX_new()) {}
  ~KeyedMac() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
  }
  KeyedMac(const KeyedMac&) = delete;
  KeyedMac& operator=(const KeyedMac&) = delete;

  std::string mac(std::string_view payload, std::string_view secret) {
    if (!keyed_ || secret != key_) set_key(secret);
    unsigned char inner_hash[EVP_MAX_MD_SIZE];
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX_copy_ex(work_, inner_);
    EVP_DigestUpdate(work_, payload.data(), payload.size());
    EVP_DigestFinal_ex(work_, inner_hash, &len);
    EVP_MD_CTX_copy_ex(work_, outer_);
    EVP_DigestUpdate(work_, inner_hash, len);
    EVP_DigestFinal_ex(work_, out, &len);
    return std::string(reinterpret_cast<char*>(out), kMac);
  }

 private:
  static constexpr size_t kBlock = 64;  // SHA-256's block size

  void set_key(std::string_view secret) {
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    unsigned char key[kBlock] = {};
    if (secret.size() > kBlock) {
      unsigned int len = 0;
      EVP_Digest(secret.data(), secret.size(), key, &len, sha256, nullptr);
    } else {
      std::memcpy(key, secret.data(), secret.size());
    }
    unsigned char pad[kBlock];
    for (size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x36;
    EVP_DigestInit_ex(inner_, sha256, nullptr);
    EVP_DigestUpdate(inner_, pad, kBlock);
    for (size_t i = 0; i < kBlock; ++i) pad[i] = key[i] ^ 0x5c;
    EVP_DigestInit_ex(outer_, sha256, nullptr);
    EVP_DigestUpdate(outer_, pad, kBlock);
    key_ = secret;
    keyed_ = true;
  }

  EVP_MD_CTX* inner_;
  EVP_MD_CTX* outer_;
  EVP_MD_CTX* work_;
  std::string key_;
  bool keyed_ = false;
};

std::string mac(std::string_view payload, std::string_view secret) {
  thread_local KeyedMac keyed;
  return keyed.mac(payload, secret);
}

// base64url without padding; the handle is always 36 bytes -> 48 chars.
std::string encode_b64url(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(v >> shift) & 63]);
  }
  return out;
}

std::optional<std::string> decode_b64url(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < text.size(); i += 4) {
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      const char* pos = std::char_traits<char>::find(kAlphabet, 64, text[i + k]);
      if (!pos) return std::nullopt;
      v = (v << 6) | static_cast<uint32_t>(pos - kAlphabet);
    }
    out.push_back(static_cast<char>((v >> 16) & 0xFF));
    out.push_back(static_cast<char>((v >> 8) & 0xFF));
    out.push_back(static_cast<char>(v & 0xFF));
  }
  return out;
}

}  // namespace

std::string encode_receipt_handle(const ReceiptHandle& h, std::string_view secret) {
  std::string payload;
  put_u64(payload, h.queue_id);
  put_u64(payload, h.seq);
  for (int shift = 24; shift >= 0; shift -= 8) payload.push_back(static_cast<char>((h.receive_count >> shift) & 0xFF));
  payload += mac(payload, secret);
  return encode_b64url(payload);
}

std::optional<ReceiptHandle> decode_receipt_handle(std::string_view text, std::string_view secret) {
  if (text.size() != (kPayload + kMac) / 3 * 4) return std::nullopt;
  auto raw = decode_b64url(text);
  if (!raw || raw->size() != kPayload + kMac) return std::nullopt;
  std::string_view payload(raw->data(), kPayload);
  const std::string expected = mac(payload, secret);
  if (CRYPTO_memcmp(expected.data(), raw->data() + kPayload, kMac) != 0) return std::nullopt;
  ReceiptHandle h;
  h.queue_id = get_u64(payload.substr(0, 8));
  h.seq = get_u64(payload.substr(8, 8));
  h.receive_count = 0;
  for (int i = 16; i < 20; ++i) h.receive_count = (h.receive_count << 8) | static_cast<uint8_t>(payload[i]);
  return h;
}

DeleteVerdict judge_delete(bool fifo, const HandledMessage& message) {
  if (!message.exists) return DeleteVerdict::AlreadyDeleted;
  if (fifo && (message.received_since || !message.in_flight)) return DeleteVerdict::Expired;
  return DeleteVerdict::Delete;
}

VisibilityVerdict judge_visibility_change(bool fifo, const HandledMessage& message) {
  if (!message.exists) return VisibilityVerdict::MessageUnavailable;
  if (!fifo) return VisibilityVerdict::Apply;
  if (message.received_since) return VisibilityVerdict::MessageUnavailable;
  return message.in_flight ? VisibilityVerdict::Apply : VisibilityVerdict::NotInFlight;
}

SqsError invalid_receipt_handle(const std::string& handle) {
  return make_error(ErrorCode::ReceiptHandleIsInvalid,
                    "The input receipt handle \"" + handle + "\" is not a valid receipt handle.");
}

SqsError receipt_handle_expired(const std::string& handle) {
  return make_error(
      ErrorCode::InvalidParameterValue,
      "Value " + handle + " for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.");
}

SqsError message_unavailable(const std::string& handle) {
  return make_error(ErrorCode::InvalidParameterValue,
                    "Value " + handle +
                        " for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available "
                        "for visibility timeout change.");
}

SqsError message_not_in_flight() {
  return make_error(ErrorCode::MessageNotInflight, "The message referred to isn't in flight.");
}

}  // namespace wharf::storage
