#include "server/queue_urls.h"

#include <algorithm>

#include "protocol/checksums.h"
#include "server/params.h"

namespace wharf::server {
namespace {

std::string_view strip_scheme_and_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return url;
  auto path = url.find('/', scheme + 3);
  return path == std::string_view::npos ? std::string_view() : url.substr(path);
}

}  // namespace

// The configured public URL when there is one (e.g. behind a proxy or a
// port mapping), else the address the client used.
std::string queue_url(const Call& call, const std::string& name) {
  const std::string path = "/" + owner_account(call) + "/" + name;
  if (!call.settings.public_url.empty()) {
    std::string_view base = call.settings.public_url;
    if (base.ends_with('/')) base.remove_suffix(1);
    return std::string(base) + path;
  }
  const std::string host = call.host.empty() ? "localhost:" + std::to_string(call.settings.port) : call.host;
  return (call.tls ? "https://" : "http://") + host + path;
}

std::optional<QueueUrlParts> split_queue_url(std::string_view url) {
  std::string_view path = strip_scheme_and_host(url);
  auto query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.size() < 2 || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  auto slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size() ||
      path.find('/', slash + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return QueueUrlParts{std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

Result<std::string> queue_name_from_url(const Call& call) {
  Params p(call.params);
  auto url = p.required_string("QueueUrl");
  if (!url) return url.error();
  auto parts = split_queue_url(url.value());
  if (!parts || parts->account_id != owner_account(call)) {
    return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
  }
  return parts->name;
}

Result<QueueUrlPage> paginate_queue_urls(const Call& call, const std::vector<std::string>& names) {
  Params p(call.params);
  auto max_results = p.optional_int("MaxResults", 1, 1000);
  if (!max_results) return max_results.error();
  auto token = p.optional_string("NextToken");
  if (!token) return token.error();
  // The token is the last name of the previous page, base64-encoded.
  auto start = names.begin();
  if (token.value()) {
    auto after = protocol::base64_decode(*token.value());
    if (!after || after->empty()) return make_error(ErrorCode::InvalidParameterValue, "Invalid NextToken value.");
    start = std::upper_bound(names.begin(), names.end(), *after);
  }
  const size_t limit = static_cast<size_t>(max_results.value().value_or(1000));
  QueueUrlPage page;
  auto it = start;
  for (; it != names.end() && page.urls.size() < limit; ++it) page.urls.push_back(queue_url(call, *it));
  if (max_results.value() && it != names.end()) page.next_token = protocol::base64_encode(*(it - 1));
  return page;
}

}  // namespace wharf::server
