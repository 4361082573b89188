#include "protocol/checksums.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <map>

#include "common/hex.h"

namespace wharf::protocol {
namespace {

// One digest context per thread, reused: EVP_Digest makes and frees one
// per call, which costs more than hashing a small message.
struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

std::string digest_hex(const EVP_MD* md, std::string_view bytes) {
  thread_local DigestContext context;
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  EVP_DigestInit_ex(context.ctx, md, nullptr);
  EVP_DigestUpdate(context.ctx, bytes.data(), bytes.size());
  EVP_DigestFinal_ex(context.ctx, out.data(), &len);
  return hex_lower(out.data(), len);
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

void append_length_prefixed(std::string& out, std::string_view bytes) {
  const auto n = static_cast<uint32_t>(bytes.size());
  out.push_back(static_cast<char>((n >> 24) & 0xFF));
  out.push_back(static_cast<char>((n >> 16) & 0xFF));
  out.push_back(static_cast<char>((n >> 8) & 0xFF));
  out.push_back(static_cast<char>(n & 0xFF));
  out.append(bytes);
}

}  // namespace

// Fetched once: EVP_md5() and EVP_sha256() make OpenSSL 3 look the
// algorithm up again on every digest.
std::string md5_hex(std::string_view bytes) {
  static const EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  return digest_hex(md5, bytes);
}
std::string sha256_hex(std::string_view bytes) {
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return digest_hex(sha256, bytes);
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.append("==");
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out.push_back(kB64[(v >> 18) & 63]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      if (c == '=' && last && k >= 2) {
        v[k] = 0;
        ++pad;
        continue;
      }
      if (pad) return std::nullopt;  // data after padding
      v[k] = b64_value(c);
      if (v[k] < 0) return std::nullopt;
    }
    uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xFF));
  }
  return out;
}

std::string md5_of_attributes(const nlohmann::json& attributes) {
  if (!attributes.is_object() || attributes.empty()) return "";
  // nlohmann::json objects iterate in key order already; sort explicitly to
  // make the contract independent of the container.
  std::map<std::string, const nlohmann::json*> sorted;
  for (auto it = attributes.begin(); it != attributes.end(); ++it) sorted[it.key()] = &it.value();
  std::string buf;
  for (const auto& [name, value] : sorted) {
    append_length_prefixed(buf, name);
    const std::string type = value->value("DataType", "");
    append_length_prefixed(buf, type);
    if (value->contains("BinaryValue")) {
      buf.push_back(2);
      auto raw = base64_decode(value->at("BinaryValue").get<std::string>());
      append_length_prefixed(buf, raw.value_or(""));
    } else {
      buf.push_back(1);
      append_length_prefixed(buf, value->value("StringValue", ""));
    }
  }
  return md5_hex(buf);
}

}  // namespace wharf::protocol
