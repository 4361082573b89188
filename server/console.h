// The web console (/console): static files compiled into the binary, a small
// unauthenticated settings document for the page, and the one read the SQS
// API lacks, a peek that changes nothing. Everything else the console does
// goes through the ordinary SQS JSON API, signed in the browser when
// authentication is on, so it has exactly the rights of the key it uses.
#pragma once

#include <nlohmann/json.hpp>

#include <span>
#include <string_view>

#include "common/sqs_error.h"
#include "protocol/codec.h"
#include "server/actions.h"
#include "server/settings.h"

namespace wharf::server {

// One file of console/, embedded at build time by cmake/embed_console.cmake.
struct ConsoleAsset {
  std::string_view name;  // e.g. "app.js"
  std::string_view content_type;
  std::string_view bytes;
};

// The embedded files (defined in the generated console_assets.cpp).
std::span<const ConsoleAsset> console_assets();

// The console's API, POSTed JSON: each call is authenticated as an SQS
// request and routed (account, Policy) as the SQS action it stands for;
// `run` gets the body, already checked to be a JSON object, and answers
// through `reply` (a result tree), before it returns or later on an
// engine's thread. Only run's synchronous part reads the Call: the reply
// owns all it needs.
struct ConsoleCall {
  std::string_view path;
  std::string_view routed_as;  // the SQS action whose rights it needs
  void (*run)(const Call&, Reply);
};
// /console/api/peek {"QueueUrl", "MaxNumberOfMessages": 1-100} (as ReceiveMessage)
// /console/api/delete {"QueueUrl", "MessageId", "Position"} (as DeleteMessage)
const ConsoleCall* find_console_call(std::string_view path);

// "/console" or anything under "/console/" (query string already removed).
bool is_console_path(std::string_view path);

// A console path other than the peek endpoint: GET /console and /console/
// give index.html, /console/config.json the settings the page needs, and
// /console/<file> that file; unknown names and every path when the console
// is off (--no-console) answer 404, other methods 405.
protocol::EncodedResponse console_file_response(std::string_view method, std::string_view path,
                                                const Settings& settings);

// The peek: the queue's first messages in send order, whatever their state,
// without changing visibility, receive counts or anything else. The caller
// has authenticated and routed the request as a ReceiveMessage.
void console_peek(const Call& call, Reply reply);

// Deletes a message the peek showed (its MessageId and Position), in any
// state: the console's delete, since a peek gives no receipt handle.
void console_delete(const Call& call, Reply reply);

}  // namespace wharf::server
