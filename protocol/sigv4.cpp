#include "protocol/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "common/hex.h"
#include "protocol/checksums.h"
#include "protocol/query_decoder.h"

namespace wharf::protocol {
namespace {

// Real clients sign a handful of headers; a bound keeps a crafted list from
// making the canonical request huge.
constexpr size_t kMaxSignedHeaders = 64;

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// RFC 3986 encoding as SigV4 wants it: unreserved characters stay.
std::string uri_encode(std::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      append_percent_escape(out, c);
    }
  }
  return out;
}

std::string hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string hex(std::string_view bytes) { return hex_lower(bytes.data(), bytes.size()); }

const std::string* header(const SignedRequest& r, std::string_view name) {
  for (const auto& [key, value] : r.headers) {
    if (lower(key) == name) return &value;
  }
  return nullptr;
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.emplace_back(s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return out;
    start = end + 1;
  }
}

SqsError incomplete(const std::string& what) {
  return make_error(ErrorCode::IncompleteSignature, "Authorization header or query parameters are incomplete: " + what);
}

// "AKID/20240101/us-east-1/sqs/aws4_request"
bool parse_credential(std::string_view credential, SigV4Auth& auth) {
  auto parts = split(credential, '/');
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty() || parts[1].size() != 8) return false;
  auth.access_key = parts[0];
  auth.day = parts[1];
  auth.region = parts[2];
  auth.service = parts[3];
  return true;
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view query_of(std::string_view target) {
  auto q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// Field `index` of a credential "AKID/DAY/REGION/SERVICE/aws4_request",
// whose slashes may be percent-encoded (a presigned query string's).
std::string_view credential_field(std::string_view credential, int index) {
  int field = 0;
  size_t start = 0;
  for (size_t i = 0; i < credential.size();) {
    size_t separator = 0;
    if (credential[i] == '/') {
      separator = 1;
    } else if (credential[i] == '%' && i + 2 < credential.size() && credential[i + 1] == '2' &&
               (credential[i + 2] == 'F' || credential[i + 2] == 'f')) {
      separator = 3;
    }
    if (separator == 0) {
      ++i;
      continue;
    }
    if (field == index) return credential.substr(start, i - start);
    ++field;
    i += separator;
    start = i;
  }
  return field == index ? credential.substr(start) : std::string_view();
}

// The value of `name=` in a list of `name=value` items ended by `ends`.
std::string_view item_value(std::string_view text, std::string_view name, std::string_view ends) {
  for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
    const bool starts_item = at == 0 || text[at - 1] == ' ' || text[at - 1] == ',' || text[at - 1] == '&';
    if (!starts_item || at + name.size() >= text.size() || text[at + name.size()] != '=') continue;
    std::string_view value = text.substr(at + name.size() + 1);
    return value.substr(0, value.find_first_of(ends));
  }
  return {};
}

}  // namespace

std::string_view credential_scope_region(std::string_view authorization, std::string_view target) {
  std::string_view credential;
  if (!authorization.empty()) {
    credential = item_value(authorization, "Credential", ", ");
  } else {
    credential = item_value(query_of(target), "X-Amz-Credential", "&");
  }
  return credential.empty() ? std::string_view() : credential_field(credential, 2);
}

int64_t parse_amz_date(std::string_view d) {
  if (d.size() != 16 || d[8] != 'T' || d[15] != 'Z') return -1;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(d[i]))) return -1;
  }
  std::tm tm{};
  auto num = [&](size_t pos, size_t len) { return std::stoi(std::string(d.substr(pos, len))); };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(4, 2) - 1;
  tm.tm_mday = num(6, 2);
  tm.tm_hour = num(9, 2);
  tm.tm_min = num(11, 2);
  tm.tm_sec = num(13, 2);
  return static_cast<int64_t>(timegm(&tm));
}

Result<SigV4Auth> parse_sigv4(const SignedRequest& request) {
  SigV4Auth auth;
  if (const std::string* authorization = header(request, "authorization")) {
    std::string_view text = *authorization;
    if (text.substr(0, kAlgorithm.size()) != kAlgorithm) {
      return incomplete("the algorithm must be " + std::string(kAlgorithm) + ".");
    }
    text.remove_prefix(kAlgorithm.size());
    std::map<std::string, std::string> fields;
    for (const auto& part : split(text, ',')) {
      const std::string item = trim(part);
      auto eq = item.find('=');
      if (eq == std::string::npos) continue;
      fields[item.substr(0, eq)] = item.substr(eq + 1);
    }
    for (const char* name : {"Credential", "SignedHeaders", "Signature"}) {
      if (!fields.count(name)) return incomplete(std::string("missing ") + name + ".");
    }
    if (!parse_credential(fields["Credential"], auth)) return incomplete("malformed Credential.");
    auth.signed_headers = split(fields["SignedHeaders"], ';');
    if (auth.signed_headers.size() > kMaxSignedHeaders) return incomplete("too many SignedHeaders.");
    auth.signature = fields["Signature"];
    const std::string* date = header(request, "x-amz-date");
    if (!date) return incomplete("missing X-Amz-Date.");
    auth.amz_date = *date;
    return auth;
  }
  // Presigned: the signature travels in the query string.
  std::map<std::string, std::string> params;
  for (auto& [name, value] : parse_form(query_of(request.target))) params[name] = value;
  if (!params.count("X-Amz-Signature") && !params.count("X-Amz-Credential")) {
    return make_error(ErrorCode::MissingAuthenticationToken, "Request is missing Authentication Token");
  }
  for (const char* name : {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
                           "X-Amz-Signature", "X-Amz-Expires"}) {
    if (!params.count(name)) return incomplete(std::string("missing ") + name + ".");
  }
  if (params["X-Amz-Algorithm"] != kAlgorithm)
    return incomplete("the algorithm must be " + std::string(kAlgorithm) + ".");
  if (!parse_credential(params["X-Amz-Credential"], auth)) return incomplete("malformed X-Amz-Credential.");
  auth.signed_headers = split(params["X-Amz-SignedHeaders"], ';');
  if (auth.signed_headers.size() > kMaxSignedHeaders) return incomplete("too many X-Amz-SignedHeaders.");
  auth.signature = params["X-Amz-Signature"];
  auth.amz_date = params["X-Amz-Date"];
  auth.presigned = true;
  const std::string& expires = params["X-Amz-Expires"];
  if (expires.empty() || expires.size() > 9 || !std::all_of(expires.begin(), expires.end(), ::isdigit)) {
    return incomplete("malformed X-Amz-Expires.");
  }
  auth.expires_seconds = std::stoll(expires);
  return auth;
}

std::string expected_signature(const SignedRequest& request, const SigV4Auth& auth, std::string_view secret) {
  // Canonical request.
  std::string canonical(request.method);
  canonical += '\n';
  std::string path(path_of(request.target));
  if (path.empty()) path = "/";
  canonical += uri_encode(path, /*keep_slash=*/true);
  canonical += '\n';
  std::vector<std::pair<std::string, std::string>> query;
  for (auto& [name, value] : parse_form(query_of(request.target))) {
    if (auth.presigned && name == "X-Amz-Signature") continue;
    query.emplace_back(uri_encode(name, false), uri_encode(value, false));
  }
  std::sort(query.begin(), query.end());
  for (size_t i = 0; i < query.size(); ++i) {
    if (i) canonical += '&';
    canonical += query[i].first + "=" + query[i].second;
  }
  canonical += '\n';
  // Each header's lower-case name once, then its values trimmed, inner runs of
  // spaces collapsed, and repeats joined by commas.
  std::map<std::string, std::string, std::less<>> values;
  for (const auto& [key, v] : request.headers) {
    std::string& value = values[lower(key)];
    if (!value.empty()) value += ',';
    for (char c : trim(v)) {
      if (c == ' ' && !value.empty() && value.back() == ' ') continue;
      value.push_back(c);
    }
  }
  for (const auto& name : auth.signed_headers) {
    auto it = values.find(name);
    canonical += name + ":" + (it == values.end() ? std::string() : it->second) + "\n";
  }
  canonical += '\n';
  for (size_t i = 0; i < auth.signed_headers.size(); ++i) {
    if (i) canonical += ';';
    canonical += auth.signed_headers[i];
  }
  canonical += '\n';
  // The body's hash, unless the client declared it (e.g. UNSIGNED-PAYLOAD).
  const std::string* payload_hash = header(request, "x-amz-content-sha256");
  canonical += payload_hash ? *payload_hash : sha256_hex(request.body);

  // String to sign and signing key.
  const std::string scope = auth.day + "/" + auth.region + "/" + auth.service + "/aws4_request";
  const std::string to_sign =
      std::string(kAlgorithm) + "\n" + auth.amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
  std::string key = hmac("AWS4" + std::string(secret), auth.day);
  key = hmac(key, auth.region);
  key = hmac(key, auth.service);
  key = hmac(key, "aws4_request");
  return hex(hmac(key, to_sign));
}

}  // namespace wharf::protocol
