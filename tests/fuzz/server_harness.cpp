#include "tests/fuzz/server_harness.h"

#include <pthread.h>

#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "protocol/checksums.h"
#include "server/actions.h"

namespace wharf::fuzz {
namespace {

using nlohmann::json;

constexpr std::string_view kRequestId = "00000000-0000-4000-8000-000000000000";
constexpr size_t kMaxQueues = 48;
constexpr uint64_t kResetEvery = 512;  // inputs between clean-ups of every queue
constexpr int64_t kRequestMs = 100;    // the fake clock's step per request
constexpr size_t kRemembered = 16;
constexpr size_t kMaxLongPolls = 4;  // small, so the "too many long polls" answer is reached too

class Listener final : public storage::EngineListener {
 public:
  explicit Listener(Harness& h) : h_(h) {}
  // Called with the engine's lock held: LongPolls::notify only posts.
  void messages_available(const std::string& queue_name) override {
    if (h_.current_long_polls)
      h_.current_long_polls->notify(server::long_poll_key(h_.settings().account_id, queue_name));
  }
  void deadline_added(int64_t) override {}  // the harness runs due work after every request

 private:
  Harness& h_;
};

}  // namespace

// --- Harness ---------------------------------------------------------------

Harness& Harness::instance() {
  static Harness harness;
  return harness;
}

Harness::Harness() {
  strict = env_flag("WHARF_FUZZ_STRICT");
  allow_exceptions = env_flag("WHARF_FUZZ_ALLOW_EXCEPTIONS");
  if (const char* kb = std::getenv("WHARF_FUZZ_STACK_KB")) stack_kb = std::strtoul(kb, nullptr, 10);
  if (const char* d = std::getenv("WHARF_FUZZ_DUMP_RESULTS")) dump_results_dir = d;
  std::string base = std::filesystem::temp_directory_path().string() + "/wharf-fuzz-XXXXXX";
  if (!mkdtemp(base.data())) fail("mkdtemp failed", base);
  dir_ = base;
  storage::EngineOptions options;
  options.data_dir = dir_;
  options.region = settings_.region;
  options.account_id = settings_.account_id;
  options.now_ms = [this] { return now_ms_; };
  options.dedup_window_ms = int64_t(settings_.dedup_window_seconds) * 1000;
  std::string error;
  engine_ = storage::open_rocksdb_engine(options, error);
  if (!engine_) fail("cannot open the engine", error);
  listener_ = std::make_unique<Listener>(*this);
  engine_->set_listener(listener_.get());
}

Harness::~Harness() {
  engine_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Harness::advance_ms(int64_t ms) {
  now_ms_ += ms;
  engine_->run_due_work();
}

void Harness::begin_input() {
  ++inputs_;
  auto names = engine_->list_queues("");
  if (names.size() > kMaxQueues || inputs_ % kResetEvery == 0) {
    for (const auto& name : names) (void)engine_->delete_queue(name);
    receipts_.clear();
    tasks_.clear();
    // Past the 60 s during which a deleted name cannot be created again.
    advance_ms(61'000);
  }
}

void Harness::note_exception(const std::string& what) {
  // Once per distinct message (numbers and byte values stripped), so a known
  // bug does not flood the log.
  std::string key;
  for (size_t i = 0; i < what.size(); ++i) {
    if (what.compare(i, 2, "0x") == 0) {
      i += 3;  // "0xAB": the byte
      continue;
    }
    const char c = what[i];
    if (!std::isdigit(static_cast<unsigned char>(c)) && !(c & 0x80)) key.push_back(c);
  }
  if (exceptions_seen_.insert(key).second) std::fprintf(stderr, "==WHARF-FUZZ== (allowed) %s\n", what.c_str());
}

void Harness::remember_receipt(const std::string& handle) {
  receipts_.insert(receipts_.begin(), handle);
  if (receipts_.size() > kRemembered) receipts_.pop_back();
}

void Harness::remember_task(const std::string& handle) {
  tasks_.insert(tasks_.begin(), handle);
  if (tasks_.size() > kRemembered) tasks_.pop_back();
}

namespace {

void substitute(nlohmann::json& node, const std::vector<std::string>& receipts, const std::vector<std::string>& tasks,
                int depth) {
  if (node.is_string()) {
    const auto& s = node.get_ref<const std::string&>();
    if (s.size() < 3 || s.size() > 5 || s[0] != '$') return;
    const std::vector<std::string>* list = s.compare(1, 2, "RH") == 0   ? &receipts
                                           : s.compare(1, 2, "TH") == 0 ? &tasks
                                                                        : nullptr;
    if (!list) return;
    size_t n = 0;
    for (size_t i = 3; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return;
      n = n * 10 + size_t(s[i] - '0');
    }
    if (n < list->size()) node = (*list)[n];
    return;
  }
  // Placeholders sit at the top or in batch entries: no need to go deep (and
  // no recursion on attacker-controlled depth in the harness itself).
  if (depth >= 3) return;
  if (node.is_object() || node.is_array()) {
    for (auto& child : node) substitute(child, receipts, tasks, depth + 1);
  }
}

}  // namespace

void Harness::substitute_placeholders(nlohmann::json& params) const { substitute(params, receipts_, tasks_, 0); }

// --- Session ---------------------------------------------------------------

namespace {

// Runs `work` on a thread with a stack of `kb` KiB (0: on this thread), and
// waits for it. A small stack turns recursion that grows with the input into
// an ASan stack-overflow at input sizes the fuzzer explores. One worker
// thread for the process: creating a thread per request halves the speed.
class SmallStackWorker {
 public:
  explicit SmallStackWorker(size_t kb) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kb * 1024);
    if (pthread_create(&thread_, &attr, &SmallStackWorker::main, this) != 0) fail("pthread_create failed");
    pthread_attr_destroy(&attr);
    pthread_detach(thread_);  // lives as long as the process
  }

  void run(const std::function<void()>& work) {
    std::unique_lock lock(mu_);
    job_ = &work;
    cv_.notify_all();
    cv_.wait(lock, [this] { return job_ == nullptr; });
  }

 private:
  static void* main(void* self) {
    auto* w = static_cast<SmallStackWorker*>(self);
    std::unique_lock lock(w->mu_);
    for (;;) {
      w->cv_.wait(lock, [w] { return w->job_ != nullptr; });
      (*w->job_)();
      w->job_ = nullptr;
      w->cv_.notify_all();
    }
  }

  pthread_t thread_{};
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
};

}  // namespace

void run_input(const std::function<void()>& work) {
  const size_t kb = Harness::instance().stack_kb;
  if (kb == 0) return work();
  static SmallStackWorker* worker = new SmallStackWorker(kb);  // never destroyed: it may be mid-job at exit
  worker->run(work);
}

struct Session::Pending {
  protocol::Protocol protocol = protocol::Protocol::Json;
  std::string action;
  nlohmann::json params;
  std::function<void(const protocol::EncodedResponse&)> on_response;
  int answers = 0;
};

Session::Session(Harness& harness) : harness_(harness), long_polls_(io_, kMaxLongPolls) {
  harness_.current = this;
  harness_.current_long_polls = &long_polls_;
}

Session::~Session() {
  poll();  // posted wake-ups first: a waiter being retried is in no list shutdown() can see
  long_polls_.shutdown();
  try {
    io_.restart();
    io_.run_for(std::chrono::seconds(5));
  } catch (const std::exception& e) {
    fail(std::string("exception escaped a long poll's answer: ") + e.what());
  }
  harness_.current = nullptr;
  harness_.current_long_polls = nullptr;
  for (const auto& p : pending_) {
    if (p->answers != 1) {
      fail("request answered " + std::to_string(p->answers) + " times (expected exactly once): " + p->action,
           p->params.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
}

void Session::poll() {
  try {
    io_.restart();
    io_.poll();
  } catch (const std::exception& e) {
    fail(std::string("exception escaped posted work (long polls): ") + e.what());
  }
}

void Session::advance_ms(int64_t ms) {
  try {
    harness_.advance_ms(ms);
  } catch (const std::exception& e) {
    fail(std::string("exception escaped Engine::run_due_work: ") + e.what());
  }
  poll();
}

void Session::answer(Pending& p, const protocol::EncodedResponse& response) {
  ++answered_;
  if (harness_.strict) {
    // 500 only: 503 (too many long polls) is a deliberate answer.
    if (response.status == 500) fail("InternalError answer to " + p.action, response.body);
    if (p.protocol == protocol::Protocol::Json) {
      auto doc = json::parse(response.body, nullptr, false);
      if (doc.is_discarded() || !doc.is_object()) fail("JSON answer does not parse: " + p.action, response.body);
    } else {
      size_t at = 0;
      if (!xml_chars_ok(response.body, &at)) {
        fail("XML answer to " + p.action + " has a character XML 1.0 forbids at byte " + std::to_string(at),
             response.body);
      }
    }
  }
  if (p.on_response) p.on_response(response);
}

void Session::request(const protocol::HttpRequestView& view, std::string_view host,
                      std::function<void(const protocol::EncodedResponse&)> on_response, bool tls) {
  auto p = std::make_shared<Pending>();
  p->on_response = std::move(on_response);
  pending_.push_back(p);
  serve(p, view, host, tls);
  advance_ms(kRequestMs);
}

void Session::serve(const std::shared_ptr<Pending>& p, const protocol::HttpRequestView& view, std::string_view host,
                    bool tls) {
  try {
    p->protocol = protocol::detect_protocol(view);
    auto decoded = protocol::decode_request(view);
    if (!decoded) {
      ++p->answers;
      answer(*p, protocol::encode_error(p->protocol, decoded.error(), kRequestId));
    } else {
      p->protocol = decoded->protocol;
      p->action = decoded->action;
      p->params = std::move(decoded->params);
      harness_.substitute_placeholders(p->params);
      const server::Call call{p->params, harness_.engine(), long_polls_, harness_.settings(), std::string(host), tls,
                              "",        p->protocol};
      Harness* h = &harness_;
      server::run_action(p->action, call, [this, h, p](Result<server::Answer> result) {
        if (++p->answers > 1) {
          fail("reply called twice for " + p->action, p->params.dump(-1, ' ', false, json::error_handler_t::replace));
        }
        if (result) {
          // ReceiveMessage over the JSON protocol answers text: read it back.
          const json r = result->json_text.empty() ? result->tree : json::parse(result->json_text);
          if (r.is_object() && r.contains("Messages") && r["Messages"].is_array()) {
            for (const auto& m : r["Messages"]) {
              if (m.is_object() && m.contains("ReceiptHandle") && m["ReceiptHandle"].is_string()) {
                h->remember_receipt(m["ReceiptHandle"].get<std::string>());
              }
            }
          }
          if (r.is_object() && r.contains("TaskHandle") && r["TaskHandle"].is_string()) {
            h->remember_task(r["TaskHandle"].get<std::string>());
          }
          if (!h->dump_results_dir.empty()) {
            const std::string text = p->action + "\n" + r.dump(-1, ' ', false, json::error_handler_t::replace);
            std::ofstream(h->dump_results_dir + "/" + protocol::sha256_hex(text).substr(0, 40), std::ios::binary)
                << text;
          }
        }
        const auto encoded = !result ? protocol::encode_error(p->protocol, result.error(), kRequestId)
                             : result->json_text.empty()
                                 ? protocol::encode_result(p->protocol, p->action, result->tree, kRequestId)
                                 : protocol::encode_json_text(result->json_text);
        answer(*p, encoded);
      });
    }
  } catch (const std::exception& e) {
    // http_server.cpp turns this into InternalError; DESIGN.md calls it a bug.
    const std::string what = std::string("exception escaped the request path (") +
                             (p->action.empty() ? "decode" : p->action) + "): " + e.what();
    if (!harness_.allow_exceptions) fail(what, std::string(view.target) + "\n" + std::string(view.body));
    harness_.note_exception(what);
    if (p->answers == 0) {
      ++p->answers;
      answer(*p,
             protocol::encode_error(p->protocol, make_error(ErrorCode::InternalError, "Internal error."), kRequestId));
    }
  }
}

}  // namespace wharf::fuzz
