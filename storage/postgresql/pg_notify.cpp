// The control connection: LISTEN, the other nodes' notifications, and this
// node's coalesced NOTIFYs (docs/design/postgresql.md section 7; pg_notify.h).
#include "storage/postgresql/pg_notify.h"

#include <openssl/rand.h>

#include <boost/asio/post.hpp>

#include <cstdio>
#include <future>
#include <utility>

#include "storage/postgresql/pg_statements.h"

namespace wharf::storage::postgresql {

namespace asio = boost::asio;

namespace {

// Payloads waiting while the control connection is down are dropped past
// this many (the fallback poll covers them).
constexpr size_t kMaxPending = 10'000;

std::string random_token() {
  unsigned char bytes[8];
  RAND_bytes(bytes, sizeof bytes);
  static const char* digits = "0123456789abcdef";
  std::string token;
  for (const unsigned char b : bytes) {
    token += digits[b >> 4];
    token += digits[b & 15];
  }
  return token;
}

// "m <node> <account> <region> <queue>": no field holds a space (account
// ids are digits, regions and queue names letters, digits, '-', '_', '.').
std::string payload_of(const std::string& node, const std::string& account, const std::string& region,
                       const std::string& queue) {
  std::string payload;
  payload.reserve(6 + node.size() + account.size() + region.size() + queue.size());
  payload.append("m ").append(node).append(" ").append(account).append(" ").append(region).append(" ").append(queue);
  return payload;
}

}  // namespace

std::string PgNotifier::channel_of(const std::string& schema) { return "wharf_" + schema; }

PgNotifier::PgNotifier(std::shared_ptr<PgCluster> cluster, Heard heard)
    : cluster_(std::move(cluster)),
      heard_(std::move(heard)),
      channel_(channel_of(cluster_->options().schema)),
      node_(random_token()),
      check_timer_(cluster_->io()),
      window_timer_(cluster_->io()),
      retry_timer_(cluster_->io()) {}

PgNotifier::~PgNotifier() = default;

std::shared_ptr<PgNotifier> PgNotifier::start(std::shared_ptr<PgCluster> cluster, Heard heard) {
  std::shared_ptr<PgNotifier> notifier(new PgNotifier(std::move(cluster), std::move(heard)));
  asio::post(notifier->cluster_->io(), [notifier] {
    notifier->connect();
    notifier->check();
  });
  return notifier;
}

// Waits for the cluster's thread twice: the first turn closes everything,
// the second lets the handlers that closing cancelled run (and let go of
// this notifier) before the caller drops it.
void PgNotifier::stop() {
  for (int turn = 0; turn < 2; ++turn) {
    std::promise<void> ran;
    asio::post(cluster_->io(), [this, turn, &ran] {
      if (turn == 0) {
        stopped_ = true;
        listening_ = false;
        check_timer_.cancel();
        window_timer_.cancel();
        retry_timer_.cancel();
        if (control_) control_->close();
        control_.reset();
        pending_.clear();
        windows_.clear();
      }
      ran.set_value();
    });
    ran.get_future().wait();
  }
}

void PgNotifier::connect() {
  if (stopped_ || connecting_) return;
  connecting_ = true;
  listening_ = false;
  control_ = Connection::create(cluster_->io());
  std::weak_ptr<PgNotifier> weak = weak_from_this();
  control_->on_notification([weak](const std::string&, const std::string& payload) {
    if (auto self = weak.lock()) self->heard(payload);
  });
  const PgOptions& options = cluster_->options();
  control_->async_connect(options.url, options.connect_timeout,
                          [self = shared_from_this()](std::optional<PgError> error) { self->connected(error); });
}

void PgNotifier::connected(std::optional<PgError> error) {
  if (stopped_) return;
  if (error) {
    connecting_ = false;
    return retry_later();
  }
  std::vector<Statement> listen;
  listen.push_back(Statement{"SELECT set_config('application_name', $1, false)",
                             {cluster_->options().application_name + "/control"}});
  listen.push_back(Statement{"LISTEN " + quote_identifier(channel_), {}});
  control_->async_pipeline(listen, [self = shared_from_this()](std::vector<QueryResult> results) {
    self->connecting_ = false;
    if (self->stopped_) return;
    const bool ok = !results.empty() && results.back().ok();
    if (!ok) {
      std::fprintf(stderr, "wharf: PostgreSQL: cannot LISTEN: %s\n",
                   results.empty() ? "no answer" : results.back().error().message.c_str());
      if (self->control_) self->control_->close();
      return self->retry_later();
    }
    self->backoff_.reset();
    self->listening_ = true;
    self->send_pending();
  });
}

// A connect (or LISTEN) failed: the next try after the backoff, not at
// the next check.
void PgNotifier::retry_later() {
  if (stopped_ || retry_armed_) return;
  retry_armed_ = true;
  retry_timer_.expires_after(backoff_.next());
  retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    self->retry_armed_ = false;
    if (!self->stopped_ && !self->connecting_ && (!self->control_ || !self->control_->connected())) self->connect();
  });
}

void PgNotifier::check() {
  if (stopped_) return;
  if (!connecting_ && !retry_armed_ && (!control_ || !control_->connected())) connect();
  if (control_ && !control_->connected()) listening_ = false;
  check_timer_.expires_after(kCheckEvery);
  check_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->check();
  });
}

void PgNotifier::heard(const std::string& payload) {
  if (stopped_) return;
  // m <node> <account> <region> <queue>
  std::string_view rest = payload;
  std::string_view fields[5];
  for (int i = 0; i < 5; ++i) {
    const size_t space = i < 4 ? rest.find(' ') : std::string_view::npos;
    if (i < 4 && space == std::string_view::npos) return;  // not ours to read
    fields[i] = rest.substr(0, space);
    if (i < 4) rest.remove_prefix(space + 1);
  }
  if (fields[0] != "m" || fields[1] == node_) return;  // this node's own: its listeners already heard
  heard_(fields[2], fields[3], fields[4]);
}

void PgNotifier::announce(const std::string& account, const std::string& region, const std::string& queue) {
  // The engines' completions run on the cluster's thread already: no post then.
  if (cluster_->io().get_executor().running_in_this_thread())
    return open_window(payload_of(node_, account, region, queue));
  asio::post(cluster_->io(),
             [self = shared_from_this(), payload = payload_of(node_, account, region, queue)]() mutable {
               self->open_window(std::move(payload));
             });
}

// The first announcement of a queue goes out now and opens its window;
// later ones in the window only mark it.
void PgNotifier::open_window(std::string payload) {
  if (stopped_) return;
  auto [window, opened] = windows_.try_emplace(payload);
  if (!opened) {
    window->second.marked = true;
    return;
  }
  queue_up(std::move(payload));
  if (windows_.size() == 1) {
    window_timer_.expires_after(kWindow);
    window_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (!ec) self->tick();
    });
  }
}

// The end of every open window: a queue announced again during it gets
// one NOTIFY and another window; the others' windows close.
void PgNotifier::tick() {
  if (stopped_) return;
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (!it->second.marked) {
      it = windows_.erase(it);
      continue;
    }
    it->second.marked = false;
    queue_up(it->first);
    ++it;
  }
  if (windows_.empty()) return;
  window_timer_.expires_after(kWindow);
  window_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->tick();
  });
}

void PgNotifier::queue_up(std::string payload) {
  if (pending_.size() >= kMaxPending) return;
  pending_.push_back(std::move(payload));
  send_pending();
}

// Everything pending in one statement; what comes meanwhile goes in the next.
void PgNotifier::send_pending() {
  if (stopped_ || sending_ || pending_.empty() || !listening_ || !control_ || !control_->connected()) return;
  std::vector<std::string_view> payloads(pending_.begin(), pending_.end());
  std::vector<Statement> notify;
  notify.push_back(
      Statement{"SELECT count(pg_notify($1, p)) FROM unnest($2::text[]) AS p", {channel_, sql::text_array(payloads)}});
  pending_.clear();
  sending_ = true;
  control_->async_pipeline(notify, [self = shared_from_this()](std::vector<QueryResult> results) {
    self->sending_ = false;
    // A NOTIFY lost with the connection is covered by the fallback poll.
    if (!results.empty() && !results.front().ok() && !results.front().error().connection_lost) {
      std::fprintf(stderr, "wharf: PostgreSQL: NOTIFY failed: %s\n", results.front().error().message.c_str());
    }
    self->send_pending();
  });
}

}  // namespace wharf::storage::postgresql
