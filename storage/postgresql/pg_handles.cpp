// PgEngine's operations by receipt handle on standard queues (delete,
// change visibility: docs/design/postgresql.md section 6.9) and the
// console's peek and delete by position (6.10). Handles decode in C++
// (storage/receipt_handle.h); one that does not decode, or names another
// queue, never reaches the database. FIFO deletes and visibility changes
// lock and settle their groups.
#include <algorithm>
#include <charconv>

#include "storage/message_rules.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_statements.h"
#include "storage/receipt_handle.h"
#include "storage/system_attributes.h"

namespace wharf::storage::postgresql {
namespace {

using Statuses = std::vector<Status>;

// The message a handle names, when it decodes and names `queue`.
std::optional<ReceiptHandle> handle_of(const std::string& text, const PgQueue& queue, std::string_view secret) {
  auto handle = decode_receipt_handle(text, secret);
  if (!handle || handle->queue_id != static_cast<uint64_t>(queue.id)) return std::nullopt;
  return handle;
}

// Standard queues: judge_delete answers Delete for a message that exists
// and AlreadyDeleted for one that does not, never Expired (a unit test pins
// it: tests/unit/pg_message_tests.cpp), and both succeed. So the batch is
// one DELETE by seq, and each handle is judged by whether its message was
// among the rows deleted.
struct Named {
  size_t result;  // where its answer goes
  int64_t seq;
};

void judge_deletes(const std::vector<std::string>& handles, const std::vector<Named>& named, const QueryResult& deleted,
                   Statuses& results) {
  std::vector<int64_t> gone;
  gone.reserve(deleted.rows());
  for (int row = 0; row < deleted.rows(); ++row) gone.push_back(sql::int_at(deleted, row, 0));
  for (const Named& n : named) {
    HandledMessage message;
    message.exists = std::find(gone.begin(), gone.end(), n.seq) != gone.end();
    if (judge_delete(false, message) == DeleteVerdict::Expired)
      results[n.result] = receipt_handle_expired(handles[n.result]);
  }
}

void delete_standard(PgEngine& engine, const PgQueue& queue, std::vector<std::string> handles,
                     Done<Result<Statuses>> done) {
  Statuses results(handles.size(), Status(Ok{}));
  std::vector<Named> named;
  std::vector<int64_t> seqs;
  for (size_t i = 0; i < handles.size(); ++i) {
    auto handle = handle_of(handles[i], queue, engine.receipt_secret());
    if (!handle) {
      results[i] = invalid_receipt_handle(handles[i]);
      continue;
    }
    named.push_back(Named{i, static_cast<int64_t>(handle->seq)});
    seqs.push_back(static_cast<int64_t>(handle->seq));
  }
  if (seqs.empty()) return done(std::move(results));
  std::vector<Statement> statements;
  statements.push_back(sql::statement(sql::kDeleteStandard, {std::to_string(queue.id), sql::bigint_array(seqs)}));
  run_statements(
      engine.pool(), std::move(statements),
      [&engine, queue_id = queue.id, handles = std::move(handles), named = std::move(named),
       results = std::move(results), done = std::move(done)](Result<std::vector<QueryResult>> answered) mutable {
        if (!answered) return done(answered.error());
        const QueryResult& deleted = answered->front();
        judge_deletes(handles, named, deleted, results);
        if (deleted.rows() > 0) {
          QueueActivity activity;
          activity.deleted = static_cast<uint64_t>(deleted.rows());
          engine.count_activity(queue_id, activity);
        }
        done(std::move(results));
      });
}

// A visibility change of a standard queue: the verdict depends only on
// whether the message exists (judge_visibility_change; pinned by the same
// unit test), which the UPDATE itself finds out: one statement. A message
// named twice takes the later timeout, as on RocksDB.
struct Change {
  size_t result;  // where its answer goes
  ReceiptHandle handle;
};

void answer_changes(PgEngine& engine, const std::string& queue_name, const std::vector<VisibilityChange>& changes,
                    const std::vector<Change>& valid, const QueryResult& updated, Statuses& results) {
  int64_t now = 0;
  std::vector<int64_t> existing;
  existing.reserve(updated.rows());
  for (int row = 0; row < updated.rows(); ++row) {
    existing.push_back(sql::int_at(updated, row, 0));
    now = sql::int_at(updated, row, 1);
  }
  bool visible_now = false;
  for (const Change& c : valid) {
    HandledMessage message;
    message.exists = std::find(existing.begin(), existing.end(), static_cast<int64_t>(c.handle.seq)) != existing.end();
    const std::string& text = changes[c.result].receipt_handle;
    switch (judge_visibility_change(false, message)) {
      case VisibilityVerdict::Apply: {
        const int64_t deadline = now + int64_t(changes[c.result].visibility_timeout) * 1000;
        if (deadline <= now) {
          visible_now = true;
        } else {
          engine.notify_deadline(deadline);
        }
        break;
      }
      case VisibilityVerdict::MessageUnavailable:
        results[c.result] = message_unavailable(text);
        break;
      case VisibilityVerdict::NotInFlight:
        results[c.result] = message_not_in_flight();
        break;
    }
  }
  if (visible_now) engine.notify_available(queue_name);
}

void change_standard(PgEngine& engine, const PgQueue& queue, std::vector<VisibilityChange> changes,
                     Done<Result<Statuses>> done) {
  Statuses results(changes.size(), Status(Ok{}));
  std::vector<Change> valid;
  std::vector<int64_t> seqs, timeouts_ms;
  for (size_t i = 0; i < changes.size(); ++i) {
    auto handle = handle_of(changes[i].receipt_handle, queue, engine.receipt_secret());
    if (!handle) {
      results[i] = invalid_receipt_handle(changes[i].receipt_handle);
      continue;
    }
    valid.push_back(Change{i, *handle});
    const int64_t timeout_ms = int64_t(changes[i].visibility_timeout) * 1000;
    auto same = std::find(seqs.begin(), seqs.end(), static_cast<int64_t>(handle->seq));
    if (same != seqs.end()) {
      timeouts_ms[same - seqs.begin()] = timeout_ms;
    } else {
      seqs.push_back(static_cast<int64_t>(handle->seq));
      timeouts_ms.push_back(timeout_ms);
    }
  }
  if (valid.empty()) return done(std::move(results));
  std::vector<Statement> statements;
  statements.push_back(sql::statement(
      sql::kChangeVisibility,
      {engine.now_param(), std::to_string(queue.id), sql::bigint_array(seqs), sql::bigint_array(timeouts_ms)}));
  run_statements(
      engine.pool(), std::move(statements),
      [&engine, name = queue.name, changes = std::move(changes), valid = std::move(valid), results = std::move(results),
       done = std::move(done)](Result<std::vector<QueryResult>> answered) mutable {
        if (!answered) return done(answered.error());
        answer_changes(engine, name, changes, valid, answered->front(), results);
        done(std::move(results));
      });
}

// --- FIFO (section 6.9) ---------------------------------------------------
// A transaction of two round trips: the named messages' groups locked
// (sorted) and the messages read; each handle judged by the FIFO rules
// (storage/receipt_handle.h); the deletes or changes applied and the
// groups whose first message changed settled.

struct FifoHandled {
  int64_t queue_id = 0;
  std::string queue_name;
  int64_t retention_ms = 0;
  PgParam now_param;
  bool deleting = true;
  std::vector<std::string> texts;    // the handles as given
  std::vector<Change> valid;         // those that decode, for this queue
  std::vector<int64_t> timeouts_ms;  // visibility changes: per entry of `valid`
  Statuses decoded;                  // the answers of handles that did not decode
  // Decided by each run of the transaction:
  Statuses results;
  int64_t now = 0;
  std::vector<int64_t> seqs, applied_timeouts;  // deleted or changed
  std::vector<std::string> groups;              // each one's group

  void restart() {
    results = decoded;
    now = 0;
    seqs.clear();
    applied_timeouts.clear();
    groups.clear();
  }
};

// What the handle rules need of a message (kFifoHandled's row), when it exists.
struct FifoMessage {
  std::string_view group;
  uint32_t receive_count = 0;
  bool in_flight = false;
};

std::optional<FifoMessage> fifo_message(const QueryResult& rows, int64_t seq) {
  for (int row = 0; row < rows.rows(); ++row) {
    if (sql::int_at(rows, row, 1) != seq) continue;
    return FifoMessage{rows.text(row, 2), static_cast<uint32_t>(sql::int_at(rows, row, 3)), rows.text(row, 4) == "t"};
  }
  return std::nullopt;
}

void judge_fifo(FifoHandled& h, const QueryResult& rows) {
  if (rows.rows() > 0) h.now = sql::int_at(rows, 0, 0);
  for (size_t i = 0; i < h.valid.size(); ++i) {
    const Change& c = h.valid[i];
    const auto seq = static_cast<int64_t>(c.handle.seq);
    const auto found = fifo_message(rows, seq);
    const auto done = std::find(h.seqs.begin(), h.seqs.end(), seq);
    HandledMessage message;
    message.exists = found && !(h.deleting && done != h.seqs.end());
    if (message.exists) {
      message.received_since = found->receive_count != c.handle.receive_count;
      message.in_flight = found->in_flight;
    }
    const std::string& text = h.texts[c.result];
    if (h.deleting) {
      const DeleteVerdict verdict = judge_delete(true, message);
      if (verdict == DeleteVerdict::Expired) h.results[c.result] = receipt_handle_expired(text);
      if (verdict != DeleteVerdict::Delete) continue;
    } else {
      const VisibilityVerdict verdict = judge_visibility_change(true, message);
      if (verdict == VisibilityVerdict::MessageUnavailable) h.results[c.result] = message_unavailable(text);
      if (verdict == VisibilityVerdict::NotInFlight) h.results[c.result] = message_not_in_flight();
      if (verdict != VisibilityVerdict::Apply) continue;
      if (done != h.seqs.end()) {  // named twice: the later timeout
        h.applied_timeouts[done - h.seqs.begin()] = h.timeouts_ms[i];
        continue;
      }
      h.applied_timeouts.push_back(h.timeouts_ms[i]);
    }
    h.seqs.push_back(seq);
    h.groups.emplace_back(found->group);
  }
}

// The second round trip: apply, settle the groups, COMMIT.
void apply_fifo(const std::shared_ptr<FifoHandled>& h, const std::shared_ptr<Tx>& tx) {
  if (h->seqs.empty()) return tx->commit();
  const std::string queue_id = std::to_string(h->queue_id);
  std::vector<Statement> statements;
  if (h->deleting) {
    statements.push_back(sql::statement(sql::kDeleteFifo, {queue_id, sql::bigint_array(h->seqs)}));
  } else {
    statements.push_back(sql::statement(
        sql::kChangeVisibility,
        {std::to_string(h->now), queue_id, sql::bigint_array(h->seqs), sql::bigint_array(h->applied_timeouts)}));
  }
  std::vector<std::string_view> touched(h->groups.begin(), h->groups.end());
  std::vector<std::string_view> groups;
  for (std::string_view g : touched) {
    if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
  }
  statements.push_back(sql::statement(sql::kFifoSettleGroups,
                                      {std::to_string(h->now), queue_id, std::to_string(h->retention_ms),
                                       sql::text_array(groups), sql::bigint_array(h->seqs), sql::text_array(touched)}));
  tx->commit_with(std::move(statements), [](std::vector<QueryResult>&) {});
}

// After COMMIT: the listener hears of new deadlines, or that messages (or
// groups a delete unblocked) are visible.
void settle_fifo_handled(PgEngine& engine, const FifoHandled& h) {
  if (h.seqs.empty()) return;
  if (h.deleting) {
    QueueActivity deleted;
    deleted.deleted = h.seqs.size();
    engine.count_activity(h.queue_id, deleted);
    engine.notify_available(h.queue_name);
    return;
  }
  bool visible_now = false;
  for (int64_t timeout : h.applied_timeouts) {
    if (timeout <= 0) {
      visible_now = true;
    } else {
      engine.notify_deadline(h.now + timeout);
    }
  }
  if (visible_now) engine.notify_available(h.queue_name);
}

void handle_fifo(PgEngine& engine, std::shared_ptr<FifoHandled> h, Done<Result<Statuses>> done) {
  if (h->valid.empty()) return done(std::move(h->decoded));
  std::vector<int64_t> named;
  for (const Change& c : h->valid) named.push_back(static_cast<int64_t>(c.handle.seq));
  auto body = [h, named = sql::bigint_array(named)](std::shared_ptr<Tx> tx) {
    h->restart();
    const std::string queue_id = std::to_string(h->queue_id);
    std::vector<Statement> first;
    first.push_back(sql::statement(sql::kFifoLockHandled, {queue_id, named}));
    first.push_back(
        sql::statement(sql::kFifoHandled, {h->now_param, queue_id, named, std::to_string(h->retention_ms)}));
    tx->step(std::move(first), [h, tx](std::vector<QueryResult>& results) {
      judge_fifo(*h, results[1]);
      apply_fifo(h, tx);
    });
  };
  run_transaction(engine.pool(), std::move(body), [&engine, h, done = std::move(done)](Status finished) {
    if (!finished) return done(finished.error());
    settle_fifo_handled(engine, *h);
    done(std::move(h->results));
  });
}

std::shared_ptr<FifoHandled> fifo_handled(PgEngine& engine, const PgQueue& queue, std::vector<std::string> texts,
                                          bool deleting) {
  auto h = std::make_shared<FifoHandled>();
  h->queue_id = queue.id;
  h->queue_name = queue.name;
  h->retention_ms = attribute_int(queue.attributes, "MessageRetentionPeriod") * 1000;
  h->now_param = engine.now_param();
  h->deleting = deleting;
  h->decoded.assign(texts.size(), Status(Ok{}));
  for (size_t i = 0; i < texts.size(); ++i) {
    auto handle = handle_of(texts[i], queue, engine.receipt_secret());
    if (!handle) {
      h->decoded[i] = invalid_receipt_handle(texts[i]);
      continue;
    }
    h->valid.push_back(Change{i, *handle});
  }
  h->texts = std::move(texts);
  return h;
}

// A FIFO message deleted from the console: its group locked, then settled.
void delete_peeked_fifo(PgEngine& engine, const PgQueue& queue, int64_t seq, const std::string& message_id,
                        Done<Status> done) {
  auto deleted = std::make_shared<bool>(false);
  auto body = [&engine, deleted, queue_id = std::to_string(queue.id), seq = std::to_string(seq), message_id,
               retention = std::to_string(attribute_int(queue.attributes, "MessageRetentionPeriod") * 1000),
               now = engine.now_param()](std::shared_ptr<Tx> tx) {
    *deleted = false;
    std::vector<Statement> first;
    first.push_back(sql::statement(sql::kFifoLockHandled, {queue_id, "{" + seq + "}"}));
    first.push_back(sql::statement(sql::kDeletePeeked, {queue_id, seq, message_id}));
    tx->step(std::move(first), [=](std::vector<QueryResult>& results) {
      if (results[1].rows() == 0) return tx->commit();
      *deleted = true;
      const std::string group = sql::text_array({results[1].text(0, 0)});
      tx->commit_with(
          {sql::statement(sql::kFifoSettleGroups, {now, queue_id, retention, group, "{" + seq + "}", group})},
          [](std::vector<QueryResult>&) {});
    });
  };
  run_transaction(
      engine.pool(), std::move(body),
      [&engine, deleted, queue_id = queue.id, name = queue.name, message_id, done = std::move(done)](Status finished) {
        if (!finished) return done(finished.error());
        if (!*deleted) {
          return done(make_error(ErrorCode::InvalidParameterValue,
                                 "The message " + message_id + " is no longer in the queue."));
        }
        QueueActivity activity;
        activity.deleted = 1;
        engine.count_activity(queue_id, activity);
        engine.notify_available(name);
        done(Ok{});
      });
}

PeekedMessage peeked_from(const QueryResult& rows, int r, bool fifo) {
  enum : int { kNow, kSeq, kId, kGroup, kFlight, kVisibleAt, kSent, kFirstReceive, kCount, kBody, kAttrs, kSystem };
  PeekedMessage m;
  const int64_t now = sql::int_at(rows, r, kNow);
  const int64_t seq = sql::int_at(rows, r, kSeq);
  m.message_id = rows.text(r, kId);
  m.body = rows.text(r, kBody);
  m.message_attributes = rows.text(r, kAttrs);
  m.system_attributes = decode_system_attributes(rows.text(r, kSystem));
  m.group_id = rows.text(r, kGroup);
  if (fifo) m.sequence_number = sequence_number_text(static_cast<uint64_t>(seq));
  // A deadline already passed counts as visible, as the next receive would see it.
  const int64_t visible_at = sql::int_at(rows, r, kVisibleAt);
  const bool waiting = visible_at > now;
  m.state = !waiting ? "visible" : rows.text(r, kFlight) == "t" ? "in_flight" : "delayed";
  m.visible_at_ms = waiting ? visible_at : 0;
  m.sent_ms = sql::int_at(rows, r, kSent);
  m.first_receive_ms = sql::int_at(rows, r, kFirstReceive);
  m.receive_count = static_cast<uint32_t>(sql::int_at(rows, r, kCount));
  m.position = std::to_string(seq);
  return m;
}

}  // namespace

void PgEngine::async_delete_messages(const std::string& queue_name, const std::vector<std::string>& receipt_handles,
                                     Done<Result<Statuses>> done) {
  find_queue(queue_name, [this, handles = receipt_handles, done = std::move(done)](Result<PgQueue> found) mutable {
    if (!found) return done(found.error());
    if (found->fifo) return handle_fifo(*this, fifo_handled(*this, *found, std::move(handles), true), std::move(done));
    delete_standard(*this, found.value(), std::move(handles), std::move(done));
  });
}

void PgEngine::async_change_visibilities(const std::string& queue_name, const std::vector<VisibilityChange>& changes,
                                         Done<Result<Statuses>> done) {
  find_queue(queue_name, [this, changes, done = std::move(done)](Result<PgQueue> found) mutable {
    if (!found) return done(found.error());
    if (found->fifo) {
      std::vector<std::string> texts;
      for (const auto& c : changes) texts.push_back(c.receipt_handle);
      auto h = fifo_handled(*this, *found, std::move(texts), false);
      for (const Change& c : h->valid) h->timeouts_ms.push_back(int64_t(changes[c.result].visibility_timeout) * 1000);
      return handle_fifo(*this, std::move(h), std::move(done));
    }
    change_standard(*this, found.value(), std::move(changes), std::move(done));
  });
}

void PgEngine::async_peek_messages(const std::string& queue_name, size_t max_messages,
                                   Done<Result<std::vector<PeekedMessage>>> done) {
  find_queue(queue_name, [this, max_messages, done = std::move(done)](Result<PgQueue> found) mutable {
    if (!found) return done(found.error());
    const PgQueue& q = found.value();
    const int64_t retention_ms = attribute_int(q.attributes, "MessageRetentionPeriod") * 1000;
    std::vector<Statement> statements;
    statements.push_back(sql::statement(
        sql::kPeek, {now_param(), std::to_string(q.id), std::to_string(retention_ms), std::to_string(max_messages)}));
    run_statements(pool(), std::move(statements),
                   [fifo = q.fifo, done = std::move(done)](Result<std::vector<QueryResult>> answered) {
                     if (!answered) return done(answered.error());
                     const QueryResult& rows = answered->front();
                     std::vector<PeekedMessage> out;
                     out.reserve(rows.rows());
                     for (int r = 0; r < rows.rows(); ++r) out.push_back(peeked_from(rows, r, fifo));
                     done(std::move(out));
                   });
  });
}

// A peek's position is the message's seq, in decimal.
void PgEngine::async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                           const std::string& message_id, Done<Status> done) {
  int64_t seq = 0;
  const char* const end = position.data() + position.size();
  const auto [parsed_end, ec] = std::from_chars(position.data(), end, seq);
  if (ec != std::errc() || parsed_end != end || seq < 0) {
    return done(make_error(ErrorCode::InvalidParameterValue, "Position must be the number a peek gave."));
  }
  find_queue(queue_name, [this, seq, message_id, done = std::move(done)](Result<PgQueue> found) mutable {
    if (!found) return done(found.error());
    if (found->fifo) return delete_peeked_fifo(*this, *found, seq, message_id, std::move(done));
    std::vector<Statement> statements;
    statements.push_back(
        sql::statement(sql::kDeletePeeked, {std::to_string(found->id), std::to_string(seq), message_id}));
    run_statements(
        pool(), std::move(statements),
        [this, queue_id = found->id, message_id, done = std::move(done)](Result<std::vector<QueryResult>> answered) {
          if (!answered) return done(answered.error());
          if (answered->front().rows() == 0) {
            return done(make_error(ErrorCode::InvalidParameterValue,
                                   "The message " + message_id + " is no longer in the queue."));
          }
          QueueActivity deleted;
          deleted.deleted = 1;
          count_activity(queue_id, deleted);
          done(Ok{});
        });
  });
}

}  // namespace wharf::storage::postgresql
