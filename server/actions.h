// The action table: each SQS action's handler. Handlers read the decoded
// parameter tree, call the engine, and answer a result tree in the JSON
// protocol's shape (the codec turns it into XML for the query protocol).
#pragma once

#include <functional>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqs_error.h"
#include "protocol/codec.h"
#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

class LongPolls;

struct Call {
  const nlohmann::json& params;
  storage::Engine& engine;
  LongPolls& long_polls;
  const Settings& settings;
  std::string host;        // the request's Host header, for queue URLs
  bool tls = false;        // came over HTTPS: queue URLs say https
  std::string account_id;  // the account whose queues `engine` holds (empty: settings.account_id)
  protocol::Protocol protocol = protocol::Protocol::Json;  // the request's
};

inline const std::string& owner_account(const Call& call) {
  return call.account_id.empty() ? call.settings.account_id : call.account_id;
}

// An action's answer: a result tree in the JSON protocol's shape, which the
// codec writes in the request's protocol; or, where it pays (ReceiveMessage
// over the JSON protocol), the JSON protocol's body written directly.
struct Answer {
  nlohmann::json tree;
  std::string json_text;  // when not empty: the whole body, and `tree` is unused
};
using Reply = std::function<void(Result<Answer>)>;

// Runs `action`; `reply` is called exactly once, perhaps later and on another
// thread (long polls). Unknown actions answer InvalidAction.
void run_action(std::string_view action, const Call& call, Reply reply);

// Shared by the handler files.
std::string queue_url(const Call& call, const std::string& name);
// The queue named by the request's QueueUrl (matched by account and name,
// whatever host it names).
Result<std::string> queue_name_from_url(const Call& call);
// A queue URL's (or path's) /ACCOUNT/NAME, whatever host it names.
struct QueueUrlParts {
  std::string account_id;
  std::string name;
};
std::optional<QueueUrlParts> split_queue_url(std::string_view url);

// One page of queue URLs for `names` (sorted), from the request's
// MaxResults (1-1000) and NextToken; a token only when MaxResults was given
// and more names follow.
struct QueueUrlPage {
  nlohmann::json urls = nlohmann::json::array();
  std::string next_token;
};
Result<QueueUrlPage> paginate_queue_urls(const Call& call, const std::vector<std::string>& names);

// Handlers (one family per file).
Result<nlohmann::json> create_queue(const Call& call);
Result<nlohmann::json> get_queue_url(const Call& call);
Result<nlohmann::json> list_queues(const Call& call);
Result<nlohmann::json> delete_queue(const Call& call);
Result<nlohmann::json> get_queue_attributes(const Call& call);
Result<nlohmann::json> set_queue_attributes(const Call& call);
Result<nlohmann::json> purge_queue(const Call& call);
Result<nlohmann::json> send_message(const Call& call);
void receive_message(const Call& call, Reply reply);
Result<nlohmann::json> delete_message(const Call& call);
Result<nlohmann::json> change_message_visibility(const Call& call);
Result<nlohmann::json> send_message_batch(const Call& call);
Result<nlohmann::json> delete_message_batch(const Call& call);
Result<nlohmann::json> change_message_visibility_batch(const Call& call);
Result<nlohmann::json> tag_queue(const Call& call);
Result<nlohmann::json> untag_queue(const Call& call);
Result<nlohmann::json> list_queue_tags(const Call& call);
Result<nlohmann::json> add_permission(const Call& call);
Result<nlohmann::json> remove_permission(const Call& call);
Result<nlohmann::json> list_dead_letter_source_queues(const Call& call);
Result<nlohmann::json> start_message_move_task(const Call& call);
Result<nlohmann::json> cancel_message_move_task(const Call& call);
Result<nlohmann::json> list_message_move_tasks(const Call& call);

}  // namespace wharf::server
