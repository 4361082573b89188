#include "storage/postgresql/connection.h"

#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <random>

namespace wharf::storage::postgresql {
namespace {

namespace asio = boost::asio;

// libpq's messages end with a newline.
std::string trimmed(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string sqlstate_of(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state ? state : "";
}

}  // namespace

// --- ReconnectBackoff --------------------------------------------------------

std::chrono::milliseconds ReconnectBackoff::next() {
  thread_local std::minstd_rand random{std::random_device{}()};
  const int doublings = failures_ < 16 ? failures_ : 16;
  ++failures_;
  const int64_t full = std::min<int64_t>(kFirst.count() << doublings, kMost.count());
  std::uniform_int_distribution<int64_t> jitter(full / 2, full);
  return std::chrono::milliseconds(jitter(random));
}

// --- QueryResult -------------------------------------------------------------

QueryResult QueryResult::success(PGresult* result) {
  QueryResult r;
  r.result_.reset(result);
  return r;
}

QueryResult QueryResult::failure(PgError error) {
  QueryResult r;
  r.error_ = std::move(error);
  return r;
}

int QueryResult::rows() const { return result_ ? PQntuples(result_.get()) : 0; }

int QueryResult::columns() const { return result_ ? PQnfields(result_.get()) : 0; }

bool QueryResult::is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) == 1; }

std::string_view QueryResult::text(int row, int column) const {
  return std::string_view(PQgetvalue(result_.get(), row, column),
                          static_cast<size_t>(PQgetlength(result_.get(), row, column)));
}

int QueryResult::column(const char* name) const { return result_ ? PQfnumber(result_.get(), name) : -1; }

uint64_t QueryResult::affected_rows() const {
  if (!result_) return 0;
  const std::string_view text = PQcmdTuples(result_.get());
  uint64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

// --- Connection: life ------------------------------------------------------

std::shared_ptr<Connection> Connection::create(asio::io_context& io) {
  return std::shared_ptr<Connection>(new Connection(io));
}

Connection::Connection(asio::io_context& io) : io_(io), socket_(io), connect_timer_(io) {}

Connection::~Connection() {
  release_socket();
  if (conn_) PQfinish(conn_);
}

template <class Handler>
void Connection::post(Handler handler) {
  asio::post(io_, std::move(handler));
}

// libpq owns the socket and closes it in PQfinish: Asio only watches it.
// Releasing cancels the waits; their handlers see a newer generation.
void Connection::release_socket() {
  ++socket_generation_;
  read_armed_ = false;
  write_armed_ = false;
  if (socket_.is_open()) socket_.release();
}

PgError Connection::connection_error(std::string prefix) const {
  return PgError{"", prefix + (conn_ ? trimmed(PQerrorMessage(conn_)) : std::string("no connection")), true};
}

void Connection::fail(std::string message) {
  if (phase_ == Phase::Closed) return;
  const PgError error = connection_error(std::move(message));
  ConnectHandler connect_done = std::move(connect_handler_);
  QueryHandler query_done = std::move(query_handler_);
  PipelineHandler pipeline_done = std::move(pipeline_handler_);
  const size_t pipeline_size = pipeline_size_;
  connect_handler_ = nullptr;
  query_handler_ = nullptr;
  pipeline_handler_ = nullptr;
  pipeline_size_ = 0;
  pipeline_results_.clear();
  pipeline_steps_.clear();
  failed_prepare_.reset();
  phase_ = Phase::Closed;
  connect_timer_.cancel();
  release_socket();
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  if (connect_done) post([done = std::move(connect_done), error] { done(error); });
  if (query_done) post([done = std::move(query_done), error] { done(QueryResult::failure(error)); });
  if (pipeline_done) {
    post([done = std::move(pipeline_done), error, pipeline_size] {
      std::vector<QueryResult> results;
      for (size_t i = 0; i < pipeline_size; ++i) results.push_back(QueryResult::failure(error));
      done(std::move(results));
    });
  }
}

void Connection::close() {
  if (phase_ == Phase::New) {
    phase_ = Phase::Closed;
    return;
  }
  fail("closed: ");
}

void Connection::wait(Wait what, std::function<void()> then) {
  bool& armed = what == Wait::Read ? read_armed_ : write_armed_;
  armed = true;
  const auto type =
      what == Wait::Read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write;
  socket_.async_wait(type, [self = shared_from_this(), what, generation = socket_generation_,
                            then = std::move(then)](const boost::system::error_code& ec) {
    if (generation != self->socket_generation_) return;  // released meanwhile: a stale wait
    (what == Wait::Read ? self->read_armed_ : self->write_armed_) = false;
    if (ec) {
      if (ec != asio::error::operation_aborted) self->fail("waiting on the socket: " + ec.message() + "; ");
      return;
    }
    then();
  });
}

// --- Connecting --------------------------------------------------------------

void Connection::async_connect(const std::string& conninfo, std::chrono::milliseconds timeout, ConnectHandler done) {
  if (phase_ != Phase::New) {
    post([done = std::move(done)] { done(PgError{"", "async_connect: this connection was already used", false}); });
    return;
  }
  connect_handler_ = std::move(done);
  phase_ = Phase::Connecting;
  // The keepalive settings come before the caller's connection string
  // (expanded from "dbname"), whose own values override them.
  constexpr size_t kSettings = std::size(kKeepaliveSettings);
  const char* keywords[kSettings + 2];
  const char* values[kSettings + 2];
  for (size_t i = 0; i < kSettings; ++i) {
    keywords[i] = kKeepaliveSettings[i][0];
    values[i] = kKeepaliveSettings[i][1];
  }
  keywords[kSettings] = "dbname";
  values[kSettings] = conninfo.c_str();
  keywords[kSettings + 1] = nullptr;
  values[kSettings + 1] = nullptr;
  conn_ = PQconnectStartParams(keywords, values, 1);
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) return fail("cannot connect: ");
  PQsetNoticeReceiver(conn_, &Connection::receive_notice, this);  // conn_ never outlives this
  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->phase_ != Phase::Connecting) return;
    self->fail("timed out connecting; ");
  });
  // libpq: start as if PQconnectPoll had answered "writing".
  poll_connect(PGRES_POLLING_WRITING);
}

void Connection::poll_connect(PostgresPollingStatusType status) {
  switch (status) {
    case PGRES_POLLING_OK:
      return finish_connect();
    case PGRES_POLLING_READING:
    case PGRES_POLLING_WRITING:
      if (!follow_socket()) return fail("cannot connect: ");
      return wait(status == PGRES_POLLING_READING ? Wait::Read : Wait::Write, [this] {
        if (phase_ == Phase::Connecting) poll_connect(PQconnectPoll(conn_));
      });
    case PGRES_POLLING_FAILED:
    default:
      return fail("cannot connect: ");
  }
}

// While it tries hosts and addresses, libpq may close its socket and open
// another, perhaps with the same number: watch the current one afresh at
// each step (connecting is rare; steady traffic never comes here).
bool Connection::follow_socket() {
  const int fd = PQsocket(conn_);
  if (fd < 0) return false;
  release_socket();
  boost::system::error_code ec;
  socket_.assign(fd, ec);
  return !ec;
}

void Connection::finish_connect() {
  connect_timer_.cancel();
  if (!follow_socket()) return fail("cannot watch the connection's socket: ");
  if (PQsetnonblocking(conn_, 1) != 0) return fail("cannot make the connection nonblocking: ");
  phase_ = Phase::Idle;
  ConnectHandler done = std::move(connect_handler_);
  connect_handler_ = nullptr;
  arm_read();
  post([done = std::move(done)] { done(std::nullopt); });
}

// --- Statements ----------------------------------------------------------------

void Connection::async_query(const std::string& sql, const std::vector<PgParam>& params, QueryHandler done) {
  if (phase_ != Phase::Idle) {
    const bool lost = !connected();
    post([done = std::move(done), lost] {
      done(QueryResult::failure(
          PgError{"", lost ? "the connection is closed" : "a statement is already running on this connection", lost}));
    });
    return;
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  query_handler_ = std::move(done);
  if (!PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr, nullptr,
                         0)) {
    if (PQstatus(conn_) == CONNECTION_BAD) return fail("cannot send the statement: ");
    // Refused before anything was sent (e.g. too many parameters): the
    // connection is still good.
    QueryHandler refused = std::move(query_handler_);
    query_handler_ = nullptr;
    const PgError error{"", "cannot send the statement: " + trimmed(PQerrorMessage(conn_)), false};
    post([done = std::move(refused), error] { done(QueryResult::failure(error)); });
    return;
  }
  phase_ = Phase::Sending;
  first_result_.reset();
  flush();
}

void Connection::async_query(Statement statement, QueryHandler done) {
  std::vector<Statement> one;
  one.push_back(std::move(statement));
  async_pipeline(std::move(one), [done = std::move(done)](std::vector<QueryResult> results) {
    done(results.empty() ? QueryResult::failure(PgError{"", "the statement gave no result", false})
                         : std::move(results.front()));
  });
}

void Connection::async_pipeline(const std::vector<Statement>& statements, PipelineHandler done) {
  if (phase_ != Phase::Idle || statements.empty()) {
    const bool lost = !connected();
    const size_t n = statements.size();
    post([done = std::move(done), lost, n] {
      std::vector<QueryResult> refused;
      for (size_t i = 0; i < n; ++i) {
        refused.push_back(QueryResult::failure(PgError{
            "", lost ? "the connection is closed" : "a statement is already running on this connection", lost}));
      }
      done(std::move(refused));
    });
    return;
  }
  if (!PQenterPipelineMode(conn_)) return fail("cannot enter pipeline mode: ");
  pipeline_handler_ = std::move(done);
  pipeline_size_ = statements.size();
  pipeline_results_.clear();
  pipeline_results_.reserve(statements.size());
  pipeline_steps_.clear();
  failed_prepare_.reset();
  std::unordered_set<std::string> preparing;
  for (const auto& statement : statements) {
    // A request libpq refuses here leaves a pipeline half queued: this
    // connection is not worth saving.
    if (!queue_statement(statement, preparing)) return fail("cannot queue a pipelined statement: ");
  }
  if (!PQpipelineSync(conn_)) return fail("cannot end the pipeline: ");
  phase_ = Phase::Sending;
  first_result_.reset();
  flush();
}

// Queues one statement of a pipeline: a named one not yet prepared on this
// connection is prepared first (once per pipeline).
bool Connection::queue_statement(const Statement& statement, std::unordered_set<std::string>& preparing) {
  const int n = static_cast<int>(statement.params.size());
  if (!statement.name.empty() && !prepared_.count(statement.name) && preparing.insert(statement.name).second) {
    if (!PQsendPrepare(conn_, statement.name.c_str(), statement.sql.c_str(), n, nullptr)) return false;
    pipeline_steps_.push_back(statement.name);
  }
  std::vector<const char*> values;
  values.reserve(statement.params.size());
  for (const auto& p : statement.params) values.push_back(p ? p->c_str() : nullptr);
  const bool sent =
      statement.name.empty()
          ? PQsendQueryParams(conn_, statement.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0)
          : PQsendQueryPrepared(conn_, statement.name.c_str(), n, values.data(), nullptr, nullptr, 0);
  if (!sent) return false;
  pipeline_steps_.emplace_back();
  return true;
}

// Sends what libpq still holds; a big statement waits for the socket to
// take more. Reading goes on meanwhile (arm_read), as libpq asks.
void Connection::flush() {
  const int pending = PQflush(conn_);
  if (pending < 0) return fail("cannot send the statement: ");
  if (pending == 1) {
    if (!write_armed_) {
      wait(Wait::Write, [this] {
        if (phase_ == Phase::Sending) flush();
      });
    }
    return;
  }
  phase_ = Phase::Receiving;
  collect_results();  // the answer may already be in libpq's buffer
}

// The socket is watched for reading whenever the connection is up: results,
// notifications between statements, and the server closing the connection
// all arrive this way.
void Connection::arm_read() {
  if (read_armed_ || !connected()) return;
  wait(Wait::Read, [this] { on_readable(); });
}

void Connection::on_readable() {
  if (!connected()) return;
  if (!PQconsumeInput(conn_)) return fail("connection lost: ");
  drain_notifications();
  if (phase_ == Phase::Sending) flush();  // libpq: after reading, try sending again
  if (phase_ == Phase::Receiving) collect_results();
  arm_read();
}

// Reads what libpq has: one statement's results end with a null result;
// a pipeline's end with its sync point.
void Connection::collect_results() {
  while (phase_ == Phase::Receiving && !PQisBusy(conn_)) {
    PGresult* result = PQgetResult(conn_);
    if (!result && !pipeline_handler_) {
      finish_query();
      return;
    }
    if (!result) {  // one request of the pipeline is complete
      step_done();
      continue;
    }
    if (PQresultStatus(result) == PGRES_PIPELINE_SYNC) {
      PQclear(result);
      finish_pipeline();
      return;
    }
    take_result(result);
  }
  if (phase_ == Phase::Receiving && PQstatus(conn_) == CONNECTION_BAD) fail("connection lost: ");
}

// The first result of a statement is its answer (a statement gives one).
void Connection::take_result(PGresult* result) {
  if (first_result_) {
    PQclear(result);
    return;
  }
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    first_result_ = QueryResult::success(result);
    return;
  }
  PgError error{sqlstate_of(result), trimmed(PQresultErrorMessage(result)), PQstatus(conn_) == CONNECTION_BAD};
  if (status == PGRES_PIPELINE_ABORTED) error.message = "not run: an earlier statement of the pipeline failed";
  if (error.message.empty()) error.message = std::string("unexpected result: ") + PQresStatus(status);
  PQclear(result);
  first_result_ = QueryResult::failure(std::move(error));
}

// A request of the pipeline has all its results: a prepare is remembered
// (or its error kept for its statement), a statement's result is its answer.
void Connection::step_done() {
  std::optional<QueryResult> result = std::move(first_result_);
  first_result_.reset();
  std::string prepared_name;
  if (!pipeline_steps_.empty()) {
    prepared_name = std::move(pipeline_steps_.front());
    pipeline_steps_.pop_front();
  }
  if (!prepared_name.empty()) {
    if (result && result->ok()) {
      prepared_.insert(prepared_name);
    } else if (result) {
      failed_prepare_ = result->error();
    }
    return;
  }
  if (!result) result = QueryResult::failure(PgError{"", "the statement gave no result", false});
  if (!result->ok() && failed_prepare_) {  // not run because its prepare failed: that is the reason
    result = QueryResult::failure(*failed_prepare_);
    failed_prepare_.reset();
  }
  pipeline_results_.push_back(std::move(*result));
}

void Connection::finish_pipeline() {
  if (!PQexitPipelineMode(conn_)) return fail("cannot leave pipeline mode: ");
  std::vector<QueryResult> results = std::move(pipeline_results_);
  pipeline_results_.clear();
  while (results.size() < pipeline_size_) {
    results.push_back(QueryResult::failure(PgError{"", "the statement gave no result", false}));
  }
  PipelineHandler done = std::move(pipeline_handler_);
  pipeline_handler_ = nullptr;
  pipeline_size_ = 0;
  phase_ = Phase::Idle;
  post([done = std::move(done), results = std::move(results)]() mutable { done(std::move(results)); });
}

// The statement is complete: hand its result over (after this handler, so
// that the next statement starts from a settled connection).
void Connection::finish_query() {
  QueryResult result = first_result_ ? std::move(*first_result_)
                                     : QueryResult::failure(PgError{"", "the statement gave no result", false});
  first_result_.reset();
  QueryHandler done = std::move(query_handler_);
  query_handler_ = nullptr;
  const bool lost = PQstatus(conn_) == CONNECTION_BAD;
  if (lost && result.ok()) result = QueryResult::failure(connection_error("connection lost: "));
  if (lost && !result.error().connection_lost) {
    result = QueryResult::failure(PgError{result.error().sqlstate, result.error().message, true});
  }
  phase_ = Phase::Idle;
  if (lost) {
    phase_ = Phase::Closed;
    release_socket();
    PQfinish(conn_);
    conn_ = nullptr;
  }
  post([done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
}

void Connection::receive_notice(void* self, const PGresult* notice) {
  auto* connection = static_cast<Connection*>(self);
  if (!connection->notice_handler_) return;
  connection->post(
      [handler = connection->notice_handler_, text = trimmed(PQresultErrorMessage(notice))] { handler(text); });
}

void Connection::drain_notifications() {
  while (PGnotify* notification = PQnotifies(conn_)) {
    if (notification_handler_) {
      post([handler = notification_handler_, channel = std::string(notification->relname),
            payload = std::string(notification->extra ? notification->extra : "")] { handler(channel, payload); });
    }
    PQfreemem(notification);
  }
}

}  // namespace wharf::storage::postgresql
