// The migrations. Version 1 is docs/design/postgresql.md section 3 (with
// the now_ms function of section 5); version 2 adds two indexes; version 3
// the send tokens, version 4 the placement tables, version 5 the outbox
// and transfer keys. Never
// edit an entry once released: append a new one.
#include "storage/postgresql/schema.h"

#include <cstdint>

namespace wharf::storage::postgresql {

namespace {

// Meta, the sequences, the clock and the queues. (schema_version is made
// before any migration runs: section 4.)
std::vector<std::string> queue_tables() {
  return {
      "CREATE TABLE meta (key text PRIMARY KEY, value bytea NOT NULL)",
      "CREATE SEQUENCE message_seq",
      "CREATE SEQUENCE turn_seq",
      // The database's time in ms, or the caller's clock when it passes one (tests).
      "CREATE FUNCTION now_ms(override bigint) RETURNS bigint LANGUAGE sql STABLE AS "
      "$$ SELECT coalesce(override, (extract(epoch from now()) * 1000)::bigint) $$",
      "CREATE TABLE queues ("
      " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
      " account_id text COLLATE \"C\" NOT NULL,"
      " region text COLLATE \"C\" NOT NULL,"
      " name text COLLATE \"C\" NOT NULL,"
      " fifo boolean NOT NULL,"
      " dedup_per_group boolean NOT NULL,"
      " attributes text NOT NULL,"
      " tags text NOT NULL,"
      " dead_letter_target text COLLATE \"C\","
      " has_groups boolean NOT NULL DEFAULT false,"
      " created_ms bigint NOT NULL,"
      " modified_ms bigint NOT NULL,"
      " last_purge_ms bigint NOT NULL DEFAULT -1000000,"
      " deleted_ms bigint)",
      "CREATE UNIQUE INDEX queues_live ON queues (account_id, region, name) WHERE deleted_ms IS NULL",
      "CREATE INDEX queues_deleted ON queues (account_id, region, name, deleted_ms) "
      "WHERE deleted_ms IS NOT NULL",
      "CREATE INDEX queues_dead_letter ON queues (account_id, region, dead_letter_target) "
      "WHERE deleted_ms IS NULL AND dead_letter_target IS NOT NULL",
  };
}

// Messages and what FIFO queues and move tasks keep beside them.
std::vector<std::string> message_tables() {
  return {
      "CREATE TABLE messages ("
      " queue_id bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,"
      " seq bigint NOT NULL,"
      " message_id uuid NOT NULL,"
      " group_id text COLLATE \"C\" NOT NULL DEFAULT '',"
      " flight boolean NOT NULL DEFAULT false,"
      " visible_at_ms bigint NOT NULL,"
      " sent_ms bigint NOT NULL,"
      " first_receive_ms bigint NOT NULL DEFAULT 0,"
      " receive_count int NOT NULL DEFAULT 0,"
      " body text NOT NULL,"
      " body_md5 text NOT NULL,"
      " message_attributes text NOT NULL,"
      " system_attributes text NOT NULL,"
      " PRIMARY KEY (queue_id, seq))",
      "CREATE INDEX messages_ready ON messages (queue_id, visible_at_ms, seq)",
      "CREATE INDEX messages_groups ON messages (queue_id, group_id, seq) WHERE group_id <> ''",
      "CREATE TABLE groups ("
      " queue_id bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,"
      " group_id text COLLATE \"C\" NOT NULL,"
      " ready_at_ms bigint,"
      " turn bigint NOT NULL,"
      " PRIMARY KEY (queue_id, group_id))",
      "CREATE INDEX groups_turns ON groups (queue_id, ready_at_ms, turn) WHERE ready_at_ms IS NOT NULL",
      "CREATE TABLE dedup ("
      " queue_id bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,"
      " dedup_key text NOT NULL,"
      " message_id uuid NOT NULL,"
      " seq bigint NOT NULL,"
      " expires_ms bigint NOT NULL,"
      " PRIMARY KEY (queue_id, dedup_key))",
      "CREATE INDEX dedup_expiry ON dedup USING brin (expires_ms)",
      "CREATE TABLE receive_attempts ("
      " queue_id bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,"
      " attempt_id text NOT NULL,"
      " expires_ms bigint NOT NULL,"
      " seqs bigint[] NOT NULL,"
      " receive_counts int[] NOT NULL,"
      " deadlines bigint[] NOT NULL,"
      " PRIMARY KEY (queue_id, attempt_id))",
      "CREATE INDEX attempts_expiry ON receive_attempts USING brin (expires_ms)",
      "CREATE TABLE move_tasks ("
      " id uuid PRIMARY KEY,"
      " account_id text COLLATE \"C\" NOT NULL,"
      " region text COLLATE \"C\" NOT NULL,"
      " source_name text COLLATE \"C\" NOT NULL,"
      " status text NOT NULL,"
      " source_arn text NOT NULL,"
      " destination_arn text NOT NULL,"
      " max_per_second int NOT NULL,"
      " moved bigint NOT NULL,"
      " to_move bigint NOT NULL,"
      " failure_reason text NOT NULL,"
      " started_ms bigint NOT NULL,"
      " allowance double precision NOT NULL DEFAULT 0,"
      " last_step_ms bigint NOT NULL)",
      "CREATE INDEX move_tasks_source ON move_tasks (account_id, region, source_name, started_ms)",
      "CREATE INDEX move_tasks_running ON move_tasks (status) WHERE status = 'RUNNING'",
  };
}

Migration version_1() {
  Migration m{1, "queues, messages, groups, dedup, receive attempts, move tasks, now_ms", queue_tables()};
  for (auto& sql : message_tables()) m.statements.push_back(std::move(sql));
  return m;
}

// A fair receive looks at each group's visible messages only, by
// (visible_at_ms, seq): the group's in-flight messages are past the end of
// its range instead of in the way (section 6.5). The janitor finds the
// rows of FIFO groups left empty without reading the others (section 8).
Migration version_2() {
  return {2,
          "messages_group_ready (fair receives), groups_empty (janitor)",
          {
              "CREATE INDEX messages_group_ready ON messages (queue_id, group_id, visible_at_ms, seq) "
              "WHERE group_id <> ''",
              "CREATE INDEX groups_empty ON groups (queue_id, group_id) WHERE ready_at_ms IS NULL",
          }};
}

// A standard send's token (docs/design/postgresql.md section 6.2.1): a
// send inserts it in its own transaction, so that when the connection is
// lost after COMMIT was sent, a fence on the current primary learns
// whether it committed (the row is there, `fenced` false) or makes sure it
// never will (the fence's own row, `fenced` true). Tokens start with their
// time in ms (big-endian), so the janitor prunes old ones along the
// primary key.
Migration version_3() {
  return {3,
          "send_tokens (standard sends whose commit was in doubt)",
          {
              "CREATE TABLE send_tokens (token uuid PRIMARY KEY, fenced boolean NOT NULL DEFAULT false)",
          }};
}

// Several groups (docs/design/postgresql.md, "Several groups"): every
// database gets a random id of its own, and the tables the catalog group
// (the first one listed) keeps: where each queue is placed, and which groups
// it places queues on. Made in every group; only the catalog's are used.
Migration version_4() {
  return {4,
          "group_id in meta, queue_placements and placement_groups (several database groups)",
          {
              "INSERT INTO meta (key, value) VALUES ('group_id', convert_to(gen_random_uuid()::text, 'UTF8'))"
              " ON CONFLICT (key) DO NOTHING",
              "CREATE TABLE IF NOT EXISTS queue_placements ("
              " account_id text COLLATE \"C\" NOT NULL,"
              " region text COLLATE \"C\" NOT NULL,"
              " name text COLLATE \"C\" NOT NULL,"
              " group_id text NOT NULL,"
              " created_ms bigint NOT NULL,"
              " PRIMARY KEY (account_id, region, name))",
              "CREATE TABLE IF NOT EXISTS placement_groups (group_id text PRIMARY KEY, added_ms bigint NOT NULL)",
          }};
}

// Cross-group redrive and move tasks (docs/design/postgresql.md 12b): the
// messages a receive dead-lettered towards a queue on another group, parked
// in the receive's transaction until the forwarder copies them there
// (`id` gives the order they were parked), and on the receiving side the
// keys of the copies made (queue, the message id the copy is keyed by), so
// that a copy made again after a crash is skipped. The janitor prunes the
// keys after a day.
Migration version_5() {
  return {5,
          "outbox and transfer_keys (cross-group redrive and move tasks)",
          {
              "CREATE TABLE outbox ("
              " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
              " account_id text COLLATE \"C\" NOT NULL,"
              " region text COLLATE \"C\" NOT NULL,"
              " destination text COLLATE \"C\" NOT NULL,"
              " source_name text COLLATE \"C\" NOT NULL,"
              " message_id uuid NOT NULL,"
              " group_id text COLLATE \"C\" NOT NULL,"
              " sent_ms bigint NOT NULL,"
              " first_receive_ms bigint NOT NULL,"
              " receive_count int NOT NULL,"
              " body text NOT NULL,"
              " body_md5 text NOT NULL,"
              " message_attributes text NOT NULL,"
              " system_attributes text NOT NULL,"
              " parked_ms bigint NOT NULL)",
              "CREATE INDEX outbox_scope ON outbox (account_id, region, id)",
              "CREATE TABLE transfer_keys ("
              " queue_id bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,"
              " message_id uuid NOT NULL,"
              " expires_ms bigint NOT NULL,"
              " PRIMARY KEY (queue_id, message_id))",
              "CREATE INDEX transfer_keys_expiry ON transfer_keys USING brin (expires_ms)",
          }};
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = {version_1(), version_2(), version_3(), version_4(), version_5()};
  return all;
}

int newest_schema_version() { return migrations().back().version; }

long long migration_lock_key(const std::string& schema) {
  // FNV-1a, 64 bits: stable across builds and platforms (std::hash is not).
  uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : "wharf-migrate/" + schema) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return static_cast<long long>(hash);
}

}  // namespace wharf::storage::postgresql
