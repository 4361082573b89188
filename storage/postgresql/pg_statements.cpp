#include "storage/postgresql/pg_statements.h"

#include <array>
#include <charconv>
#include <random>

#include "common/ids.h"

namespace wharf::storage::postgresql::sql {
namespace {

// send_standard_<rows>: $1 clock override, $2 queue id, then per row
// message id, group id, delay, body, body MD5, message attributes, system
// attributes. Answers the transaction's `now`. The rows are inserted in
// VALUES order, so their seq follows the batch's order.
std::string send_standard_text(size_t rows) {
  std::string text =
      "WITH clock AS (SELECT now_ms($1::bigint) AS now), "
      "stored AS (INSERT INTO messages (queue_id, seq, message_id, group_id, visible_at_ms, sent_ms, body, "
      "body_md5, message_attributes, system_attributes) "
      "SELECT $2::bigint, nextval('message_seq'), v.id, v.grp, clock.now + v.delay, clock.now, v.body, v.md5, "
      "v.attrs, v.sys FROM clock, (VALUES ";
  for (size_t row = 0; row < rows; ++row) {
    const size_t first = 3 + row * kSendColumns;
    auto p = [&](size_t column) { return "$" + std::to_string(first + column); };
    if (row > 0) text += ", ";
    text += "(" + p(0) + "::uuid, " + p(1) + "::text, " + p(2) + "::bigint, " + p(3) + "::text, " + p(4) + "::text, " +
            p(5) + "::text, " + p(6) + "::text)";
  }
  text += ") AS v (id, grp, delay, body, md5, attrs, sys)) SELECT now FROM clock";
  return text;
}

// send_fifo_<rows>: $1 clock override, $2 queue id, $3 deduplication
// window, then per row message id, group id, deduplication key, delay, body,
// body MD5, message attributes, system attributes (section 6.3). Each row
// draws its seq in VALUES order, claims its key (a live key is not claimed:
// the INSERT waits for an uncommitted claim of another sender, then finds
// it live, or takes it over when that sender rolled back; an expired one is
// taken over), and only rows whose key was claimed are stored. Answers the
// transaction's `now`. The batch's keys are distinct (decided in C++) and
// claimed in key order, so two batches sharing keys never wait on each
// other in a cycle.
std::string send_fifo_text(size_t rows) {
  std::string text =
      "WITH clock AS (SELECT now_ms($1::bigint) AS now), "
      "v AS (SELECT v.*, nextval('message_seq') AS seq FROM (VALUES ";
  for (size_t row = 0; row < rows; ++row) {
    const size_t first = 4 + row * kFifoSendColumns;
    auto p = [&](size_t column) { return "$" + std::to_string(first + column); };
    if (row > 0) text += ", ";
    text += "(" + p(0) + "::uuid, " + p(1) + "::text, " + p(2) + "::text, " + p(3) + "::bigint, " + p(4) + "::text, " +
            p(5) + "::text, " + p(6) + "::text, " + p(7) + "::text)";
  }
  text +=
      ") AS v (id, grp, dkey, delay, body, md5, attrs, sys)), "
      "claimed AS (INSERT INTO dedup (queue_id, dedup_key, message_id, seq, expires_ms) "
      "SELECT $2::bigint, v.dkey, v.id, v.seq, clock.now + $3::bigint FROM v, clock ORDER BY v.dkey "
      "ON CONFLICT (queue_id, dedup_key) DO UPDATE SET message_id = excluded.message_id, seq = excluded.seq, "
      "expires_ms = excluded.expires_ms WHERE dedup.expires_ms <= excluded.expires_ms - $3::bigint RETURNING seq), "
      "stored AS (INSERT INTO messages (queue_id, seq, message_id, group_id, visible_at_ms, sent_ms, body, "
      "body_md5, message_attributes, system_attributes) "
      "SELECT $2::bigint, v.seq, v.id, v.grp, clock.now + v.delay, clock.now, v.body, v.md5, v.attrs, v.sys "
      "FROM v, clock WHERE v.seq IN (SELECT seq FROM claimed)) "
      "SELECT now FROM clock";
  return text;
}

// One prepared statement per batch size.
struct SendStatements {
  std::array<std::string, kMaxSendRows> names;
  std::array<std::string, kMaxSendRows> texts;
  std::array<NamedSql, kMaxSendRows> named;
  SendStatements(const char* prefix, std::string (*text_of)(size_t rows)) {
    for (size_t i = 0; i < kMaxSendRows; ++i) {
      names[i] = prefix + std::to_string(i + 1);
      texts[i] = text_of(i + 1);
      named[i] = NamedSql{names[i].c_str(), texts[i].c_str()};
    }
  }
};

// What every receive sets on a message it takes, with `now` as c.now and
// the visibility timeout as `vt`.
#define WHARF_TAKE_SET                                                                           \
  "receive_count = m.receive_count + 1, "                                                        \
  "first_receive_ms = CASE WHEN m.first_receive_ms = 0 THEN c.now ELSE m.first_receive_ms END, " \
  "visible_at_ms = c.now + vt.ms, flight = true "

// kReceivedColumns after `now`.
#define WHARF_TAKE_RETURNING                                                                            \
  "RETURNING m.seq, m.message_id, m.receive_count, m.first_receive_ms, m.sent_ms, m.body, m.body_md5, " \
  "m.message_attributes, m.system_attributes"

}  // namespace

const NamedSql& send_standard(size_t rows) {
  static const SendStatements statements("send_standard_", send_standard_text);
  return statements.named.at(rows - 1);
}

const NamedSql& send_fifo(size_t rows) {
  static const SendStatements statements("send_fifo_", send_fifo_text);
  return statements.named.at(rows - 1);
}

// Statements that find a queue's messages by seq (handles, picks) are not
// prepared: PostgreSQL would keep a generic plan, and one made while
// `messages` was nearly empty (or small on average over many queues) finds
// them by queue_id alone and filters seq. Measured in the pipeline
// benchmark: a DELETE of 10 messages read ~750 pages (3 ms) that way, and
// 4-5 planned for its values. Planning each time costs less than that
// (receive + delete: see docs/design/postgresql.md, section 14);
// statements whose plan does not depend on a queue's size stay prepared
// (forcing custom plans for every statement cost a third of sendbatch).
constexpr const char* kPlannedEachTime = "";

// $1 queue id, $2 group ids (text[], sorted): locks the groups' rows in
// that order, creating missing ones empty. PostgreSQL locks a conflicting
// row even when the DO UPDATE's WHERE is false, so every sender to a group
// waits here for the one before it (FIFO order of seq: section 6.3).
const NamedSql kFifoLockGroups = {"fifo_lock_groups",
                                  "INSERT INTO groups (queue_id, group_id, ready_at_ms, turn) "
                                  "SELECT $1::bigint, g, NULL, 0 FROM unnest($2::text[]) AS g ORDER BY g "
                                  "ON CONFLICT (queue_id, group_id) DO UPDATE SET turn = groups.turn WHERE false"};

// $1 queue id, $2 deduplication keys (text[]): the message each key
// stands for. A new statement: it sees the claims of senders committed
// while this send waited on them.
const NamedSql kFifoDedupAnswers = {"fifo_dedup_answers",
                                    "SELECT dedup_key, message_id, seq FROM dedup "
                                    "WHERE queue_id = $1::bigint AND dedup_key = ANY ($2::text[])"};

// $1 clock override, $2 queue id, $3 retention, $4 groups (text[], in the
// order they join the back), $5 seqs whose message was taken, deleted,
// moved or changed, $6 their groups. Each group, locked by the caller, is
// settled (section 6.6) when it was empty or is now, or when a message at
// or before its first (unexpired) one was touched: its first message or
// that message's visibility changed. Other groups keep their place. A group
// receivable now joins the back in the order of $4; one whose first
// message becomes visible later takes that message's seq as its turn, so
// groups whose first messages become visible at the same ms take turns in
// send order (as RocksDB promotes them).
const NamedSql kFifoSettleGroups = {
    "fifo_settle_groups",
    "WITH clock AS (SELECT now_ms($1::bigint) AS now), "
    "touched AS (SELECT grp, min(seq) AS seq FROM unnest($5::bigint[], $6::text[]) AS t (seq, grp) GROUP BY grp), "
    "firsts AS (SELECT o.grp, o.pos, x.seq, x.visible_at_ms, t.seq AS touched FROM unnest($4::text[]) "
    "WITH ORDINALITY AS o (grp, pos) LEFT JOIN touched t ON t.grp = o.grp LEFT JOIN LATERAL ("
    "SELECT m.seq, m.visible_at_ms FROM messages m WHERE m.queue_id = $2::bigint AND m.group_id = o.grp "
    "AND m.group_id <> '' AND m.sent_ms > (SELECT now FROM clock) - $3::bigint ORDER BY m.seq LIMIT 1) x ON true), "
    "base AS (SELECT nextval('turn_seq') * 1024 AS turn) "
    "UPDATE groups g SET ready_at_ms = CASE WHEN f.seq IS NULL THEN NULL "
    "ELSE greatest(f.visible_at_ms, c.now) END, "
    "turn = CASE WHEN f.visible_at_ms > c.now THEN f.seq ELSE base.turn + f.pos END "
    "FROM firsts f, clock c, base WHERE g.queue_id = $2::bigint AND g.group_id = f.grp "
    "AND (g.ready_at_ms IS NULL OR f.seq IS NULL OR f.seq >= f.touched)"};

// $1 clock override, $2 queue id, $3 retention, $4 max messages: up to $4
// receivable groups in turn order, their rows locked (SKIP LOCKED: a group
// another receive or a sender holds is passed over), each with its first
// $4 unexpired messages by seq (none: a group to settle). Columns: now,
// group, seq, visible_at, receive count, sent, message id, system attributes.
const NamedSql kFifoPick = {
    "fifo_pick",
    "WITH clock AS (SELECT now_ms($1::bigint) AS now), "
    "turns AS (SELECT g.group_id, g.ready_at_ms, g.turn FROM groups g WHERE g.queue_id = $2::bigint "
    "AND g.ready_at_ms <= (SELECT now FROM clock) ORDER BY g.ready_at_ms, g.turn LIMIT $4::int "
    "FOR UPDATE SKIP LOCKED) "
    "SELECT (SELECT now FROM clock), t.group_id, x.seq, x.visible_at_ms, x.receive_count, x.sent_ms, x.message_id, "
    "x.system_attributes FROM turns t LEFT JOIN LATERAL ("
    "SELECT m.seq, m.visible_at_ms, m.receive_count, m.sent_ms, m.message_id, m.system_attributes FROM messages m "
    "WHERE m.queue_id = $2::bigint AND m.group_id = t.group_id AND m.group_id <> '' "
    "AND m.sent_ms > (SELECT now FROM clock) - $3::bigint ORDER BY m.seq LIMIT $4::int) x ON true "
    "ORDER BY t.ready_at_ms, t.turn, x.seq"};

// $1 queue id, $2 seqs: locks the groups of those messages, in group order
// (a message's group never changes, so these are the right rows).
const NamedSql kFifoLockHandled = {
    kPlannedEachTime /* fifo_lock_handled */,
    "SELECT g.group_id FROM groups g WHERE g.queue_id = $1::bigint AND g.group_id IN ("
    "SELECT m.group_id FROM messages m WHERE m.queue_id = $1::bigint AND m.seq = ANY ($2::bigint[])) "
    "ORDER BY g.group_id FOR UPDATE OF g"};

// $1 clock override, $2 queue id, $3 seqs, $4 retention: what the handle
// rules need of each message that exists (after kFifoLockHandled). Columns:
// now, seq, group, receive count, in flight.
const NamedSql kFifoHandled = {kPlannedEachTime /* fifo_handled */,
                               "SELECT c.now, m.seq, m.group_id, m.receive_count, m.flight AND m.visible_at_ms > c.now "
                               "FROM messages m, (SELECT now_ms($1::bigint) AS now) c WHERE m.queue_id = $2::bigint "
                               "AND m.seq = ANY ($3::bigint[]) AND m.sent_ms > c.now - $4::bigint FOR UPDATE OF m"};

// $1 queue id, $2 seqs: deletes them, answering each one's seq and group.
const NamedSql kDeleteFifo = {
    kPlannedEachTime /* delete_fifo */,
    "DELETE FROM messages WHERE queue_id = $1::bigint AND seq = ANY ($2::bigint[]) RETURNING seq, group_id"};

// $1 queue id, $2 group ids (text[]). New groups join the back of the
// turns (turn_seq * 64: receives order up to 63 groups after one value).
const NamedSql kSendGroups = {
    "send_groups",
    "WITH marked AS (UPDATE queues SET has_groups = true WHERE id = $1::bigint AND NOT has_groups) "
    "INSERT INTO groups (queue_id, group_id, ready_at_ms, turn) "
    "SELECT $1::bigint, g, 0, nextval('turn_seq') * 64 FROM unnest($2::text[]) AS g "
    "ON CONFLICT (queue_id, group_id) DO NOTHING"};

// $1 the send's token (send_token below).
const NamedSql kSendToken = {"send_token", "INSERT INTO send_tokens (token) VALUES ($1::uuid)"};

// $1 the token of a send whose commit is in doubt: answers `fenced` of the
// row now there. false: the send's own row, so the send committed; true:
// this fence's row (or an earlier fence's), and the send never can commit
// (its INSERT would conflict). A send still running on the old session
// holds the key: this waits for it to end.
const NamedSql kFenceSendToken = {"fence_send_token",
                                  "INSERT INTO send_tokens (token, fenced) VALUES ($1::uuid, true) "
                                  "ON CONFLICT (token) DO UPDATE SET fenced = send_tokens.fenced RETURNING fenced"};

std::string send_token(std::chrono::system_clock::time_point now) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  thread_local std::mt19937_64 rng{std::random_device{}() ^ (uint64_t(std::random_device{}()) << 32)};
  const uint64_t random = rng();
  UuidBytes bytes;
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<uint8_t>(static_cast<uint64_t>(ms) >> (56 - 8 * i));
    bytes[8 + i] = static_cast<uint8_t>(random >> (56 - 8 * i));
  }
  return uuid_text(bytes);
}

// $1 clock override, $2 queue id, $3 retention, $4 max messages, $5
// visibility timeout. The first visible, unexpired messages by
// (visible_at_ms, seq), taken in one statement; answered in seq order.
const NamedSql kReceiveStandard = {kPlannedEachTime /* receive_standard */,
                                   "WITH clock AS (SELECT now_ms($1::bigint) AS now), vt AS (SELECT $5::bigint AS ms), "
                                   "picked AS (SELECT m.seq FROM messages m "
                                   "WHERE m.queue_id = $2::bigint AND m.visible_at_ms <= (SELECT now FROM clock) "
                                   "AND m.sent_ms > (SELECT now FROM clock) - $3::bigint "
                                   "ORDER BY m.visible_at_ms, m.seq LIMIT $4::int FOR UPDATE OF m SKIP LOCKED), "
                                   "taken AS (UPDATE messages m SET " WHARF_TAKE_SET
                                   "FROM clock c, vt WHERE m.queue_id = $2::bigint AND m.seq = ANY (ARRAY(SELECT seq "
                                   "FROM picked)) " WHARF_TAKE_RETURNING
                                   ") "
                                   "SELECT c.now, t.* FROM taken t, clock c ORDER BY t.seq"};

// The picks of a fair receive. $1 clock override, $2 queue id, $3
// retention, $4 max messages, $5 how many groups to look at; `columns`:
// what `picks` holds of each message (locked). The groups in turn order
// (rows locked, SKIP LOCKED: concurrent receives serve different groups),
// each group's first visible messages by (visible_at_ms, seq) on
// messages_group_ready (its in-flight ones are past the range), one per
// group per round (section 6.5); the chosen messages are then locked
// (`held`, SKIP LOCKED, re-checked visible: READ COMMITTED re-reads a row
// another transaction changed) and the standard pick fills up (messages of
// groups without a row, or of groups another receive holds). The groups
// chosen from go to the back of the turns in the order of their last pick.
#define WHARF_FAIR_PICKS(columns)                                                                                 \
  "WITH clock AS (SELECT now_ms($1::bigint) AS now), "                                                            \
  "turns AS (SELECT g.group_id, g.turn FROM groups g WHERE g.queue_id = $2::bigint AND g.ready_at_ms = 0 "        \
  "ORDER BY g.turn LIMIT $5::int FOR UPDATE SKIP LOCKED), "                                                       \
  "candidates AS ("                                                                                               \
  "SELECT t.group_id, t.turn, x.seq FROM turns t CROSS JOIN LATERAL ("                                            \
  "SELECT m.seq FROM messages m WHERE t.group_id <> '' AND m.queue_id = $2::bigint "                              \
  "AND m.group_id = t.group_id AND m.group_id <> '' AND m.visible_at_ms <= (SELECT now FROM clock) "              \
  "AND m.sent_ms > (SELECT now FROM clock) - $3::bigint ORDER BY m.visible_at_ms, m.seq LIMIT $4::int) x "        \
  "UNION ALL "                                                                                                    \
  "SELECT t.group_id, t.turn, x.seq FROM turns t CROSS JOIN LATERAL ("                                            \
  "SELECT m.seq FROM messages m WHERE t.group_id = '' AND m.queue_id = $2::bigint "                               \
  "AND m.group_id = '' AND m.visible_at_ms <= (SELECT now FROM clock) "                                           \
  "AND m.sent_ms > (SELECT now FROM clock) - $3::bigint "                                                         \
  "ORDER BY m.visible_at_ms, m.seq LIMIT $4::int) x), "                                                           \
  "chosen AS (SELECT group_id, turn, seq, row_number() OVER (PARTITION BY group_id ORDER BY seq) AS round "       \
  "FROM candidates ORDER BY round, turn LIMIT $4::int), "                                                         \
  "held AS (SELECT " columns                                                                                      \
  " FROM messages m WHERE m.queue_id = $2::bigint "                                                               \
  "AND m.seq = ANY (ARRAY(SELECT seq FROM chosen)) AND m.visible_at_ms <= (SELECT now FROM clock) "               \
  "FOR UPDATE OF m SKIP LOCKED), "                                                                                \
  "fill AS (SELECT " columns                                                                                      \
  " FROM messages m WHERE m.queue_id = $2::bigint "                                                               \
  "AND m.visible_at_ms <= (SELECT now FROM clock) AND m.sent_ms > (SELECT now FROM clock) - $3::bigint "          \
  "AND m.seq NOT IN (SELECT seq FROM chosen) ORDER BY m.visible_at_ms, m.seq "                                    \
  "LIMIT greatest($4::int - (SELECT count(*) FROM held), 0) FOR UPDATE OF m SKIP LOCKED), "                       \
  "picks AS (SELECT * FROM held UNION ALL SELECT * FROM fill), "                                                  \
  "base AS (SELECT nextval('turn_seq') * 64 AS turn), "                                                           \
  "requeued AS (UPDATE groups g SET turn = base.turn + o.pos FROM base, "                                         \
  "(SELECT group_id, row_number() OVER (ORDER BY max(round), min(turn)) AS pos FROM chosen GROUP BY group_id) o " \
  "WHERE g.queue_id = $2::bigint AND g.group_id = o.group_id) "

// WHARF_FAIR_PICKS, $6 visibility timeout: the picks taken in the same
// statement. Every row the UPDATE touches is already locked by this
// statement, taken with SKIP LOCKED, so concurrent receives never wait on
// each other (no deadlocks).
const NamedSql kReceiveFair = {"receive_fair", WHARF_FAIR_PICKS("m.seq") ", vt AS (SELECT $6::bigint AS ms), "
                                               "taken AS (UPDATE messages m SET " WHARF_TAKE_SET
                                               "FROM clock c, vt WHERE m.queue_id = $2::bigint "
                                               "AND m.seq = ANY (ARRAY(SELECT seq FROM picks)) "
                                               "AND m.visible_at_ms <= c.now " WHARF_TAKE_RETURNING
                                               ") "
                                               "SELECT c.now, t.* FROM taken t, clock c ORDER BY t.seq"};

// In a transaction (fair queues with a RedrivePolicy): WHARF_FAIR_PICKS,
// answered with the columns of kPickForRedrive, locked until COMMIT.
const NamedSql kPickFairForRedrive = {
    "pick_fair_for_redrive",
    WHARF_FAIR_PICKS("m.seq, m.receive_count, m.sent_ms, m.message_id, m.system_attributes")
    "SELECT (SELECT now FROM clock), p.seq, p.receive_count, p.sent_ms, p.message_id, p.system_attributes "
    "FROM picks p ORDER BY p.seq"};

#undef WHARF_FAIR_PICKS

// In a transaction (section 6.4, full path). $1 clock override, $2 queue
// id, $3 retention, $4 max messages: the picked messages, locked, with what
// the redrive decision needs.
const NamedSql kPickForRedrive = {
    "pick_for_redrive",
    "WITH clock AS (SELECT now_ms($1::bigint) AS now) "
    "SELECT (SELECT now FROM clock), m.seq, m.receive_count, m.sent_ms, m.message_id, m.system_attributes "
    "FROM messages m WHERE m.queue_id = $2::bigint AND m.visible_at_ms <= (SELECT now FROM clock) "
    "AND m.sent_ms > (SELECT now FROM clock) - $3::bigint "
    "ORDER BY m.visible_at_ms, m.seq LIMIT $4::int FOR UPDATE OF m SKIP LOCKED"};

// $1 account, $2 region, $3 name: the live dead-letter queue's id and
// type, its row share-locked so that it is not deleted before COMMIT.
const NamedSql kFindDeadLetterQueue = {"find_dead_letter_queue",
                                       "SELECT id, fifo FROM queues WHERE account_id = $1 AND region = $2 "
                                       "AND name = $3 AND deleted_ms IS NULL FOR KEY SHARE"};

// $1 queue id, $2 now, $3 visibility timeout, $4 seqs (bigint[]): takes
// the picked messages, answering kReceivedColumns in seq order.
const NamedSql kTakePicked = {
    kPlannedEachTime /* take_picked */,
    "WITH c AS (SELECT $2::bigint AS now), vt AS (SELECT $3::bigint AS ms), "
    "taken AS (UPDATE messages m SET " WHARF_TAKE_SET
    "FROM c, vt WHERE m.queue_id = $1::bigint AND m.seq = ANY($4::bigint[]) " WHARF_TAKE_RETURNING
    ") "
    "SELECT c.now, t.* FROM taken t, c ORDER BY t.seq"};

// $1 source queue id, $2 dead-letter queue id, $3 now, $4 seqs, $5 their
// enqueue times there, $6 their system attributes there (section 6.7): each
// message leaves the source and joins the dead-letter queue as a new row
// (new seq, visible now, same id, body and receive count).
const NamedSql kMoveToDeadLetterQueue = {
    kPlannedEachTime /* move_to_dead_letter_queue */,
    "WITH moved AS (DELETE FROM messages WHERE queue_id = $1::bigint AND seq = ANY($4::bigint[]) RETURNING *) "
    "INSERT INTO messages (queue_id, seq, message_id, group_id, flight, visible_at_ms, sent_ms, first_receive_ms, "
    "receive_count, body, body_md5, message_attributes, system_attributes) "
    "SELECT $2::bigint, nextval('message_seq'), m.message_id, m.group_id, false, $3::bigint, u.sent_ms, "
    "m.first_receive_ms, m.receive_count, m.body, m.body_md5, m.message_attributes, u.sys "
    "FROM (SELECT * FROM moved ORDER BY seq) m "
    "JOIN unnest($4::bigint[], $5::bigint[], $6::text[]) AS u (seq, sent_ms, sys) ON u.seq = m.seq "
    // The join may reorder rows; sorted here, nextval() runs after the sort,
    // so a FIFO group's messages keep their order in the dead-letter queue.
    "ORDER BY m.seq"};

// $1 source queue id, $2 account, $3 region, $4 dead-letter queue name,
// $5 source name, $6 now, $7 seqs, $8 their enqueue times there, $9 their
// system attributes there (section 12b): each message leaves the source
// for the outbox, in seq order, to be copied to its dead-letter queue on
// another group by the forwarder.
const NamedSql kParkForDeadLetterQueue = {
    kPlannedEachTime /* park_for_dead_letter_queue */,
    "WITH moved AS (DELETE FROM messages WHERE queue_id = $1::bigint AND seq = ANY($7::bigint[]) RETURNING *) "
    "INSERT INTO outbox (account_id, region, destination, source_name, message_id, group_id, sent_ms, "
    "first_receive_ms, receive_count, body, body_md5, message_attributes, system_attributes, parked_ms) "
    "SELECT $2, $3, $4, $5, m.message_id, m.group_id, u.sent_ms, m.first_receive_ms, m.receive_count, m.body, "
    "m.body_md5, m.message_attributes, u.sys, $6::bigint FROM (SELECT * FROM moved ORDER BY seq) m "
    "JOIN unnest($7::bigint[], $8::bigint[], $9::text[]) AS u (seq, sent_ms, sys) ON u.seq = m.seq ORDER BY m.seq"};

const NamedSql kNow = {"now", "SELECT now_ms($1::bigint)"};

// $1 queue id, $2 seqs (bigint[]): answers the seq of each message deleted.
// Standard queues delete whatever handle names the message (judge_delete
// never answers Expired there).
const NamedSql kDeleteStandard = {
    kPlannedEachTime /* delete_standard */,
    "DELETE FROM messages WHERE queue_id = $1::bigint AND seq = ANY($2::bigint[]) RETURNING seq"};

// $1 clock override, $2 queue id, $3 seqs, $4 their new visibility
// timeouts: answers (seq, now) of each message that exists.
const NamedSql kChangeVisibility = {kPlannedEachTime /* change_visibility */,
                                    "WITH clock AS (SELECT now_ms($1::bigint) AS now) "
                                    "UPDATE messages m SET visible_at_ms = c.now + u.timeout_ms, flight = true "
                                    "FROM clock c, unnest($3::bigint[], $4::bigint[]) AS u (seq, timeout_ms) "
                                    "WHERE m.queue_id = $2::bigint AND m.seq = ANY ($3::bigint[]) AND m.seq = u.seq "
                                    "RETURNING m.seq, c.now"};

// $1 clock override, $2 queue id, $3 retention, $4 how many: the first
// unexpired messages by seq, whatever their state.
const NamedSql kPeek = {
    "peek",
    "SELECT c.now, m.seq, m.message_id, m.group_id, m.flight, m.visible_at_ms, m.sent_ms, m.first_receive_ms, "
    "m.receive_count, m.body, m.message_attributes, m.system_attributes "
    "FROM messages m, (SELECT now_ms($1::bigint) AS now) c "
    "WHERE m.queue_id = $2::bigint AND m.sent_ms > c.now - $3::bigint ORDER BY m.seq LIMIT $4::bigint"};

// $1 queue id, $2 seq, $3 message id (text: any text compares, none fails
// to parse).
const NamedSql kDeletePeeked = {
    "delete_peeked",
    "DELETE FROM messages WHERE queue_id = $1::bigint AND seq = $2::bigint AND message_id::text = $3 "
    "RETURNING group_id"};

// $1 clock override, $2 queue id, $3 attempt id: now and the unexpired
// record's seqs, receive counts and deadlines, the row locked (a
// concurrent retry waits for this one).
const NamedSql kAttemptLookup = {"attempt_lookup",
                                 "SELECT c.now, a.seqs, a.receive_counts, a.deadlines "
                                 "FROM (SELECT now_ms($1::bigint) AS now) c LEFT JOIN LATERAL ("
                                 "SELECT seqs, receive_counts, deadlines FROM receive_attempts "
                                 "WHERE queue_id = $2::bigint AND attempt_id = $3 AND expires_ms > c.now "
                                 "FOR UPDATE) a ON true"};

// $1 queue id, $2 seqs, $3 receive counts, $4 deadlines, $5 now (after
// kFifoLockHandled): each message still there, with the recorded receive
// count and deadline, in flight. Columns: seq, group. A retry happens only
// when every message comes back (RocksEngine::retry_attempt's test).
const NamedSql kAttemptCheck = {
    "attempt_check",
    "SELECT m.seq, m.group_id FROM messages m JOIN unnest($2::bigint[], $3::int[], $4::bigint[]) AS u (seq, cnt, dl) "
    "ON m.seq = u.seq WHERE m.queue_id = $1::bigint AND m.receive_count = u.cnt AND m.flight "
    "AND m.visible_at_ms = u.dl AND m.visible_at_ms > $5::bigint"};

// $1 queue id, $2 now, $3 visibility timeout, $4 seqs, $5 attempt id: the
// messages' deadlines reset (and the record's), answering kReceivedColumns.
const NamedSql kAttemptRetry = {
    "attempt_retry",
    "WITH c AS (SELECT $2::bigint AS now), "
    "touched AS (UPDATE receive_attempts SET deadlines = array_fill($2::bigint + $3::bigint, "
    "ARRAY[cardinality(seqs)]) WHERE queue_id = $1::bigint AND attempt_id = $5), "
    "retried AS (UPDATE messages m SET visible_at_ms = c.now + $3::bigint FROM c "
    "WHERE m.queue_id = $1::bigint AND m.seq = ANY ($4::bigint[]) " WHARF_TAKE_RETURNING
    ") "
    "SELECT c.now, t.* FROM retried t, c"};

// $1 queue id, $2 attempt id, $3 expiry, $4 seqs, $5 receive counts, $6
// deadlines: the record of a fresh receive (replacing an expired one).
const NamedSql kAttemptRecord = {
    "attempt_record",
    "INSERT INTO receive_attempts (queue_id, attempt_id, expires_ms, seqs, receive_counts, deadlines) "
    "VALUES ($1::bigint, $2, $3::bigint, $4::bigint[], $5::int[], $6::bigint[]) "
    "ON CONFLICT (queue_id, attempt_id) DO UPDATE SET expires_ms = excluded.expires_ms, seqs = excluded.seqs, "
    "receive_counts = excluded.receive_counts, deadlines = excluded.deadlines"};

// The live queues of $2 account, $3 region, with their retention in ms.
#define WHARF_LIVE_QUEUES                                                                                      \
  "live AS (SELECT id, name, fifo, (attributes::json->>'MessageRetentionPeriod')::bigint * 1000 AS retention " \
  "FROM queues WHERE account_id = $2 AND region = $3 AND deleted_ms IS NULL) "

// $1 clock override, $2 account, $3 region. Looks at the first 100
// messages (by seq) of each standard queue and deletes those past their
// retention: bounded work per call that keeps up with the front of the
// queue (FIFO queues wait for S7: their groups must be recomputed).
const NamedSql kSweepExpired = {
    "sweep_expired", "WITH clock AS (SELECT now_ms($1::bigint) AS now), " WHARF_LIVE_QUEUES
                     ", expired AS (SELECT l.id, x.seq FROM live l CROSS JOIN LATERAL ("
                     "SELECT f.seq, f.sent_ms FROM messages f WHERE f.queue_id = l.id ORDER BY f.seq LIMIT 100) x "
                     "WHERE NOT l.fifo AND x.sent_ms <= (SELECT now FROM clock) - l.retention) "
                     "DELETE FROM messages m USING expired e WHERE m.queue_id = e.id AND m.seq = e.seq"};

// $1 clock override, $2 account, $3 region, $4 since: per live queue, its
// name, whether a message became visible in (since, now], the earliest
// future visibility and the earliest retention expiry of its unexpired
// messages (NULL when none), with `now` in column 0.
const NamedSql kDueWork = {
    "due_work",
    "WITH clock AS (SELECT now_ms($1::bigint) AS now), " WHARF_LIVE_QUEUES
    "SELECT (SELECT now FROM clock), l.name, "
    "EXISTS (SELECT 1 FROM messages m WHERE m.queue_id = l.id AND m.visible_at_ms > $4::bigint "
    "AND m.visible_at_ms <= (SELECT now FROM clock)), "
    "(SELECT min(m.visible_at_ms) FROM messages m WHERE m.queue_id = l.id "
    "AND m.visible_at_ms > (SELECT now FROM clock)), "
    "(SELECT m.sent_ms FROM messages m WHERE m.queue_id = l.id AND m.sent_ms > (SELECT now FROM clock) - l.retention "
    "ORDER BY m.seq LIMIT 1) + l.retention "
    "FROM live l"};

#undef WHARF_LIVE_QUEUES
#undef WHARF_TAKE_SET
#undef WHARF_TAKE_RETURNING

Statement statement(const NamedSql& named, std::vector<PgParam> params) {
  return Statement{named.text, std::move(params), named.name};
}

int64_t int_at(const QueryResult& result, int row, int column) {
  const std::string_view text = result.text(row, column);
  int64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

std::string bigint_array(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string text_array(const std::vector<std::string_view>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

}  // namespace wharf::storage::postgresql::sql
