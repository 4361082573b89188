// The development API (--dev-api, off by default), for test suites:
// POST /_wharf/reset deletes every queue, message, deduplication entry,
// receive attempt, move task and name cooldown of every account and region
// this server holds; POST /_wharf/reset?account=ID those of one account.
// It answers 200 with {"reset": true, "queues": N, "engines": K} once the
// deletion is durable. With --auth only a request signed with a key of the
// server's own account may call it (403 otherwise), and only for any
// account (no ?account) or its own. Other methods: 405.
#pragma once

#include <functional>
#include <string_view>

#include "common/sqs_error.h"
#include "server/authentication.h"
#include "server/sqs_endpoint.h"

namespace wharf::server {

// Whether the request's path is the development API's (/_wharf/...).
bool is_dev_api_path(std::string_view target);

// Calls `answer` exactly once (perhaps later, on a storage thread) with the
// answer to `request` (alive until then). `caller` is the request's
// authentication (the signer's account with --auth).
using DevApiAnswer = std::function<void(protocol::EncodedResponse)>;
void serve_dev_api(const HttpRequest& request, const Services& services, Result<Caller> caller, DevApiAnswer answer);

}  // namespace wharf::server
