#include "server/actions.h"

#include <array>

#include "server/log.h"
#include "server/params.h"
#include "server/queue_urls.h"

namespace wharf::server {
namespace {

using SyncHandler = Result<nlohmann::json> (*)(const Call&);
using AsyncHandler = void (*)(const Call&, Reply);

struct Handler {
  SqsAction action;
  SyncHandler sync = nullptr;
  AsyncHandler async = nullptr;
};

// One handler per row of kActionFacts, in the same order.
constexpr std::array<Handler, kActionCount> kHandlers = {{
    {SqsAction::CreateQueue, nullptr, create_queue},
    {SqsAction::GetQueueUrl, nullptr, get_queue_url},
    {SqsAction::ListQueues, nullptr, list_queues},
    {SqsAction::DeleteQueue, nullptr, delete_queue},
    {SqsAction::GetQueueAttributes, nullptr, get_queue_attributes},
    {SqsAction::SetQueueAttributes, nullptr, set_queue_attributes},
    {SqsAction::PurgeQueue, nullptr, purge_queue},
    {SqsAction::SendMessage, nullptr, send_message},
    {SqsAction::ReceiveMessage, nullptr, receive_message},
    {SqsAction::DeleteMessage, nullptr, delete_message},
    {SqsAction::ChangeMessageVisibility, nullptr, change_message_visibility},
    {SqsAction::SendMessageBatch, nullptr, send_message_batch},
    {SqsAction::DeleteMessageBatch, nullptr, delete_message_batch},
    {SqsAction::ChangeMessageVisibilityBatch, nullptr, change_message_visibility_batch},
    {SqsAction::TagQueue, nullptr, tag_queue},
    {SqsAction::UntagQueue, nullptr, untag_queue},
    {SqsAction::ListQueueTags, nullptr, list_queue_tags},
    {SqsAction::AddPermission, nullptr, add_permission},
    {SqsAction::RemovePermission, nullptr, remove_permission},
    {SqsAction::ListDeadLetterSourceQueues, nullptr, list_dead_letter_source_queues},
    {SqsAction::StartMessageMoveTask, nullptr, start_message_move_task},
    {SqsAction::CancelMessageMoveTask, nullptr, cancel_message_move_task},
    {SqsAction::ListMessageMoveTasks, nullptr, list_message_move_tasks},
}};

// Checked at compile time: the rows' order. (Whether each row has exactly
// one handler is not: GCC's sanitizer builds cannot compare function
// pointers in a constant expression. server_tests runs every action.)
constexpr bool handlers_follow_facts() {
  for (size_t i = 0; i < kHandlers.size(); ++i) {
    if (kHandlers[i].action != kActionFacts[i].action) return false;
  }
  return true;
}
static_assert(handlers_follow_facts(), "kHandlers: one handler per action, in the order of kActionFacts");

// Runs the handler of `action`; its reply is call.reply.
void run_handler(const ActionFacts& action, const Call& call) {
  const Handler& handler = kHandlers[static_cast<size_t>(action.action)];
  if (handler.async) return handler.async(call, call.reply);
  auto result = handler.sync(call);
  if (!result) return call.reply(result.error());
  call.reply(Answer{std::move(result.value()), {}});
}

// --auto-create-queues: the queue a request names (by QueueUrl, or
// GetQueueUrl's QueueName) is created with default attributes when missing
// (FIFO when the name ends in .fifo); the facts say which actions may. A
// name CreateQueue would refuse stays missing, and the action answers
// QueueDoesNotExist as usual. Then the handler runs, whatever came of it.
void auto_create_then_run(const ActionFacts& action, const Call& call) {
  std::string name;
  if (action.auto_create == AutoCreate::ByQueueName) {
    Params p(call.params);
    auto given = p.required_string("QueueName");
    auto owner = p.optional_string("QueueOwnerAWSAccountId");
    if (!given || !owner || (owner.value() && *owner.value() != owner_account(call))) return run_handler(action, call);
    name = std::move(given.value());
  } else {
    name = call.queue_name;
  }
  // The facts are static and the call lives until the reply: both may be
  // kept by reference; the name is copied into each continuation.
  call.engine.async_get_queue(name, [&action, &call, name](Result<storage::QueueInfo> existing) {
    if (existing || existing.error().code != ErrorCode::QueueDoesNotExist) return run_handler(action, call);
    storage::AttributeMap attributes;
    if (name.ends_with(".fifo")) attributes["FifoQueue"] = "true";
    call.engine.async_create_queue(name, attributes, {}, [&action, &call, name](Result<storage::QueueInfo> created) {
      if (created) log::info("queue auto-created", log::Fields().add("queue", name).add("action", action.name));
      run_handler(action, call);
    });
  });
}

}  // namespace

void run_action(const ActionFacts& action, Call& call, Reply reply) {
  call.reply = std::move(reply);
  if (action.names_queue_by_url) {
    auto name = queue_name_from_url(call);
    if (!name) return call.reply(name.error());
    call.queue_name = std::move(name.value());
  }
  if (call.settings.auto_create_queues && action.auto_create != AutoCreate::Never) {
    return auto_create_then_run(action, call);
  }
  run_handler(action, call);
}

SqsError unknown_action(std::string_view action) {
  return make_error(ErrorCode::InvalidAction, "The action " + std::string(action) + " is not valid for this endpoint.");
}

}  // namespace wharf::server
