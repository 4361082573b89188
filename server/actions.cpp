#include "server/actions.h"

#include <array>

#include "server/log.h"
#include "server/params.h"
#include "server/queue_urls.h"

namespace wharf::server {
namespace {

// A handler answers through its reply, perhaps later (see Call).
struct Handler {
  SqsAction action;
  void (*handle)(const Call&, Reply);
};

// One handler per row of kActionFacts, in the same order.
constexpr std::array<Handler, kActionCount> kHandlers = {{
    {SqsAction::CreateQueue, create_queue},
    {SqsAction::GetQueueUrl, get_queue_url},
    {SqsAction::ListQueues, list_queues},
    {SqsAction::DeleteQueue, delete_queue},
    {SqsAction::GetQueueAttributes, get_queue_attributes},
    {SqsAction::SetQueueAttributes, set_queue_attributes},
    {SqsAction::PurgeQueue, purge_queue},
    {SqsAction::SendMessage, send_message},
    {SqsAction::ReceiveMessage, receive_message},
    {SqsAction::DeleteMessage, delete_message},
    {SqsAction::ChangeMessageVisibility, change_message_visibility},
    {SqsAction::SendMessageBatch, send_message_batch},
    {SqsAction::DeleteMessageBatch, delete_message_batch},
    {SqsAction::ChangeMessageVisibilityBatch, change_message_visibility_batch},
    {SqsAction::TagQueue, tag_queue},
    {SqsAction::UntagQueue, untag_queue},
    {SqsAction::ListQueueTags, list_queue_tags},
    {SqsAction::AddPermission, add_permission},
    {SqsAction::RemovePermission, remove_permission},
    {SqsAction::ListDeadLetterSourceQueues, list_dead_letter_source_queues},
    {SqsAction::StartMessageMoveTask, start_message_move_task},
    {SqsAction::CancelMessageMoveTask, cancel_message_move_task},
    {SqsAction::ListMessageMoveTasks, list_message_move_tasks},
}};

// Checked at compile time: the rows' order. (server_tests runs every
// action.)
constexpr bool handlers_follow_facts() {
  for (size_t i = 0; i < kHandlers.size(); ++i) {
    if (kHandlers[i].action != kActionFacts[i].action) return false;
  }
  return true;
}
static_assert(handlers_follow_facts(), "kHandlers: one handler per action, in the order of kActionFacts");

// Runs the handler of `action`; its reply is call.reply.
void run_handler(const ActionFacts& action, const Call& call) {
  kHandlers[static_cast<size_t>(action.action)].handle(call, call.reply);
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
