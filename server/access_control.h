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
// permission. `done` gets the account, or the error to answer: before
// route_request returns, except when another account's Policy is read from
// an engine that completes later (then on that engine's thread). The
// arguments are not used once route_request has returned.
void route_request(Accounts& accounts, std::string_view action, const nlohmann::json& params, const Caller& caller,
                   bool enforce, storage::Done<Result<Account*>> done);

}  // namespace wharf::server
