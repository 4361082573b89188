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
#include "storage/rocksdb/open.h"

namespace wharf::fuzz {
namespace {

using nlohmann::json;

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
      h_.current_long_polls->notify(server::long_poll_key(h_.settings().account_id, h_.settings().region, queue_name));
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
  options.region = settings_.region;
  options.account_id = settings_.account_id;
  options.now_ms = [this] { return now_ms_; };
  options.dedup_window_ms = int64_t(settings_.dedup_window_seconds) * 1000;
  storage::RocksOptions rocks;
  rocks.data_dir = dir_;
  std::string error;
  auto account = std::make_unique<server::Account>();
  account->id = settings_.account_id;
  account->region = settings_.region;
  account->engine = storage::open_rocksdb_engine(options, rocks, error);
  if (!account->engine) fail("cannot open the engine", error);
  listener_ = std::make_unique<Listener>(*this);
  account->engine->set_listener(listener_.get());
  accounts_.add(std::move(account));
}

Harness::~Harness() {
  accounts_.close();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void Harness::advance_ms(int64_t ms) {
  now_ms_ += ms;
  engine().run_due_work();
}

void Harness::begin_input() {
  ++inputs_;
  auto names = engine().list_queues("");
  if (names.size() > kMaxQueues || inputs_ % kResetEvery == 0) {
    for (const auto& name : names) (void)engine().delete_queue(name);
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

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A handle as a form value: base64's '+', '/' and '=' percent-encoded.
std::string form_encoded(const std::string& handle) {
  std::string out;
  for (char c : handle) {
    if (c == '+') {
      out += "%2B";
    } else if (c == '/') {
      out += "%2F";
    } else if (c == '=') {
      out += "%3D";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void Harness::substitute_placeholders(std::string& text) const {
  if (text.find("RH") == std::string::npos && text.find("TH") == std::string::npos) return;
  std::string out;
  size_t copied = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool json_string = text[i] == '"';
    const bool form_value = text[i] == '=';
    if (!json_string && !form_value) continue;
    const size_t start = i + 1;
    const size_t prefix = text.compare(start, 1, "$") == 0 ? 1 : text.compare(start, 3, "%24") == 0 ? 3 : 0;
    if (prefix == 0) continue;
    const size_t kind = start + prefix;
    const std::vector<std::string>* list = text.compare(kind, 2, "RH") == 0   ? &receipts_
                                           : text.compare(kind, 2, "TH") == 0 ? &tasks_
                                                                              : nullptr;
    if (!list) continue;
    size_t end = kind + 2;
    size_t n = 0;
    while (end < text.size() && end < kind + 4 && is_digit(text[end])) n = n * 10 + size_t(text[end++] - '0');
    const bool closed = end == text.size() ? form_value : text[end] == (json_string ? '"' : '&');
    if (!closed || n >= list->size()) continue;
    out.append(text, copied, start - copied);
    out += form_value ? form_encoded((*list)[n]) : (*list)[n];
    copied = end;
    i = end - 1;
  }
  if (copied == 0) return;
  out.append(text, copied);
  text = std::move(out);
}

namespace {

// The text of each <name>...</name> in `xml`.
std::vector<std::string> xml_elements(const std::string& xml, const std::string& name) {
  std::vector<std::string> out;
  const std::string open = "<" + name + ">";
  const std::string close = "</" + name + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    at += open.size();
    const size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(xml.substr(at, end - at));
  }
  return out;
}

}  // namespace

void Harness::remember_handles(const server::Exchange& x) {
  const auto& response = x.response;
  if (response.status != 200) return;
  if (response.content_type == "text/xml") {
    for (auto& handle : xml_elements(response.body, "ReceiptHandle")) remember_receipt(handle);
    for (auto& handle : xml_elements(response.body, "TaskHandle")) remember_task(handle);
    return;
  }
  if (response.content_type != "application/x-amz-json-1.0") return;
  const json r = json::parse(response.body, nullptr, false);
  if (!r.is_object()) return;
  if (r.contains("Messages") && r["Messages"].is_array()) {
    for (const auto& m : r["Messages"]) {
      if (m.is_object() && m.contains("ReceiptHandle") && m["ReceiptHandle"].is_string()) {
        remember_receipt(m["ReceiptHandle"].get<std::string>());
      }
    }
  }
  if (r.contains("TaskHandle") && r["TaskHandle"].is_string()) remember_task(r["TaskHandle"].get<std::string>());
  // The JSON protocol's answer is the action's result: seeds for fuzz_xml_encoder.
  auto target = x.request.find("X-Amz-Target");
  if (!dump_results_dir.empty() && target != x.request.end()) {
    std::string_view action(target->value().data(), target->value().size());
    if (action.starts_with("AmazonSQS.")) action.remove_prefix(10);
    const std::string text = std::string(action) + "\n" + response.body;
    std::ofstream(dump_results_dir + "/" + protocol::sha256_hex(text).substr(0, 40), std::ios::binary) << text;
  }
}

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

// One request of an input: the exchange the endpoint answers.
struct Session::Pending final : server::Exchange {
  Pending(Session& s, OnResponse on) : session(s), on_response(std::move(on)) {}
  void answered() override { session.answer(*this); }
  std::string describe() const { return std::string(request.target()) + "\n" + request.body(); }

  Session& session;
  OnResponse on_response;
  int answers = 0;
};

Session::Session(Harness& harness)
    : harness_(harness),
      long_polls_(io_, kMaxLongPolls),
      endpoint_(server::Services{harness.settings(), harness.accounts(), long_polls_},
                std::make_shared<server::EndpointState>()) {
  harness_.current = this;
  harness_.current_long_polls = &long_polls_;
  Harness* h = &harness_;
  endpoint_.on_internal_error = [h](const std::string& what) {
    const std::string finding = "exception escaped the request path: " + what;
    if (!h->allow_exceptions) fail(finding);
    h->note_exception(finding);
  };
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
      fail("request answered " + std::to_string(p->answers) + " times (expected exactly once)", p->describe());
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

void Session::answer(Pending& p) {
  if (++p.answers > 1) fail("answered twice", p.describe());
  ++answered_;
  const auto& response = p.response;
  if (harness_.strict) {
    // 500 only: 503 (too many long polls) is a deliberate answer.
    if (response.status == 500) fail("InternalError answer", p.describe() + "\n->\n" + response.body);
    if (response.content_type == "application/x-amz-json-1.0") {
      auto doc = json::parse(response.body, nullptr, false);
      if (doc.is_discarded() || !doc.is_object()) fail("JSON answer does not parse", response.body);
    } else if (response.content_type == "text/xml") {
      size_t at = 0;
      if (!xml_chars_ok(response.body, &at)) {
        fail("XML answer has a character XML 1.0 forbids at byte " + std::to_string(at), response.body);
      }
    }
  }
  harness_.remember_handles(p);
  if (p.on_response) p.on_response(p);
}

void Session::request(const protocol::HttpRequestView& view, std::string_view host, OnResponse on_response, bool tls) {
  namespace http = boost::beast::http;
  server::HttpRequest r;
  r.version(11);
  r.method_string(boost::beast::string_view(view.method.data(), view.method.size()));
  r.target(boost::beast::string_view(view.target.data(), view.target.size()));
  if (!host.empty()) r.set(http::field::host, boost::beast::string_view(host.data(), host.size()));
  if (!view.content_type.empty()) {
    r.set(http::field::content_type, boost::beast::string_view(view.content_type.data(), view.content_type.size()));
  }
  if (!view.amz_target.empty()) {
    r.set("X-Amz-Target", boost::beast::string_view(view.amz_target.data(), view.amz_target.size()));
  }
  r.body() = std::string(view.body);
  r.prepare_payload();
  request(std::move(r), std::move(on_response), tls);
}

void Session::request(server::HttpRequest r, OnResponse on_response, bool tls) {
  harness_.substitute_placeholders(r.body());
  std::string target(r.target());
  harness_.substitute_placeholders(target);
  r.target(target);
  auto p = std::make_shared<Pending>(*this, std::move(on_response));
  p->request = std::move(r);
  p->tls = tls;
  pending_.push_back(p);
  endpoint_.serve(*p);
  advance_ms(kRequestMs);
}

}  // namespace wharf::fuzz
