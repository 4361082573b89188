#include "server/actions.h"

#include <array>

#include "server/params.h"

namespace wharf::server {
namespace {

using SyncHandler = Result<nlohmann::json> (*)(const Call&);
using AsyncHandler = void (*)(const Call&, Reply);

struct ActionRow {
  std::string_view name;
  SyncHandler sync = nullptr;
  AsyncHandler async = nullptr;
};

// Every SQS action. Rows without a handler belong to later work and answer
// UnsupportedOperation rather than pretending.
constexpr std::array kActions = {
    ActionRow{"CreateQueue", create_queue},
    ActionRow{"GetQueueUrl", get_queue_url},
    ActionRow{"ListQueues", list_queues},
    ActionRow{"DeleteQueue", delete_queue},
    ActionRow{"GetQueueAttributes", get_queue_attributes},
    ActionRow{"SetQueueAttributes", set_queue_attributes},
    ActionRow{"PurgeQueue", purge_queue},
    ActionRow{"SendMessage", send_message},
    ActionRow{"ReceiveMessage", nullptr, receive_message},
    ActionRow{"DeleteMessage", delete_message},
    ActionRow{"ChangeMessageVisibility", change_message_visibility},
    ActionRow{"SendMessageBatch"},
    ActionRow{"DeleteMessageBatch"},
    ActionRow{"ChangeMessageVisibilityBatch"},
    ActionRow{"TagQueue"},
    ActionRow{"UntagQueue"},
    ActionRow{"ListQueueTags"},
    ActionRow{"AddPermission"},
    ActionRow{"RemovePermission"},
    ActionRow{"ListDeadLetterSourceQueues"},
    ActionRow{"StartMessageMoveTask"},
    ActionRow{"CancelMessageMoveTask"},
    ActionRow{"ListMessageMoveTasks"},
};

std::string_view strip_scheme_and_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return url;
  auto path = url.find('/', scheme + 3);
  return path == std::string_view::npos ? std::string_view() : url.substr(path);
}

}  // namespace

void run_action(std::string_view action, const Call& call, Reply reply) {
  for (const auto& row : kActions) {
    if (row.name != action) continue;
    if (row.async) return row.async(call, std::move(reply));
    if (row.sync) return reply(row.sync(call));
    return reply(make_error(ErrorCode::UnsupportedOperation,
                            "The action " + std::string(action) + " is not supported by this Wharf version yet."));
  }
  reply(make_error(ErrorCode::InvalidAction, "The action " + std::string(action) + " is not valid for this endpoint."));
}

std::string queue_url(const Call& call, const std::string& name) {
  const std::string host = call.host.empty() ? "localhost:" + std::to_string(call.settings.port) : call.host;
  return "http://" + host + "/" + call.settings.account_id + "/" + name;
}

Result<std::string> queue_name_from_url(const Call& call) {
  Params p(call.params);
  auto url = p.required_string("QueueUrl");
  if (!url) return url.error();
  std::string_view path = strip_scheme_and_host(url.value());
  auto query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  const std::string prefix = "/" + call.settings.account_id + "/";
  if (path.substr(0, prefix.size()) != prefix || path.size() == prefix.size() ||
      path.find('/', prefix.size()) != std::string_view::npos) {
    return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
  }
  return std::string(path.substr(prefix.size()));
}

}  // namespace wharf::server
