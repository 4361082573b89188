#include "server/dev_api.h"

#include <boost/beast/http/verb.hpp>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/log.h"

namespace wharf::server {
namespace {

constexpr std::string_view kPrefix = "/_wharf/";
constexpr std::string_view kResetPath = "/_wharf/reset";

protocol::EncodedResponse json_answer(int status, const nlohmann::json& body) {
  protocol::EncodedResponse answer;
  answer.status = status;
  answer.content_type = "application/json";
  answer.body =
      body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";  // the query may be any bytes
  return answer;
}

protocol::EncodedResponse refusal(int status, std::string_view message) {
  return json_answer(status, nlohmann::json{{"error", message}});
}

// The value of `account=` in the query string; nullopt when absent.
std::optional<std::string> account_parameter(std::string_view target) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (pair.substr(0, 8) == "account=") return std::string(pair.substr(8));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

// Resets the engines one after another (each answers when its deletion is
// durable), counting the queues each had just before.
struct Reset {
  DevApiAnswer answer;
  std::vector<Account*> engines;
  size_t queues = 0;
};

void finish(const std::shared_ptr<Reset>& reset, Status status) {
  if (!status) {
    log::error("reset failed", log::Fields().add("error", status.error().message));
    return reset->answer(refusal(status.error().code == ErrorCode::ServiceUnavailable ? 503 : 500,
                                 "The reset failed: " + status.error().message));
  }
  log::info("reset", log::Fields()
                         .add("engines", static_cast<int64_t>(reset->engines.size()))
                         .add("queues", static_cast<int64_t>(reset->queues)));
  reset->answer(
      json_answer(200, nlohmann::json{{"reset", true}, {"queues", reset->queues}, {"engines", reset->engines.size()}}));
}

void reset_from(std::shared_ptr<Reset> reset, size_t next) {
  if (next == reset->engines.size()) return finish(reset, Ok{});
  storage::Engine& engine = *reset->engines[next]->engine;
  engine.async_list_queues("", [reset, next, &engine](Result<std::vector<std::string>> queues) {
    if (queues) reset->queues += queues->size();
    engine.async_reset([reset, next](Status status) {
      if (!status) return finish(reset, status);
      reset_from(reset, next + 1);
    });
  });
}

}  // namespace

bool is_dev_api_path(std::string_view target) { return target.substr(0, kPrefix.size()) == kPrefix; }

void serve_dev_api(const HttpRequest& request, const Services& services, Result<Caller> caller, DevApiAnswer answer) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view path = target.substr(0, target.find('?'));
  if (path != kResetPath) return answer(refusal(404, "No such development API path; there is POST /_wharf/reset."));
  if (request.method() != boost::beast::http::verb::post) {
    auto refused = refusal(405, "Use POST /_wharf/reset.");
    refused.headers.emplace_back("Allow", "POST");
    return answer(std::move(refused));
  }
  const auto account = account_parameter(target);
  const Settings& settings = services.settings;
  if (!settings.credentials.empty()) {
    if (!caller) {
      return answer(
          refusal(403, "With --auth, a reset must be signed (SigV4) with a key of the server's own account (" +
                           settings.account_id + "): " + caller.error().message));
    }
    if (caller->account_id != settings.account_id || (account && *account != settings.account_id)) {
      return answer(refusal(403, "With --auth, only the server's own account (" + settings.account_id +
                                     ") may reset, and only all accounts or its own; this request is signed by "
                                     "account " +
                                     caller->account_id + "."));
    }
  }
  auto reset = std::make_shared<Reset>();
  services.accounts.for_each([&](Account& a) {
    if (!account || a.id == *account) reset->engines.push_back(&a);
  });
  if (account && reset->engines.empty()) return answer(refusal(404, "This server holds no account " + *account + "."));
  reset->answer = std::move(answer);
  reset_from(std::move(reset), 0);
}

}  // namespace wharf::server
