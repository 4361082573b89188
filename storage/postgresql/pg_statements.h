// The SQL of the message operations on standard queues (send, receive,
// delete, change visibility, peek, redrive), each named once here: a name
// is prepared once per connection and stands for one text for the
// connection's life (storage/postgresql/connection.h). What each does and
// why is docs/design/postgresql.md sections 6.2 to 6.10; the parameters of
// each are listed beside it in pg_statements.cpp. Every statement that needs
// the time takes now_ms($1) (section 5). Times and durations are ms.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/postgresql/connection.h"

namespace wharf::storage::postgresql::sql {

struct NamedSql {
  const char* name;
  const char* text;
};

// Sends are one INSERT of a VALUES list of `rows` rows (1 to
// kMaxSendRows), one prepared statement per batch size, so that each body
// is a parameter of its own (moved in, never escaped into an array).
inline constexpr size_t kMaxSendRows = 10;
inline constexpr size_t kSendColumns = 7;  // per row: id, group, delay, body, md5, attributes, system attributes
const NamedSql& send_standard(size_t rows);

// Marks a standard queue as having message groups and adds the groups'
// rows (fair queues, section 6.5).
extern const NamedSql kSendGroups;
// A standard send's token, inserted in its transaction, and the fence that
// learns, after the connection was lost with its COMMIT in doubt, whether
// it committed (section 6.2.1). A token is 16 bytes shown as a UUID: the
// time in ms (big-endian, so that old tokens are pruned along the key),
// then 8 random bytes.
extern const NamedSql kSendToken;
extern const NamedSql kFenceSendToken;
std::string send_token(std::chrono::system_clock::time_point now);

// Receives on a standard queue: the fast path (no groups, no redrive), the
// fair path (groups take turns) and, with a RedrivePolicy, a pick in a
// transaction (kPickFairForRedrive: by the groups' turns) followed by the
// take and the move to the dead-letter queue. The fast and fair ones answer
// the columns of kReceivedColumns.
extern const NamedSql kReceiveStandard;
extern const NamedSql kReceiveFair;
extern const NamedSql kPickForRedrive;
extern const NamedSql kPickFairForRedrive;
extern const NamedSql kFindDeadLetterQueue;
extern const NamedSql kTakePicked;
extern const NamedSql kMoveToDeadLetterQueue;
// The same move, when the dead-letter queue is on another group: into the
// outbox (section 12b).
extern const NamedSql kParkForDeadLetterQueue;

// The columns of a received message, in this order, in every receive's answer.
enum ReceivedColumn : int {
  kReceivedNow,
  kReceivedSeq,
  kReceivedMessageId,
  kReceivedReceiveCount,
  kReceivedFirstReceive,
  kReceivedSent,
  kReceivedBody,
  kReceivedBodyMd5,
  kReceivedMessageAttributes,
  kReceivedSystemAttributes,
};

extern const NamedSql kDeleteStandard;
extern const NamedSql kChangeVisibility;
extern const NamedSql kPeek;
extern const NamedSql kDeletePeeked;

// FIFO queues (sections 6.3, 6.6, 6.9, 6.10). Every transaction that
// changes a group's first message holds the group's row lock and then
// settles the group (kFifoSettleGroups): `ready_at_ms` NULL when it has no
// message, else when its first message is visible (at the earliest now),
// with a fresh turn.
inline constexpr size_t kFifoSendColumns = 8;  // per row: id, group, dedup key, delay, body, md5, attributes, system
const NamedSql& send_fifo(size_t rows);
extern const NamedSql kFifoLockGroups;
extern const NamedSql kFifoDedupAnswers;
extern const NamedSql kFifoSettleGroups;
extern const NamedSql kFifoPick;
extern const NamedSql kFifoLockHandled;
extern const NamedSql kFifoHandled;
extern const NamedSql kDeleteFifo;

// ReceiveRequestAttemptId (section 6.8): the unexpired record, a check that
// its messages are as that receive left them, the retry, the record of a
// fresh receive.
extern const NamedSql kAttemptLookup;
extern const NamedSql kAttemptCheck;
extern const NamedSql kAttemptRetry;
extern const NamedSql kAttemptRecord;

// Time-driven work of one (account, region) (section 7.4): expired
// messages swept from the front of each standard queue, then per queue
// whether messages became visible since the last look and when it next has
// work (the earliest future visibility or retention expiry).
extern const NamedSql kSweepExpired;
extern const NamedSql kDueWork;

// $1 clock override: the time now_ms answers (section 5), for a
// transaction that decides with it.
extern const NamedSql kNow;
// A Statement of `named` with these parameters.
Statement statement(const NamedSql& named, std::vector<PgParam> params);

// A column's value as an integer (0 when NULL or not a number: the
// statements above only answer integers where this is used).
int64_t int_at(const QueryResult& result, int row, int column);

// PostgreSQL array literals, for array parameters: {1,2,3} and
// {"a","b\"c"} (each element quoted, `"` and `\` escaped).
std::string bigint_array(const std::vector<int64_t>& values);
std::string text_array(const std::vector<std::string_view>& values);

}  // namespace wharf::storage::postgresql::sql
