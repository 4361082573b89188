#include "server/config.h"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <string_view>
#include <type_traits>
#include <vector>

#include "server/queues_from_env.h"

#ifndef WHARF_VERSION
#define WHARF_VERSION "unknown"
#endif

namespace wharf::server {
namespace {

namespace po = boost::program_options;
using nlohmann::json;
using Reason = std::optional<std::string>;  // why a value is refused; nullopt: accepted

enum class Kind { Text, Number, Switch };

// One setting. Its flag is the key with dashes (data_dir: --data-dir), its
// environment variable WHARF_ and the key in capitals (WHARF_DATA_DIR).
struct Option {
  const char* key;
  const char* short_name;  // "p" for -p; "" for none
  Kind kind;
  int64_t min;  // Number: the allowed range
  int64_t max;
  const char* help;
  // Stores a value already of the right kind and in range; answers why
  // not when the setting's own rule refuses it.
  Reason (*store)(StartupConfig&, const json&);
  // The setting's value in a StartupConfig, for the defaults in --help.
  json (*show)(const StartupConfig&);
};

Reason check_account_id(const std::string& v) {
  if (v.size() != 12 || v.find_first_not_of("0123456789") != std::string::npos) return "must be 12 digits";
  return std::nullopt;
}

Reason check_region(const std::string& v) {
  const bool ok = !v.empty() && std::all_of(v.begin(), v.end(),
                                            [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
  if (!ok) return "must be a region name of letters, digits and dashes (e.g. us-east-1)";
  return std::nullopt;
}

// scheme://host[:port], nothing after it but an optional "/": incoming
// QueueUrls are matched by their path, which must stay /<account>/<name>.
Reason check_public_url(std::string& v) {
  if (v.empty()) return std::nullopt;
  std::string_view rest = v;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else {
    return "must start with http:// or https://";
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.empty() || rest.find_first_of("/?#@ ") != std::string_view::npos) {
    return "must be scheme://host[:port] without a path (queue URLs are <public_url>/<account-id>/<queue-name>)";
  }
  if (v.ends_with('/')) v.pop_back();
  return std::nullopt;
}

// The field a setting is kept in: a member of Settings or of StartupConfig.
template <class T>
T& field_of(StartupConfig& c, T Settings::*member) {
  return c.settings.*member;
}
template <class T>
T& field_of(StartupConfig& c, T StartupConfig::*member) {
  return c.*member;
}
template <class T>
const T& field_of(const StartupConfig& c, T Settings::*member) {
  return c.settings.*member;
}
template <class T>
const T& field_of(const StartupConfig& c, T StartupConfig::*member) {
  return c.*member;
}

// A setting with no rule of its own beyond its kind and range: kept as given.
template <auto member>
Option plain(const char* key, const char* short_name, Kind kind, int64_t min, int64_t max, const char* help) {
  return {key,
          short_name,
          kind,
          min,
          max,
          help,
          [](StartupConfig& c, const json& v) -> Reason {
            auto& field = field_of(c, member);
            field = v.get<std::remove_reference_t<decltype(field)>>();
            return std::nullopt;
          },
          [](const StartupConfig& c) -> json { return field_of(c, member); }};
}

// Where it listens and keeps its data, and what its queue URLs and ARNs say.
std::vector<Option> address_options() {
  return {
      plain<&Settings::port>("port", "p", Kind::Number, 0, 65535, "TCP port (0 picks a free one)"),
      plain<&Settings::bind>("bind", "b", Kind::Text, 0, 0, "address to listen on"),
      plain<&Settings::data_dir>("data_dir", "d", Kind::Text, 0, 0, "RocksDB data directory"),
      {"account_id", "", Kind::Text, 0, 0, "account id in queue URLs and ARNs (12 digits)",
       [](StartupConfig& c, const json& v) -> Reason {
         auto text = v.get<std::string>();
         if (auto why = check_account_id(text)) return why;
         c.settings.account_id = std::move(text);
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.account_id; }},
      {"region", "", Kind::Text, 0, 0,
       "the default region: of unsigned requests, and whose queues keep /ACCOUNT/NAME URLs",
       [](StartupConfig& c, const json& v) -> Reason {
         auto text = v.get<std::string>();
         if (auto why = check_region(text)) return why;
         c.settings.region = std::move(text);
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.region; }},
      {"public_url", "", Kind::Text, 0, 0,
       "base of queue URLs, scheme://host[:port] (default: each request's Host header)",
       [](StartupConfig& c, const json& v) -> Reason {
         auto text = v.get<std::string>();
         if (auto why = check_public_url(text)) return why;
         c.settings.public_url = std::move(text);
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.public_url; }},
  };
}

// How acknowledged changes are kept, and who may call it over what.
std::vector<Option> durability_and_security_options() {
  return {
      {"durability", "", Kind::Text, 0, 0,
       "storage rocksdb only (with postgresql: the database's synchronous_commit). "
       "wal: each acknowledged change is in the write-ahead log (survives a crash of the process); "
       "fsync: and fsynced before the answer, with group commit (survives power loss)",
       [](StartupConfig& c, const json& v) -> Reason {
         const auto text = v.get<std::string>();
         if (text != "wal" && text != "fsync") return "must be wal or fsync";
         c.settings.fsync = text == "fsync";
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.fsync ? "fsync" : "wal"; }},
      plain<&StartupConfig::auth>(
          "auth", "", Kind::Switch, 0, 0,
          "verify SigV4 signatures; the credentials come from the environment variable WHARF_CREDENTIALS "
          "or the credentials file"),
      plain<&StartupConfig::credentials_file>("credentials_file", "", Kind::Text, 0, 0,
                                              "file of credentials, one per line (implies auth)"),
      plain<&Settings::tls_port>("tls_port", "", Kind::Number, 0, 65535, "TLS port, with tls_cert (0 picks one)"),
      plain<&Settings::tls_cert>("tls_cert", "", Kind::Text, 0, 0,
                                 "PEM certificate chain: serve HTTPS on tls_port too"),
      plain<&Settings::tls_key>("tls_key", "", Kind::Text, 0, 0, "PEM private key of tls_cert"),
  };
}

// What one process takes on at most, and the FIFO deduplication window.
std::vector<Option> limit_options() {
  return {
      plain<&Settings::threads>("threads", "", Kind::Number, 0, 1024,
                                "request threads (0: one per core; with RocksDB on up to 2 cores, one)"),
      plain<&Settings::max_connections>("max_connections", "", Kind::Number, 1, 10'000'000,
                                        "open connections at most; past it new ones get HTTP 503 and are closed"),
      plain<&Settings::max_long_polls>("max_long_polls", "", Kind::Number, 0, 10'000'000,
                                       "waiting long polls at most; past it a long poll gets ServiceUnavailable"),
      plain<&Settings::idle_timeout_seconds>(
          "idle_timeout", "", Kind::Number, 1, 86400,
          "seconds a connection may take to send a complete request (slow clients are closed)"),
      plain<&Settings::dedup_window_seconds>(
          "dedup_window_seconds", "", Kind::Number, 1, 300,
          "FIFO deduplication and ReceiveRequestAttemptId window (AWS: 300; lower it only for tests)"),
      plain<&Settings::queue_delete_cooldown_seconds>(
          "queue_delete_cooldown", "", Kind::Number, 0, 3600,
          "seconds after DeleteQueue before the name can be created again (AWS: 60; 0 turns it off, for test "
          "suites that recreate queues)"),
      plain<&Settings::min_free_disk_mb>(
          "min_free_disk_mb", "", Kind::Number, 8, 1'000'000,
          "free space kept on the data dir's disk: below it new messages get ServiceUnavailable (receives and "
          "deletes go on until a quarter of it)"),
  };
}

std::vector<Option> logging_options() {
  return {
      {"log_level", "", Kind::Text, 0, 0, "least severe log lines written: debug, info, warn, error or off",
       [](StartupConfig& c, const json& v) -> Reason {
         const auto text = v.get<std::string>();
         if (text != "debug" && text != "info" && text != "warn" && text != "error" && text != "off") {
           return "must be debug, info, warn, error or off";
         }
         c.settings.log_level = text;
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.log_level; }},
      {"log_format", "", Kind::Text, 0, 0, "text (one readable line per event) or json (one JSON object per line)",
       [](StartupConfig& c, const json& v) -> Reason {
         const auto text = v.get<std::string>();
         if (text != "text" && text != "json") return "must be text or json";
         c.settings.log_json = text == "json";
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.log_json ? "json" : "text"; }},
      plain<&Settings::access_log>(
          "access_log", "", Kind::Switch, 0, 0,
          "log one line per SQS request: action, queue, status, error code and latency (at info level)"),
  };
}

// Conveniences beyond what AWS does.
std::vector<Option> feature_options() {
  return {
      plain<&Settings::auto_create_queues>(
          "auto_create_queues", "", Kind::Switch, 0, 0,
          "create a standard queue with default attributes on first use of a URL naming a missing one (AWS never "
          "does; for tests that skip CreateQueue)"),
      {"no_console", "", Kind::Switch, 0, 0, "do not serve the web console at /console",
       [](StartupConfig& c, const json& v) -> Reason {
         c.settings.console = !v.get<bool>();
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return !c.settings.console; }},
      plain<&Settings::dev_api>("dev_api", "", Kind::Switch, 0, 0,
                                "serve POST /_wharf/reset, which deletes every queue, message and name cooldown "
                                "(?account=ID: of one account); for test suites. With auth, only the server's "
                                "own account's key may call it"),
  };
}

// Where queues live (docs/design/postgresql.md section 2).
std::vector<Option> storage_options() {
  return {
      {"storage", "", Kind::Text, 0, 0,
       "where queues live: rocksdb (files under data_dir, one node) or postgresql (the database postgres_url "
       "names, shared by any number of nodes)",
       [](StartupConfig& c, const json& v) -> Reason {
         const auto text = v.get<std::string>();
         if (text != "rocksdb" && text != "postgresql") return "must be rocksdb or postgresql";
         c.settings.storage = text;
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.storage; }},
      plain<&Settings::ephemeral>(
          "ephemeral", "", Kind::Switch, 0, 0,
          "storage rocksdb in memory (RocksDB's in-memory Env): nothing on disk, every queue gone at exit: a "
          "throwaway server for test suites; data_dir is then ignored"),
      plain<&Settings::postgres_url>(
          "postgres_url", "", Kind::Text, 0, 0,
          "with storage postgresql: the database, in libpq's form (postgresql://USER:PASSWORD@HOST:PORT/DB, "
          "several hosts allowed); prefer WHARF_POSTGRES_URL or the config file, which ps does not show"),
      plain<&Settings::postgres_groups>(
          "postgres_groups", "", Kind::Text, 0, 0,
          "with storage postgresql: several database groups instead of postgres_url: a file listing one libpq URL "
          "per line (blank lines and # comments ignored); the first is the catalog group, each queue lives on one "
          "group"),
      plain<&Settings::postgres_connections>(
          "postgres_connections", "", Kind::Number, 0, 1000,
          "with storage postgresql: database connections of this node at most (0: 2 per worker thread, at least "
          "2)"),
      {"postgres_schema", "", Kind::Text, 0, 0,
       "with storage postgresql: the schema holding Wharf's tables (created and migrated at start)",
       [](StartupConfig& c, const json& v) -> Reason {
         auto text = v.get<std::string>();
         const bool ok = !text.empty() && text.size() <= 48 && !std::isdigit(static_cast<unsigned char>(text[0])) &&
                         std::all_of(text.begin(), text.end(), [](unsigned char ch) {
                           return std::islower(ch) || std::isdigit(ch) || ch == '_';
                         });
         if (!ok) return "must be 1 to 48 lower-case letters, digits and underscores, not starting with a digit";
         c.settings.postgres_schema = std::move(text);
         return std::nullopt;
       },
       [](const StartupConfig& c) -> json { return c.settings.postgres_schema; }},
  };
}

// Every setting, in the order --help lists them.
const std::vector<Option>& options() {
  static const std::vector<Option> kOptions = [] {
    std::vector<Option> all;
    for (auto group : {address_options, storage_options, durability_and_security_options, limit_options,
                       logging_options, feature_options}) {
      for (auto& option : group()) all.push_back(option);
    }
    return all;
  }();
  return kOptions;
}

std::string flag_name(const Option& o) {
  std::string out = o.key;
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

std::string environment_name(const Option& o) {
  std::string out = "WHARF_";
  for (const char* p = o.key; *p; ++p) out += static_cast<char>(std::toupper(static_cast<unsigned char>(*p)));
  return out;
}

// Letters and digits only, lower case: "dataDir", "data-dir" and "DATA_DIR"
// all become "datadir", to suggest the right spelling of a near miss.
std::string loose_name(std::string_view key) {
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  }
  return out;
}

const Option* find_option(std::string_view key) {
  for (const auto& o : options()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

std::string unknown_key_message(const std::string& key) {
  std::string message = "unknown key \"" + key + "\"";
  for (const auto& o : options()) {
    if (loose_name(o.key) == loose_name(key)) return message + " (did you mean \"" + o.key + "\"?)";
  }
  if (loose_name(key) == "queues") return message + " (did you mean \"queues\"?)";
  return message;
}

// `given` as the source spelt it: JSON from the file, quoted text from
// flags and the environment.
std::string bad_setting(const Option& o, const std::string& source, const std::string& why, std::string given) {
  if (given.size() > 80) given = given.substr(0, 77) + "...";
  return "bad setting " + std::string(o.key) + " (" + source + "): " + why + ", got " + given;
}

std::string in_quotes(const std::string& text) { return "\"" + text + "\""; }

// What a value of the option must be, for errors.
std::string expected(const Option& o) {
  switch (o.kind) {
    case Kind::Text:
      return "must be a string";
    case Kind::Switch:
      return "must be true or false";
    case Kind::Number:
      break;
  }
  return "must be an integer from " + std::to_string(o.min) + " to " + std::to_string(o.max);
}

// Checks `value` against the option's kind and range, then its own rule,
// and stores it.
Reason store(const Option& o, const json& value, StartupConfig& config) {
  switch (o.kind) {
    case Kind::Text:
      if (!value.is_string()) return expected(o);
      break;
    case Kind::Switch:
      if (!value.is_boolean()) return expected(o);
      break;
    case Kind::Number: {
      if (!value.is_number_integer()) return expected(o);
      const bool above = value.is_number_unsigned() ? value.get<uint64_t>() > static_cast<uint64_t>(o.max)
                                                    : value.get<int64_t>() > o.max;
      if (above || value.get<int64_t>() < o.min) return expected(o);
      break;
    }
  }
  return o.store(config, value);
}

// A flag's or an environment variable's text as the JSON value the config
// file would hold; nullopt when it is not of the option's kind.
std::optional<json> from_text(const Option& o, const std::string& text) {
  switch (o.kind) {
    case Kind::Text:
      return json(text);
    case Kind::Switch:
      if (text == "true" || text == "1" || text == "yes" || text == "on") return json(true);
      if (text == "false" || text == "0" || text == "no" || text == "off") return json(false);
      return std::nullopt;
    case Kind::Number: {
      int64_t n = 0;
      const char* end = text.data() + text.size();
      auto [ptr, ec] = std::from_chars(text.data(), end, n);
      if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
      return json(n);
    }
  }
  return std::nullopt;
}

Reason store_text(const Option& o, const std::string& text, StartupConfig& config) {
  auto value = from_text(o, text);
  if (!value) return expected(o);
  return store(o, *value, config);
}

std::string default_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

po::options_description describe_flags(const StartupConfig& defaults) {
  po::options_description flags("wharf " WHARF_VERSION
                                " - an Amazon SQS-compatible message queue server\n\n"
                                "Every setting is a flag (--data-dir), an environment variable (WHARF_DATA_DIR)\n"
                                "and a key of the config file (data_dir). A flag beats the environment, which\n"
                                "beats the file, which beats the default.\n\nOptions");
  flags.add_options()("help,h", "show this help and exit")("version", "show the version and exit")(
      "config,c", po::value<std::string>()->value_name("FILE"),
      "JSON config file (comments allowed): settings and declared queues; also WHARF_CONFIG");
  for (const auto& o : options()) {
    std::string name = flag_name(o);
    if (*o.short_name) name += std::string(",") + o.short_name;
    std::string help = o.help;
    const std::string fallback = default_text(o.show(defaults));
    if (!fallback.empty()) help += " (default: " + fallback + ")";
    po::typed_value<std::string>* value = po::value<std::string>();
    switch (o.kind) {
      case Kind::Text:
        value->value_name("TEXT");
        break;
      case Kind::Number:
        value->value_name("N");
        break;
      case Kind::Switch:
        value->value_name("BOOL")->implicit_value("true");
        break;
    }
    flags.add_options()(name.c_str(), value, help.c_str());
  }
  return flags;
}

// Reads the file's settings into `config`; keeps its queues for later, when
// the region and account id (which ARNs need) are final.
Reason read_config_file(const std::string& path, StartupConfig& config, json& queues, std::set<std::string>& given) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::string("cannot read config file ") + path + ": " + std::strerror(errno);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json doc;
  try {
    doc = json::parse(text, nullptr, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // "[json.exception.parse_error.101] parse error at line 3, column 5: ..."
    std::string what = e.what();
    if (auto start = what.find("] "); start != std::string::npos) what = what.substr(start + 2);
    return "config file " + path + ": " + what;
  }
  if (!doc.is_object()) return "config file " + path + ": must hold a JSON object of settings";
  for (const auto& [key, value] : doc.items()) {
    if (key == "queues") {
      queues = value;
      continue;
    }
    const Option* o = find_option(key);
    if (!o) return "config file " + path + ": " + unknown_key_message(key);
    if (auto why = store(*o, value, config)) return bad_setting(*o, "config file " + path, *why, value.dump());
    given.insert(o->key);
  }
  return std::nullopt;
}

// The groups file: one URL per line, blank lines and # comments ignored
// (a URL holds no '#' outside its password: percent-encode one there).
std::optional<std::string> read_postgres_groups(const std::string& path, std::vector<std::string>& urls) {
  std::ifstream file(path);
  if (!file) return "cannot read " + path;
  std::string line;
  while (std::getline(file, line)) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    urls.push_back(line.substr(first, last - first + 1));
  }
  if (urls.empty()) return path + " lists no database URL";
  return std::nullopt;
}

// The settings of one storage backend given with the other: --durability
// with PostgreSQL refuses to start (durability is the database's
// synchronous_commit: a flag promising fsync must not silently do nothing);
// RocksDB's others are ignored with a warning (PostgreSQL's are not used
// with RocksDB, silently: a config file may list every setting). Answers an
// exit code, or -1.
int check_storage_settings(const std::set<std::string>& given, Settings& s, std::ostream& err) {
  const bool postgres = s.storage == "postgresql";
  if (postgres && given.count("durability")) {
    err << "wharf: durability applies to storage rocksdb only: with storage postgresql, durability is the "
           "database's synchronous_commit; remove --durability (or WHARF_DURABILITY, or durability in the config "
           "file)\n";
    return 2;
  }
  if (postgres && !s.postgres_url.empty() && !s.postgres_groups.empty()) {
    err << "wharf: postgres_url and postgres_groups exclude each other: give one database (--postgres-url) or a "
           "file listing several groups (--postgres-groups), not both\n";
    return 2;
  }
  if (postgres && s.ephemeral) {
    err << "wharf: ephemeral applies to storage rocksdb only (RocksDB in memory, gone at exit): "
           "with storage postgresql, give a throwaway --postgres-schema instead; remove --ephemeral (or "
           "WHARF_EPHEMERAL, or ephemeral in the config file) or --storage postgresql\n";
    return 2;
  }
  if (s.ephemeral && given.count("data_dir")) s.ignored_settings.push_back("data_dir");
  if (postgres && s.postgres_url.empty() && s.postgres_groups.empty()) {
    err << "wharf: storage postgresql needs postgres_url (--postgres-url, WHARF_POSTGRES_URL or postgres_url in "
           "the config file) or postgres_groups (--postgres-groups FILE)\n";
    return 1;
  }
  if (!postgres) return -1;
  if (!s.postgres_groups.empty()) {
    if (auto why = read_postgres_groups(s.postgres_groups, s.postgres_group_urls)) {
      err << "wharf: postgres_groups: " << *why << "\n";
      return 1;
    }
  }
  for (const char* key : {"data_dir", "min_free_disk_mb"}) {
    if (given.count(key)) s.ignored_settings.push_back(key);
  }
  return -1;
}

// The flags, over what the file and the environment set; false (with the
// message on `err`) at the first bad one.
bool store_flags(const po::variables_map& given, StartupConfig& config, std::set<std::string>& given_keys,
                 std::ostream& err) {
  for (const auto& o : options()) {
    const std::string name = flag_name(o);
    if (!given.count(name)) continue;
    const auto& text = given[name].as<std::string>();
    if (auto why = store_text(o, text, config)) {
      err << "wharf: " << bad_setting(o, "flag --" + name, *why, in_quotes(text)) << "\n";
      return false;
    }
    given_keys.insert(o.key);
  }
  return true;
}

}  // namespace

std::optional<std::string> process_environment(const std::string& name) {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

int load_config(int argc, const char* const* argv, const Environment& environment, StartupConfig& config,
                std::ostream& out, std::ostream& err) {
  const po::options_description flags = describe_flags(config);
  po::variables_map given;
  try {
    po::store(po::parse_command_line(argc, argv, flags), given);
    po::notify(given);
  } catch (const std::exception& e) {
    err << "wharf: " << e.what() << "\n" << flags << "\n";
    return 1;
  }
  if (given.count("help")) {
    out << flags << "\n";
    return 0;
  }
  if (given.count("version")) {
    out << "wharf " WHARF_VERSION "\n";
    return 0;
  }
  // The file, then the environment, then the flags: each overrides the one
  // before. An empty environment variable counts as unset (as compose files
  // leave an unset ${VAR}).
  auto from_environment = [&](const std::string& name) -> std::optional<std::string> {
    auto value = environment(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  };
  // The log format from the environment and the flags first, so that a
  // problem with any other setting is reported in it (bad values of its
  // own are reported below, as any other).
  for (const auto& o : options()) {
    if (std::string_view(o.key) != "log_format") continue;
    if (auto text = from_environment(environment_name(o))) store_text(o, *text, config);
    if (given.count(flag_name(o))) store_text(o, given[flag_name(o)].as<std::string>(), config);
  }
  std::string path;
  if (given.count("config")) {
    path = given["config"].as<std::string>();
  } else if (auto value = from_environment("WHARF_CONFIG")) {
    path = *value;
  }
  json queues;
  std::set<std::string> given_keys;  // set by any source, for check_storage_settings
  if (!path.empty()) {
    if (auto why = read_config_file(path, config, queues, given_keys)) {
      err << "wharf: " << *why << "\n";
      return 1;
    }
  }
  for (const auto& o : options()) {
    const std::string name = environment_name(o);
    auto text = from_environment(name);
    if (!text) continue;
    if (auto why = store_text(o, *text, config)) {
      err << "wharf: " << bad_setting(o, "environment variable " + name, *why, in_quotes(*text)) << "\n";
      return 1;
    }
    given_keys.insert(o.key);
  }
  if (!store_flags(given, config, given_keys, err)) return 1;
  if (int code = check_storage_settings(given_keys, config.settings, err); code >= 0) return code;
  const Settings& s = config.settings;
  if (s.tls_cert.empty() != s.tls_key.empty()) {
    err << "wharf: tls_cert and tls_key go together (--tls-cert and --tls-key)\n";
    return 1;
  }
  if (!queues.is_null()) {
    if (auto why = parse_declared_queues(queues, s, config.queues)) {
      err << "wharf: config file " << path << ": " << *why << "\n";
      return 1;
    }
  }
  if (auto text = from_environment("WHARF_QUEUES")) {
    if (auto why = add_queues_from_environment(*text, s, config.queues)) {
      err << "wharf: " << *why << "\n";
      return 1;
    }
  }
  return -1;
}

}  // namespace wharf::server
