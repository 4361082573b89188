#include "storage/postgresql/transaction.h"

#include <boost/asio/steady_timer.hpp>

#include <cstdio>
#include <exception>
#include <string_view>
#include <utility>

namespace wharf::storage::postgresql {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The first failure of a pipeline (the later ones only say it was aborted).
const QueryResult* first_failure(const std::vector<QueryResult>& results) {
  for (const auto& result : results) {
    if (!result.ok()) return &result;
  }
  return nullptr;
}

Statement plain(const char* sql) { return Statement{sql, {}}; }

// A session that is useless now even though it is open: a server shutting
// down (57P01..03), a broken link (08***), a read-only session (25006: a
// primary demoted by a failover). Making another finds the current primary.
bool session_unusable(const PgError& error) {
  const std::string_view state = error.sqlstate;
  return error.connection_lost || starts_with(state, "08") || starts_with(state, "57P0") || state == "25006";
}

// A pipeline that failed this way may have committed: the session ended
// (or the server went away) with its results, the COMMIT's among them,
// not all read. 25006 (read only) and every other error refused a
// statement, so the transaction never committed.
bool in_doubt(const PgError& error) {
  const std::string_view state = error.sqlstate;
  return error.connection_lost || starts_with(state, "08") || starts_with(state, "57P0");
}

// What an exception escaping caller code (a body, a continuation) says,
// for the log and for the InternalError the request gets instead.
std::string escaped(std::exception_ptr thrown) {
  std::string what = "an exception that is not a std::exception";
  try {
    std::rethrow_exception(std::move(thrown));
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "wharf: PostgreSQL: a continuation threw: %s\n", what.c_str());
  return "Internal error in a database continuation: " + what;
}

}  // namespace

bool is_retryable(const PgError& error) { return error.sqlstate == "40001" || error.sqlstate == "40P01"; }

SqsError map_pg_error(const PgError& error) {
  const std::string_view state = error.sqlstate;
  if (error.connection_lost || state.empty() || starts_with(state, "08") || starts_with(state, "53") ||
      starts_with(state, "57P0") || state == "57014" || state == "25006" || is_retryable(error)) {
    return make_error(ErrorCode::ServiceUnavailable, "The database is unavailable: " + error.message);
  }
  if (state == "23503") return make_error(ErrorCode::QueueDoesNotExist, "The specified queue does not exist.");
  // Not the caller's doing: the server's log says what PostgreSQL said.
  std::fprintf(stderr, "wharf: PostgreSQL error %s: %s\n", error.sqlstate.c_str(), error.message.c_str());
  return make_error(ErrorCode::InternalError, "Database error " + error.sqlstate + ": " + error.message);
}

namespace {

// One run_statements call: kept for a rerun after 40001/40P01, and, with a
// fence, for learning the outcome of a COMMIT in doubt.
struct StatementsJob : std::enable_shared_from_this<StatementsJob> {
  Pool& pool;
  std::vector<Statement> statements;
  StatementsDone done;
  std::optional<Statement> fence;
  int attempt = 0;
  std::chrono::steady_clock::time_point in_doubt_until{};
  std::unique_ptr<boost::asio::steady_timer> timer;

  StatementsJob(Pool& p, std::vector<Statement> s, StatementsDone d, std::optional<Statement> f = std::nullopt)
      : pool(p), statements(std::move(s)), done(std::move(d)), fence(std::move(f)) {}

  void start() {
    ++attempt;
    pool.acquire([self = shared_from_this()](Result<Lease> lease) {
      if (!lease.ok()) return self->answer(lease.error());
      Lease held = std::move(lease.value());
      Connection& connection = held->connection();
      connection.async_pipeline(self->statements, [self, held](std::vector<QueryResult> results) mutable {
        self->finish(std::move(held), std::move(results));
      });
    });
  }

  void finish(Lease held, std::vector<QueryResult> results) {
    const QueryResult* failed = first_failure(results);
    if (failed && session_unusable(failed->error())) held->discard();
    held.reset();  // back to the pool before the caller goes on
    if (!failed) return answer(std::move(results));
    // Lost with the pipeline sent: its COMMIT may have happened.
    if (fence && in_doubt(failed->error())) return learn_outcome();
    if (is_retryable(failed->error()) && attempt < kTransactionAttempts) return start();
    answer(map_pg_error(failed->error()));
  }

  // The fence on whichever session the pool finds now (a new primary after
  // a failover); again later while the database cannot answer.
  void learn_outcome() {
    if (in_doubt_until == std::chrono::steady_clock::time_point{}) {
      in_doubt_until = std::chrono::steady_clock::now() + kInDoubtWait;
    }
    pool.acquire([self = shared_from_this()](Result<Lease> lease) {
      if (!lease.ok()) return self->outcome_later();
      Lease held = std::move(lease.value());
      held->connection().async_pipeline({*self->fence}, [self, held](std::vector<QueryResult> results) mutable {
        const QueryResult& fenced = results.front();
        if (!fenced.ok() && session_unusable(fenced.error())) held->discard();
        held.reset();
        if (!fenced.ok() || fenced.rows() != 1) return self->outcome_later();
        if (fenced.text(0, 0) == "f") return self->answer(std::vector<QueryResult>{});
        self->answer(make_error(ErrorCode::ServiceUnavailable,
                                "The connection to the database was lost before this write committed; it was not "
                                "stored. Retry it."));
      });
    });
  }

  void outcome_later() {
    if (std::chrono::steady_clock::now() + kInDoubtRetry > in_doubt_until) {
      std::fprintf(stderr, "wharf: PostgreSQL: a write's commit stayed in doubt for %lld ms: answered 503\n",
                   static_cast<long long>(kInDoubtWait.count()));
      return answer(make_error(ErrorCode::ServiceUnavailable,
                               "The connection to the database was lost while this write committed, and the "
                               "database could not be asked whether it did: it may have been stored."));
    }
    if (!timer) timer = std::make_unique<boost::asio::steady_timer>(pool.io());
    timer->expires_after(kInDoubtRetry);
    timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return self->answer(make_error(ErrorCode::ServiceUnavailable, "The database is shutting down."));
      self->learn_outcome();
    });
  }

  // A `done` that throws on the results (a continuation parsing them
  // before it answers) is called once more, with InternalError, so that its
  // request is answered; one that throws on an error is only logged.
  void answer(Result<std::vector<QueryResult>> result) {
    const bool success = result.ok();
    try {
      return done(std::move(result));
    } catch (...) {
      const std::string why = escaped(std::current_exception());
      if (!success) return;
      try {
        done(make_error(ErrorCode::InternalError, why));
      } catch (...) {
        escaped(std::current_exception());
      }
    }
  }
};

struct TxJob {
  Pool& pool;
  std::function<void(std::shared_ptr<Tx>)> body;
  std::function<void(Status)> finished;
  int attempt = 0;
};

void start_transaction(const std::shared_ptr<TxJob>& job);

// One run of a transaction's body on one connection.
class TxRun final : public Tx, public std::enable_shared_from_this<TxRun> {
 public:
  TxRun(std::shared_ptr<TxJob> job, Lease lease) : job_(std::move(job)), lease_(std::move(lease)) {}
  // A body that dropped its Tx without ending it (a bug) still gets its
  // answer, and the session, left inside a transaction, is closed rather
  // than handed to the next caller.
  ~TxRun() override {
    if (ended_) return;
    if (lease_ && in_block_) lease_->discard();
    end(make_error(ErrorCode::InternalError, "A database transaction was left unfinished."));
  }

  void step(std::vector<Statement> statements, Then then) override {
    send(std::move(statements), false, std::move(then));
  }

  void commit() override {
    if (!begun_) return end(Ok{});
    send({}, true, nullptr);
  }

  void commit_with(std::vector<Statement> statements, Then then) override {
    // Nothing sent yet: the pipeline alone is the transaction (no BEGIN).
    send(std::move(statements), true, std::move(then));
  }

  void fail(SqsError error) override { roll_back(std::move(error), false); }

  int attempt() const override { return job_->attempt; }

 private:
  // Sends one pipeline: BEGIN first when this is the transaction's first
  // and it does not end with it; COMMIT last when `commit` (and BEGIN came).
  void send(std::vector<Statement> statements, bool commit, Then then) {
    const bool with_begin = !begun_ && !commit;
    const bool with_commit = commit && begun_;
    if (with_begin) statements.insert(statements.begin(), plain("BEGIN"));
    if (with_commit) statements.push_back(plain("COMMIT"));
    if (statements.empty()) {  // a step of nothing, or a commit with nothing sent
      std::vector<QueryResult> none;
      if (then) then(none);
      if (commit) end(Ok{});
      return;
    }
    begun_ = begun_ || with_begin;
    in_block_ = begun_;
    pending_ = std::move(statements);
    lease_->connection().async_pipeline(pending_, [self = shared_from_this(), with_begin, with_commit, commit,
                                                   then = std::move(then)](std::vector<QueryResult> results) mutable {
      self->pending_.clear();
      if (self->ended_) return;  // a continuation threw meanwhile: already answered
      if (const QueryResult* failed = first_failure(results)) return self->failed(failed->error(), commit);
      if (with_commit) results.pop_back();
      if (with_begin) results.erase(results.begin());
      if (commit) self->in_block_ = false;
      if (then && !self->guarded([&] { then(results); })) return;
      if (commit) self->end(Ok{});
    });
  }

 public:
  // Runs caller code (the body, a step's continuation): an exception it
  // throws rolls the transaction back (the session is discarded: a step it
  // started may still be running) and answers InternalError. False then.
  template <class Code>
  bool guarded(Code code) {
    try {
      code();
      return true;
    } catch (...) {
      const std::string why = escaped(std::current_exception());
      if (lease_) lease_->discard();
      in_block_ = false;  // the session is closed, not reused: the server rolls back
      end(make_error(ErrorCode::InternalError, why));
      return false;
    }
  }

 private:
  // `committing`: the failed pipeline ended the transaction (COMMIT, or an
  // implicit one), so a lost connection leaves its outcome unknown.
  void failed(const PgError& error, bool committing) {
    bool rerun = is_retryable(error);
    if (session_unusable(error) && !error.connection_lost) lease_->discard();  // after its ROLLBACK
    if (error.connection_lost) {
      lease_->discard();
      in_block_ = false;  // the server rolls back a transaction whose connection ended
      // Nothing was committed when no COMMIT had been sent: run again on
      // another connection (a pooled one the server had closed meanwhile,
      // after a restart of the database, fails only there).
      rerun = !committing;
    }
    if (rerun && job_->attempt < kTransactionAttempts) return roll_back(std::nullopt, true);
    roll_back(map_pg_error(error), false);
  }

  // ROLLBACK when a transaction block is open, then ends with `error` or
  // runs the body again.
  void roll_back(std::optional<SqsError> error, bool rerun) {
    if (!in_block_) return rerun ? restart() : end(std::move(*error));
    in_block_ = false;
    pending_.clear();
    pending_.push_back(plain("ROLLBACK"));
    lease_->connection().async_pipeline(pending_, [self = shared_from_this(), error = std::move(error),
                                                   rerun](std::vector<QueryResult> results) mutable {
      if (self->ended_) return;  // a continuation threw meanwhile: already answered
      // A connection that cannot even roll back is not reused.
      if (results.empty() || !results.front().ok()) self->lease_->discard();
      if (rerun) return self->restart();
      self->end(std::move(*error));
    });
  }

  void restart() {
    ended_ = true;  // this run; the next one answers
    lease_.reset();
    start_transaction(job_);
  }

  void end(Status status) {
    if (ended_) return;
    ended_ = true;
    lease_.reset();  // back to the pool before the caller goes on
    auto finished = std::move(job_->finished);
    finished(std::move(status));
  }

  std::shared_ptr<TxJob> job_;
  Lease lease_;
  std::vector<Statement> pending_;  // the pipeline in flight (the connection reads it during the call only)
  bool begun_ = false;              // BEGIN was sent
  bool in_block_ = false;           // a transaction block may be open on the server
  bool ended_ = false;
};

void start_transaction(const std::shared_ptr<TxJob>& job) {
  ++job->attempt;
  job->pool.acquire([job](Result<Lease> lease) {
    if (!lease.ok()) {
      auto finished = std::move(job->finished);
      return finished(lease.error());
    }
    auto run = std::make_shared<TxRun>(job, std::move(lease.value()));
    run->guarded([&] { job->body(run); });
  });
}

}  // namespace

void run_statements(Pool& pool, std::vector<Statement> statements, StatementsDone done) {
  std::make_shared<StatementsJob>(pool, std::move(statements), std::move(done))->start();
}

void run_statements_fenced(Pool& pool, std::vector<Statement> statements, Statement fence, StatementsDone done) {
  std::make_shared<StatementsJob>(pool, std::move(statements), std::move(done), std::move(fence))->start();
}

void run_transaction(Pool& pool, std::function<void(std::shared_ptr<Tx>)> body, std::function<void(Status)> finished) {
  start_transaction(std::make_shared<TxJob>(TxJob{pool, std::move(body), std::move(finished)}));
}

}  // namespace wharf::storage::postgresql
