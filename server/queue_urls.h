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

// One page of queue URLs for `names` (sorted), from the request's
// MaxResults (1-1000) and NextToken; a token only when MaxResults was given
// and more names follow.
struct QueueUrlPage {
  nlohmann::json urls = nlohmann::json::array();
  std::string next_token;
};
Result<QueueUrlPage> paginate_queue_urls(const Call& call, const std::vector<std::string>& names);

}  // namespace wharf::server
