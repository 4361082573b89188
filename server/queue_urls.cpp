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
  const std::string_view region = request_region(call);
  std::string path;
  if (region != call.settings.region) path.append("/queue/").append(region);
  path.append("/").append(owner_account(call)).append("/").append(name);
  if (!call.settings.public_url.empty()) {
    std::string_view base = call.settings.public_url;
    if (base.ends_with('/')) base.remove_suffix(1);
    return std::string(base) + path;
  }
  const std::string host = call.host.empty() ? "localhost:" + std::to_string(call.settings.port) : call.host;
  return (call.tls ? "https://" : "http://") + host + path;
}

std::optional<QueueUrlParts> split_queue_url(std::string_view url) {
  if (url.empty()) return std::nullopt;
  if (url.find('/') == std::string_view::npos && url.find('?') == std::string_view::npos) {
    return QueueUrlParts{{}, {}, std::string(url)};  // a bare name
  }
  std::string_view path = strip_scheme_and_host(url);
  auto query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.size() < 2 || path[0] != '/') return std::nullopt;
  path.remove_prefix(1);
  std::vector<std::string_view> segments;
  for (size_t start = 0; segments.size() <= 4;) {
    const size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (segments.back().empty()) return std::nullopt;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (segments.size() == 2) return QueueUrlParts{{}, std::string(segments[0]), std::string(segments[1])};
  if (segments.size() == 4 && segments[0] == "queue") {
    return QueueUrlParts{std::string(segments[1]), std::string(segments[2]), std::string(segments[3])};
  }
  return std::nullopt;
}

Result<std::string> queue_name_from_url(const Call& call) {
  Params p(call.params);
  auto url = p.required_string("QueueUrl");
  if (!url) return url.error();
  auto parts = split_queue_url(url.value());
  auto no_such_queue = [] { return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist."); };
  if (!parts) return no_such_queue();
  if (parts->account_id.empty()) return std::move(parts->name);  // a bare name
  const std::string_view url_region = parts->region.empty() ? std::string_view(call.settings.region) : parts->region;
  if (parts->account_id != owner_account(call) || url_region != request_region(call)) return no_such_queue();
  return std::move(parts->name);
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
