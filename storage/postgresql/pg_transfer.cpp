// transfer_in (pg_transfer.h): the copy half of a cross-group transfer.
#include "storage/postgresql/pg_transfer.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string_view>

#include "storage/postgresql/pg_statements.h"
#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {
namespace {

// $1 account, $2 region, $3 names: the live destinations (id, name, fifo,
// retention in ms), kept from deletion until COMMIT.
const sql::NamedSql kTransferDestinations = {
    "transfer_destinations",
    "SELECT id, name, fifo, (attributes::json->>'MessageRetentionPeriod')::bigint * 1000 FROM queues "
    "WHERE account_id = $1 AND region = $2 AND name = ANY($3::text[]) AND deleted_ms IS NULL FOR KEY SHARE"};

// $1 now, $2 key expiry, then per message: $3 queue id, $4 key, $5 id, $6
// group, $7 sent, $8 first receive, $9 receive count, $10 body, $11 md5,
// $12 attributes, $13 system attributes. Only messages whose key is new
// are inserted, in the given order (nextval runs after the sort, so a FIFO
// group keeps its order).
const sql::NamedSql kTransferInsert = {
    "transfer_insert",
    "WITH keys AS (INSERT INTO transfer_keys (queue_id, message_id, expires_ms) "
    "SELECT k.q, k.key, $2::bigint FROM unnest($3::bigint[], $4::uuid[]) AS k (q, key) "
    "ON CONFLICT DO NOTHING RETURNING queue_id, message_id) "
    "INSERT INTO messages (queue_id, seq, message_id, group_id, flight, visible_at_ms, sent_ms, first_receive_ms, "
    "receive_count, body, body_md5, message_attributes, system_attributes) "
    "SELECT u.q, nextval('message_seq'), u.mid, u.grp, false, $1::bigint, u.sent, u.first, u.count, u.body, u.md5, "
    "u.attrs, u.sys FROM unnest($3::bigint[], $4::uuid[], $5::uuid[], $6::text[], $7::bigint[], $8::bigint[], "
    "$9::int[], $10::text[], $11::text[], $12::text[], $13::text[]) WITH ORDINALITY "
    "AS u (q, key, mid, grp, sent, first, count, body, md5, attrs, sys, ord) "
    "JOIN keys ON keys.queue_id = u.q AND keys.message_id = u.key ORDER BY u.ord RETURNING queue_id"};

struct Destination {
  int64_t id = 0;
  bool fifo = false;
  int64_t retention_ms = 0;
};

struct Transfer {
  PgParam now_param;
  std::string account_id, region;
  std::vector<TransferMessage> messages;
  std::vector<Statement> also;
  TransferOutcome out;

  void restart() { out = TransferOutcome{}; }
};

std::vector<std::string_view> views(const std::vector<std::string>& values) {
  return std::vector<std::string_view>(values.begin(), values.end());
}

// The distinct groups of the messages to `id`, in their order.
std::vector<std::string_view> groups_to(const std::vector<const TransferMessage*>& kept,
                                        const std::vector<int64_t>& queue_ids, int64_t id) {
  std::vector<std::string_view> groups;
  for (size_t i = 0; i < kept.size(); ++i) {
    const std::string& g = kept[i]->group_id;
    if (queue_ids[i] == id && !g.empty() && std::find(groups.begin(), groups.end(), g) == groups.end()) {
      groups.push_back(g);
    }
  }
  return groups;
}

void copy(const std::shared_ptr<Transfer>& t, const std::shared_ptr<Tx>& tx,
          const std::map<std::string, Destination>& found) {
  std::vector<const TransferMessage*> kept;
  std::vector<int64_t> queue_ids, sent, first, counts;
  std::vector<std::string> keys, ids, groups, bodies, md5s, attrs, systems;
  for (const auto& m : t->messages) {
    auto d = found.find(m.destination);
    if (d == found.end()) {
      if (std::find(t->out.missing.begin(), t->out.missing.end(), m.destination) == t->out.missing.end())
        t->out.missing.push_back(m.destination);
      continue;
    }
    kept.push_back(&m);
    queue_ids.push_back(d->second.id);
    keys.push_back(m.key);
    ids.push_back(m.message_id);
    groups.push_back(m.group_id);
    sent.push_back(m.sent_ms);
    first.push_back(m.first_receive_ms);
    counts.push_back(m.receive_count);
    bodies.push_back(m.body);
    md5s.push_back(m.body_md5);
    attrs.push_back(m.message_attributes);
    systems.push_back(m.system_attributes);
    if (std::find(t->out.delivered.begin(), t->out.delivered.end(), m.destination) == t->out.delivered.end())
      t->out.delivered.push_back(m.destination);
  }
  std::vector<Statement> before, after;
  const std::string now = std::to_string(t->out.now);
  for (const auto& name : t->out.delivered) {
    const Destination& d = found.at(name);
    std::vector<std::string_view> in_order = groups_to(kept, queue_ids, d.id);
    if (in_order.empty()) continue;
    if (d.fifo) {
      std::vector<std::string_view> sorted = in_order;
      std::sort(sorted.begin(), sorted.end());
      before.push_back(sql::statement(sql::kFifoLockGroups, {std::to_string(d.id), sql::text_array(sorted)}));
      after.push_back(sql::statement(sql::kFifoSettleGroups, {now, std::to_string(d.id), std::to_string(d.retention_ms),
                                                              sql::text_array(in_order), "{}", "{}"}));
    } else {
      after.push_back(sql::statement(sql::kSendGroups, {std::to_string(d.id), sql::text_array(in_order)}));
    }
  }
  std::vector<Statement> last = std::move(before);
  if (!kept.empty()) {
    last.push_back(sql::statement(
        kTransferInsert,
        {now, std::to_string(t->out.now + kTransferKeyMs), sql::bigint_array(queue_ids), sql::text_array(views(keys)),
         sql::text_array(views(ids)), sql::text_array(views(groups)), sql::bigint_array(sent), sql::bigint_array(first),
         sql::bigint_array(counts), sql::text_array(views(bodies)), sql::text_array(views(md5s)),
         sql::text_array(views(attrs)), sql::text_array(views(systems))}));
  }
  for (auto& s : after) last.push_back(std::move(s));
  for (const auto& s : t->also) last.push_back(s);
  if (last.empty()) return tx->commit();
  tx->commit_with(std::move(last), [](std::vector<QueryResult>&) {});
}

}  // namespace

void transfer_in(Pool& pool, PgParam now, std::string account_id, std::string region,
                 std::vector<TransferMessage> messages, std::vector<Statement> also,
                 std::function<void(Result<TransferOutcome>)> done) {
  auto t = std::make_shared<Transfer>();
  t->now_param = std::move(now);
  t->account_id = std::move(account_id);
  t->region = std::move(region);
  t->messages = std::move(messages);
  t->also = std::move(also);
  auto body = [t](std::shared_ptr<Tx> tx) {
    t->restart();
    std::vector<std::string> names;
    for (const auto& m : t->messages) {
      if (std::find(names.begin(), names.end(), m.destination) == names.end()) names.push_back(m.destination);
    }
    std::vector<Statement> reads;
    reads.push_back(sql::statement(sql::kNow, {t->now_param}));
    reads.push_back(sql::statement(kTransferDestinations, {t->account_id, t->region, sql::text_array(views(names))}));
    tx->step(std::move(reads), [t, tx](std::vector<QueryResult>& r) {
      t->out.now = sql::int_at(r[0], 0, 0);
      const QueryResult& rows = r[1];
      std::map<std::string, Destination> found;
      for (int row = 0; row < rows.rows(); ++row) {
        found.emplace(std::string(rows.text(row, 1)),
                      Destination{sql::int_at(rows, row, 0), rows.text(row, 2) == "t", sql::int_at(rows, row, 3)});
      }
      copy(t, tx, found);
    });
  };
  run_transaction(pool, std::move(body), [t, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    done(std::move(t->out));
  });
}

}  // namespace wharf::storage::postgresql
