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
// tries. It reads the call, which lives until the reply (see Call); it owns
// the rest.
struct PendingReceive {
  const Call& call;
  int max;
  std::optional<int> visibility;
  std::string attempt_id;
  Selection selection;
  // While the engine works for it: the receive itself (so that the engine's
  // continuation holds one pointer, which std::function keeps without
  // allocating) and what the long poll waits to hear. One engine call at a
  // time: the long poll runs one attempt at a time.
  std::shared_ptr<PendingReceive> self;
  LongPolls::AttemptDone attempt_done;

  // Receives once, then answers messages or an error (or nothing, unless
  // `answer_empty`), then tells `done` whether it answered.
  static void attempt(std::shared_ptr<PendingReceive> receive, bool answer_empty, LongPolls::AttemptDone done) {
    PendingReceive* r = receive.get();
    r->self = std::move(receive);
    r->attempt_done = std::move(done);
    r->call.engine.async_receive_messages(r->call.queue_name, r->max, r->visibility, r->attempt_id,
                                          [r, answer_empty](Result<std::vector<storage::ReceivedMessage>> received) {
                                            auto keep = std::move(r->self);  // until this ends
                                            auto done = std::move(r->attempt_done);
                                            const bool answered = r->answer(received, answer_empty);
                                            if (done) done(answered);
                                          });
  }

  // True when it answered (messages, an error, or nothing when
  // `answer_empty`). Touches nothing of the call after answering.
  bool answer(const Result<std::vector<storage::ReceivedMessage>>& received, bool answer_empty) const {
    if (!received) {
      call.reply(received.error());
      return true;
    }
    if (received->empty() && !answer_empty) return false;
    const auto& messages = received.value();
    std::vector<std::string> md5s(messages.size());
    std::vector<json> chosen(messages.size());
    std::vector<protocol::ReceivedMessageView> views;
    views.reserve(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) {
      views.push_back(view_of(owner_account(call), selection, messages[i], md5s[i], chosen[i]));
    }
    Answer answer;
    if (call.protocol == protocol::Protocol::Json) {
      answer.json_text = protocol::received_messages_json(views);
    } else if (!views.empty()) {
      json list = json::array();
      for (const auto& view : views) list.push_back(protocol::received_message_tree(view));
      answer.tree = json{{"Messages", std::move(list)}};
    } else {
      answer.tree = json::object();
    }
    call.reply(std::move(answer));
    return true;
  }
};

// Receives at once (wait 0), or long polls for up to `wait_seconds`.
void receive_within(std::shared_ptr<PendingReceive> receive, int64_t wait_seconds) {
  const Call& call = receive->call;
  if (wait_seconds == 0) return PendingReceive::attempt(std::move(receive), /*answer_empty=*/true, nullptr);
  const bool waiting = call.long_polls.wait(
      long_poll_key(owner_account(call), request_region(call), call.queue_name),
      std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds),
      [receive](LongPolls::AttemptDone done) {
        PendingReceive::attempt(receive, /*answer_empty=*/false, std::move(done));
      },
      [receive] {
        receive->call.reply(Answer{json::object(), {}});
      });
  if (!waiting) {
    call.reply(make_error(ErrorCode::ServiceUnavailable,
                          "Too many concurrent long polls on this server (--max-long-polls); retry later."));
  }
}

// The answer to a SendMessage, DeleteMessage or ChangeMessageVisibility:
// its batch of one's outcome.
template <typename T>
Result<T> only_entry(Result<std::vector<Result<T>>> results) {
  if (!results) return results.error();
  return std::move(results->front());
}

}  // namespace

// The engine's continuations capture `&call` (and the send its checksums):
// the call, with its reply, lives until the reply (see Call).
void send_message(const Call& call, Reply reply) {
  auto prepared = prepare_send(call.params, call.trace_header);
  if (!prepared) return reply(prepared.error());
  std::vector<storage::NewMessage> one;
  one.push_back(std::move(prepared->message));
  call.engine.async_send_messages(call.queue_name, std::move(one), storage::Engine::SendKind::Single,
                                  [&call, checksums = std::move(prepared->checksums)](
                                      Result<std::vector<Result<storage::SentMessage>>> results) mutable {
                                    auto sent = only_entry(std::move(results));
                                    if (!sent) return call.reply(sent.error());
                                    json out = std::move(checksums);
                                    out["MessageId"] = sent->message_id;
                                    if (!sent->sequence_number.empty()) out["SequenceNumber"] = sent->sequence_number;
                                    call.reply(Answer{std::move(out), {}});
                                  });
}

void receive_message(const Call& call, Reply reply) {
  auto params = read_receive_params(call);
  if (!params) return reply(params.error());
  auto receive = std::make_shared<PendingReceive>(PendingReceive{
      call, params->max, params->visibility, std::move(params->attempt_id), std::move(params->selection), {}, {}});
  if (params->wait) return receive_within(std::move(receive), *params->wait);
  // The queue's ReceiveMessageWaitTimeSeconds, when the request gives none.
  PendingReceive* r = receive.get();
  r->self = std::move(receive);
  call.engine.async_queue_int_attribute(call.queue_name, "ReceiveMessageWaitTimeSeconds", [r](Result<int64_t> wait) {
    auto receive = std::move(r->self);
    if (!wait) return receive->call.reply(wait.error());
    receive_within(std::move(receive), wait.value());
  });
}

void delete_message(const Call& call, Reply reply) {
  Params p(call.params);
  auto handle = p.required_string("ReceiptHandle");
  if (!handle) return reply(handle.error());
  std::vector<std::string> one;
  one.push_back(std::move(handle.value()));
  call.engine.async_delete_messages(call.queue_name, one, [&call](Result<std::vector<Status>> results) {
    auto deleted = only_entry(std::move(results));
    if (!deleted) return call.reply(deleted.error());
    call.reply(Answer{json::object(), {}});
  });
}

void change_message_visibility(const Call& call, Reply reply) {
  Params p(call.params);
  auto handle = p.required_string("ReceiptHandle");
  if (!handle) return reply(handle.error());
  if (!p.has("VisibilityTimeout")) {
    return reply(make_error(ErrorCode::MissingParameter, "The request must contain the parameter VisibilityTimeout."));
  }
  auto timeout = p.optional_int("VisibilityTimeout", 0, 43200);
  if (!timeout) return reply(timeout.error());
  std::vector<storage::VisibilityChange> one;
  one.push_back(storage::VisibilityChange{std::move(handle.value()), *timeout.value()});
  call.engine.async_change_visibilities(call.queue_name, one, [&call](Result<std::vector<Status>> results) {
    auto changed = only_entry(std::move(results));
    if (!changed) return call.reply(changed.error());
    call.reply(Answer{json::object(), {}});
  });
}

}  // namespace wharf::server
