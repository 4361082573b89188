// One message of a ReceiveMessage answer, in the JSON protocol's shape: as a
// result tree (which the codec also writes as XML for the query protocol),
// or written straight into the JSON protocol's body. Receiving is the answer
// built most often, and the tree (a map node and a string copy per member,
// then freed) cost more than writing the text.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wharf::protocol {

struct ReceivedMessageView {
  std::string_view message_id;
  std::string_view receipt_handle;
  std::string_view md5_of_body;
  std::string_view body;
  // The system attributes asked for, sorted by name (as the tree orders them).
  std::vector<std::pair<std::string_view, std::string>> attributes;
  // The message attributes asked for ({} when none) and their MD5.
  const nlohmann::json* message_attributes = nullptr;
  std::string md5_of_message_attributes;
};

nlohmann::json received_message_tree(const ReceivedMessageView& message);

// {"Messages":[...]} ({} for none): the same bytes as to_json_text of
// {"Messages": [received_message_tree(m)...]}.
std::string received_messages_json(const std::vector<ReceivedMessageView>& messages);

}  // namespace wharf::protocol
