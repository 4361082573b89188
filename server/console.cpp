#include "server/console.h"

#include "server/params.h"
#include "server/queue_urls.h"

#ifndef WHARF_VERSION
#define WHARF_VERSION "unknown"
#endif

namespace wharf::server {
namespace {

constexpr std::string_view kPrefix = "/console";

protocol::EncodedResponse plain(int status, std::string body) {
  protocol::EncodedResponse out;
  out.status = status;
  out.content_type = "text/plain; charset=utf-8";
  out.body = std::move(body);
  return out;
}

// The page loads nothing from elsewhere and runs no inline script.
void add_file_headers(protocol::EncodedResponse& out) {
  out.headers.emplace_back("Cache-Control", "no-cache");
  out.headers.emplace_back("X-Content-Type-Options", "nosniff");
  out.headers.emplace_back("Content-Security-Policy",
                           "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors 'none'");
}

// MessageAttributes are stored as JSON text in the wire shape.
nlohmann::json parse_stored(const std::string& text) {
  if (text.empty()) return nlohmann::json::object();
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  return parsed.is_object() ? parsed : nlohmann::json::object();
}

}  // namespace

bool is_console_path(std::string_view path) {
  if (!path.starts_with(kPrefix)) return false;
  return path.size() == kPrefix.size() || path[kPrefix.size()] == '/';
}

protocol::EncodedResponse console_file_response(std::string_view method, std::string_view path,
                                                const Settings& settings) {
  if (!settings.console) return plain(404, "Not found\n");
  if (method != "GET" && method != "HEAD") {
    auto out = plain(405, "Method not allowed\n");
    out.headers.emplace_back("Allow", "GET, HEAD");
    return out;
  }
  std::string_view name = path.substr(kPrefix.size());
  if (name.starts_with('/')) name.remove_prefix(1);
  if (name.empty()) name = "index.html";
  if (name == "config.json") {
    protocol::EncodedResponse out;
    out.content_type = "application/json";
    out.body = nlohmann::json{{"region", settings.region},
                              {"auth", !settings.credentials.empty()},
                              {"accountId", settings.account_id},
                              {"version", WHARF_VERSION}}
                   .dump();
    add_file_headers(out);
    return out;
  }
  for (const auto& asset : console_assets()) {
    if (asset.name != name) continue;
    protocol::EncodedResponse out;
    out.content_type = std::string(asset.content_type);
    out.body = std::string(asset.bytes);
    add_file_headers(out);
    return out;
  }
  return plain(404, "Not found\n");
}

const ConsoleCall* find_console_call(std::string_view path) {
  static constexpr ConsoleCall kCalls[] = {
      {"/console/api/peek", "ReceiveMessage", console_peek},
      {"/console/api/delete", "DeleteMessage", console_delete},
  };
  for (const auto& c : kCalls) {
    if (c.path == path) return &c;
  }
  return nullptr;
}

namespace {

nlohmann::json peeked_message(const storage::PeekedMessage& m) {
  nlohmann::json attributes = {{"SentTimestamp", std::to_string(m.sent_ms)},
                               {"ApproximateReceiveCount", std::to_string(m.receive_count)}};
  if (m.first_receive_ms != 0) attributes["ApproximateFirstReceiveTimestamp"] = std::to_string(m.first_receive_ms);
  for (const auto& field : storage::kSystemAttributeFields) {
    const std::string& value = m.system_attributes.*field.member;
    if (!value.empty()) attributes[field.name] = value;
  }
  if (!m.group_id.empty()) attributes["MessageGroupId"] = m.group_id;
  if (!m.sequence_number.empty()) attributes["SequenceNumber"] = m.sequence_number;
  nlohmann::json message = {{"MessageId", m.message_id},
                            {"Body", m.body},
                            {"State", m.state},
                            {"Attributes", std::move(attributes)},
                            {"MessageAttributes", parse_stored(m.message_attributes)}};
  if (m.visible_at_ms != 0) message["VisibleAtTimestamp"] = std::to_string(m.visible_at_ms);
  message["Position"] = m.position;
  return message;
}

}  // namespace

void console_peek(const Call& call, Reply reply) {
  auto name = queue_name_from_url(call);
  if (!name) return reply(name.error());
  Params p(call.params);
  auto max = p.optional_int("MaxNumberOfMessages", 1, 100);
  if (!max) return reply(max.error());
  call.engine.async_peek_messages(name.value(), static_cast<size_t>(max.value().value_or(10)),
                                  [reply = std::move(reply)](Result<std::vector<storage::PeekedMessage>> peeked) {
                                    if (!peeked) return reply(peeked.error());
                                    nlohmann::json messages = nlohmann::json::array();
                                    for (const auto& m : peeked.value()) messages.push_back(peeked_message(m));
                                    reply(Answer{nlohmann::json{{"Messages", std::move(messages)}}, {}});
                                  });
}

void console_delete(const Call& call, Reply reply) {
  auto name = queue_name_from_url(call);
  if (!name) return reply(name.error());
  Params p(call.params);
  auto id = p.required_string("MessageId");
  if (!id) return reply(id.error());
  auto position = p.required_string("Position");  // the engine's token, as the peek gave it
  if (!position) return reply(position.error());
  call.engine.async_delete_peeked_message(name.value(), position.value(), id.value(),
                                          [reply = std::move(reply)](Status deleted) {
                                            if (!deleted) return reply(deleted.error());
                                            reply(Answer{nlohmann::json::object(), {}});
                                          });
}

}  // namespace wharf::server
