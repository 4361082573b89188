// Queue URLs: how the server writes them (from --public-url or the request's
// Host) and how it reads the queue a request's QueueUrl names.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqs_error.h"
#include "server/actions.h"

namespace wharf::server {

// The URL of the caller's account's queue `name` in the request's region:
// /ACCOUNT/NAME in the server's default region (the URLs from before
// regions), /queue/REGION/ACCOUNT/NAME in any other.
std::string queue_url(const Call& call, const std::string& name);

// The scheme://host[:port] of the request's queue URLs: --public-url (e.g.
// behind a proxy or a port mapping), else the address the client used.
std::string queue_url_base(const Call& call);

// A queue URL under `base` (see queue_url).
std::string queue_url_at(std::string_view base, std::string_view region, std::string_view default_region,
                         std::string_view account_id, std::string_view name);

// What a QueueUrl names, whatever host it names: a queue URL's (or path's)
// /ACCOUNT/NAME or /queue/REGION/ACCOUNT/NAME, or a bare queue name.
struct QueueUrlParts {
  std::string region;      // empty: the URL names none (the default region's form), or a bare name
  std::string account_id;  // empty: a bare name (the caller's account and region)
  std::string name;
};
std::optional<QueueUrlParts> split_queue_url(std::string_view url);

// The queue named by the request's QueueUrl (matched by region, account and
// name, whatever host it names; a bare name is the caller's account's queue
// in the request's region): MissingParameter without one,
// QueueDoesNotExist when it names another account, another region than the
// request is signed for (as AWS answers a queue URL of another region), or
// is no queue URL.
Result<std::string> queue_name_from_url(const Call& call);

// What the server expected of a request's QueueUrl, for the text of a
// QueueDoesNotExist error.
struct QueueUrlExpectation {
  std::string_view base_url;        // of its queue URLs (queue_url_base)
  std::string_view host;            // the request's Host header (empty: none)
  std::string_view public_url;      // --public-url (empty: none)
  std::string_view account_id;      // the account the request acts as
  std::string_view region;          // the region it is signed for
  std::string_view default_region;  // --region, whose queue URLs name no region
};

// AWS's words for a QueueUrl that names no queue ("The specified queue does
// not exist."), followed, when the QueueUrl is not what this server expected
// (another account, region or host, or no queue URL at all), by what it
// expected and the URL it gives that queue: in a test suite, the usual cause
// is a URL from another server (LocalStack, ElasticMQ, another Wharf) or
// configuration. Only AWS's words when the QueueUrl is as expected. The
// host is never refused (Wharf finds a queue by the URL's path: proxies and
// port mappings keep working); it is named only when no queue was found.
// `parts`: split_queue_url(queue_url).
std::string queue_does_not_exist_text(std::string_view queue_url, const std::optional<QueueUrlParts>& parts,
                                      const QueueUrlExpectation& expected);

// `error` as queue_does_not_exist_text explains it when it is the bare
// QueueDoesNotExist of a request that named its queue by QueueUrl (the
// engine found no queue there), else `error` unchanged. For errors only:
// never on a request's successful path.
SqsError explain_queue_does_not_exist(const Call& call, const SqsError& error);

// One page of queue URLs for `names` (sorted), from the request's
// MaxResults (1-1000) and NextToken; a token only when MaxResults was given
// and more names follow.
struct QueueUrlPage {
  nlohmann::json urls = nlohmann::json::array();
  std::string next_token;
};
Result<QueueUrlPage> paginate_queue_urls(const Call& call, const std::vector<std::string>& names);

}  // namespace wharf::server
