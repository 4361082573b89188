#include "server/queue_urls.h"

#include <algorithm>
#include <cctype>

#include "protocol/checksums.h"
#include "server/params.h"

namespace wharf::server {
namespace {

constexpr std::string_view kQueueDoesNotExist = "The specified queue does not exist.";

std::string_view strip_scheme_and_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return url;
  auto path = url.find('/', scheme + 3);
  return path == std::string_view::npos ? std::string_view() : url.substr(path);
}

// The host[:port] of a URL with a scheme; empty without one.
std::string_view authority_of(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return {};
  url.remove_prefix(scheme + 3);
  return url.substr(0, url.find_first_of("/?#"));
}

bool same_host(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The client's words quoted back, bounded: a QueueUrl may be as long as a
// request body.
std::string bounded(std::string_view text) {
  constexpr size_t kMax = 120;
  return text.size() <= kMax ? std::string(text) : std::string(text.substr(0, kMax)) + "...";
}

// What a well-formed QueueUrl names that this server did not expect: "account
// X", "region Y", "host H", joined for a sentence; empty when nothing.
std::string unexpected_parts(std::string_view queue_url, const QueueUrlParts& parts,
                             const QueueUrlExpectation& expected) {
  std::vector<std::string> named;
  if (!parts.account_id.empty()) {  // a bare name is the caller's, in its region
    if (parts.account_id != expected.account_id) named.push_back("account " + bounded(parts.account_id));
    if (!parts.region.empty() && parts.region != expected.region) {
      named.push_back("region " + bounded(parts.region));
    } else if (parts.region.empty() && expected.region != expected.default_region) {
      named.push_back("region " + std::string(expected.default_region) +
                      " (a URL without /queue/REGION names Wharf's --region)");
    }
  }
  const std::string_view host = authority_of(queue_url);
  if (!host.empty() && !same_host(host, expected.host) && !same_host(host, authority_of(expected.public_url))) {
    named.push_back("host " + bounded(host) +
                    " (Wharf finds a queue by the URL's path, whatever its host, and found none there: is this "
                    "URL from another server?)");
  }
  std::string joined;
  for (size_t i = 0; i < named.size(); ++i) {
    if (i > 0) joined += i + 1 == named.size() ? " and " : ", ";
    joined += named[i];
  }
  return joined;
}

// The text of QueueDoesNotExist for the request's QueueUrl.
std::string no_such_queue_text(const Call& call, std::string_view url, const std::optional<QueueUrlParts>& parts) {
  const std::string base = queue_url_base(call);
  return queue_does_not_exist_text(url, parts,
                                   QueueUrlExpectation{base, call.host, call.settings.public_url, owner_account(call),
                                                       request_region(call), call.settings.region});
}

}  // namespace

std::string queue_url_base(const Call& call) {
  if (!call.settings.public_url.empty()) {
    std::string_view base = call.settings.public_url;
    if (base.ends_with('/')) base.remove_suffix(1);
    return std::string(base);
  }
  const std::string host = call.host.empty() ? "localhost:" + std::to_string(call.settings.port) : call.host;
  return (call.tls ? "https://" : "http://") + host;
}

std::string queue_url_at(std::string_view base, std::string_view region, std::string_view default_region,
                         std::string_view account_id, std::string_view name) {
  std::string url(base);
  if (region != default_region) url.append("/queue/").append(region);
  url.append("/").append(account_id).append("/").append(name);
  return url;
}

// The configured public URL when there is one (e.g. behind a proxy or a
// port mapping), else the address the client used.
std::string queue_url(const Call& call, const std::string& name) {
  return queue_url_at(queue_url_base(call), request_region(call), call.settings.region, owner_account(call), name);
}

std::string queue_does_not_exist_text(std::string_view queue_url, const std::optional<QueueUrlParts>& parts,
                                      const QueueUrlExpectation& expected) {
  std::string text(kQueueDoesNotExist);
  const std::string serves = " Wharf at " + std::string(expected.base_url) + " serves this request as account " +
                             std::string(expected.account_id) + " in region " + std::string(expected.region);
  if (!parts) {
    return text + " The QueueUrl '" + bounded(queue_url) + "' is not a queue URL." + serves +
           ", whose queue URLs are " +
           queue_url_at(expected.base_url, expected.region, expected.default_region, expected.account_id, "NAME") +
           " (as CreateQueue and GetQueueUrl answer them), or a bare queue name.";
  }
  const std::string unexpected = unexpected_parts(queue_url, parts.value(), expected);
  if (unexpected.empty()) return text;
  return text + serves + "; the QueueUrl names " + unexpected + ". Its URL for a queue named " + bounded(parts->name) +
         " is " +
         queue_url_at(expected.base_url, expected.region, expected.default_region, expected.account_id,
                      bounded(parts->name)) +
         ", as CreateQueue and GetQueueUrl answer it.";
}

SqsError explain_queue_does_not_exist(const Call& call, const SqsError& error) {
  if (error.code != ErrorCode::QueueDoesNotExist || error.message != kQueueDoesNotExist) return error;
  if (!call.params.is_object()) return error;
  auto url = call.params.find("QueueUrl");
  if (url == call.params.end() || !url->is_string()) return error;
  const std::string& text = url->get_ref<const std::string&>();
  return make_error(error.code, no_such_queue_text(call, text, split_queue_url(text)));
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
  auto no_such_queue = [&] {
    return make_error(ErrorCode::QueueDoesNotExist, no_such_queue_text(call, url.value(), parts));
  };
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
