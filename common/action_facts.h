// The facts about each SQS action, in one table that every layer reads: the
// server's handler table and its auto-create rule, the metrics labels, the
// actions a queue Policy may grant, and the query protocol's XML result
// shape. Adding an action is adding one row here and one handler in
// server/actions.cpp (in the same order).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace wharf {

// Every SQS action, in the table's order.
enum class SqsAction : uint8_t {
  CreateQueue,
  GetQueueUrl,
  ListQueues,
  DeleteQueue,
  GetQueueAttributes,
  SetQueueAttributes,
  PurgeQueue,
  SendMessage,
  ReceiveMessage,
  DeleteMessage,
  ChangeMessageVisibility,
  SendMessageBatch,
  DeleteMessageBatch,
  ChangeMessageVisibilityBatch,
  TagQueue,
  UntagQueue,
  ListQueueTags,
  AddPermission,
  RemovePermission,
  ListDeadLetterSourceQueues,
  StartMessageMoveTask,
  CancelMessageMoveTask,
  ListMessageMoveTasks,
};

// Which queue --auto-create-queues creates when it is missing.
enum class AutoCreate : uint8_t {
  Never,        // creates, deletes or lists queues, or names them by ARN
  ByQueueUrl,   // the queue its QueueUrl names
  ByQueueName,  // GetQueueUrl: its QueueName (in the caller's account)
};

// A JSON result list and the member name each of its items gets in the
// query protocol's flattened XML (e.g. "Messages" -> <Message>...).
struct XmlListMember {
  std::string_view json_key;  // empty: unused slot
  std::string_view xml_member;
};

struct ActionFacts {
  SqsAction action;
  std::string_view name;  // the wire name; also the metrics label
  bool names_queue_by_url;
  AutoCreate auto_create;
  std::string_view policy_action;  // what a Policy/AddPermission may grant; empty: owner only
  bool xml_result_element;         // the query answer has an <ActionResult> (AWS: an output shape)
  std::array<XmlListMember, 2> xml_lists;
};

namespace action_facts_detail {
constexpr ActionFacts row(SqsAction action, std::string_view name, bool by_url, AutoCreate create,
                          std::string_view policy, bool result, std::array<XmlListMember, 2> lists = {}) {
  return ActionFacts{action, name, by_url, create, policy, result, lists};
}
constexpr bool kUrl = true;     // names its queue by QueueUrl
constexpr bool kResult = true;  // has an <ActionResult> element
using enum AutoCreate;
using enum SqsAction;
}  // namespace action_facts_detail

// clang-format off
inline constexpr std::array kActionFacts = [] {
  using namespace action_facts_detail;
  return std::array{
    //  action                        name                            URL    auto-create  Policy action                   XML result
    row(CreateQueue,                  "CreateQueue",                  false, Never,       "",                             kResult),
    row(GetQueueUrl,                  "GetQueueUrl",                  false, ByQueueName, "GetQueueUrl",                  kResult),
    row(ListQueues,                   "ListQueues",                   false, Never,       "",                             kResult,
        {{{"QueueUrls", "QueueUrl"}}}),
    row(DeleteQueue,                  "DeleteQueue",                  kUrl,  Never,       "",                             false),
    row(GetQueueAttributes,           "GetQueueAttributes",           kUrl,  ByQueueUrl,  "GetQueueAttributes",           kResult),
    row(SetQueueAttributes,           "SetQueueAttributes",           kUrl,  ByQueueUrl,  "",                             false),
    row(PurgeQueue,                   "PurgeQueue",                   kUrl,  ByQueueUrl,  "PurgeQueue",                   false),
    row(SendMessage,                  "SendMessage",                  kUrl,  ByQueueUrl,  "SendMessage",                  kResult),
    row(ReceiveMessage,               "ReceiveMessage",               kUrl,  ByQueueUrl,  "ReceiveMessage",               kResult,
        {{{"Messages", "Message"}}}),
    row(DeleteMessage,                "DeleteMessage",                kUrl,  ByQueueUrl,  "DeleteMessage",                false),
    row(ChangeMessageVisibility,      "ChangeMessageVisibility",      kUrl,  ByQueueUrl,  "ChangeMessageVisibility",      false),
    row(SendMessageBatch,             "SendMessageBatch",             kUrl,  ByQueueUrl,  "SendMessageBatch",             kResult,
        {{{"Successful", "SendMessageBatchResultEntry"}, {"Failed", "BatchResultErrorEntry"}}}),
    row(DeleteMessageBatch,           "DeleteMessageBatch",           kUrl,  ByQueueUrl,  "DeleteMessageBatch",           kResult,
        {{{"Successful", "DeleteMessageBatchResultEntry"}, {"Failed", "BatchResultErrorEntry"}}}),
    row(ChangeMessageVisibilityBatch, "ChangeMessageVisibilityBatch", kUrl,  ByQueueUrl,  "ChangeMessageVisibilityBatch", kResult,
        {{{"Successful", "ChangeMessageVisibilityBatchResultEntry"}, {"Failed", "BatchResultErrorEntry"}}}),
    row(TagQueue,                     "TagQueue",                     kUrl,  ByQueueUrl,  "",                             false),
    row(UntagQueue,                   "UntagQueue",                   kUrl,  ByQueueUrl,  "",                             false),
    row(ListQueueTags,                "ListQueueTags",                kUrl,  ByQueueUrl,  "ListQueueTags",                kResult),
    row(AddPermission,                "AddPermission",                kUrl,  ByQueueUrl,  "",                             false),
    row(RemovePermission,             "RemovePermission",             kUrl,  ByQueueUrl,  "",                             false),
    row(ListDeadLetterSourceQueues,   "ListDeadLetterSourceQueues",   kUrl,  ByQueueUrl,  "ListDeadLetterSourceQueues",   kResult,
        {{{"queueUrls", "QueueUrl"}}}),
    row(StartMessageMoveTask,         "StartMessageMoveTask",         false, Never,       "StartMessageMoveTask",         kResult),
    row(CancelMessageMoveTask,        "CancelMessageMoveTask",        false, Never,       "CancelMessageMoveTask",        kResult),
    row(ListMessageMoveTasks,         "ListMessageMoveTasks",         false, Never,       "ListMessageMoveTasks",         kResult,
        {{{"Results", "ListMessageMoveTasksResultEntry"}}}),
  };
}();
// clang-format on

inline constexpr size_t kActionCount = kActionFacts.size();

// The metrics label of requests whose action is not an SQS one (or was not
// known when they were refused), so that callers cannot grow the label set.
inline constexpr std::string_view kUnknownActionLabel = "unknown";

// Rows are in enum order: kActionFacts[size_t(action)] is that action's.
constexpr bool action_facts_in_order() {
  for (size_t i = 0; i < kActionFacts.size(); ++i) {
    if (static_cast<size_t>(kActionFacts[i].action) != i) return false;
  }
  return true;
}
static_assert(action_facts_in_order(), "kActionFacts rows must follow the SqsAction enum");
static_assert(kActionCount == static_cast<size_t>(SqsAction::ListMessageMoveTasks) + 1);

constexpr const ActionFacts& facts_of(SqsAction action) { return kActionFacts[static_cast<size_t>(action)]; }

// The facts of the action with this wire name; nullptr for names outside
// the SQS API.
constexpr const ActionFacts* find_action_facts(std::string_view name) {
  for (const auto& facts : kActionFacts) {
    if (facts.name == name) return &facts;
  }
  return nullptr;
}

// What AddPermission may grant: "*" or an action whose Policy name is set
// (botocore: any action except those that change the queue itself or its
// permissions).
constexpr bool policy_may_grant(std::string_view action) {
  if (action == "*") return true;
  for (const auto& facts : kActionFacts) {
    if (!facts.policy_action.empty() && facts.policy_action == action) return true;
  }
  return false;
}

}  // namespace wharf
