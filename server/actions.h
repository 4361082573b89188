// The action table: each SQS action's handler, in the order of the action
// facts (common/action_facts.h). Handlers read the decoded parameter tree,
// call the engine, and answer a result tree in the JSON protocol's shape (the
// codec turns it into XML for the query protocol).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <string_view>

#include "common/action_facts.h"
#include "common/sqs_error.h"
#include "protocol/codec.h"
#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

// An action's answer: a result tree in the JSON protocol's shape, which the
// codec writes in the request's protocol; or, where it pays (ReceiveMessage
// over the JSON protocol), the JSON protocol's body written directly.
struct Answer {
  nlohmann::json tree;
  std::string json_text;  // when not empty: the whole body, and `tree` is unused
};
using Reply = std::function<void(Result<Answer>)>;

class LongPolls;

// One request, as its handler sees it.
//
// Lifetime: the Call, and all it refers to (the decoded parameter tree, the
// host, region and trace header, the engine, the long polls), lives until
// the request's reply has been called: the endpoint keeps it in the
// request's Exchange. So a handler and its continuations may keep
// `const Call&` (capture `&call`) across engine calls, which with PostgreSQL
// complete later on another thread. Nothing else of the handler's stack
// lives that long: a continuation owns (moves in) whatever else it uses.
// After calling the reply, touch nothing of the call: the Exchange may be
// serving its next request already.
struct Call {
  const nlohmann::json& params;
  storage::Engine& engine;
  LongPolls& long_polls;
  const Settings& settings;
  std::string host;        // the request's Host header, for queue URLs
  bool tls = false;        // came over HTTPS: queue URLs say https
  std::string account_id;  // the account whose queues `engine` holds (empty: settings.account_id)
  protocol::Protocol protocol = protocol::Protocol::Json;  // the request's
  // The queue the request's QueueUrl names, resolved by run_action before
  // the handler runs, for actions whose facts say they name one.
  std::string queue_name = {};
  // The region the request is signed for (its SigV4 credential scope; the
  // server's --region when unsigned), which `engine` holds queues of. Points
  // at the account's own copy (empty: settings.region).
  std::string_view region = {};
  // The request's X-Amzn-Trace-Id header (empty: none): SendMessage stores
  // it as the AWSTraceHeader system attribute. Points into the request.
  std::string_view trace_header = {};
  // The request's reply, kept here by run_action (the handler's `reply` is
  // the same one: call either, once). A continuation that captures only
  // `&call` and at most one more pointer fits std::function's buffer, so an
  // engine call on a hot path allocates nothing; capturing a Reply or a
  // json would.
  Reply reply = {};
};

inline const std::string& owner_account(const Call& call) {
  return call.account_id.empty() ? call.settings.account_id : call.account_id;
}

inline std::string_view request_region(const Call& call) {
  return call.region.empty() ? std::string_view(call.settings.region) : call.region;
}

// Runs the action: first resolves `call.queue_name` (for actions that name
// their queue by QueueUrl: MissingParameter or QueueDoesNotExist before any
// other parameter is read), then --auto-create-queues, then the handler.
// `reply` is called exactly once, perhaps later and on another thread (long
// polls, a database backend); `call` must live until then (see Call).
void run_action(const ActionFacts& action, Call& call, Reply reply);

// The answer to an action outside the SQS API.
SqsError unknown_action(std::string_view action);

// Handlers (one family per file).
void create_queue(const Call& call, Reply reply);
void get_queue_url(const Call& call, Reply reply);
void list_queues(const Call& call, Reply reply);
void delete_queue(const Call& call, Reply reply);
void get_queue_attributes(const Call& call, Reply reply);
void set_queue_attributes(const Call& call, Reply reply);
void purge_queue(const Call& call, Reply reply);
void send_message(const Call& call, Reply reply);
void receive_message(const Call& call, Reply reply);
void delete_message(const Call& call, Reply reply);
void change_message_visibility(const Call& call, Reply reply);
void send_message_batch(const Call& call, Reply reply);
void delete_message_batch(const Call& call, Reply reply);
void change_message_visibility_batch(const Call& call, Reply reply);
void tag_queue(const Call& call, Reply reply);
void untag_queue(const Call& call, Reply reply);
void list_queue_tags(const Call& call, Reply reply);
void add_permission(const Call& call, Reply reply);
void remove_permission(const Call& call, Reply reply);
void list_dead_letter_source_queues(const Call& call, Reply reply);
void start_message_move_task(const Call& call, Reply reply);
void cancel_message_move_task(const Call& call, Reply reply);
void list_message_move_tasks(const Call& call, Reply reply);

}  // namespace wharf::server
