// WHARF_QUEUES (server/queues_from_env.h): the compact form into the config
// file's "queues" list, its refusals (each naming the entry), the merge with
// the file's queues, load_config's use of it, and the queues it declares
// applied to a RocksDB engine.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "server/config.h"
#include "server/queues_from_env.h"
#include "storage/rocksdb/open.h"
#include "tests/unit/test_support.h"

namespace wharf::server {
namespace {

using nlohmann::json;

json list_of(const std::string& text) {
  json list;
  auto why = queues_list_from_environment(text, list);
  INFO(text << " -> " << why.value_or("accepted"));
  REQUIRE_FALSE(why);
  return list;
}

std::string refusal(const std::string& text) {
  json list;
  auto why = queues_list_from_environment(text, list);
  INFO(text);
  REQUIRE(why);
  return *why;
}

std::vector<std::string> names(const std::vector<DeclaredQueue>& queues) {
  std::vector<std::string> out;
  for (const auto& q : queues) out.push_back(q.name);
  return out;
}

const std::string kDlqArn = "arn:aws:sqs:us-east-1:000000000000:orders-dlq";

}  // namespace

TEST_CASE("WHARF_QUEUES: names alone declare queues with no attributes", "[queues_from_env]") {
  auto list = list_of("orders;orders-dlq");
  REQUIRE(list.size() == 2);
  CHECK(list[0]["QueueName"] == "orders");
  CHECK(list[0]["Attributes"] == json::object());
  CHECK(list[0]["tags"] == json::object());
  CHECK(list[1]["QueueName"] == "orders-dlq");
}

TEST_CASE("WHARF_QUEUES: blanks around parts and empty entries are ignored", "[queues_from_env]") {
  auto list = list_of(" orders : VisibilityTimeout = 60 , DelaySeconds=2 ;\n ; events ;");
  REQUIRE(list.size() == 2);
  CHECK(list[0]["QueueName"] == "orders");
  CHECK(list[0]["Attributes"] == json({{"VisibilityTimeout", "60"}, {"DelaySeconds", "2"}}));
  CHECK(list[1]["QueueName"] == "events");
  CHECK(list_of(";").empty());
}

TEST_CASE("WHARF_QUEUES: RedrivePolicy parts assemble the policy document", "[queues_from_env]") {
  auto list = list_of(
      "orders:VisibilityTimeout=60,RedrivePolicy.maxReceiveCount=3,RedrivePolicy.deadLetterTargetName=orders-dlq");
  REQUIRE(list.size() == 1);
  CHECK(list[0]["Attributes"]["VisibilityTimeout"] == "60");
  CHECK(list[0]["Attributes"]["RedrivePolicy"] == json({{"maxReceiveCount", "3"}, {"deadLetterQueue", "orders-dlq"}}));
  // The config file's member name, and an ARN (its ':' stays in the value).
  CHECK(
      list_of("a:RedrivePolicy.deadLetterQueue=b,RedrivePolicy.maxReceiveCount=1")[0]["Attributes"]["RedrivePolicy"] ==
      json({{"maxReceiveCount", "1"}, {"deadLetterQueue", "b"}}));
  CHECK(list_of("a:RedrivePolicy.deadLetterTargetArn=" + kDlqArn +
                ",RedrivePolicy.maxReceiveCount=1")[0]["Attributes"]["RedrivePolicy"]["deadLetterTargetArn"] ==
        kDlqArn);
  CHECK(list_of("a:RedriveAllowPolicy.redrivePermission=denyAll")[0]["Attributes"]["RedriveAllowPolicy"] ==
        json({{"redrivePermission", "denyAll"}}));
}

TEST_CASE("WHARF_QUEUES: a .fifo name implies FifoQueue=true", "[queues_from_env]") {
  CHECK(list_of("events.fifo")[0]["Attributes"] == json({{"FifoQueue", "true"}}));
  CHECK(list_of("events.fifo:ContentBasedDeduplication=true")[0]["Attributes"] ==
        json({{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}}));
  // Given explicitly, it is kept as given (the engine refuses false).
  CHECK(list_of("events.fifo:FifoQueue=false")[0]["Attributes"]["FifoQueue"] == "false");
  CHECK(list_of("eventsfifo")[0]["Attributes"] == json::object());
  CHECK(list_of(".fifo")[0]["Attributes"] == json::object());
}

TEST_CASE("WHARF_QUEUES: Tag.KEY=VALUE parts are tags", "[queues_from_env]") {
  auto list = list_of("orders:Tag.team=shop,Tag.cost.centre=42,Tag.empty=,VisibilityTimeout=5");
  CHECK(list[0]["tags"] == json({{"team", "shop"}, {"cost.centre", "42"}, {"empty", ""}}));
  CHECK(list[0]["Attributes"] == json({{"VisibilityTimeout", "5"}}));
}

TEST_CASE("WHARF_QUEUES: every malformed entry is refused, naming it", "[queues_from_env]") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {":VisibilityTimeout=1", {"WHARF_QUEUES entry 1:", "needs a queue name"}},
      {"ok;VisibilityTimeout=60", {"WHARF_QUEUES entry 2:", "\"VisibilityTimeout=60\" is not a queue name"}},
      {"a,b", {"entry 1:", "\"a,b\" is not a queue name"}},
      {"orders:VisibilityTimeout", {"entry 1 (orders):", "\"VisibilityTimeout\" is not Key=Value"}},
      {"orders:", {"entry 1 (orders):", "an empty part"}},
      {"orders:VisibilityTimeout=1,", {"entry 1 (orders):", "an empty part"}},
      {"orders:=1", {"entry 1 (orders):", "needs a name before '='"}},
      {"orders:VisibilityTimeout=1,VisibilityTimeout=2", {"entry 1 (orders):", "VisibilityTimeout is given twice"}},
      {"orders:Tag.=x", {"entry 1 (orders):", "Tag. needs a tag key"}},
      {"orders:Tag.a=1,Tag.a=2", {"entry 1 (orders):", "tag a is given twice"}},
      {"orders:Policy.Version=1", {"entry 1 (orders):", "\"Policy.Version\"", "only RedrivePolicy.NAME"}},
      {"orders:RedrivePolicy.=1", {"entry 1 (orders):", "RedrivePolicy. needs a member name"}},
      {"orders:RedrivePolicy.maxReceiveCount=1,RedrivePolicy.maxReceiveCount=2",
       {"entry 1 (orders):", "RedrivePolicy.maxReceiveCount is given twice"}},
      {"orders:RedrivePolicy.deadLetterTargetName=a,RedrivePolicy.deadLetterTargetArn=" + kDlqArn,
       {"entry 1 (orders):", "deadLetterTargetName or RedrivePolicy.deadLetterTargetArn, not both"}},
      {"orders:RedrivePolicy.deadLetterTargetName=a,RedrivePolicy.deadLetterQueue=b",
       {"entry 1 (orders):", "RedrivePolicy.deadLetterQueue is given twice"}},
      {"orders:RedrivePolicy={},RedrivePolicy.maxReceiveCount=1", {"entry 1 (orders):", "whole or by its parts"}},
      {"orders:RedrivePolicy.maxReceiveCount=1,RedrivePolicy={}", {"entry 1 (orders):", "whole or by its parts"}},
      {"orders;dlq;orders:VisibilityTimeout=3", {"entry 3 (orders):", "orders is declared twice in WHARF_QUEUES"}},
      // A JSON document: its commas split it.
      {R"(orders:RedrivePolicy={"maxReceiveCount":1,"deadLetterTargetArn":"x"})",
       {"entry 1 (orders):", "is not Key=Value", "a value cannot hold one"}},
  };
  for (const auto& [text, expected] : cases) {
    const auto why = refusal(text);
    for (const auto& part : expected) {
      INFO(text << " -> " << why);
      CHECK(why.find(part) != std::string::npos);
    }
  }
}

TEST_CASE("WHARF_QUEUES with the file's queues: ordered together, dead-letter queues first", "[queues_from_env]") {
  Settings settings;
  std::vector<DeclaredQueue> queues;
  // The file's queue names a dead-letter queue only WHARF_QUEUES declares.
  auto file = json::parse(R"([{"QueueName": "invoices", "Attributes":
                                 {"RedrivePolicy": {"deadLetterQueue": "orders-dlq", "maxReceiveCount": 2}}}])");
  REQUIRE_FALSE(parse_declared_queues(file, settings, queues));
  auto why = add_queues_from_environment(
      "orders:RedrivePolicy.maxReceiveCount=3,RedrivePolicy.deadLetterTargetName=orders-dlq;orders-dlq;events.fifo",
      settings, queues);
  REQUIRE_FALSE(why);
  CHECK(names(queues) == std::vector<std::string>{"orders-dlq", "invoices", "orders", "events.fifo"});
  const auto& orders = queues[2];
  CHECK(json::parse(orders.attributes.at("RedrivePolicy")) ==
        json({{"deadLetterTargetArn", kDlqArn}, {"maxReceiveCount", "3"}}));
  CHECK(queues[3].attributes.at("FifoQueue") == "true");
}

TEST_CASE("WHARF_QUEUES: the dead-letter ARN is of the server's region and account", "[queues_from_env]") {
  Settings settings;
  settings.region = "eu-west-3";
  settings.account_id = "123456789012";
  std::vector<DeclaredQueue> queues;
  REQUIRE_FALSE(add_queues_from_environment("a:RedrivePolicy.deadLetterTargetName=b,RedrivePolicy.maxReceiveCount=1;b",
                                            settings, queues));
  REQUIRE(names(queues) == std::vector<std::string>{"b", "a"});
  CHECK(json::parse(queues[1].attributes.at("RedrivePolicy"))["deadLetterTargetArn"] ==
        "arn:aws:sqs:eu-west-3:123456789012:b");
}

TEST_CASE("WHARF_QUEUES: a queue also in the file, or a cycle, is refused", "[queues_from_env]") {
  Settings settings;
  std::vector<DeclaredQueue> queues;
  REQUIRE_FALSE(parse_declared_queues(json::parse(R"([{"QueueName": "orders"}])"), settings, queues));
  auto why = add_queues_from_environment("events;orders:VisibilityTimeout=5", settings, queues);
  REQUIRE(why);
  CHECK(*why ==
        "WHARF_QUEUES: orders is also declared in the config file's \"queues\"; declare each queue in one "
        "place");

  std::vector<DeclaredQueue> none;
  why = add_queues_from_environment(
      "a:RedrivePolicy.deadLetterTargetName=b,RedrivePolicy.maxReceiveCount=1;"
      "b:RedrivePolicy.deadLetterTargetName=a,RedrivePolicy.maxReceiveCount=1",
      settings, none);
  REQUIRE(why);
  CHECK(*why == "WHARF_QUEUES: the dead-letter queues form a cycle: a -> b -> a");
}

namespace {

struct Loaded {
  int code = 0;
  StartupConfig config;
  std::string err;
};

Loaded load(const std::map<std::string, std::string>& variables) {
  Loaded loaded;
  const char* argv[] = {"wharf"};
  std::ostringstream out, err;
  auto environment = [&](const std::string& name) -> std::optional<std::string> {
    auto it = variables.find(name);
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
  loaded.code = load_config(1, argv, environment, loaded.config, out, err);
  loaded.err = err.str();
  return loaded;
}

}  // namespace

TEST_CASE("load_config reads WHARF_QUEUES; a malformed value stops the start with exit code 1", "[queues_from_env]") {
  auto ok = load({{"WHARF_QUEUES", "orders:VisibilityTimeout=60;events.fifo"}, {"WHARF_REGION", "eu-west-1"}});
  CHECK(ok.code == -1);
  CHECK(names(ok.config.queues) == std::vector<std::string>{"orders", "events.fifo"});

  CHECK(load({{"WHARF_QUEUES", ""}}).config.queues.empty());  // empty counts as unset

  auto bad = load({{"WHARF_QUEUES", "orders;events:VisibilityTimeout"}});
  CHECK(bad.code == 1);
  CHECK(bad.err ==
        "wharf: WHARF_QUEUES entry 2 (events): \"VisibilityTimeout\" is not Key=Value (parts are "
        "separated by ',', so a value cannot hold one)\n");
}

TEST_CASE("WHARF_QUEUES' queues applied to an engine: attributes, tags, redrive, FIFO", "[queues_from_env]") {
  testing::TempDir dir;
  storage::EngineOptions options;
  storage::RocksOptions rocks;
  rocks.data_dir = dir.path().string();
  std::string error;
  auto engine = storage::open_rocksdb_engine(options, rocks, error);
  REQUIRE(engine);
  Settings settings;
  std::vector<DeclaredQueue> queues;
  const std::string text =
      "orders:VisibilityTimeout=60,RedrivePolicy.maxReceiveCount=3,RedrivePolicy.deadLetterTargetName=orders-dlq,"
      "Tag.team=shop;orders-dlq;events.fifo:ContentBasedDeduplication=true";
  REQUIRE_FALSE(add_queues_from_environment(text, settings, queues));
  INFO(error);
  REQUIRE(apply_declared_queues(*engine, queues, error));

  auto orders = engine->get_queue("orders");
  REQUIRE(orders.ok());
  CHECK(orders.value().attributes.at("VisibilityTimeout") == "60");
  CHECK(json::parse(orders.value().attributes.at("RedrivePolicy")) ==
        json({{"deadLetterTargetArn", kDlqArn}, {"maxReceiveCount", 3}}));
  CHECK(orders.value().tags.at("team") == "shop");
  auto events = engine->get_queue("events.fifo");
  REQUIRE(events.ok());
  CHECK(events.value().attributes.at("FifoQueue") == "true");
  CHECK(events.value().attributes.at("ContentBasedDeduplication") == "true");
  // A restart with the same variable changes nothing and succeeds.
  REQUIRE(apply_declared_queues(*engine, queues, error));

  std::vector<DeclaredQueue> unknown;
  REQUIRE_FALSE(add_queues_from_environment("odd:NoSuchAttribute=1", settings, unknown));
  CHECK_FALSE(apply_declared_queues(*engine, unknown, error));
  CHECK(error.find("declared queue odd: InvalidAttributeName") != std::string::npos);
}

}  // namespace wharf::server
