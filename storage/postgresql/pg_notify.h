// Long polls across nodes (docs/design/postgresql.md section 7): the
// node's control connection, outside the pool, LISTENs on the schema's
// channel and tells this node's long polls of messages another node made
// available; and this node's own "messages available" go out to the others
// as NOTIFYs, coalesced so that a busy queue does not notify per message.
//
// As built: the NOTIFYs go out on the control connection itself, after the
// change committed (never inside the sending transaction: the database-wide
// notify lock stays out of the commit path, and a rolled-back change is
// never announced). A payload names the queue itself, "m <node> <account>
// <region> <queue>", so a listener needs no lookup; the node's token (random
// per PgNotifier) lets it drop its own, whose listeners heard at once.
// Notifications lost while the control connection reconnects are covered by
// each engine's run_due_work, which the scheduler calls at least once a
// second (section 7.3).
#pragma once

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/postgresql/connection.h"
#include "storage/postgresql/open.h"

namespace wharf::storage::postgresql {

class PgNotifier : public std::enable_shared_from_this<PgNotifier> {
 public:
  // Another node made messages of `queue` of (account, region) available.
  // Called on the cluster's thread; must only post or be cheap.
  using Heard = std::function<void(std::string_view account, std::string_view region, std::string_view queue)>;

  // A window of this long per queue: the first announcement goes out at
  // once, later ones in the window become one NOTIFY at its end.
  static constexpr std::chrono::milliseconds kWindow{10};
  // How often the control connection is checked (and remade when lost; a
  // connect that failed is tried again after a ReconnectBackoff instead).
  static constexpr std::chrono::milliseconds kCheckEvery{1000};

  // Starts connecting and listening on the cluster's thread; returns at once.
  static std::shared_ptr<PgNotifier> start(std::shared_ptr<PgCluster> cluster, Heard heard);
  ~PgNotifier();
  PgNotifier(const PgNotifier&) = delete;
  PgNotifier& operator=(const PgNotifier&) = delete;

  // Messages of `queue` became available through this node: tell the other
  // nodes (coalesced). Thread-safe; only posts.
  void announce(const std::string& account, const std::string& region, const std::string& queue);

  // True while the control connection is up and listening (/ready).
  bool listening() const { return listening_.load(); }

  // Closes the control connection; no more callbacks after it returns once
  // the cluster's thread has run the close. Callable from any thread.
  void stop();

  // The channel of `schema` (LISTEN's identifier, pg_notify's text).
  static std::string channel_of(const std::string& schema);

 private:
  PgNotifier(std::shared_ptr<PgCluster> cluster, Heard heard);
  void connect();
  void connected(std::optional<PgError> error);
  void check();  // every kCheckEvery: remake a lost control connection
  void retry_later();
  void heard(const std::string& payload);
  void open_window(std::string payload);
  void queue_up(std::string payload);
  void send_pending();
  void tick();  // the windows' end

  struct Window {
    bool marked = false;  // announced again during the window
  };

  std::shared_ptr<PgCluster> cluster_;
  Heard heard_;
  const std::string channel_;
  const std::string node_;  // this notifier's token in payloads
  std::shared_ptr<Connection> control_;
  boost::asio::steady_timer check_timer_;
  boost::asio::steady_timer window_timer_;
  boost::asio::steady_timer retry_timer_;  // armed while a failed connect's backoff runs
  ReconnectBackoff backoff_;
  bool retry_armed_ = false;
  std::map<std::string, Window> windows_;  // by payload
  std::vector<std::string> pending_;       // payloads to NOTIFY
  bool sending_ = false;
  bool connecting_ = false;
  bool stopped_ = false;
  std::atomic<bool> listening_{false};
};

}  // namespace wharf::storage::postgresql
