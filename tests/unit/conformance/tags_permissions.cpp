// Conformance: queue tags and permissions (AddPermission, RemovePermission).
#include <catch2/catch.hpp>

#include "storage/queue_tags.h"

#include "tests/unit/engine_fixture.h"

using namespace wharf;
using namespace wharf::storage;
using namespace wharf::testing;
using nlohmann::json;

// ---------------------------------------------------------------------------
// Tags

ENGINE_TEST("tags: add, overwrite, remove; persisted", "[tags]") {
  Fixture f(backend);
  f.create("q", {}, {{"env", "test"}});
  CHECK(f.tags("q") == TagMap{{"env", "test"}});

  auto add = [&](const TagMap& tags) { return f->modify_queue("q", [&](QueueInfo& q) { return add_tags(q, tags); }); };
  auto remove = [&](const std::vector<std::string>& keys) {
    return f->modify_queue("q", [&](QueueInfo& q) {
      remove_tags(q, keys);
      return Status(Ok{});
    });
  };

  REQUIRE(add({{"team", "core"}, {"cost", ""}}).ok());
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "test"}, {"team", "core"}});
  REQUIRE(add({{"env", "prod"}}).ok());  // overwrite
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}, {"team", "core"}});
  REQUIRE(remove({"team", "no-such-key"}).ok());
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}});
  f.reopen();
  CHECK(f.tags("q") == TagMap{{"cost", ""}, {"env", "prod"}});
  REQUIRE(remove({"cost", "env"}).ok());
  CHECK(f.tags("q").empty());
  f.reopen();
  CHECK(f.tags("q").empty());
  CHECK(code_of(f->modify_queue("missing", [](QueueInfo&) { return Status(Ok{}); })) == "QueueDoesNotExist");
}

ENGINE_TEST("tag limits: 50 per queue, keys 1-128, values 0-256, no aws: prefix", "[tags]") {
  Fixture f(backend);
  f.create("q");
  auto add = [&](const TagMap& tags) { return f->modify_queue("q", [&](QueueInfo& q) { return add_tags(q, tags); }); };
  auto many = [](int n, const std::string& prefix) {
    TagMap tags;
    for (int i = 0; i < n; ++i) tags[prefix + std::to_string(i)] = "v";
    return tags;
  };

  CHECK(code_of(add(many(51, "k"))) == "InvalidParameterValue");
  CHECK(f.tags("q").empty());
  CHECK(code_of(add({{std::string(129, 'k'), "v"}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"k", std::string(257, 'v')}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"aws:created-by", "me"}})) == "InvalidParameterValue");
  CHECK(code_of(add({{"", "v"}})) == "InvalidParameterValue");
  // One bad tag fails the whole call.
  CHECK(code_of(add({{"good", "v"}, {"aws:bad", "v"}})) == "InvalidParameterValue");
  CHECK(f.tags("q").empty());

  REQUIRE(add({{std::string(128, 'k'), std::string(256, 'v')}}).ok());
  REQUIRE(add(many(49, "a")).ok());
  CHECK(f.tags("q").size() == 50);
  // A 51st key, added alone, is over the limit; overwriting one is not.
  CHECK(code_of(add({{"one-more", "v"}})) == "InvalidParameterValue");
  CHECK(add({{"one-more", "v"}}).error().message == "Too many tags added for queue q.");
  CHECK(f.tags("q").size() == 50);
  CHECK(add({{"a0", "changed"}}).ok());
  CHECK(f.tags("q").at("a0") == "changed");

  CHECK(validate_tags(many(50, "x")).ok());
  CHECK(code_of(validate_tags(many(51, "x"))) == "InvalidParameterValue");
  CHECK(validate_tags({{"aws", "v"}, {"my:aws:key", "v"}}).ok());
}

ENGINE_TEST("create_queue with invalid tags fails and creates nothing", "[tags]") {
  Fixture f(backend);
  TagMap too_many;
  for (int i = 0; i < 51; ++i) too_many["k" + std::to_string(i)] = "v";
  for (const TagMap& bad :
       {too_many, TagMap{{std::string(129, 'k'), "v"}}, TagMap{{"k", std::string(257, 'v')}}, TagMap{{"aws:k", "v"}}}) {
    CHECK(code_of(f->create_queue("q", {}, bad)) == "InvalidParameterValue");
    CHECK(code_of(f->get_queue("q")) == "QueueDoesNotExist");
  }
  CHECK(f->list_queues("").empty());
  TagMap fifty = too_many;
  fifty.erase("k0");
  f.create("q", {}, fifty);
  CHECK(f.tags("q") == fifty);
  f.reopen();
  CHECK(f.tags("q") == fifty);
}

// ---------------------------------------------------------------------------
// Permissions

namespace {

Status grant(Fixture& f, const std::string& queue, const Permission& p) {
  const std::string arn = arn_of(queue);
  return f->modify_queue(queue, [&](QueueInfo& q) { return add_permission(q, arn, p); });
}

Status revoke(Fixture& f, const std::string& queue, const std::string& label) {
  return f->modify_queue(queue, [&](QueueInfo& q) { return remove_permission(q, label); });
}

json policy_of(Fixture& f, const std::string& queue) {
  const AttributeMap attributes = f.attributes(queue);
  auto it = attributes.find("Policy");
  REQUIRE(it != attributes.end());
  return parse_json(it->second);
}

const json* statement(const json& policy, const std::string& sid) {
  for (const auto& s : policy.at("Statement")) {
    if (s.value("Sid", "") == sid) return &s;
  }
  return nullptr;
}

}  // namespace

ENGINE_TEST("add_permission builds the queue's Policy document", "[permissions]") {
  Fixture f(backend);
  f.create("q");
  CHECK(f.attributes("q").count("Policy") == 0);

  auto st = grant(f, "q", {"one", {"111122223333"}, {"SendMessage"}});
  INFO(outcome(st));
  REQUIRE(st.ok());
  json policy = policy_of(f, "q");
  CHECK(policy["Version"] == "2008-10-17");
  REQUIRE(policy["Statement"].is_array());
  REQUIRE(policy["Statement"].size() == 1);
  const json& s1 = policy["Statement"][0];
  CHECK(s1["Sid"] == "one");
  CHECK(s1["Effect"] == "Allow");
  CHECK(s1["Principal"]["AWS"] == "arn:aws:iam::111122223333:root");  // a string for one
  CHECK(s1["Action"] == "SQS:SendMessage");                           // a string for one
  CHECK(s1["Resource"] == "arn:aws:sqs:us-east-1:000000000000:q");

  REQUIRE(grant(f, "q", {"several", {"111122223333", "444455556666"}, {"ReceiveMessage", "DeleteMessage"}}).ok());
  REQUIRE(grant(f, "q", {"everything", {"777788889999"}, {"*"}}).ok());
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 3);
  const json* s2 = statement(policy, "several");
  REQUIRE(s2);
  CHECK((*s2)["Principal"]["AWS"] == json::array({"arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"}));
  CHECK((*s2)["Action"] == json::array({"SQS:ReceiveMessage", "SQS:DeleteMessage"}));
  CHECK((*s2)["Effect"] == "Allow");
  CHECK((*s2)["Resource"] == arn_of("q"));
  const json* s3 = statement(policy, "everything");
  REQUIRE(s3);
  CHECK((*s3)["Action"] == "SQS:*");
  REQUIRE(statement(policy, "one"));

  // Seven actions are allowed.
  REQUIRE(grant(f, "q",
                {"seven",
                 {"111122223333"},
                 {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
                  "GetQueueUrl", "PurgeQueue"}})
              .ok());
  policy = policy_of(f, "q");
  REQUIRE(statement(policy, "seven"));
  CHECK((*statement(policy, "seven"))["Action"].size() == 7);

  // Persisted.
  const std::string text = f.attributes("q").at("Policy");
  f.reopen();
  CHECK(f.attributes("q").at("Policy") == text);
}

ENGINE_TEST("add_permission errors leave the Policy unchanged", "[permissions]") {
  Fixture f(backend);
  f.create("q");
  REQUIRE(grant(f, "q", {"existing", {"111122223333"}, {"SendMessage"}}).ok());
  const std::string before = f.attributes("q").at("Policy");

  CHECK(code_of(grant(f, "q", {"existing", {"444455556666"}, {"ReceiveMessage"}})) == "InvalidParameterValue");
  CHECK(code_of(grant(f, "q",
                      {"eight",
                       {"111122223333"},
                       {"SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility",
                        "GetQueueAttributes", "GetQueueUrl", "PurgeQueue", "SendMessageBatch"}})) == "OverLimit");
  CHECK(grant(f, "q", {"eight", {"111122223333"}, std::vector<std::string>(8, "SendMessage")}).error().message ==
        "8 Actions were found, maximum allowed is 7.");
  for (const char* bad_id : {"12345", "abcdefghijkl", "1234567890123", "11112222333x", ""}) {
    CAPTURE(bad_id);
    CHECK(code_of(grant(f, "q", {"bad-account", {bad_id}, {"SendMessage"}})) == "InvalidParameterValue");
  }
  for (const char* owner_only : {"CreateQueue", "DeleteQueue", "SetQueueAttributes", "AddPermission",
                                 "RemovePermission", "TagQueue", "UntagQueue", "NoSuchAction"}) {
    CAPTURE(owner_only);
    CHECK(code_of(grant(f, "q", {"owner-only", {"111122223333"}, {owner_only}})) == "InvalidParameterValue");
  }
  for (const std::string& bad_label :
       {std::string(), std::string("has space"), std::string("dot.ted"), std::string(81, 'l')}) {
    CAPTURE(bad_label);
    CHECK(code_of(grant(f, "q", {bad_label, {"111122223333"}, {"SendMessage"}})) == "InvalidParameterValue");
  }
  CHECK(code_of(grant(f, "q", {"no-accounts", {}, {"SendMessage"}})) == "InvalidParameterValue");
  CHECK(code_of(grant(f, "q", {"no-actions", {"111122223333"}, {}})) == "MissingParameter");
  CHECK(f.attributes("q").at("Policy") == before);
  CHECK(code_of(grant(f, "missing", {"x", {"111122223333"}, {"SendMessage"}})) == "QueueDoesNotExist");
}

ENGINE_TEST("remove_permission removes the statement, and the Policy when it is empty", "[permissions]") {
  Fixture f(backend);
  f.create("q");
  CHECK(code_of(revoke(f, "q", "none")) == "InvalidParameterValue");  // no Policy at all
  REQUIRE(grant(f, "q", {"a", {"111122223333"}, {"SendMessage"}}).ok());
  REQUIRE(grant(f, "q", {"b", {"444455556666"}, {"ReceiveMessage"}}).ok());

  CHECK(code_of(revoke(f, "q", "missing")) == "InvalidParameterValue");
  CHECK(policy_of(f, "q")["Statement"].size() == 2);

  REQUIRE(revoke(f, "q", "a").ok());
  json policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "b");
  CHECK(code_of(revoke(f, "q", "a")) == "InvalidParameterValue");  // already removed
  f.reopen();
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "b");

  REQUIRE(revoke(f, "q", "b").ok());
  CHECK(f.attributes("q").count("Policy") == 0);
  f.reopen();
  CHECK(f.attributes("q").count("Policy") == 0);

  // The label is free again.
  REQUIRE(grant(f, "q", {"a", {"111122223333"}, {"SendMessage"}}).ok());
  CHECK(policy_of(f, "q")["Statement"].size() == 1);
}

ENGINE_TEST("permissions keep a Policy set by set_queue_attributes", "[permissions]") {
  Fixture f(backend);
  f.create("q");
  const json own = {{"Version", "2012-10-17"},
                    {"Statement", json::array({json{{"Sid", "Own"},
                                                    {"Effect", "Allow"},
                                                    {"Principal", {{"AWS", "arn:aws:iam::999999999999:root"}}},
                                                    {"Action", "SQS:SendMessage"},
                                                    {"Resource", arn_of("q")}}})}};
  REQUIRE(f->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  REQUIRE(grant(f, "q", {"Added", {"111122223333"}, {"ReceiveMessage"}}).ok());
  json policy = policy_of(f, "q");
  CHECK(policy["Statement"].size() == 2);
  CHECK(statement(policy, "Own"));
  CHECK(statement(policy, "Added"));
  CHECK(code_of(grant(f, "q", {"Own", {"111122223333"}, {"ReceiveMessage"}})) == "InvalidParameterValue");
  REQUIRE(revoke(f, "q", "Own").ok());
  policy = policy_of(f, "q");
  REQUIRE(policy["Statement"].size() == 1);
  CHECK(policy["Statement"][0]["Sid"] == "Added");
}

ENGINE_TEST("permissions keep a Policy whose Statement is a single object", "[permissions]") {
  // IAM's policy grammar allows "Statement" to be one statement object rather
  // than a list; SetQueueAttributes accepts such a Policy, and AddPermission
  // must not drop the statement already there.
  Fixture f(backend);
  f.create("q");
  const json own = {{"Version", "2012-10-17"},
                    {"Statement",
                     {{"Sid", "Own"},
                      {"Effect", "Allow"},
                      {"Principal", {{"AWS", "arn:aws:iam::999999999999:root"}}},
                      {"Action", "SQS:SendMessage"},
                      {"Resource", arn_of("q")}}}};
  REQUIRE(f->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  REQUIRE(grant(f, "q", {"Added", {"111122223333"}, {"ReceiveMessage"}}).ok());
  json policy = policy_of(f, "q");
  INFO(policy.dump());
  REQUIRE(policy["Statement"].is_array());
  CHECK(policy["Statement"].size() == 2);
  CHECK(statement(policy, "Own"));
  CHECK(statement(policy, "Added"));

  // And RemovePermission finds a single statement by its Sid.
  Fixture g(backend);
  g.create("q");
  REQUIRE(g->set_queue_attributes("q", {{"Policy", own.dump()}}).ok());
  auto st = revoke(g, "q", "Own");
  INFO(outcome(st));
  CHECK(st.ok());
}

ENGINE_TEST("evaluate_policy: AddPermission's statements allow their accounts and actions only",
            "[permissions][policy]") {
  Fixture f(backend);
  f.create("q");
  REQUIRE(grant(f, "q", {"send", {"111122223333"}, {"SendMessage"}}).ok());
  REQUIRE(grant(f, "q", {"all", {"444455556666"}, {"*"}}).ok());
  const std::string policy = f.attributes("q").at("Policy");
  const std::string arn = "arn:aws:sqs:us-east-1:000000000000:q";
  using wharf::storage::evaluate_policy;
  using wharf::storage::PolicyDecision;
  CHECK(evaluate_policy(policy, "111122223333", "SendMessage", arn) == PolicyDecision::Allow);
  CHECK(evaluate_policy(policy, "111122223333", "SendMessageBatch", arn) == PolicyDecision::Allow);  // its single form
  CHECK(evaluate_policy(policy, "111122223333", "ReceiveMessage", arn) == PolicyDecision::NoMatch);
  CHECK(evaluate_policy(policy, "444455556666", "PurgeQueue", arn) == PolicyDecision::Allow);
  CHECK(evaluate_policy(policy, "999999999999", "SendMessage", arn) == PolicyDecision::NoMatch);
  CHECK(evaluate_policy(policy, "111122223333", "SendMessage", "arn:aws:sqs:us-east-1:000000000000:other") ==
        PolicyDecision::NoMatch);  // Resource names the queue
}
