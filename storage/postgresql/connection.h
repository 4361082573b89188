// One PostgreSQL connection driven by an Asio io_context: libpq's
// asynchronous API with the connection's socket in the event loop, so no
// thread ever waits on the database. Connecting (PQconnectStart /
// PQconnectPoll), sending a statement (PQsendQueryParams, PQflush) and
// reading its result (PQconsumeInput, PQisBusy, PQgetResult) each wait for
// the socket to become readable or writable, and the answer goes to a
// completion handler.
//
// Not thread-safe: use a Connection from the one thread that runs its
// io_context (or before any thread runs it). One thread also matters to the
// waits: Asio watches sockets edge-triggered, and a wait is always re-armed
// by the handler that saw the socket ready, before the loop polls again, so
// no readiness is missed. The server runs one io_context per thread, and
// each connection stays on one. Handlers are always called
// from that io_context, never inline from the call that started the
// operation. One statement at a time (the pool gives each transaction a
// connection of its own; pipelining comes later: docs/design/postgresql.md).
//
// Host names in the connection string are resolved by libpq itself, which
// blocks while it does; give addresses (or hostaddr=) where that matters.
//
// Every connection gets TCP keepalives (kKeepaliveSettings) unless its
// connection string sets them itself, so that a database host that vanished
// without closing its connections is noticed in 10-20 s rather than the
// kernel's two hours (idle) or fifteen minutes (a statement unanswered).
#pragma once

#include <libpq-fe.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace wharf::storage::postgresql {

// The libpq settings every connection gets before the caller's connection
// string is read (which overrides any of them): keepalive probes after 5 s
// of silence, every 2 s, 3 unanswered end it; and no sent byte stays
// unacknowledged for more than 10 s (TCP_USER_TIMEOUT, which also bounds
// the probes: an idle dead peer is noticed after about 15 s, a busy one
// after 10 s).
inline constexpr const char* kKeepaliveSettings[][2] = {
    {"keepalives", "1"},       {"keepalives_idle", "5"},      {"keepalives_interval", "2"},
    {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"},
};

// The waits between attempts to reach a database that could not be reached:
// 50 ms, doubling to 2 s, each with jitter (between half and all of it, so
// that the nodes of a fleet do not all come back in the same millisecond).
// Not thread-safe: one per reconnecting thing, on its thread.
class ReconnectBackoff {
 public:
  static constexpr std::chrono::milliseconds kFirst{50};
  static constexpr std::chrono::milliseconds kMost{2000};

  // The wait before the next attempt; each call doubles the next one.
  std::chrono::milliseconds next();
  // The database answered: the next failure starts again from kFirst.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  int failures_ = 0;
};

// Why a statement or the connection failed.
struct PgError {
  std::string sqlstate;          // the server's five-character code; "" when it never answered
  std::string message;           // the server's or libpq's words
  bool connection_lost = false;  // the connection is unusable now: make another
};

// What one statement answered: its rows (as text), or why it failed.
class QueryResult {
 public:
  static QueryResult success(PGresult* result);
  static QueryResult failure(PgError error);

  bool ok() const { return !error_; }
  const PgError& error() const { return *error_; }

  int rows() const;
  int columns() const;
  bool is_null(int row, int column) const;
  // A value in text form, valid while this QueryResult lives.
  std::string_view text(int row, int column) const;
  // The column's index by name; -1 when there is none.
  int column(const char* name) const;
  // Rows an INSERT, UPDATE or DELETE touched (0 for other statements).
  uint64_t affected_rows() const;

 private:
  struct Clear {
    void operator()(PGresult* result) const { PQclear(result); }
  };
  std::unique_ptr<PGresult, Clear> result_;
  std::optional<PgError> error_;
};

// A statement parameter in text form; std::nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

// One statement of a pipeline. With a name, the connection prepares it
// the first time (in the same round trip) and then only executes it by
// that name: the server parses and plans it once per connection. A name
// stands for one SQL text for the connection's whole life.
struct Statement {
  std::string sql;
  std::vector<PgParam> params;
  std::string name = {};  // "" : parsed each time
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using ConnectHandler = std::function<void(std::optional<PgError>)>;  // no error: connected
  using QueryHandler = std::function<void(QueryResult)>;
  using NotificationHandler = std::function<void(std::string channel, std::string payload)>;
  using NoticeHandler = std::function<void(std::string message)>;
  using PipelineHandler = std::function<void(std::vector<QueryResult>)>;

  static std::shared_ptr<Connection> create(boost::asio::io_context& io);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to `conninfo` (a postgresql:// URL or key=value words; libpq's
  // forms, several hosts allowed, target_session_attrs honoured), giving up
  // after `timeout` (libpq's own connect_timeout does not apply to this way
  // of connecting). kKeepaliveSettings apply where `conninfo` is silent.
  void async_connect(const std::string& conninfo, std::chrono::milliseconds timeout, ConnectHandler done);

  // Runs one statement with text parameters ($1, $2, ...) and answers its
  // result. A statement started while another is running is refused (the
  // handler gets an error) and the running one goes on.
  void async_query(const std::string& sql, const std::vector<PgParam>& params, QueryHandler done);
  // The same for a Statement, named (prepared once) or not: a pipeline of one.
  void async_query(Statement statement, QueryHandler done);

  // Sends several statements at once (libpq's pipeline mode: one round
  // trip) and answers one result per statement, in order. Once one fails,
  // the server skips the rest of the pipeline: their results are failures
  // saying so. Without BEGIN, the statements form one implicit transaction
  // that commits at the pipeline's end, or not at all. With BEGIN and no
  // COMMIT reached (a statement failed), the transaction is left failed,
  // as after any error in a transaction: the caller sends ROLLBACK.
  // Refused like async_query while a statement runs; an empty pipeline
  // answers an empty list. The statements are read during the call only
  // (a caller may keep them to run again).
  void async_pipeline(const std::vector<Statement>& statements, PipelineHandler done);

  // LISTEN's notifications, as they arrive (also between statements).
  void on_notification(NotificationHandler handler) { notification_handler_ = std::move(handler); }
  // The server's notices and warnings (and the reason it gives when it ends
  // the connection), for the log; dropped when no handler is set (libpq's
  // default would print them to stderr).
  void on_notice(NoticeHandler handler) { notice_handler_ = std::move(handler); }

  // Ends the connection; a running operation's handler gets connection_lost.
  void close();

  bool connected() const { return phase_ == Phase::Idle || phase_ == Phase::Sending || phase_ == Phase::Receiving; }
  bool busy() const { return phase_ == Phase::Sending || phase_ == Phase::Receiving; }
  // The connection's socket (-1 when there is none), for tests that look
  // at its options.
  int native_socket() const { return conn_ ? PQsocket(conn_) : -1; }

 private:
  enum class Phase { New, Connecting, Idle, Sending, Receiving, Closed };
  enum class Wait { Read, Write };

  explicit Connection(boost::asio::io_context& io);

  // Connecting.
  void poll_connect(PostgresPollingStatusType status);
  bool follow_socket();  // watch the socket libpq uses now (it changes while trying hosts)
  void finish_connect();

  // A statement.
  void flush();
  void arm_read();
  void on_readable();
  void collect_results();
  void finish_query();
  void take_result(PGresult* result);
  void finish_pipeline();
  bool queue_statement(const Statement& statement, std::unordered_set<std::string>& preparing);
  void step_done();
  void drain_notifications();
  static void receive_notice(void* self, const PGresult* notice);

  void wait(Wait what, std::function<void()> then);
  void fail(std::string message);  // the connection broke (or was closed): tell whoever waits
  PgError connection_error(std::string prefix) const;
  void release_socket();
  template <class Handler>
  void post(Handler handler);

  boost::asio::io_context& io_;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer connect_timer_;
  PGconn* conn_ = nullptr;
  Phase phase_ = Phase::New;
  uint64_t socket_generation_ = 0;  // grows when the socket is released: older waits are stale
  bool read_armed_ = false;
  bool write_armed_ = false;
  ConnectHandler connect_handler_;
  QueryHandler query_handler_;
  NotificationHandler notification_handler_;
  NoticeHandler notice_handler_;
  std::optional<QueryResult> first_result_;  // the statement's result, until libpq says it is complete
  // A pipeline in progress: its handler, its size, the results so far, and
  // what each request sent answers (a prepare, named, or a statement).
  PipelineHandler pipeline_handler_;
  size_t pipeline_size_ = 0;
  std::vector<QueryResult> pipeline_results_;
  std::deque<std::string> pipeline_steps_;    // a statement's name to prepare, or "" for a statement
  std::optional<PgError> failed_prepare_;     // answers the statement it was for
  std::unordered_set<std::string> prepared_;  // names prepared on this connection
};

}  // namespace wharf::storage::postgresql
