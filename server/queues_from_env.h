// Declared queues from the environment variable WHARF_QUEUES, so that a
// container needs no mounted config file:
//
//   WHARF_QUEUES='orders-dlq;orders:VisibilityTimeout=60,RedrivePolicy.maxReceiveCount=3,
//                 RedrivePolicy.deadLetterTargetName=orders-dlq,Tag.team=shop;events.fifo'
//
// Entries are separated by ';', each a queue name optionally followed by ':'
// and comma-separated Key=Value parts: an attribute (VisibilityTimeout=60),
// a member of a policy document (RedrivePolicy.maxReceiveCount=3,
// RedriveAllowPolicy.redrivePermission=denyAll) or a tag (Tag.team=shop).
// RedrivePolicy.deadLetterTargetName names a dead-letter queue of the
// server's account and region. A name ending in .fifo implies
// FifoQueue=true. Values cannot hold ',' or ';'. Each entry becomes an item
// of the config file's "queues" list, so both share their validation, their
// ordering (dead-letter queues first) and apply_declared_queues.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/declared_queues.h"
#include "server/settings.h"

namespace wharf::server {

// WHARF_QUEUES' text as the config file's "queues" list. Answers why it is
// refused, naming the entry ("WHARF_QUEUES entry 2 (orders): ..."), or
// nullopt. Empty entries (a ';' at the end) are skipped.
std::optional<std::string> queues_list_from_environment(std::string_view text, nlohmann::json& list);

// Adds WHARF_QUEUES' queues to `queues` (the config file's, already parsed)
// and orders them all, dead-letter queues first, so that either source may
// name the other's queue as a dead-letter queue. A name declared by both is
// refused: which declaration should win is not obvious (attributes merged or
// replaced), and a refusal at start costs nothing.
std::optional<std::string> add_queues_from_environment(std::string_view text, const Settings& settings,
                                                       std::vector<DeclaredQueue>& queues);

}  // namespace wharf::server
