// Queues the config file declares up front (its "queues" list) and those of
// WHARF_QUEUES (server/queues_from_env.h, made into the same list): read
// once the region and account id are final, then created or
// brought up to date at start, through the engine so that CreateQueue's and
// SetQueueAttributes' rules apply.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

// A queue the config file declares, in the shape of a CreateQueue request.
struct DeclaredQueue {
  std::string name;
  storage::AttributeMap attributes;  // as declared; the engine validates them
  storage::TagMap tags;
};

// Reads the file's "queues" list into `queues`, each dead-letter queue
// before the queues that name it (otherwise in the file's order). A
// RedrivePolicy may name its dead-letter queue by "deadLetterQueue", made
// into an ARN of `settings`' region and account. Answers why the list is
// refused (naming the entry as `source`[INDEX]), or nullopt. Queues already
// in `queues` (another source's) are ordered with the new ones.
std::optional<std::string> parse_declared_queues(const nlohmann::json& list, const Settings& settings,
                                                 std::vector<DeclaredQueue>& queues,
                                                 const std::string& source = "queues");

// Creates the declared queues that do not exist, and gives existing ones the
// declared attributes and tags (attributes and tags not declared are left as
// they are). Changes nothing when all already match, so a restart with the
// same file is a no-op. On failure `error` names the queue and gives the SQS
// error.
bool apply_declared_queues(storage::Engine& engine, const std::vector<DeclaredQueue>& queues, std::string& error);

}  // namespace wharf::server
