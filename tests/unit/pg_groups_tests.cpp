// Several database groups (storage/postgresql/pg_groups.h): placement
// (stable, recorded in the catalog, co-located with a dead-letter queue),
// redrive and move tasks across groups, ListQueues merged, a group that is
// down making only its own queues unavailable, and the start-up checks.
// Two throwaway clusters of this test's own (tests/pg/cluster.sh), so one
// can be stopped; each test case uses a schema of its own on both.
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/postgresql/open.h"
#include "storage/postgresql/pg_engine.h"
#include "storage/postgresql/pg_groups.h"
#include "storage/postgresql/pg_transfer.h"
#include "storage/system_attributes.h"
#include "storage/postgresql/transaction.h"
#include "tests/unit/pg_test_cluster.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::storage::postgresql;

namespace {

using testing::OwnCluster;

struct TwoClusters {
  OwnCluster a;
  OwnCluster b;
};

TwoClusters& clusters() {
  static TwoClusters both;
  return both;
}

bool postgres_missing() {
  const auto& pg = testing::test_postgres();
  return pg.skip;
}

std::vector<PgOptions> options_for(const std::vector<std::string>& urls, const std::string& schema) {
  std::vector<PgOptions> out;
  for (const auto& url : urls) {
    PgOptions options;
    options.url = url;
    options.schema = "pggroups_" + std::to_string(getpid()) + "_" + schema;
    options.connections = 2;
    out.push_back(options);
  }
  return out;
}

std::shared_ptr<PgGroups> open_groups(const std::vector<std::string>& urls, const std::string& schema) {
  std::string error;
  auto groups = open_postgresql_groups(options_for(urls, schema), error);
  INFO(error);
  REQUIRE(groups);
  return groups;
}

std::unique_ptr<GroupedEngine> engine_over(const std::shared_ptr<PgGroups>& groups) {
  EngineOptions options;
  options.queue_delete_cooldown_ms = 0;
  std::vector<std::unique_ptr<PgEngine>> engines;
  for (const auto& group : groups->groups()) engines.push_back(std::make_unique<PgEngine>(group.cluster, options));
  return std::make_unique<GroupedEngine>(groups, std::move(engines), options);
}

size_t group_of(GroupedEngine& engine, const std::string& name) {
  std::promise<Result<size_t>> answered;
  engine.async_locate(name, [&answered](Result<size_t> r) { answered.set_value(std::move(r)); });
  auto r = answered.get_future().get();
  INFO(name << ": " << (r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  return *r;
}

std::string first_value(PgCluster& cluster, const std::string& sql) {
  std::promise<Result<std::vector<QueryResult>>> answered;
  run_statements(cluster.pool(), {Statement{sql, {}}},
                 [&answered](Result<std::vector<QueryResult>> r) { answered.set_value(std::move(r)); });
  auto r = answered.get_future().get();
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->front().rows() > 0);
  return std::string(r->front().text(0, 0));
}

std::string arn_of(const std::string& name) { return "arn:aws:sqs:us-east-1:000000000000:" + name; }

AttributeMap redrive_to(const std::string& dead_letter) {
  return {{"RedrivePolicy", R"({"deadLetterTargetArn":")" + arn_of(dead_letter) + R"(","maxReceiveCount":3})"}};
}

// A new queue placed on `group` (names tried in turn; the hash decides).
std::string queue_on(GroupedEngine& engine, size_t group, const std::string& prefix) {
  for (int i = 0; i < 64; ++i) {
    const std::string name = prefix + std::to_string(i);
    REQUIRE(engine.create_queue(name, {}, {}).ok());
    if (group_of(engine, name) == group) return name;
  }
  FAIL("no queue landed on group " << group);
  return "";
}

// Sends, receives and deletes one message on `name`: "" or the failure.
std::string round_trip(Engine& engine, const std::string& name) {
  NewMessage message;
  message.body = "hello " + name;
  auto sent = engine.send_message(name, message);
  if (!sent) return "send: " + sent.error().message;
  auto received = engine.receive_messages(name, 1, 30);
  if (!received) return "receive: " + received.error().message;
  if (received->size() != 1) return "receive: " + std::to_string(received->size()) + " messages";
  auto deleted = engine.delete_message(name, received->front().receipt_handle);
  if (!deleted) return "delete: " + deleted.error().message;
  return "";
}

}  // namespace

TEST_CASE("groups: placement is recorded, stable, spread by the hash, the same on another node", "[pg][groups]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "placement");
  auto engine = engine_over(groups);
  std::vector<size_t> per_group(2);
  for (int i = 0; i < 20; ++i) {
    const std::string name = "spread-" + std::to_string(i);
    REQUIRE(engine->create_queue(name, {}, {}).ok());
    const size_t group = group_of(*engine, name);
    ++per_group[group];
    CHECK(group == groups->hashed_group("000000000000", "us-east-1", name));
  }
  INFO(per_group[0] << " / " << per_group[1]);
  CHECK(per_group[0] >= 4);
  CHECK(per_group[1] >= 4);
  CHECK(first_value(groups->catalog(), "SELECT count(*) FROM queue_placements") == "20");
  CHECK(first_value(*groups->groups()[1].cluster, "SELECT count(*) FROM queue_placements") == "0");
  // Each queue's row is on its own group only.
  CHECK(first_value(*groups->groups()[1].cluster, "SELECT count(*) FROM queues") == std::to_string(per_group[1]));

  // Deleted and re-created: back on its group. Another node agrees.
  const size_t before = group_of(*engine, "spread-3");
  REQUIRE(engine->delete_queue("spread-3").ok());
  CHECK(engine->get_queue("spread-3").error().code == ErrorCode::QueueDoesNotExist);
  REQUIRE(engine->create_queue("spread-3", {}, {}).ok());
  CHECK(group_of(*engine, "spread-3") == before);
  auto other_groups = open_groups({both.a.url(), both.b.url()}, "placement");
  auto other = engine_over(other_groups);
  for (int i = 0; i < 20; ++i) {
    const std::string name = "spread-" + std::to_string(i);
    CHECK(group_of(*other, name) == group_of(*engine, name));
  }
  CHECK(round_trip(*other, "spread-7").empty());
  CHECK(placement_hash("a", "b", "c") == placement_hash("a", "b", "c"));
  CHECK(placement_hash("ab", "", "c") != placement_hash("a", "b", "c"));
}

TEST_CASE("groups: a queue with a dead-letter queue is placed with it", "[pg][groups]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "colocate");
  auto engine = engine_over(groups);
  REQUIRE(engine->create_queue("dlq", {}, {}).ok());
  const size_t dlq_group = group_of(*engine, "dlq");
  for (int i = 0; i < 8; ++i) {
    const std::string name = "source-" + std::to_string(i);
    auto created = engine->create_queue(name, redrive_to("dlq"), {});
    INFO((created.ok() ? "" : created.error().message));
    REQUIRE(created.ok());
    CHECK(group_of(*engine, name) == dlq_group);
  }
  // The request's policy is read before the engine validates it: a count
  // as a string is valid, a malformed policy is the engine's to refuse.
  const std::string stringy = R"({"deadLetterTargetArn":")" + arn_of("dlq") + R"(","maxReceiveCount":"5"})";
  REQUIRE(engine->create_queue("stringy", {{"RedrivePolicy", stringy}}, {}).ok());
  CHECK(group_of(*engine, "stringy") == dlq_group);
  CHECK(engine->create_queue("malformed", {{"RedrivePolicy", "{not json"}}, {}).error().code ==
        ErrorCode::InvalidParameterValue);
  REQUIRE(engine->delete_queue("stringy").ok());
  auto sources = engine->dead_letter_source_queues("dlq");
  REQUIRE(sources.ok());
  CHECK(sources->size() == 8);
  CHECK(engine->cancel_move_task("00000000-0000-0000-0000-000000000000").error().code ==
        ErrorCode::ResourceNotFoundException);
}

namespace {

// The bodies `name` hands out now (visibility timeout 0), up to 10.
std::vector<std::string> bodies_in(Engine& engine, const std::string& name) {
  auto received = engine.receive_messages(name, 10, 0);
  INFO(name << ": " << (received.ok() ? "" : received.error().message));
  REQUIRE(received.ok());
  std::vector<std::string> out;
  for (const auto& m : *received) out.push_back(m.body);
  return out;
}

// Due work until `name`'s newest move task is no longer RUNNING (bounded: 15 s).
MoveTask run_move(GroupedEngine& engine, const std::string& source) {
  for (int i = 0; i < 150; ++i) {
    engine.run_due_work();
    auto tasks = engine.list_move_tasks(source, 1);
    REQUIRE(tasks.ok());
    REQUIRE(!tasks->empty());
    if (tasks->front().status != "RUNNING") return tasks->front();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  FAIL("the move task of " << source << " did not end");
  return {};
}

void send_bodies(Engine& engine, const std::string& name, const std::vector<std::string>& bodies,
                 const std::string& group = "") {
  for (const auto& body : bodies) {
    NewMessage m;
    m.body = body;
    m.group_id = group;
    if (!group.empty()) m.deduplication_id = body;
    REQUIRE(engine.send_message(name, m).ok());
  }
}

}  // namespace

TEST_CASE("groups: redrive and move tasks across groups copy then delete, keyed by message id", "[pg][groups]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "transfers");
  auto engine = engine_over(groups);
  REQUIRE(engine->create_queue("dlq", {}, {}).ok());
  const size_t dlq_group = group_of(*engine, "dlq");
  PgCluster& dlq_db = *groups->groups()[dlq_group].cluster;
  PgCluster& other_db = *groups->groups()[1 - dlq_group].cluster;

  // A RedrivePolicy naming a queue of the other group: accepted, listed.
  const std::string source = queue_on(*engine, 1 - dlq_group, "source-");
  REQUIRE(engine->set_queue_attributes(source, redrive_to("dlq")).ok());
  CHECK(engine->dead_letter_source_queues("dlq").value() == std::vector<std::string>{source});
  CHECK(engine->set_queue_attributes(source, redrive_to("no-such-dlq")).error().code ==
        ErrorCode::InvalidParameterValue);

  // Past maxReceiveCount (3) the receive parks it, and it is in the
  // dead-letter queue by the time the receive answers: same id, its source.
  NewMessage redriven;
  redriven.body = "redriven";
  auto sent = engine->send_message(source, redriven);
  REQUIRE(sent.ok());
  for (int i = 0; i < 3; ++i) CHECK(bodies_in(*engine, source) == std::vector<std::string>{"redriven"});
  CHECK(bodies_in(*engine, source).empty());
  auto dead = engine->receive_messages("dlq", 10, 0);
  REQUIRE(dead.ok());
  REQUIRE(dead->size() == 1);
  CHECK(dead->front().message_id == sent->message_id);
  CHECK(dead->front().system_attributes.dead_letter_queue_source_arn == arn_of(source));
  CHECK(first_value(other_db, "SELECT count(*) FROM outbox") == "0");
  CHECK(engine->queue_counts(source)->moved_to_dead_letter == 1);

  // A forwarder that stopped between the copy's COMMIT and the outbox's
  // delete: its row is still parked, its copy (and key) already there. The
  // next pass deletes the row and makes no second copy.
  const std::string id = "6f1c7a3e-0000-4000-8000-000000000001";
  TransferMessage copy;
  copy.destination = "dlq";
  copy.key = copy.message_id = id;
  copy.body = "crashed";
  copy.body_md5 = "x";
  SystemAttributes from_source;
  from_source.dead_letter_queue_source_arn = arn_of(source);
  copy.system_attributes = encode_system_attributes(from_source);
  copy.sent_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::promise<Result<TransferOutcome>> copied;
  transfer_in(dlq_db.pool(), std::nullopt, "000000000000", "us-east-1", {copy}, {},
              [&copied](Result<TransferOutcome> r) { copied.set_value(std::move(r)); });
  REQUIRE(copied.get_future().get().ok());
  first_value(other_db,
              "INSERT INTO outbox (account_id, region, destination, source_name, message_id, group_id, sent_ms, "
              "first_receive_ms, receive_count, body, body_md5, message_attributes, system_attributes, parked_ms) "
              "VALUES ('000000000000', 'us-east-1', 'dlq', '" +
                  source + "', '" + id + "', '', now_ms(NULL), 0, 4, 'crashed', 'x', '', '', 0) RETURNING id");
  engine->run_due_work();
  CHECK(first_value(other_db, "SELECT count(*) FROM outbox") == "0");
  CHECK(first_value(dlq_db, "SELECT count(*) FROM messages WHERE message_id = '" + id + "'") == "1");

  // A parked message whose dead-letter queue is gone goes back to its source.
  first_value(other_db,
              "INSERT INTO outbox (account_id, region, destination, source_name, message_id, group_id, sent_ms, "
              "first_receive_ms, receive_count, body, body_md5, message_attributes, system_attributes, parked_ms) "
              "VALUES ('000000000000', 'us-east-1', 'gone-dlq', '" +
                  source + "', gen_random_uuid(), '', now_ms(NULL), 0, 0, 'returned', 'x', '', '', 0) RETURNING id");
  engine->run_due_work();
  CHECK(first_value(other_db, "SELECT count(*) FROM outbox") == "0");
  CHECK(bodies_in(*engine, source) == std::vector<std::string>{"returned"});
  REQUIRE(engine->purge_queue(source).ok());

  // A move task back to the sources: across groups, as new messages.
  auto back = engine->start_move_task("dlq", std::nullopt, std::nullopt);
  INFO((back.ok() ? "" : back.error().message));
  REQUIRE(back.ok());
  MoveTask ended = run_move(*engine, "dlq");
  CHECK(ended.status == "COMPLETED");
  CHECK(ended.moved == 2);
  std::vector<std::string> returned = bodies_in(*engine, source);
  std::sort(returned.begin(), returned.end());
  CHECK(returned == std::vector<std::string>{"crashed", "redriven"});
  CHECK(bodies_in(*engine, "dlq").empty());

  // A move task to a named queue of the other group; one message whose key
  // is already there (a step that stopped after that group's COMMIT) is
  // deleted from the source without a second copy.
  const std::string target = queue_on(*engine, 1 - dlq_group, "target-");
  send_bodies(*engine, "dlq", {"one", "two", "three"});
  const std::string two_id = first_value(dlq_db,
                                         "SELECT message_id FROM messages m JOIN queues q ON q.id = m.queue_id "
                                         "WHERE q.name = 'dlq' AND m.body = 'two'");
  first_value(other_db, "INSERT INTO transfer_keys (queue_id, message_id, expires_ms) SELECT id, '" + two_id +
                            "', now_ms(NULL) + 60000 FROM queues WHERE name = '" + target +
                            "' AND deleted_ms IS NULL RETURNING 1");
  auto task = engine->start_move_task("dlq", target, std::nullopt);
  INFO((task.ok() ? "" : task.error().message));
  REQUIRE(task.ok());
  ended = run_move(*engine, "dlq");
  CHECK(ended.status == "COMPLETED");
  CHECK(ended.moved == 3);
  std::vector<std::string> moved = bodies_in(*engine, target);
  std::sort(moved.begin(), moved.end());
  CHECK(moved == std::vector<std::string>{"one", "three"});
  CHECK(bodies_in(*engine, "dlq").empty());
  // FIFO and standard do not mix, across groups too.
  REQUIRE(engine->create_queue("dlq.fifo", {{"FifoQueue", "true"}}, {}).ok());
  const std::string fifo_target = queue_on(*engine, 1 - group_of(*engine, "dlq.fifo"), "standard-");
  REQUIRE(engine->create_queue("fifo-source.fifo", {{"FifoQueue", "true"}}, {}).ok());
  REQUIRE(engine->set_queue_attributes("fifo-source.fifo", redrive_to("dlq.fifo")).ok());
  CHECK(engine->start_move_task("dlq.fifo", fifo_target, std::nullopt).error().code ==
        ErrorCode::InvalidParameterValue);
}

TEST_CASE("groups: a FIFO queue's messages keep their order through a dead-letter queue on another group",
          "[pg][groups]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "fifo_transfers");
  auto engine = engine_over(groups);
  REQUIRE(engine->create_queue("dlq.fifo", {{"FifoQueue", "true"}}, {}).ok());
  const size_t dlq_group = group_of(*engine, "dlq.fifo");
  std::string source;
  for (int i = 0; i < 64 && source.empty(); ++i) {
    const std::string name = "source-" + std::to_string(i) + ".fifo";
    REQUIRE(engine->create_queue(name, {{"FifoQueue", "true"}}, {}).ok());
    if (group_of(*engine, name) != dlq_group) source = name;
  }
  REQUIRE(!source.empty());
  const std::string policy = R"({"deadLetterTargetArn":")" + arn_of("dlq.fifo") + R"(","maxReceiveCount":1})";
  REQUIRE(engine->set_queue_attributes(source, {{"RedrivePolicy", policy}}).ok());
  send_bodies(*engine, source, {"a", "b", "c", "d"}, "g");
  CHECK(bodies_in(*engine, source) == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(bodies_in(*engine, source).empty());  // all four past the count: moved, in order
  CHECK(bodies_in(*engine, "dlq.fifo") == std::vector<std::string>{"a", "b", "c", "d"});
}

TEST_CASE("groups: ListQueues merges every group, sorted", "[pg][groups]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "list");
  auto engine = engine_over(groups);
  std::set<std::string> expected;
  std::set<size_t> used;
  for (int i = 0; i < 12; ++i) {
    const std::string name = (i % 2 ? "odd-" : "even-") + std::to_string(i);
    REQUIRE(engine->create_queue(name, {}, {}).ok());
    expected.insert(name);
    used.insert(group_of(*engine, name));
  }
  CHECK(used.size() == 2);
  const auto all = engine->list_queues("");
  CHECK(std::vector<std::string>(expected.begin(), expected.end()) == all);
  const auto odd = engine->list_queues("odd-");
  CHECK(odd.size() == 6);
  CHECK(engine->get_queue("never-made").error().code == ErrorCode::QueueDoesNotExist);
  CHECK(engine->send_message("never-made", NewMessage{}).error().code == ErrorCode::QueueDoesNotExist);
}

TEST_CASE("groups: a group that is down makes only its queues unavailable", "[pg][groups][outage]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "outage");
  auto engine = engine_over(groups);
  const std::string on_a = queue_on(*engine, 0, "alpha-");
  const std::string on_b = queue_on(*engine, 1, "beta-");
  REQUIRE(round_trip(*engine, on_a).empty());
  REQUIRE(round_trip(*engine, on_b).empty());

  both.b.stop();
  auto down = engine->send_message(on_b, NewMessage{});
  REQUIRE(!down.ok());
  CHECK(down.error().code == ErrorCode::ServiceUnavailable);
  CHECK(engine->receive_messages(on_b, 1, 30).error().code == ErrorCode::ServiceUnavailable);
  for (int i = 0; i < 5; ++i) CHECK(round_trip(*engine, on_a) == "");
  // A queue the hash places on the group that is up can still be created.
  std::string fresh;
  for (int i = 0; fresh.empty() && i < 64; ++i) {
    const std::string name = "fresh-" + std::to_string(i);
    if (groups->hashed_group("000000000000", "us-east-1", name) == 0) fresh = name;
  }
  CHECK(engine->create_queue(fresh, {}, {}).ok());
  CHECK(round_trip(*engine, fresh) == "");
  CHECK_THROWS(engine->list_queues(""));  // a partial list would be wrong: 503

  both.b.start_again();
  std::string outcome = "not tried";
  for (int i = 0; i < 100 && !outcome.empty(); ++i) {
    outcome = round_trip(*engine, on_b);
    if (!outcome.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(outcome == "");
  CHECK(engine->list_queues("").size() >= 3);
}

TEST_CASE("groups: with the catalog down, cached placements keep working; creates and lookups answer 503",
          "[pg][groups][outage]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  auto groups = open_groups({both.a.url(), both.b.url()}, "catalog_down");
  auto engine = engine_over(groups);
  const std::string on_b = queue_on(*engine, 1, "beta-");
  REQUIRE(round_trip(*engine, on_b).empty());
  auto uncached = engine_over(groups);  // another engine: nothing cached
  // A queue on b whose dead-letter queue's placement this engine has not
  // cached: with the catalog down its receives answer 503, rather than
  // hand out a message that may be past its maxReceiveCount.
  const std::string dead = queue_on(*engine, 0, "dead-");
  const std::string redriving = queue_on(*engine, 1, "redriving-");
  REQUIRE(engine->set_queue_attributes(redriving, redrive_to(dead)).ok());
  NewMessage kept;
  kept.body = "kept";
  REQUIRE(engine->send_message(redriving, kept).ok());
  auto half = engine_over(groups);
  REQUIRE(half->get_queue(redriving).ok());

  both.a.stop();
  for (int i = 0; i < 3; ++i) CHECK(round_trip(*engine, on_b) == "");
  CHECK(uncached->get_queue(on_b).error().code == ErrorCode::ServiceUnavailable);
  CHECK(engine->create_queue("new-while-down", {}, {}).error().code == ErrorCode::ServiceUnavailable);
  auto refused = half->receive_messages(redriving, 1, 0);
  CHECK((refused.ok() ? ErrorCode::InternalError : refused.error().code) == ErrorCode::ServiceUnavailable);

  both.a.start_again();
  std::string outcome = "not tried";
  for (int i = 0; i < 100 && !outcome.empty(); ++i) {
    outcome = round_trip(*uncached, on_b);
    if (!outcome.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  CHECK(outcome == "");
}

TEST_CASE("groups: start-up refuses a missing group, a catalog not listed first, a database twice",
          "[pg][groups][startup]") {
  if (postgres_missing()) return;
  auto& both = clusters();
  {
    auto groups = open_groups({both.a.url(), both.b.url()}, "startup");
    auto engine = engine_over(groups);
    REQUIRE(engine->create_queue("kept", {}, {}).ok());
  }
  std::string error;
  CHECK(!open_postgresql_groups(options_for({both.a.url()}, "startup"), error));
  CHECK_THAT(error, Catch::Contains("which the list does not name"));
  error.clear();
  CHECK(!open_postgresql_groups(options_for({both.b.url(), both.a.url()}, "startup"), error));
  CHECK_THAT(error, Catch::Contains("must be listed first"));
  error.clear();
  CHECK(!open_postgresql_groups(options_for({both.a.url(), both.b.url(), both.a.url()}, "startup"), error));
  CHECK_THAT(error, Catch::Contains("are the same database"));
  // One group first, then a second one appended: the first one's queues
  // are recorded and stay where they are.
  auto alone = open_groups({both.b.url()}, "grow");
  auto engine = engine_over(alone);
  for (int i = 0; i < 6; ++i) REQUIRE(engine->create_queue("old-" + std::to_string(i), {}, {}).ok());
  engine.reset();
  alone.reset();
  auto grown = open_groups({both.b.url(), both.a.url()}, "grow");
  auto after = engine_over(grown);
  for (int i = 0; i < 6; ++i) CHECK(group_of(*after, "old-" + std::to_string(i)) == 0);
  CHECK(first_value(grown->catalog(), "SELECT count(*) FROM placement_groups") == "2");
}
