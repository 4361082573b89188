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

// The URL of the caller's account's queue `name`.
std::string queue_url(const Call& call, const std::string& name);

// A queue URL's (or path's) /ACCOUNT/NAME, whatever host it names.
struct QueueUrlParts {
  std::string account_id;
  std::string name;
};
std::optional<QueueUrlParts> split_queue_url(std::string_view url);

// The queue named by the request's QueueUrl (matched by account and name,
// whatever host it names): MissingParameter without one, QueueDoesNotExist
// when it names another account or is no queue URL.
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
