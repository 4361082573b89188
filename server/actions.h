// The action table: each SQS action's handler. Handlers read the decoded
// parameter tree, call the engine, and answer a result tree in the JSON
// protocol's shape (the codec turns it into XML for the query protocol).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/sqs_error.h"
#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

class LongPolls;

struct Call {
  const nlohmann::json& params;
  storage::Engine& engine;
  LongPolls& long_polls;
  const Settings& settings;
  std::string host;  // the request's Host header, for queue URLs
};

using Reply = std::function<void(Result<nlohmann::json>)>;

// Runs `action`; `reply` is called exactly once, perhaps later and on another
// thread (long polls). Unknown actions answer InvalidAction.
void run_action(std::string_view action, const Call& call, Reply reply);

// Shared by the handler files.
std::string queue_url(const Call& call, const std::string& name);
// The queue named by the request's QueueUrl (matched by account and name,
// whatever host it names).
Result<std::string> queue_name_from_url(const Call& call);

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

}  // namespace wharf::server
