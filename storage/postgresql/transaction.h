// Transactions over the pool: the answers a caller gets only once what it
// did is committed, the retry rule for serialisation failures and
// deadlocks, and how a PostgreSQL error becomes an SqsError
// (docs/design/postgresql.md, sections 6 and 9).
//
// Everything here runs on the pool's io_context thread: bodies, steps'
// continuations and the final callbacks. Start them from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/sqs_error.h"
#include "storage/postgresql/connection.h"
#include "storage/postgresql/pool.h"

namespace wharf::storage::postgresql {

// How many times a transaction runs at most when PostgreSQL answers a
// serialisation failure (40001) or a deadlock (40P01): then 503.
constexpr int kTransactionAttempts = 4;  // the first run and 3 reruns

// What a failed statement (or connection) means to an SQS caller:
// connection errors, 08***, 57P0x, 53***, 57014, 25006 -> ServiceUnavailable;
// 23503 (a queue row that vanished) -> QueueDoesNotExist; anything else ->
// InternalError, with the SQLSTATE in the message (and logged).
SqsError map_pg_error(const PgError& error);
// 40001 and 40P01: the transaction may simply run again.
bool is_retryable(const PgError& error);

// One pipeline, one implicit transaction (no BEGIN: committed at the
// pipeline's end, or not at all). `done` gets every statement's result, all
// successful, only after the transaction committed; or the mapped error of
// the first failure. Reruns on 40001/40P01 (kTransactionAttempts).
using StatementsDone = std::function<void(Result<std::vector<QueryResult>>)>;
void run_statements(Pool& pool, std::vector<Statement> statements, StatementsDone done);

// How long a pipeline whose COMMIT is in doubt keeps trying to learn its
// outcome (a failover takes about Patroni's ttl), and how often.
constexpr std::chrono::milliseconds kInDoubtWait{30'000};
constexpr std::chrono::milliseconds kInDoubtRetry{250};

// run_statements for a write that must take effect at most once although
// its caller may not learn whether it committed: the connection lost after
// the pipeline was sent (a failover, a broken link). `statements` insert a
// token; `fence` claims it on whichever primary answers now and returns
// one row, one boolean column: false when the statements' own row was
// there (they committed), true when the fence's is (they did not, and now
// never can). The fence runs again every kInDoubtRetry until it is
// answered or kInDoubtWait passed. `done` gets: the results as
// run_statements does; an EMPTY vector when the statements committed but
// their results were lost; ServiceUnavailable when they did not commit or
// the outcome stayed unknown (the message says which).
void run_statements_fenced(Pool& pool, std::vector<Statement> statements, Statement fence, StatementsDone done);

// A transaction of several round trips. The body gets a Tx and drives it:
// step() as often as needed (each is one round trip; the first also sends
// BEGIN in the same pipeline), then exactly one of commit(), commit_with()
// or fail(). A statement that fails rolls the transaction back and ends it
// with the mapped error (the continuation is not called); 40001/40P01 run
// the body again from the start, on a fresh snapshot.
class Tx {
 public:
  using Then = std::function<void(std::vector<QueryResult>& results)>;

  virtual ~Tx() = default;
  // Sends `statements` in one pipeline and calls `then` with their results,
  // all successful.
  virtual void step(std::vector<Statement> statements, Then then) = 0;
  // COMMIT; `finished(Ok)` once it succeeded.
  virtual void commit() = 0;
  // `statements` and COMMIT in one pipeline: `then` sees their results once
  // COMMIT succeeded, and `finished(Ok)` follows.
  virtual void commit_with(std::vector<Statement> statements, Then then) = 0;
  // ROLLBACK (when anything was sent), then `finished(error)`.
  virtual void fail(SqsError error) = 0;
  // 1 on the first run of the body, 2.. on reruns.
  virtual int attempt() const = 0;
};

// Runs `body` with a Tx on a pooled connection. `finished` is called exactly
// once: Ok after COMMIT completed, or the error (never before the
// transaction ended, committed or rolled back). A body that commits
// nothing (fail()) after sending nothing costs no round trip.
void run_transaction(Pool& pool, std::function<void(std::shared_ptr<Tx>)> body, std::function<void(Status)> finished);

}  // namespace wharf::storage::postgresql
