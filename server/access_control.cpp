#include "server/access_control.h"

#include <optional>

#include "server/queue_urls.h"
#include "storage/arn.h"
#include "storage/queue_tags.h"

namespace wharf::server {
namespace {

std::optional<std::string> string_param(const nlohmann::json& params, const char* name) {
  if (!params.is_object()) return std::nullopt;
  auto it = params.find(name);
  if (it == params.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

SqsError no_such_queue() { return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist."); }

}  // namespace

void route_request(Accounts& accounts, std::string_view action, const nlohmann::json& params, const Caller& caller,
                   bool enforce, storage::Done<Result<Account*>> done) {
  std::string owner = caller.account_id;
  std::string queue;
  if (auto url = string_param(params, "QueueUrl")) {
    auto parts = split_queue_url(*url);
    // Handlers answer malformed URLs; only a well-formed one picks an account.
    if (parts && !parts->account_id.empty() && accounts.find(parts->account_id)) {
      owner = parts->account_id;
      queue = parts->name;
    }
  } else if (action == "GetQueueUrl") {
    if (auto id = string_param(params, "QueueOwnerAWSAccountId"); id && accounts.find(*id)) {
      owner = *id;
      queue = string_param(params, "QueueName").value_or("");
    }
  }
  auto in_region = accounts.find(owner, caller.region);
  if (!in_region) return done(in_region.error());
  Account* account = in_region.value();
  if (!account) return done(no_such_queue());
  if (!enforce || owner == caller.account_id) return done(account);

  // Another account's queue: its Policy decides.
  SqsError denied = make_error(ErrorCode::AccessDenied, "Access to the resource " + std::string(action) + " on queue " +
                                                            queue + " of account " + owner + " is denied.");
  if (action == "AddPermission" || action == "RemovePermission") return done(std::move(denied));
  std::string arn = storage::queue_arn(account->region, owner, queue);
  account->engine->async_get_queue(
      queue, [account, denied = std::move(denied), arn = std::move(arn), caller_account = caller.account_id,
              action = std::string(action), done = std::move(done)](Result<storage::QueueInfo> info) mutable {
        if (!info) return done(info.error());
        auto policy = info->attributes.find("Policy");
        if (policy == info->attributes.end() ||
            storage::evaluate_policy(policy->second, caller_account, action, arn) != storage::PolicyDecision::Allow) {
          return done(std::move(denied));
        }
        done(account);
      });
}

}  // namespace wharf::server
