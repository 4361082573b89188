// Which account's queues a request addresses, and whether its caller may act
// there. A request acts on its caller's account unless its QueueUrl (or
// GetQueueUrl's QueueOwnerAWSAccountId) names another; then, with
// authentication on, the queue's Policy must allow the caller's account.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "common/sqs_error.h"
#include "server/accounts.h"

namespace wharf::server {

// `caller`: the signer's account (the server's own without auth) and
// region; the account is found in the caller's region. `enforce`:
// authentication is on, so another account's queue needs its Policy's
// permission.
Result<Account*> route_request(Accounts& accounts, std::string_view action, const nlohmann::json& params,
                               const Caller& caller, bool enforce);

}  // namespace wharf::server
