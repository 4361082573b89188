// Message actions: SendMessage, ReceiveMessage (with long polling),
// DeleteMessage, ChangeMessageVisibility.
#include <algorithm>
#include <set>

#include "protocol/checksums.h"
#include "protocol/received_message.h"
#include "server/actions.h"
#include "server/long_polls.h"
#include "server/message_attributes.h"
#include "server/params.h"

namespace wharf::server {
namespace {

using nlohmann::json;

const std::set<std::string>& system_attribute_names() {
  static const std::set<std::string> kNames = {"All",
                                               "SenderId",
                                               "SentTimestamp",
                                               "ApproximateReceiveCount",
                                               "ApproximateFirstReceiveTimestamp",
                                               "SequenceNumber",
                                               "MessageDeduplicationId",
                                               "MessageGroupId",
                                               "AWSTraceHeader",
                                               "DeadLetterQueueSourceArn"};
  return kNames;
}

// What a ReceiveMessage asked to see of each message.
struct Selection {
  std::set<std::string> system;            // system attribute names, or {"All"}
  std::vector<std::string> message_names;  // names, "All", ".*" or "prefix.*"

  bool wants_system(const std::string& name) const { return system.count("All") || system.count(name); }

  bool wants_message_attribute(const std::string& name) const {
    for (const auto& n : message_names) {
      if (n == "All" || n == ".*" || n == "*" || n == name) return true;
      // "prefix.*": the text before ".*" is a plain prefix of the name.
      if (n.size() > 2 && n.compare(n.size() - 2, 2, ".*") == 0 &&
          name.compare(0, n.size() - 2, n, 0, n.size() - 2) == 0) {
        return true;
      }
    }
    return false;
  }
};

// What ReceiveMessage shows of `m`. `md5_of_body` (when the message was
// stored without it) and `chosen` (its message attributes asked for) hold
// what the view points to.
protocol::ReceivedMessageView view_of(const std::string& sender_id, const Selection& selection,
                                      const storage::ReceivedMessage& m, std::string& md5_of_body, json& chosen) {
  protocol::ReceivedMessageView out;
  out.message_id = m.message_id;
  out.receipt_handle = m.receipt_handle;
  out.body = m.body;
  if (m.body_md5.empty()) md5_of_body = protocol::md5_hex(m.body);
  out.md5_of_body = m.body_md5.empty() ? std::string_view(md5_of_body) : std::string_view(m.body_md5);
  auto put = [&](std::string_view name, std::string value) {
    if (selection.wants_system(std::string(name))) out.attributes.emplace_back(name, std::move(value));
  };
  put("SenderId", sender_id);
  put("SentTimestamp", std::to_string(m.sent_ms));
  put("ApproximateReceiveCount", std::to_string(m.receive_count));
  put("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
  for (const auto& field : storage::kSystemAttributeFields) {
    const std::string& value = m.system_attributes.*field.member;
    if (!value.empty()) put(field.name, value);
  }
  if (!m.sequence_number.empty()) put("SequenceNumber", m.sequence_number);
  std::sort(out.attributes.begin(), out.attributes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  if (!m.message_attributes.empty() && !selection.message_names.empty()) {
    auto stored = json::parse(m.message_attributes, nullptr, false);
    chosen = json::object();
    if (stored.is_object()) {
      for (auto it = stored.begin(); it != stored.end(); ++it) {
        if (selection.wants_message_attribute(it.key())) chosen[it.key()] = it.value();
      }
    }
    if (!chosen.empty()) {
      out.md5_of_message_attributes = protocol::md5_of_attributes(chosen);
      out.message_attributes = &chosen;
    }
  }
  return out;
}

// A ReceiveMessage's own parameters, checked in AWS's order.
struct ReceiveParams {
  int max = 1;
  std::optional<int> visibility;
  std::optional<int> wait;
  std::string attempt_id;
  Selection selection;
};

Result<ReceiveParams> read_receive_params(const Call& call) {
  Params p(call.params);
  auto max = p.optional_int("MaxNumberOfMessages", 1, 10);
  if (!max) return max.error();
  auto visibility = p.optional_int("VisibilityTimeout", 0, 43200);
  if (!visibility) return visibility.error();
  auto wait = optional_int_within(call.params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.");
  if (!wait) return wait.error();
  auto legacy_names = p.string_list("AttributeNames");
  if (!legacy_names) return legacy_names.error();
  auto system_names = p.string_list("MessageSystemAttributeNames");
  if (!system_names) return system_names.error();
  auto message_names = p.string_list("MessageAttributeNames");
  if (!message_names) return message_names.error();
  auto attempt_id = p.optional_string("ReceiveRequestAttemptId");
  if (!attempt_id) return attempt_id.error();
  if (attempt_id.value()) {
    if (auto st = validate_fifo_token("ReceiveRequestAttemptId", *attempt_id.value()); !st) return st.error();
  }

  ReceiveParams out;
  out.max = max.value().value_or(1);
  out.visibility = visibility.value();
  out.wait = wait.value();
  out.attempt_id = attempt_id.value().value_or("");
  for (const auto* list : {&legacy_names.value(), &system_names.value()}) {
    for (const auto& n : *list) {
      if (!system_attribute_names().count(n)) {
        return make_error(ErrorCode::InvalidAttributeName, "Unknown Attribute " + n + ".");
      }
      out.selection.system.insert(n);
    }
  }
  out.selection.message_names = std::move(message_names.value());
  return out;
}

// One ReceiveMessage, shared by the immediate try and the long poll's later
// tries; owns what it needs, since a long poll outlives the call.
struct PendingReceive {
  storage::Engine& engine;
  std::string sender_id;
  std::string queue;
  int max;
  std::optional<int> visibility;
  std::string attempt_id;
  Selection selection;
  protocol::Protocol protocol;
  Reply reply;

  // True when it answered (messages, an error, or nothing when
  // `answer_empty`).
  bool try_once(bool answer_empty) {
    auto received = engine.receive_messages(queue, max, visibility, attempt_id);
    if (!received) {
      reply(received.error());
      return true;
    }
    if (received->empty() && !answer_empty) return false;
    const auto& messages = received.value();
    std::vector<std::string> md5s(messages.size());
    std::vector<json> chosen(messages.size());
    std::vector<protocol::ReceivedMessageView> views;
    views.reserve(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      views.push_back(view_of(sender_id, selection, messages[i], md5s[i], chosen[i]));
    }
    Answer answer;
    if (protocol == protocol::Protocol::Json) {
      answer.json_text = protocol::received_messages_json(views);
    } else if (!views.empty()) {
      json list = json::array();
      for (const auto& view : views) list.push_back(protocol::received_message_tree(view));
      answer.tree = json{{"Messages", std::move(list)}};
    } else {
      answer.tree = json::object();
    }
    reply(std::move(answer));
    return true;
  }
};

}  // namespace

Result<json> send_message(const Call& call) {
  const std::string& name = call.queue_name;
  auto prepared = prepare_send(call.params, call.trace_header);
  if (!prepared) return prepared.error();
  auto sent = call.engine.send_message(name, std::move(prepared->message));
  if (!sent) return sent.error();
  json out = std::move(prepared->checksums);
  out["MessageId"] = sent->message_id;
  if (!sent->sequence_number.empty()) out["SequenceNumber"] = sent->sequence_number;
  return out;
}

void receive_message(const Call& call, Reply reply) {
  const std::string& name = call.queue_name;
  auto params = read_receive_params(call);
  if (!params) return reply(params.error());
  auto queue_wait = params->wait ? Result<int64_t>(*params->wait)
                                 : call.engine.queue_int_attribute(name, "ReceiveMessageWaitTimeSeconds");
  if (!queue_wait) return reply(queue_wait.error());
  const int wait_seconds = static_cast<int>(queue_wait.value());

  auto receive = std::make_shared<PendingReceive>(
      PendingReceive{call.engine, owner_account(call), name, params->max, params->visibility,
                     std::move(params->attempt_id), std::move(params->selection), call.protocol, std::move(reply)});
  if (wait_seconds == 0) {
    receive->try_once(/*answer_empty=*/true);
    return;
  }
  const bool waiting = call.long_polls.wait(
      long_poll_key(owner_account(call), request_region(call), receive->queue),
      std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds),
      [receive] { return receive->try_once(/*answer_empty=*/false); },
      [receive] {
        receive->reply(Answer{json::object(), {}});
      });
  if (!waiting) {
    receive->reply(make_error(ErrorCode::ServiceUnavailable,
                              "Too many concurrent long polls on this server (--max-long-polls); retry later."));
  }
}

Result<json> delete_message(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto handle = p.required_string("ReceiptHandle");
  if (!handle) return handle.error();
  if (auto st = call.engine.delete_message(name, handle.value()); !st) return st.error();
  return json::object();
}

Result<json> change_message_visibility(const Call& call) {
  const std::string& name = call.queue_name;
  Params p(call.params);
  auto handle = p.required_string("ReceiptHandle");
  if (!handle) return handle.error();
  if (!p.has("VisibilityTimeout")) {
    return make_error(ErrorCode::MissingParameter, "The request must contain the parameter VisibilityTimeout.");
  }
  auto timeout = p.optional_int("VisibilityTimeout", 0, 43200);
  if (!timeout) return timeout.error();
  if (auto st = call.engine.change_visibility(name, handle.value(), *timeout.value()); !st) return st.error();
  return json::object();
}

}  // namespace wharf::server
