#include "options.h"

#include <boost/program_options.hpp>
#include <iostream>

namespace po = boost::program_options;

namespace wharf::bench {

const char* to_string(Protocol p) { return p == Protocol::Json ? "json" : "query"; }

const char* to_string(Scenario s) {
  switch (s) {
    case Scenario::Send:
      return "send";
    case Scenario::SendBatch:
      return "sendbatch";
    case Scenario::RecvDel:
      return "recvdel";
    case Scenario::Pipeline:
      return "pipeline";
    case Scenario::Fifo:
      return "fifo";
    case Scenario::LongPoll:
      return "longpoll";
    case Scenario::Backlog:
      return "backlog";
  }
  return "?";
}

namespace {

std::optional<Scenario> scenario_named(const std::string& name) {
  for (auto s : {Scenario::Send, Scenario::SendBatch, Scenario::RecvDel, Scenario::Pipeline, Scenario::Fifo,
                 Scenario::LongPoll, Scenario::Backlog}) {
    if (name == to_string(s)) return s;
  }
  return std::nullopt;
}

}  // namespace

std::optional<int> parse_options(int argc, char** argv, BenchOptions& o) {
  std::string protocol = "json";
  std::string scenario = "send";
  po::options_description desc(
      "wharf-bench - load generator and checker for SQS-compatible servers\n\n"
      "Scenarios: send, sendbatch, recvdel, pipeline, fifo, longpoll, backlog\n\nOptions");
  desc.add_options()("help,h", "show this help and exit")(
      "endpoint", po::value(&o.endpoint)->default_value(o.endpoint),
      "server URL (http:// or https://); several, comma-separated, spread the connections over them")(
      "protocol", po::value(&protocol)->default_value(protocol), "json | query")(
      "scenario", po::value(&scenario)->default_value(scenario), "what to run")(
      "connections,c", po::value(&o.connections)->default_value(o.connections), "HTTP connections (keep-alive)")(
      "duration,d", po::value(&o.duration_s)->default_value(o.duration_s), "seconds of the timed phase")(
      "size,s", po::value(&o.size)->default_value(o.size), "message body bytes")(
      "groups", po::value(&o.groups)->default_value(o.groups), "fifo: message groups")(
      "batch", po::value(&o.batch)->default_value(0), "messages per send request, 1-10 (0: 1, or 10 for sendbatch)")(
      "rate", po::value(&o.rate)->default_value(0), "producers' total messages/s (0: unlimited; longpoll default 100)")(
      "queue", po::value(&o.queue), "use this existing queue (by name) instead of creating one")(
      "prefill", po::value<uint64_t>(),
      "recvdel/backlog: messages to send first (defaults 100000 / 1000000); fifo: a backlog spread over the groups "
      "(default none)")("server-pid", po::value(&o.server_pids)->multitoken(),
                        "report this process's CPU seconds and peak RSS (repeat for several: added up)")(
      "access-key", po::value(&o.credentials.access_key)->default_value(o.credentials.access_key), "SigV4 access key")(
      "secret-key", po::value(&o.credentials.secret_key)->default_value(o.credentials.secret_key), "SigV4 secret key")(
      "region", po::value(&o.credentials.region)->default_value(o.credentials.region), "SigV4 region")(
      "threads", po::value(&o.threads)->default_value(0), "client I/O threads (0: min(4, cores/2), at least 1)")(
      "drain-timeout", po::value(&o.drain_timeout_s)->default_value(o.drain_timeout_s),
      "stop draining after this many seconds without progress")(
      "verify-drain", po::bool_switch(&o.verify_drain),
      "recvdel/backlog: if the duration ends first, keep draining (untimed) to check for lost messages")(
      "visibility-timeout", po::value(&o.visibility_timeout)->default_value(o.visibility_timeout),
      "VisibilityTimeout on receives")("keep-queue", po::bool_switch(&o.keep_queue),
                                       "do not delete the queue at the end")(
      "json", po::bool_switch(&o.json), "print the report as one JSON line")("quiet,q", po::bool_switch(&o.quiet),
                                                                             "no progress lines on stderr");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "wharf-bench: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    std::cout << desc << "\n";
    return 0;
  }
  auto fail = [](const std::string& message) {
    std::cerr << "wharf-bench: " << message << "\n";
    return 2;
  };
  if (protocol == "json") {
    o.protocol = Protocol::Json;
  } else if (protocol == "query") {
    o.protocol = Protocol::Query;
  } else {
    return fail("--protocol must be json or query");
  }
  auto s = scenario_named(scenario);
  if (!s) return fail("unknown --scenario " + scenario);
  o.scenario = *s;
  if (vm.count("prefill")) {
    o.prefill = vm["prefill"].as<uint64_t>();
    o.prefill_set = true;
  }
  if (o.connections < 1 || o.connections > 20000) return fail("--connections must be 1 to 20000");
  if (o.duration_s <= 0) return fail("--duration must be positive");
  if (o.batch > 10) return fail("--batch must be 0 to 10");
  if (o.groups < 1) return fail("--groups must be at least 1");
  if (o.size < 1 || o.size > 1024 * 1024) return fail("--size must be 1 to 1048576");
  if ((o.scenario == Scenario::Pipeline || o.scenario == Scenario::Fifo) && o.connections < 2) {
    return fail("pipeline and fifo need at least 2 connections (half produce, half consume)");
  }
  if (o.rate < 0) return fail("--rate must not be negative");
  if (o.visibility_timeout < 0 || o.visibility_timeout > 43200) return fail("--visibility-timeout must be 0 to 43200");
  return std::nullopt;
}

}  // namespace wharf::bench
