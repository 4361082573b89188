#include "server/declared_queues.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "storage/arn.h"
#include "storage/queue_attributes.h"
#include "storage/queue_tags.h"

namespace wharf::server {
namespace {

using nlohmann::json;
using Reason = std::optional<std::string>;  // why a value is refused; nullopt: accepted

// An attribute value as CreateQueue takes it (a string). The file may also
// give numbers, true/false, and the policies as JSON documents; a
// RedrivePolicy may name its dead-letter queue by "deadLetterQueue" instead
// of "deadLetterTargetArn".
Reason attribute_text(const std::string& name, json value, const Settings& settings, std::string& text) {
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_boolean()) {
    text = value.get<bool>() ? "true" : "false";
  } else if (value.is_number_integer()) {
    text = value.dump();
  } else if (value.is_object() || value.is_array()) {
    if (name == "RedrivePolicy" && value.is_object() && value.contains("deadLetterQueue")) {
      if (!value["deadLetterQueue"].is_string()) return "deadLetterQueue must be a queue name";
      if (value.contains("deadLetterTargetArn")) return "give deadLetterQueue or deadLetterTargetArn, not both";
      value["deadLetterTargetArn"] =
          storage::queue_arn(settings.region, settings.account_id, value["deadLetterQueue"].get<std::string>());
      value.erase("deadLetterQueue");
    }
    text = value.dump();
  } else {
    return "must be a string, an integer, true or false, or a JSON document";
  }
  return std::nullopt;
}

Reason tag_text(const json& value, std::string& text) {
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_boolean() || value.is_number_integer()) {
    text = value.dump();
  } else {
    return "must be a string, an integer, true or false";
  }
  return std::nullopt;
}

Reason parse_queue(const json& item, const Settings& settings, DeclaredQueue& queue) {
  if (!item.is_object()) return "must be an object like {\"QueueName\": ..., \"Attributes\": {...}, \"tags\": {...}}";
  if (!item.contains("QueueName") || !item["QueueName"].is_string() || item["QueueName"].get<std::string>().empty()) {
    return "needs a QueueName (a string)";
  }
  queue.name = item["QueueName"].get<std::string>();
  if (item.contains("tags") && item.contains("Tags")) return "give tags or Tags, not both";
  for (const auto& [key, value] : item.items()) {
    if (key == "QueueName") continue;
    if (key == "Attributes") {
      if (!value.is_object()) return "Attributes must be an object";
      for (const auto& [name, raw] : value.items()) {
        std::string text;
        if (auto why = attribute_text(name, raw, settings, text)) return "attribute " + name + ": " + *why;
        queue.attributes[name] = text;
      }
    } else if (key == "tags" || key == "Tags") {
      if (!value.is_object()) return key + " must be an object";
      for (const auto& [name, raw] : value.items()) {
        std::string text;
        if (auto why = tag_text(raw, text)) return "tag " + name + ": " + *why;
        queue.tags[name] = text;
      }
    } else {
      return "unknown key \"" + key + "\" (a queue has QueueName, Attributes and tags)";
    }
  }
  return std::nullopt;
}

// Dead-letter queues before their sources, otherwise in the file's order.
// Each queue names at most one dead-letter queue, so following those links
// from each queue gives a chain to place from its far end.
Reason order_queues(std::vector<DeclaredQueue>& queues, const Settings& settings) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < queues.size(); ++i) index[queues[i].name] = i;
  auto target = [&](const DeclaredQueue& q) -> std::optional<size_t> {
    auto policy = q.attributes.find("RedrivePolicy");
    if (policy == q.attributes.end()) return std::nullopt;
    auto doc = json::parse(policy->second, nullptr, false);
    if (!doc.is_object() || !doc.contains("deadLetterTargetArn") || !doc["deadLetterTargetArn"].is_string()) {
      return std::nullopt;  // the engine says what is wrong with it
    }
    auto name = storage::queue_name_from_arn(doc["deadLetterTargetArn"].get<std::string>(), settings.region,
                                             settings.account_id);
    if (!name || *name == q.name || !index.count(*name)) return std::nullopt;
    return index.at(*name);
  };
  enum class State { New, OnChain, Placed };
  std::vector<State> state(queues.size(), State::New);
  std::vector<DeclaredQueue> ordered;
  for (size_t i = 0; i < queues.size(); ++i) {
    std::vector<size_t> chain;
    std::optional<size_t> at = i;
    while (at && state[*at] == State::New) {
      state[*at] = State::OnChain;
      chain.push_back(*at);
      at = target(queues[*at]);
    }
    if (at && state[*at] == State::OnChain) {
      std::string cycle;
      for (auto it = std::find(chain.begin(), chain.end(), *at); it != chain.end(); ++it) {
        cycle += queues[*it].name + " -> ";
      }
      return "the dead-letter queues form a cycle: " + cycle + queues[*at].name;
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      state[*it] = State::Placed;
      ordered.push_back(std::move(queues[*it]));
    }
  }
  queues = std::move(ordered);
  return std::nullopt;
}

// An existing declared queue: the declared attributes and tags that differ.
// Start-up only (see apply_declared_queues): the synchronous forms are
// allowed here.
Status update_declared_queue(storage::Engine& engine, const DeclaredQueue& queue, const storage::QueueInfo& have) {
  auto wanted = storage::validate_queue_attributes(queue.attributes, /*creating=*/true);
  if (!wanted) return wanted.error();
  const bool fifo = storage::is_fifo(have.attributes);
  if (storage::is_fifo(wanted.value()) != fifo) {
    return make_error(ErrorCode::InvalidAttributeValue,
                      std::string("The queue exists as a ") + (fifo ? "FIFO" : "standard") +
                          " queue; FifoQueue cannot change (delete the queue to change its type).");
  }
  storage::AttributeMap changes;
  for (const auto& [name, value] : wanted.value()) {
    if (name == "FifoQueue") continue;
    auto stored = have.attributes.find(name);
    if ((stored == have.attributes.end() ? std::string() : stored->second) != value) changes[name] = value;
  }
  if (!changes.empty()) {
    if (auto st = engine.set_queue_attributes(queue.name, changes); !st) return st;
  }
  const bool tags_differ = std::any_of(queue.tags.begin(), queue.tags.end(), [&](const auto& tag) {
    auto stored = have.tags.find(tag.first);
    return stored == have.tags.end() || stored->second != tag.second;
  });
  if (tags_differ) {
    return engine.modify_queue(queue.name, [&](storage::QueueInfo& q) { return storage::add_tags(q, queue.tags); });
  }
  return Ok{};
}

}  // namespace

Reason parse_declared_queues(const json& list, const Settings& settings, std::vector<DeclaredQueue>& queues,
                             const std::string& source) {
  if (!list.is_array()) return source + ": must be a list of queues";
  for (size_t i = 0; i < list.size(); ++i) {
    DeclaredQueue queue;
    if (auto why = parse_queue(list[i], settings, queue)) {
      std::string where = source + "[" + std::to_string(i) + "]";
      if (!queue.name.empty()) where += " (" + queue.name + ")";
      return where + ": " + *why;
    }
    for (const auto& other : queues) {
      if (other.name == queue.name) return source + ": " + queue.name + " is declared twice";
    }
    queues.push_back(std::move(queue));
  }
  if (auto why = order_queues(queues, settings)) return source + ": " + *why;
  return std::nullopt;
}

// Start-up code: it runs on the main thread before the server listens, so it
// may use the engine's synchronous forms (each waits for its async_
// operation), which no I/O thread may call: no request waits behind it.
// (A backend that completes on its own threads needs them running by then.)
bool apply_declared_queues(storage::Engine& engine, const std::vector<DeclaredQueue>& queues, std::string& error) {
  for (const auto& queue : queues) {
    auto fail = [&](const SqsError& e) {
      error = "declared queue " + queue.name + ": " + std::string(error_name(e.code)) + ": " + e.message;
      return false;
    };
    auto existing = engine.get_queue(queue.name);
    if (existing) {
      if (auto st = update_declared_queue(engine, queue, existing.value()); !st) return fail(st.error());
      continue;
    }
    if (existing.error().code != ErrorCode::QueueDoesNotExist) return fail(existing.error());
    if (auto created = engine.create_queue(queue.name, queue.attributes, queue.tags); !created) {
      return fail(created.error());
    }
  }
  return true;
}

}  // namespace wharf::server
