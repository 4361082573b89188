// The request pipeline (server/sqs_endpoint.h) driven directly: HTTP-shaped
// requests in, the answers the server would write out, over real engines in
// a temp dir (opened by Accounts, as the server opens them).
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <map>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/action_facts.h"
#include "protocol/checksums.h"
#include "protocol/sigv4.h"
#include "server/accounts.h"
#include "server/long_polls.h"
#include "server/message_attributes.h"
#include "server/queue_urls.h"
#include "server/settings.h"
#include "server/sqs_endpoint.h"
#include "storage/rocksdb/open.h"
#include "tests/unit/test_support.h"

namespace {

using namespace wharf;
using namespace wharf::server;
using nlohmann::json;
namespace http = boost::beast::http;

// One request; records its answers.
class TestExchange final : public Exchange {
 public:
  int answers = 0;
  std::string header(std::string_view name) const {
    for (const auto& [n, v] : response.headers) {
      if (n == name) return v;
    }
    return "";
  }

 protected:
  void answered() override { ++answers; }
};

// A server without sockets: accounts, long polls and the endpoint.
struct Server {
  testing::TempDir dir;
  Settings settings;
  boost::asio::io_context io;
  std::unique_ptr<LongPolls> long_polls;
  Accounts accounts;
  std::shared_ptr<EndpointState> state = std::make_shared<EndpointState>();
  std::unique_ptr<SqsEndpoint> endpoint;
  std::vector<std::unique_ptr<TestExchange>> exchanges;  // kept until the end: a long poll may answer late

  explicit Server(Credentials credentials = {}) {
    settings.data_dir = dir.path().string();
    settings.credentials = std::move(credentials);
    long_polls = std::make_unique<LongPolls>(io, 100);
    std::string error;
    if (!accounts.open(io, settings, *long_polls, error)) throw std::runtime_error(error);
    endpoint = std::make_unique<SqsEndpoint>(Services{settings, accounts, *long_polls}, state);
    accounts.start();  // the timers, and long polls woken by sends
  }
  ~Server() {
    accounts.stop();
    long_polls->shutdown();
    io.restart();
    io.poll();
    accounts.close();
  }

  // Serves `request`; the exchange holds the answer (a long poll's later).
  TestExchange* serve(HttpRequest request) {
    exchanges.push_back(std::make_unique<TestExchange>());
    TestExchange* x = exchanges.back().get();
    x->request = std::move(request);
    endpoint->serve(*x);
    return x;
  }
};

HttpRequest json_request(std::string_view action, const json& body) {
  HttpRequest r{http::verb::post, "/", 11};
  r.set(http::field::host, "localhost:9324");
  r.set(http::field::content_type, "application/x-amz-json-1.0");
  r.set("X-Amz-Target", "AmazonSQS." + std::string(action));
  r.body() = body.dump();
  r.prepare_payload();
  return r;
}

HttpRequest query_request(std::string form) {
  HttpRequest r{http::verb::post, "/", 11};
  r.set(http::field::host, "localhost:9324");
  r.set(http::field::content_type, "application/x-www-form-urlencoded; charset=utf-8");
  r.body() = std::move(form);
  r.prepare_payload();
  return r;
}

HttpRequest get(std::string_view target) {
  HttpRequest r{http::verb::get, target, 11};
  r.set(http::field::host, "localhost:9324");
  return r;
}

json body_of(const TestExchange& x) { return json::parse(x.response.body); }

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string xml_element(const std::string& xml, const std::string& name) {
  const auto start = xml.find("<" + name + ">");
  if (start == std::string::npos) return "";
  const auto from = start + name.size() + 2;
  return xml.substr(from, xml.find("</" + name + ">", from) - from);
}

constexpr const char* kQueueUrl = "http://localhost:9324/000000000000/q1";

// Signs `r` (SigV4, header form) with `secret` as access key AKID.
void sign(HttpRequest& r, const std::string& secret) {
  const std::time_t now = std::time(nullptr);
  char stamp[17];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
  r.set("X-Amz-Date", stamp);
  const std::string placeholder(64, '0');
  r.set(http::field::authorization, "AWS4-HMAC-SHA256 Credential=AKID/" + std::string(stamp, 8) +
                                        "/us-east-1/sqs/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                                        "Signature=" +
                                        placeholder);
  protocol::SignedRequest signed_request;
  signed_request.method = "POST";
  signed_request.target = "/";
  for (const auto& field : r) signed_request.headers.emplace_back(field.name_string(), field.value());
  signed_request.body = r.body();
  auto auth = protocol::parse_sigv4(signed_request);
  REQUIRE(auth.ok());
  std::string header(r[http::field::authorization]);
  header.replace(header.size() - 64, 64, protocol::expected_signature(signed_request, auth.value(), secret));
  r.set(http::field::authorization, header);
}

}  // namespace

TEST_CASE("JSON protocol: CreateQueue, SendMessage, ReceiveMessage through the pipeline", "[endpoint]") {
  Server server;
  auto created = server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  REQUIRE(created->answers == 1);
  CHECK(created->response.status == 200);
  CHECK(created->response.content_type == "application/x-amz-json-1.0");
  CHECK(body_of(*created) == json{{"QueueUrl", kQueueUrl}});
  CHECK(created->request_id.size() == 36);

  auto sent = server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "hello"}}));
  REQUIRE(sent->answers == 1);
  CHECK(sent->response.status == 200);
  CHECK(body_of(*sent)["MD5OfMessageBody"] == protocol::md5_hex("hello"));
  CHECK(body_of(*sent)["MessageId"].get<std::string>().size() == 36);
  CHECK(sent->request_id != created->request_id);

  auto received = server.serve(json_request("ReceiveMessage", {{"QueueUrl", kQueueUrl}}));
  REQUIRE(received->answers == 1);
  const json messages = body_of(*received)["Messages"];
  REQUIRE(messages.size() == 1);
  CHECK(messages[0]["Body"] == "hello");
  CHECK(messages[0]["MD5OfBody"] == "5d41402abc4b2a76b9719d911017c592");
  CHECK(messages[0]["MessageId"] == body_of(*sent)["MessageId"]);
}

// An exchange whose later work waits in a queue until the test runs it, as
// a connection's posted work waits behind the thread's other handlers.
class QueuedExchange final : public Exchange {
 public:
  int answers = 0;
  std::vector<std::function<void()>>* queue = nullptr;

 protected:
  void answered() override { ++answers; }
  void run_later(std::function<void()> work) override { queue->push_back(std::move(work)); }
};

TEST_CASE("Answers wait for one flush of the log shared by the requests before them", "[endpoint][durability]") {
  Server server;
  REQUIRE(server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}))->answers == 1);
  storage::Engine& engine = *server.accounts.own().engine;
  REQUIRE_FALSE(engine.log_buffered());
  std::vector<std::function<void()>> queue;
  std::vector<std::unique_ptr<QueuedExchange>> sends;
  for (int i = 0; i < 3; ++i) {
    sends.push_back(std::make_unique<QueuedExchange>());
    sends.back()->queue = &queue;
    sends.back()->request = json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "m"}});
    server.endpoint->serve(*sends.back());
  }
  // Written, not answered, not yet handed to the OS.
  CHECK(queue.size() == 3);
  for (const auto& x : sends) CHECK(x->answers == 0);
  CHECK(engine.log_buffered());
  // A request that writes nothing, served meanwhile, waits for the flush too.
  QueuedExchange reader;
  reader.queue = &queue;
  reader.request = json_request("GetQueueAttributes", {{"QueueUrl", kQueueUrl}, {"AttributeNames", {"All"}}});
  server.endpoint->serve(reader);
  CHECK(reader.answers == 0);
  REQUIRE(queue.size() == 4);

  queue[0]();  // the first flushes every write before it, then answers
  CHECK_FALSE(engine.log_buffered());
  CHECK(sends[0]->answers == 1);
  CHECK(sends[1]->answers == 0);
  for (size_t i = 1; i < queue.size(); ++i) queue[i]();
  for (const auto& x : sends) {
    CHECK(x->answers == 1);
    CHECK(x->response.status == 200);
  }
  REQUIRE(reader.answers == 1);
  CHECK(json::parse(reader.response.body)["Attributes"]["ApproximateNumberOfMessages"] == "3");

  // Nothing buffered: answered at once.
  QueuedExchange idle;
  idle.queue = &queue;
  idle.request = json_request("GetQueueUrl", {{"QueueName", "q1"}});
  server.endpoint->serve(idle);
  CHECK(idle.answers == 1);
  CHECK(queue.size() == 4);
}

TEST_CASE("Query protocol: the same actions answered in XML", "[endpoint]") {
  Server server;
  auto created = server.serve(query_request("Action=CreateQueue&QueueName=q1"));
  CHECK(created->response.status == 200);
  CHECK(created->response.content_type == "text/xml");
  CHECK(xml_element(created->response.body, "QueueUrl") == kQueueUrl);
  CHECK(xml_element(created->response.body, "RequestId") == created->request_id);

  // SendMessage POSTed to the queue's own path: the path is its QueueUrl.
  HttpRequest send = query_request("Action=SendMessage&MessageBody=hi%20there");
  send.target("/000000000000/q1");
  auto sent = server.serve(std::move(send));
  CHECK(sent->response.status == 200);
  CHECK(xml_element(sent->response.body, "MD5OfMessageBody") == protocol::md5_hex("hi there"));

  auto received = server.serve(query_request("Action=ReceiveMessage&QueueUrl=" + std::string(kQueueUrl)));
  const std::string& xml = received->response.body;
  CHECK(contains(xml, "<ReceiveMessageResult><Message>"));
  CHECK(xml_element(xml, "Body") == "hi there");
  const std::string handle = xml_element(xml, "ReceiptHandle");
  REQUIRE_FALSE(handle.empty());

  // An action without an output shape: no Result element.
  auto deleted = server.serve(
      query_request("Action=DeleteMessage&QueueUrl=" + std::string(kQueueUrl) + "&ReceiptHandle=" + handle));
  CHECK(deleted->response.status == 200);
  CHECK(contains(deleted->response.body, "<DeleteMessageResponse"));
  CHECK_FALSE(contains(deleted->response.body, "DeleteMessageResult"));
  auto empty = server.serve(query_request("Action=ReceiveMessage&QueueUrl=" + std::string(kQueueUrl)));
  CHECK(contains(empty->response.body, "<ReceiveMessageResult/>"));
}

TEST_CASE("An unknown action answers InvalidAction and counts as unknown", "[endpoint]") {
  Server server;
  auto x = server.serve(json_request("FlyToTheMoon", json::object()));
  CHECK(x->response.status == 400);
  CHECK(body_of(*x)["__type"] == "com.amazon.coral.service#UnknownOperationException");
  CHECK(x->header("x-amzn-query-error") == "InvalidAction;Sender");
  CHECK(x->response.error_code == "InvalidAction");

  auto metrics = server.serve(get("/metrics"));
  CHECK(contains(metrics->response.body, "wharf_requests_total{action=\"unknown\",outcome=\"client_error\"} 1\n"));
  CHECK_FALSE(contains(metrics->response.body, "FlyToTheMoon"));
}

TEST_CASE("Every action of the facts table has a handler that answers", "[endpoint]") {
  Server server;
  for (const auto& facts : kActionFacts) {
    CAPTURE(facts.name);
    // No parameters: every handler answers an error of its own (a missing
    // parameter, mostly), never InvalidAction, and answers exactly once.
    auto x = server.serve(json_request(facts.name, json::object()));
    CHECK(x->answers == 1);
    CHECK(x->response.error_code != "InvalidAction");
  }
}

TEST_CASE("The queue a request names is resolved before its other parameters", "[endpoint]") {
  Server server;
  server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  // No QueueUrl (and no MessageBody): the QueueUrl is missing first.
  auto missing = server.serve(json_request("SendMessage", json::object()));
  CHECK(missing->response.error_code == "MissingParameter");
  CHECK(contains(body_of(*missing)["message"].get<std::string>(), "QueueUrl"));
  // Another account's URL: no such queue, before MessageBody is looked at.
  auto other = server.serve(json_request("SendMessage", {{"QueueUrl", "http://localhost:9324/111111111111/q1"}}));
  CHECK(other->response.error_code == "QueueDoesNotExist");
  // The right queue, no body: now MessageBody.
  auto no_body = server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}}));
  CHECK(no_body->response.error_code == "MissingParameter");
  CHECK(contains(body_of(*no_body)["message"].get<std::string>(), "MessageBody"));
}

TEST_CASE("Requests are counted in the metrics by action and outcome", "[endpoint]") {
  Server server;
  server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "a"}}));
  server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "b"}}));
  server.serve(json_request("GetQueueUrl", {{"QueueName", "nope"}}));
  auto metrics = server.serve(get("/metrics"));
  CHECK(metrics->response.status == 200);
  CHECK(metrics->response.content_type == "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = metrics->response.body;
  CHECK(contains(text, "wharf_requests_total{action=\"SendMessage\",outcome=\"success\"} 2\n"));
  CHECK(contains(text, "wharf_requests_total{action=\"CreateQueue\",outcome=\"success\"} 1\n"));
  CHECK(contains(text, "wharf_requests_total{action=\"GetQueueUrl\",outcome=\"client_error\"} 1\n"));
  CHECK(contains(text, "wharf_request_duration_seconds_count{action=\"SendMessage\"} 2\n"));
  CHECK(contains(
      text, "wharf_queue_messages{account=\"000000000000\",region=\"us-east-1\",queue=\"q1\",state=\"visible\"} 2\n"));
  CHECK(contains(text, "wharf_storage_size_bytes{account=\"000000000000\",region=\"us-east-1\"} "));
  // /metrics itself is not an SQS request.
  CHECK_FALSE(contains(text, "action=\"unknown\""));
}

TEST_CASE("With credentials, requests need a valid signature", "[endpoint]") {
  Server server(Credentials{{"AKID", Credential{"right-secret", ""}}});
  auto unsigned_request = server.serve(json_request("ListQueues", json::object()));
  CHECK(unsigned_request->response.status == 403);
  CHECK(unsigned_request->response.error_code == "MissingAuthenticationToken");

  HttpRequest bad = json_request("ListQueues", json::object());
  sign(bad, "wrong-secret");
  auto refused = server.serve(std::move(bad));
  CHECK(refused->response.status == 403);
  CHECK(refused->response.error_code == "SignatureDoesNotMatch");

  HttpRequest good = json_request("CreateQueue", {{"QueueName", "q1"}});
  sign(good, "right-secret");
  auto created = server.serve(std::move(good));
  CHECK(created->response.status == 200);
  CHECK(body_of(*created) == json{{"QueueUrl", kQueueUrl}});

  // /health stays unsigned.
  auto health = server.serve(get("/health"));
  CHECK(health->response.status == 200);
  CHECK(health->response.body == "ok\n");
}

TEST_CASE("A long poll answers later, when a message arrives", "[endpoint]") {
  Server server;
  server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  auto waiting = server.serve(json_request("ReceiveMessage", {{"QueueUrl", kQueueUrl}, {"WaitTimeSeconds", 5}}));
  server.io.poll();
  CHECK(waiting->answers == 0);
  server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "late"}}));
  for (int i = 0; i < 200 && waiting->answers == 0; ++i) {
    server.io.restart();
    server.io.run_for(std::chrono::milliseconds(10));
  }
  REQUIRE(waiting->answers == 1);
  CHECK(body_of(*waiting)["Messages"][0]["Body"] == "late");
}

TEST_CASE("The console API goes through the same pipeline", "[endpoint]") {
  Server server;
  server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  server.serve(json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "peek me"}}));
  HttpRequest peek{http::verb::post, "/console/api/peek", 11};
  peek.body() = json{{"QueueUrl", kQueueUrl}}.dump();
  peek.prepare_payload();
  auto peeked = server.serve(std::move(peek));
  CHECK(peeked->response.status == 200);
  CHECK(body_of(*peeked)["Messages"][0]["Body"] == "peek me");
  auto page = server.serve(get("/console/"));
  CHECK(page->response.status == 200);
  CHECK(contains(page->response.body, "<html"));
}

TEST_CASE("Answer heads as they go on the wire", "[endpoint]") {
  protocol::EncodedResponse answer;
  answer.content_type = "text/plain";
  answer.body = "ok\n";
  answer.headers.emplace_back("x-extra", "1");
  CHECK(response_head(11, true, answer, "rid") ==
        "HTTP/1.1 200 OK\r\nServer: wharf\r\nContent-Type: text/plain\r\nx-amzn-RequestId: rid\r\nx-extra: 1\r\n"
        "Content-Length: 3\r\n\r\n");
  answer.status = 404;
  CHECK(response_head(10, true, answer, "") ==
        "HTTP/1.0 404 Not Found\r\nServer: wharf\r\nContent-Type: text/plain\r\nx-extra: 1\r\n"
        "Connection: keep-alive\r\nContent-Length: 3\r\n\r\n");
  CHECK(contains(response_head(11, false, answer, ""), "Connection: close\r\n"));
}

TEST_CASE("Request threads: one per core; one for RocksDB on up to 2 cores; a given count wins", "[settings]") {
  wharf::server::Settings settings;
  CHECK(wharf::server::request_threads(settings, 2) == 1);
  CHECK(wharf::server::request_threads(settings, 1) == 1);
  CHECK(wharf::server::request_threads(settings, 0) == 1);  // core count unknown
  CHECK(wharf::server::request_threads(settings, 4) == 4);
  settings.ephemeral = true;  // RocksDB in memory: the same engine
  CHECK(wharf::server::request_threads(settings, 2) == 1);
  settings.storage = "postgresql";
  CHECK(wharf::server::request_threads(settings, 2) == 2);
  CHECK(wharf::server::request_threads(settings, 0) == 1);
  settings.threads = 3;
  CHECK(wharf::server::request_threads(settings, 2) == 3);
  settings.storage = "rocksdb";
  CHECK(wharf::server::request_threads(settings, 2) == 3);
}

TEST_CASE("Action facts agree with the wire names", "[facts]") {
  CHECK(find_action_facts("SendMessage")->action == SqsAction::SendMessage);
  CHECK(find_action_facts("Nope") == nullptr);
  CHECK(policy_may_grant("*"));
  CHECK(policy_may_grant("SendMessageBatch"));
  CHECK_FALSE(policy_may_grant("DeleteQueue"));
  CHECK_FALSE(policy_may_grant("AddPermission"));
  CHECK(facts_of(SqsAction::GetQueueUrl).auto_create == AutoCreate::ByQueueName);
  CHECK(facts_of(SqsAction::DeleteQueue).auto_create == AutoCreate::Never);
  CHECK_FALSE(facts_of(SqsAction::PurgeQueue).xml_result_element);
}

TEST_CASE("X-Amzn-Trace-Id becomes the AWSTraceHeader system attribute", "[endpoint]") {
  Server server;
  server.serve(json_request("CreateQueue", {{"QueueName", "q1"}}));
  const std::string trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
  HttpRequest traced = json_request("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "traced"}});
  traced.set("X-Amzn-Trace-Id", trace);
  auto sent = server.serve(std::move(traced));
  CHECK(sent->response.status == 200);
  CHECK_FALSE(body_of(*sent).contains("MD5OfMessageSystemAttributes"));  // the SDK sent no system attribute
  // The message's own AWSTraceHeader wins over the header.
  HttpRequest both = json_request(
      "SendMessage",
      {{"QueueUrl", kQueueUrl},
       {"MessageBody", "explicit"},
       {"MessageSystemAttributes", {{"AWSTraceHeader", {{"DataType", "String"}, {"StringValue", "Root=own"}}}}}});
  both.set("X-Amzn-Trace-Id", trace);
  server.serve(std::move(both));
  auto received = server.serve(json_request(
      "ReceiveMessage",
      {{"QueueUrl", kQueueUrl}, {"MaxNumberOfMessages", 10}, {"MessageSystemAttributeNames", {"AWSTraceHeader"}}}));
  const json answer = body_of(*received);
  std::map<std::string, std::string> trace_of;
  for (const auto& m : answer["Messages"]) {
    trace_of[m["Body"]] = m["Attributes"]["AWSTraceHeader"];
  }
  CHECK(trace_of == std::map<std::string, std::string>{{"traced", trace}, {"explicit", "Root=own"}});
}

TEST_CASE("A missing queue is worded per protocol", "[endpoint]") {
  Server server;
  auto json_answer = server.serve(json_request("GetQueueUrl", {{"QueueName", "nope"}}));
  CHECK(body_of(*json_answer)["message"] == "The specified queue does not exist.");
  auto query_answer = server.serve(query_request("Action=GetQueueUrl&QueueName=nope"));
  CHECK(xml_element(query_answer->response.body, "Message") ==
        "The specified queue does not exist for this wsdl version.");
  CHECK(xml_element(query_answer->response.body, "Code") == "AWS.SimpleQueueService.NonExistentQueue");
}

TEST_CASE("Message attribute names and values as AWS checks them", "[attributes]") {
  auto check = [](const std::string& name, const json& value) {
    const json attributes = {{name, value}};
    return validate_message_attributes(&attributes);
  };
  const json text = {{"DataType", "String"}, {"StringValue", "v"}};
  CHECK(check("attr.1\u00f8\u00df\u00e4", text).ok());
  CHECK(check("\u540d\u524d-\u0438\u043c\u044f_\u03b1", text).ok());
  CHECK(check(std::string(256, 'n'), text).ok());
  CHECK_FALSE(check("bad\xc3", text).ok());  // not UTF-8
  for (const std::string bad : {"a!b", "a\"b", "a\u00a7b", "a(b", "a?b", ".lead", "trail.", "a..b", "AWS.x", "aws.x",
                                "Amazon.x", "AMAZON.x", "a\u00d7b", "a b"}) {
    CAPTURE(bad);
    CHECK(check(bad, text).error().message == "Message (user) attribute name '" + bad + "' is invalid.");
  }
  CHECK_FALSE(check(std::string(257, 'n'), text).ok());
  std::string long_letters;
  for (int i = 0; i < 257; ++i) long_letters += "\u00e4";
  CHECK_FALSE(check(long_letters, text).ok());      // 257 characters
  CHECK(check(long_letters.substr(2), text).ok());  // 256 characters, 512 bytes
  CHECK(check("e", {{"DataType", "String"}, {"StringValue", ""}}).error().message ==
        "Message (user) attribute 'e' must contain a non-empty value of type 'String'.");
  CHECK(check("t", {{"DataType", "Strin"}, {"StringValue", "v"}}).error().message ==
        "The type of message (user) attribute 't' is invalid. You must use only the following supported type "
        "prefixes: Binary, Number, String.");
}

TEST_CASE("Range errors of integer parameters in AWS's words", "[params]") {
  const json params = {{"WaitTimeSeconds", 21}, {"DelaySeconds", -1}, {"Fine", 5}};
  CHECK(optional_int_within(params, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20, if provided.").error().message ==
        "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.");
  CHECK(optional_int_within(params, "DelaySeconds", 0, 900, "DelaySeconds must be >= 0 and <= 900.").error().message ==
        "Value -1 for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.");
  CHECK(*optional_int_within(params, "Fine", 0, 10, "").value() == 5);
  CHECK_FALSE(optional_int_within(params, "Absent", 0, 10, "").value().has_value());
}

// --- Regions (H4) -----------------------------------------------------------

TEST_CASE("Queue URLs name their region outside the default one; bare names too", "[regions]") {
  auto home = split_queue_url("http://localhost:9324/000000000000/orders");
  REQUIRE(home);
  CHECK(home->region.empty());
  CHECK(home->account_id == "000000000000");
  CHECK(home->name == "orders");
  auto eu = split_queue_url("https://sqs.example/queue/eu-west-1/111111111111/orders.fifo?x=1");
  REQUIRE(eu);
  CHECK(eu->region == "eu-west-1");
  CHECK(eu->account_id == "111111111111");
  CHECK(eu->name == "orders.fifo");
  auto path = split_queue_url("/queue/us-west-2/000000000000/q/");
  REQUIRE(path);
  CHECK(path->region == "us-west-2");
  auto bare = split_queue_url("orders");
  REQUIRE(bare);
  CHECK(bare->account_id.empty());
  CHECK(bare->name == "orders");
  for (const char* not_a_queue :
       {"", "http://localhost:9324/", "http://localhost:9324", "/a/b/c", "/queue/eu-west-1/000000000000",
        "/x/eu-west-1/000000000000/q", "//q", "/queue/eu-west-1/000000000000/q/extra", "/queue//000000000000/q"}) {
    INFO(not_a_queue);
    CHECK_FALSE(split_queue_url(not_a_queue));
  }
}

TEST_CASE("A request's region is its signature's scope; unsigned ones get --region", "[regions]") {
  using protocol::credential_scope_region;
  const std::string header =
      "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/sqs/aws4_request, SignedHeaders=host, Signature=ab";
  CHECK(credential_scope_region(header, "/") == "eu-west-1");
  CHECK(credential_scope_region("",
                                "/?Action=ListQueues&X-Amz-Credential=AKID%2F20240101%2Fap-south-2%2Fsqs%2F"
                                "aws4_request&X-Amz-Signature=ab") == "ap-south-2");
  CHECK(credential_scope_region("", "/?Action=ListQueues").empty());
  CHECK(credential_scope_region("AWS4-HMAC-SHA256 Signature=ab", "/").empty());
  CHECK(is_region_name("us-gov-west-1"));
  CHECK(is_region_name("local"));
  CHECK_FALSE(is_region_name("EU-WEST-1"));
  CHECK_FALSE(is_region_name("../x"));
  CHECK_FALSE(is_region_name(""));
  CHECK_FALSE(is_region_name(std::string(33, 'a')));

  auto unsigned_caller = unverified_caller("", "/", "000000000000", "us-east-1");
  REQUIRE(unsigned_caller);
  CHECK(unsigned_caller->region == "us-east-1");
  auto eu = unverified_caller(header, "/", "000000000000", "us-east-1");
  REQUIRE(eu);
  CHECK(eu->region == "eu-west-1");
  auto bad = unverified_caller(
      "AWS4-HMAC-SHA256 Credential=AKID/20240101/Bad_Region/sqs/aws4_request, SignedHeaders=host, Signature=ab", "/",
      "000000000000", "us-east-1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::SignatureDoesNotMatch);
  CHECK(bad.error().message == "Credential should be scoped to a valid region, not 'Bad_Region'.");
}

TEST_CASE("Each region of an account is its own set of queues, opened on first use", "[regions]") {
  Server server;
  auto in_region = [](HttpRequest r, const std::string& region) {
    r.set(http::field::authorization,
          "AWS4-HMAC-SHA256 Credential=x/20240101/" + region + "/sqs/aws4_request, SignedHeaders=host, Signature=ab");
    return r;
  };
  auto eu = server.serve(in_region(json_request("CreateQueue", {{"QueueName", "q"}}), "eu-west-1"));
  REQUIRE(eu->response.status == 200);
  CHECK(body_of(*eu)["QueueUrl"] == "http://localhost:9324/queue/eu-west-1/000000000000/q");
  auto home = server.serve(json_request("CreateQueue", {{"QueueName", "q"}}));
  CHECK(body_of(*home)["QueueUrl"] == "http://localhost:9324/000000000000/q");

  auto send =
      server.serve(in_region(json_request("SendMessage", {{"QueueUrl", "q"}, {"MessageBody", "eu"}}), "eu-west-1"));
  REQUIRE(send->response.status == 200);
  auto arn = server.serve(
      in_region(json_request("GetQueueAttributes",
                             {{"QueueUrl", "q"}, {"AttributeNames", {"QueueArn", "ApproximateNumberOfMessages"}}}),
                "eu-west-1"));
  CHECK(body_of(*arn)["Attributes"]["QueueArn"] == "arn:aws:sqs:eu-west-1:000000000000:q");
  CHECK(body_of(*arn)["Attributes"]["ApproximateNumberOfMessages"] == "1");
  auto home_count = server.serve(json_request(
      "GetQueueAttributes", {{"QueueUrl", "/000000000000/q"}, {"AttributeNames", {"ApproximateNumberOfMessages"}}}));
  CHECK(body_of(*home_count)["Attributes"]["ApproximateNumberOfMessages"] == "0");

  // a URL of another region than the request's names no queue
  auto crossed = server.serve(
      json_request("GetQueueAttributes", {{"QueueUrl", "http://localhost:9324/queue/eu-west-1/000000000000/q"}}));
  CHECK(crossed->response.status == 400);
  CHECK(contains(crossed->header("x-amzn-query-error"), "AWS.SimpleQueueService.NonExistentQueue"));
  auto listed = server.serve(in_region(json_request("ListQueues", json::object()), "us-west-2"));
  CHECK_FALSE(body_of(*listed).contains("QueueUrls"));
  // the query protocol's request to a queue's URL names that queue
  auto by_path = server.serve(in_region(
      get("/queue/eu-west-1/000000000000/q?Action=GetQueueAttributes&AttributeName.1=QueueArn"), "eu-west-1"));
  CHECK(by_path->response.status == 200);
  CHECK(contains(by_path->response.body, "arn:aws:sqs:eu-west-1:000000000000:q"));
}

// --- Engines that complete later, on another thread (as PostgreSQL will) ---

namespace {

// Wraps an engine so that each operation runs later on a thread of its own,
// with copies of its arguments (as the contract lets a backend do): its
// `done` runs there, after the handler that asked has returned. A handler
// or continuation that kept a reference to its own stack, or answered
// before the engine did, shows here.
class DeferredEngine final : public storage::Engine {
 public:
  explicit DeferredEngine(std::unique_ptr<storage::Engine> inner) : inner_(std::move(inner)) {
    worker_ = std::thread([this] { work(); });
  }
  ~DeferredEngine() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    wake_.notify_one();
    worker_.join();
  }

  void set_listener(storage::EngineListener* listener) override { inner_->set_listener(listener); }
  void async_create_queue(const std::string& name, const storage::AttributeMap& attributes, const storage::TagMap& tags,
                          storage::Done<Result<storage::QueueInfo>> done) override {
    later([=, this] { inner_->async_create_queue(name, attributes, tags, done); });
  }
  void async_get_queue(const std::string& name, storage::Done<Result<storage::QueueInfo>> done) override {
    later([=, this] { inner_->async_get_queue(name, done); });
  }
  void async_queue_int_attribute(const std::string& name, const std::string& attribute,
                                 storage::Done<Result<int64_t>> done) override {
    later([=, this] { inner_->async_queue_int_attribute(name, attribute, done); });
  }
  void async_list_queues(std::string_view prefix, storage::Done<Result<std::vector<std::string>>> done) override {
    later([=, this, prefix = std::string(prefix)] { inner_->async_list_queues(prefix, done); });
  }
  void async_delete_queue(const std::string& name, storage::Done<Status> done) override {
    later([=, this] { inner_->async_delete_queue(name, done); });
  }
  void async_queue_counts(const std::string& name, storage::Done<Result<storage::QueueCounts>> done) override {
    later([=, this] { inner_->async_queue_counts(name, done); });
  }
  void async_set_queue_attributes(const std::string& name, const storage::AttributeMap& attributes,
                                  storage::Done<Status> done) override {
    later([=, this] { inner_->async_set_queue_attributes(name, attributes, done); });
  }
  void async_purge_queue(const std::string& name, storage::Done<Status> done) override {
    later([=, this] { inner_->async_purge_queue(name, done); });
  }
  void async_modify_queue(const std::string& name, std::function<Status(storage::QueueInfo&)> change,
                          storage::Done<Status> done) override {
    later([=, this] { inner_->async_modify_queue(name, change, done); });
  }
  void async_dead_letter_source_queues(const std::string& name,
                                       storage::Done<Result<std::vector<std::string>>> done) override {
    later([=, this] { inner_->async_dead_letter_source_queues(name, done); });
  }
  void async_send_messages(const std::string& queue_name, std::vector<storage::NewMessage> messages, SendKind kind,
                           storage::Done<Result<std::vector<Result<storage::SentMessage>>>> done) override {
    later([=, this, messages = std::move(messages)] { inner_->async_send_messages(queue_name, messages, kind, done); });
  }
  void async_delete_messages(const std::string& queue_name, const std::vector<std::string>& receipt_handles,
                             storage::Done<Result<std::vector<Status>>> done) override {
    later([=, this] { inner_->async_delete_messages(queue_name, receipt_handles, done); });
  }
  void async_change_visibilities(const std::string& queue_name, const std::vector<storage::VisibilityChange>& changes,
                                 storage::Done<Result<std::vector<Status>>> done) override {
    later([=, this] { inner_->async_change_visibilities(queue_name, changes, done); });
  }
  void async_receive_messages(const std::string& queue_name, int max_messages, std::optional<int> visibility_timeout,
                              const std::string& attempt_id,
                              storage::Done<Result<std::vector<storage::ReceivedMessage>>> done) override {
    later(
        [=, this] { inner_->async_receive_messages(queue_name, max_messages, visibility_timeout, attempt_id, done); });
  }
  void async_peek_messages(const std::string& queue_name, size_t max_messages,
                           storage::Done<Result<std::vector<storage::PeekedMessage>>> done) override {
    later([=, this] { inner_->async_peek_messages(queue_name, max_messages, done); });
  }
  void async_delete_peeked_message(const std::string& queue_name, const std::string& position,
                                   const std::string& message_id, storage::Done<Status> done) override {
    later([=, this] { inner_->async_delete_peeked_message(queue_name, position, message_id, done); });
  }
  void async_start_move_task(const std::string& source_name, std::optional<std::string> destination,
                             std::optional<int> max_per_second, storage::Done<Result<std::string>> done) override {
    later([=, this] { inner_->async_start_move_task(source_name, destination, max_per_second, done); });
  }
  void async_cancel_move_task(const std::string& task_id, storage::Done<Result<uint64_t>> done) override {
    later([=, this] { inner_->async_cancel_move_task(task_id, done); });
  }
  void async_list_move_tasks(const std::string& source_name, size_t max_results,
                             storage::Done<Result<std::vector<storage::MoveTask>>> done) override {
    later([=, this] { inner_->async_list_move_tasks(source_name, max_results, done); });
  }
  void async_run_due_work(storage::Done<std::optional<int64_t>> done) override {
    later([=, this] { inner_->async_run_due_work(done); });
  }
  uint64_t log_position() override { return inner_->log_position(); }
  Status sync_log() override { return inner_->sync_log(); }
  uint64_t storage_bytes() override { return inner_->storage_bytes(); }

 private:
  void later(std::function<void()> operation) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(operation));
    }
    wake_.notify_one();
  }
  void work() {
    std::unique_lock lock(mu_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything asked has run
      auto operation = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      operation();
      lock.lock();
    }
  }

  std::unique_ptr<storage::Engine> inner_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread worker_;
};

// One request whose answer may come on another thread.
class LaterExchange final : public Exchange {
 public:
  // The answer, once there (false after 5 s without one).
  bool wait() {
    std::unique_lock lock(mu_);
    return done_.wait_for(lock, std::chrono::seconds(5), [this] { return answers_ > 0; });
  }
  int answers() {
    std::lock_guard lock(mu_);
    return answers_;
  }

 protected:
  void answered() override {
    std::lock_guard lock(mu_);
    ++answers_;
    done_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  int answers_ = 0;
};

// The server's own account on a DeferredEngine over RocksDB, with its
// scheduler, and an I/O thread for the scheduler's timer and the long polls.
struct DeferredServer {
  testing::TempDir dir;
  Settings settings;
  boost::asio::io_context io;
  std::unique_ptr<LongPolls> long_polls;
  Accounts accounts;
  std::unique_ptr<SqsEndpoint> endpoint;
  std::vector<std::unique_ptr<LaterExchange>> exchanges;
  std::thread io_thread;

  DeferredServer() {
    long_polls = std::make_unique<LongPolls>(io, 100);
    storage::EngineOptions options;
    options.region = settings.region;
    options.account_id = settings.account_id;
    options.queue_delete_cooldown_ms = 0;
    storage::RocksOptions rocks;
    rocks.data_dir = dir.path().string();
    std::string error;
    auto inner = storage::open_rocksdb_engine(options, rocks, error);
    if (!inner) throw std::runtime_error(error);
    auto account = std::make_unique<Account>();
    account->id = settings.account_id;
    account->region = settings.region;
    account->engine = std::make_unique<DeferredEngine>(std::move(inner));
    account->scheduler =
        std::make_unique<Scheduler>(io, *account->engine, *long_polls, settings.account_id, settings.region);
    accounts.add(std::move(account));
    endpoint =
        std::make_unique<SqsEndpoint>(Services{settings, accounts, *long_polls}, std::make_shared<EndpointState>());
    accounts.start();
    io_thread = std::thread([this] {
      auto work = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~DeferredServer() {
    accounts.stop();
    long_polls->shutdown();
    io.stop();
    io_thread.join();
    accounts.close();
  }

  // Serves `request` and waits for its answer, which must come after serve
  // returned (the engine answers later), exactly once.
  LaterExchange& serve(HttpRequest request) {
    exchanges.push_back(std::make_unique<LaterExchange>());
    LaterExchange& x = *exchanges.back();
    x.request = std::move(request);
    endpoint->serve(x);
    REQUIRE(x.wait());
    CHECK(x.answers() == 1);
    return x;
  }
  json call(std::string_view action, const json& body) {
    LaterExchange& x = serve(json_request(action, body));
    INFO(action << ": " << x.response.body);
    CHECK(x.response.status == 200);
    return x.response.body.empty() ? json::object() : json::parse(x.response.body);
  }
};

}  // namespace

TEST_CASE("Every action answers when the engine completes later, on another thread", "[endpoint][async]") {
  DeferredServer server;
  const std::string dlq_url = "http://localhost:9324/000000000000/dlq";
  const std::string dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
  CHECK(server.call("CreateQueue", {{"QueueName", "dlq"}})["QueueUrl"] == dlq_url);
  CHECK(server.call("CreateQueue", {{"QueueName", "q1"}, {"tags", {{"team", "a"}}}})["QueueUrl"] == kQueueUrl);
  CHECK(server.call("GetQueueUrl", {{"QueueName", "q1"}})["QueueUrl"] == kQueueUrl);
  CHECK(server.call("ListQueues", json::object())["QueueUrls"].size() == 2);
  server.call(
      "SetQueueAttributes",
      {{"QueueUrl", kQueueUrl},
       {"Attributes", {{"RedrivePolicy", json{{"deadLetterTargetArn", dlq_arn}, {"maxReceiveCount", 1}}.dump()}}}});

  // Batches: two sent (one over no limit), received, one deleted, one made
  // visible again, by a batch each.
  auto sent =
      server.call("SendMessageBatch",
                  {{"QueueUrl", kQueueUrl},
                   {"Entries", {{{"Id", "a"}, {"MessageBody", "one"}}, {{"Id", "b"}, {"MessageBody", "two"}}}}});
  CHECK(sent["Successful"].size() == 2);
  CHECK(sent["Failed"].empty());
  auto received =
      server.call("ReceiveMessage", {{"QueueUrl", kQueueUrl}, {"MaxNumberOfMessages", 10}, {"VisibilityTimeout", 30}});
  REQUIRE(received["Messages"].size() == 2);
  const std::string first = received["Messages"][0]["ReceiptHandle"];
  const std::string second = received["Messages"][1]["ReceiptHandle"];
  auto deleted =
      server.call("DeleteMessageBatch",
                  {{"QueueUrl", kQueueUrl}, {"Entries", {{{"Id", "d"}, {"ReceiptHandle", first}}, {{"Id", "e"}}}}});
  CHECK(deleted["Successful"] == json::array({{{"Id", "d"}}}));
  CHECK(deleted["Failed"][0]["Id"] == "e");
  auto changed = server.call(
      "ChangeMessageVisibilityBatch",
      {{"QueueUrl", kQueueUrl}, {"Entries", {{{"Id", "c"}, {"ReceiptHandle", second}, {"VisibilityTimeout", 0}}}}});
  CHECK(changed["Successful"] == json::array({{{"Id", "c"}}}));
  auto attributes = server.call("GetQueueAttributes", {{"QueueUrl", kQueueUrl}, {"AttributeNames", {"All"}}});
  CHECK(attributes["Attributes"]["ApproximateNumberOfMessages"] == "1");
  CHECK(attributes["Attributes"]["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:q1");

  // Redrive (the second receive of a message past maxReceiveCount 1), then
  // the dead-letter actions and a move task back.
  CHECK(server.call("ReceiveMessage", {{"QueueUrl", kQueueUrl}}).value("Messages", json::array()).empty());
  CHECK(server.call("ListDeadLetterSourceQueues", {{"QueueUrl", dlq_url}})["queueUrls"] == json::array({kQueueUrl}));
  auto task = server.call("StartMessageMoveTask", {{"SourceArn", dlq_arn}, {"MaxNumberOfMessagesPerSecond", 1}});
  REQUIRE(task.contains("TaskHandle"));
  CHECK(server.call("ListMessageMoveTasks", {{"SourceArn", dlq_arn}})["Results"].size() == 1);
  auto cancelled = server.call("CancelMessageMoveTask", {{"TaskHandle", task["TaskHandle"]}});
  CHECK(cancelled.contains("ApproximateNumberOfMessagesMoved"));

  // Tags and permissions.
  server.call("TagQueue", {{"QueueUrl", kQueueUrl}, {"Tags", {{"env", "test"}}}});
  server.call("UntagQueue", {{"QueueUrl", kQueueUrl}, {"TagKeys", {"team"}}});
  CHECK(server.call("ListQueueTags", {{"QueueUrl", kQueueUrl}})["Tags"] == json{{"env", "test"}});
  server.call("AddPermission",
              {{"QueueUrl", kQueueUrl}, {"Label", "l"}, {"AWSAccountIds", {"111111111111"}}, {"Actions", {"*"}}});
  auto policy = server.call("GetQueueAttributes", {{"QueueUrl", kQueueUrl}, {"AttributeNames", {"Policy"}}});
  CHECK(contains(policy["Attributes"]["Policy"], "111111111111"));
  server.call("RemovePermission", {{"QueueUrl", kQueueUrl}, {"Label", "l"}});

  // The console's peek and delete, and /metrics.
  server.call("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "peek me"}});
  HttpRequest peek{http::verb::post, "/console/api/peek", 11};
  peek.body() = json{{"QueueUrl", kQueueUrl}}.dump();
  peek.prepare_payload();
  auto& peeked = server.serve(std::move(peek));
  REQUIRE(peeked.response.status == 200);
  const json message = json::parse(peeked.response.body)["Messages"][0];
  CHECK(message["Body"] == "peek me");
  HttpRequest remove{http::verb::post, "/console/api/delete", 11};
  remove.body() =
      json{{"QueueUrl", kQueueUrl}, {"MessageId", message["MessageId"]}, {"Position", message["Position"]}}.dump();
  remove.prepare_payload();
  CHECK(server.serve(std::move(remove)).response.status == 200);
  auto& metrics = server.serve(get("/metrics"));
  CHECK(
      contains(metrics.response.body,
               "wharf_queue_messages{account=\"000000000000\",region=\"us-east-1\",queue=\"dlq\",state=\"visible\"}"));

  server.call("PurgeQueue", {{"QueueUrl", kQueueUrl}});
  server.call("DeleteQueue", {{"QueueUrl", kQueueUrl}});
  CHECK(server.call("ListQueues", json::object())["QueueUrls"] == json::array({dlq_url}));
}

TEST_CASE("The scheduler's due work completes on the engine's thread", "[endpoint][async]") {
  DeferredServer server;
  server.call("CreateQueue", {{"QueueName", "q1"}});
  server.call("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "later"}, {"DelaySeconds", 1}});
  // Visible only once the scheduler has run the engine's due work.
  auto received = server.call("ReceiveMessage", {{"QueueUrl", kQueueUrl}, {"WaitTimeSeconds", 3}});
  REQUIRE(received.contains("Messages"));
  CHECK(received["Messages"][0]["Body"] == "later");
}

TEST_CASE("A long poll runs one attempt at a time; a deadline during one waits for its outcome", "[long_polls]") {
  using namespace std::chrono_literals;
  boost::asio::io_context io;
  LongPolls polls(io, 10);
  int attempts = 0;
  int expired = 0;
  LongPolls::AttemptDone in_flight;  // the attempt's completion, called by the test (as an engine would, later)
  auto attempt = [&](LongPolls::AttemptDone done) {
    ++attempts;
    in_flight = std::move(done);
  };
  auto expire = [&] { ++expired; };
  auto end_attempt = [&](bool answered) { std::exchange(in_flight, nullptr)(answered); };
  auto run = [&] {
    io.restart();
    io.run_for(30ms);
  };

  SECTION("a notify during an attempt makes it try again once it has found nothing") {
    REQUIRE(polls.wait("q", std::chrono::steady_clock::now() + 5s, attempt, expire));
    CHECK(attempts == 1);
    polls.notify("q");
    run();
    CHECK(attempts == 1);
    end_attempt(false);
    run();
    CHECK(attempts == 2);
    end_attempt(true);
    CHECK(polls.waiting() == 0);
    CHECK(expired == 0);
  }
  SECTION("the messages an attempt received when the deadline passed are the answer") {
    REQUIRE(polls.wait("q", std::chrono::steady_clock::now() + 5ms, attempt, expire));
    run();
    CHECK(expired == 0);
    CHECK(polls.waiting() == 1);
    end_attempt(true);
    run();
    CHECK(expired == 0);
    CHECK(polls.waiting() == 0);
  }
  SECTION("an attempt that found nothing when the deadline passed answers empty") {
    REQUIRE(polls.wait("q", std::chrono::steady_clock::now() + 5ms, attempt, expire));
    run();
    CHECK(expired == 0);
    end_attempt(false);
    CHECK(expired == 1);
    run();
    CHECK(attempts == 1);
    CHECK(polls.waiting() == 0);
  }
  SECTION("a shutdown during an attempt answers once it has found nothing") {
    REQUIRE(polls.wait("q", std::chrono::steady_clock::now() + 5s, attempt, expire));
    polls.shutdown();
    run();
    CHECK(expired == 0);
    end_attempt(false);
    CHECK(expired == 1);
    CHECK(polls.waiting() == 0);
  }
}

TEST_CASE("--auto-create-queues and long polls when the engine completes later", "[endpoint][async]") {
  DeferredServer server;
  server.settings.auto_create_queues = true;
  CHECK(server.call("GetQueueUrl", {{"QueueName", "made.fifo"}})["QueueUrl"] ==
        "http://localhost:9324/000000000000/made.fifo");
  server.call("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "first"}});  // creates q1
  CHECK(server.call("ReceiveMessage", {{"QueueUrl", kQueueUrl}})["Messages"][0]["Body"] == "first");

  // A long poll that finds nothing waits; a send wakes it.
  server.exchanges.push_back(std::make_unique<LaterExchange>());
  LaterExchange& waiting = *server.exchanges.back();
  waiting.request = json_request("ReceiveMessage", {{"QueueUrl", kQueueUrl}, {"WaitTimeSeconds", 5}});
  server.endpoint->serve(waiting);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(waiting.answers() == 0);
  server.call("SendMessage", {{"QueueUrl", kQueueUrl}, {"MessageBody", "late"}});
  REQUIRE(waiting.wait());
  CHECK(waiting.answers() == 1);
  CHECK(json::parse(waiting.response.body)["Messages"][0]["Body"] == "late");
}
