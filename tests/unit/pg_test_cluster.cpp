#include "tests/unit/pg_test_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace wharf::testing {

int run_command(const std::string& command, std::string& output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

namespace {

std::string cluster_script() { return std::string(WHARF_SOURCE_DIR) + "/tests/pg/cluster.sh"; }

// The newest installed PostgreSQL's bin directory.
std::string postgres_bin_dir() {
  std::string bin;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql")) {
    const std::string candidate = entry.path().string() + "/bin";
    if (std::filesystem::exists(candidate + "/pg_ctl") && candidate > bin) bin = candidate;
  }
  REQUIRE(!bin.empty());
  return bin;
}

}  // namespace

OwnCluster::OwnCluster() {
  std::string pattern = "/tmp/wharf-pgown-XXXXXX";
  REQUIRE(mkdtemp(pattern.data()));
  dir_ = pattern;
  std::string output;
  const int status = run_command(cluster_script() + " start " + dir_, output);
  INFO(output);
  REQUIRE(status == 0);
  std::ifstream port_file(dir_ + "/port");
  port_file >> port_;
  REQUIRE(port_ > 0);
}

OwnCluster::~OwnCluster() {
  std::string ignored;
  run_command(cluster_script() + " stop " + dir_ + " >/dev/null 2>&1", ignored);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string OwnCluster::url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"; }

void OwnCluster::stop() {
  std::string output;
  REQUIRE(run_command(cluster_script() + " stop " + dir_ + " 2>&1", output) == 0);
}

void OwnCluster::start_again() {
  const std::string as_pg = getuid() == 0 ? "runuser -u postgres -- " : "";
  std::string output;
  const int status =
      run_command(as_pg + postgres_bin_dir() + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/pg.log -w -t 30 -o '-p " +
                      std::to_string(port_) + " -k " + dir_ + " -c listen_addresses=127.0.0.1' start 2>&1",
                  output);
  INFO(output);
  REQUIRE(status == 0);
}

std::string OwnCluster::psql(const std::string& sql, bool background) {
  std::string output;
  const std::string command = postgres_bin_dir() + "/psql -X -At -h 127.0.0.1 -p " + std::to_string(port_) +
                              " -U postgres -d postgres -c \"" + sql + "\"" +
                              (background ? " >/dev/null 2>&1 &" : " 2>&1");
  const int status = run_command(command, output);
  INFO(sql << ": " << output);
  REQUIRE(status == 0);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}

std::string OwnCluster::await_row(const std::string& sql) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    std::string row = psql(sql);
    if (!row.empty() || std::chrono::steady_clock::now() > deadline) return row;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

namespace {

constexpr std::string_view kUrlPrefix = "WHARF_TEST_POSTGRES_URL=";

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class Cluster {
 public:
  Cluster() {
    if (const char* given = getenv("WHARF_TEST_POSTGRES_URL"); given && *given) {
      postgres_.url = given;
      return;
    }
    std::string pattern = (std::filesystem::temp_directory_path() / "wharf-pg-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      postgres_.problem = "mkdtemp failed";
      return;
    }
    dir_ = pattern;
    std::string output;
    const int status = run_command(script() + " start " + shell_quoted(dir_), output);
    if (status == 3) {
      postgres_.skip = true;
      postgres_.problem = "tests/pg/cluster.sh: PostgreSQL or the postgres user is missing";
      return;
    }
    const auto at = output.find(kUrlPrefix);
    if (status != 0 || at == std::string::npos) {
      postgres_.problem = "tests/pg/cluster.sh start failed (exit " + std::to_string(status) + "): " + output;
      return;
    }
    std::string url = output.substr(at + kUrlPrefix.size());
    postgres_.url = url.substr(0, url.find('\n'));
    started_ = true;
  }

  ~Cluster() {
    if (dir_.empty()) return;
    if (started_) {
      std::string ignored;
      run_command(script() + " stop " + shell_quoted(dir_) + " >/dev/null", ignored);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  const TestPostgres& postgres() const { return postgres_; }

 private:
  static std::string script() { return shell_quoted(std::string(WHARF_SOURCE_DIR) + "/tests/pg/cluster.sh"); }

  TestPostgres postgres_;
  std::string dir_;
  bool started_ = false;
};

// The schemas test_schema_for() handed out, by place, and one connection
// to empty them over.
class Schemas {
 public:
  std::string for_place(const std::filesystem::path& place, const std::string& prefix) {
    const std::lock_guard lock(mutex_);
    if (const auto known = by_place_.find(place); known != by_place_.end()) return known->second;
    for (auto it = by_place_.begin(); it != by_place_.end(); ++it) {
      std::error_code ec;
      if (std::filesystem::exists(it->first, ec) || ec) continue;  // still in use
      std::string schema = std::move(it->second);
      by_place_.erase(it);
      if (!empty(schema)) break;  // left behind; a new one instead
      by_place_.emplace(place, schema);
      return schema;
    }
    std::string schema = prefix + place.filename().string();
    by_place_.emplace(place, schema);
    return schema;
  }

 private:
  // Truncates every table but schema_version (meta too: opening makes a new
  // receipt secret, as in a fresh schema) and restarts every sequence, in
  // one transaction.
  bool empty(const std::string& schema) {
    if (!connection_) {
      connection_.reset(PQconnectdb(test_postgres().url.c_str()));
      if (PQstatus(connection_.get()) != CONNECTION_OK) {
        connection_.reset();
        return false;
      }
    }
    char* quoted = PQescapeLiteral(connection_.get(), schema.data(), schema.size());
    if (!quoted) return false;
    const std::string name = quoted;
    PQfreemem(quoted);
    const std::string sql =
        "DO $$ DECLARE tables text; s record; BEGIN"
        " SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables FROM pg_tables"
        "  WHERE schemaname = " +
        name +
        " AND tablename <> 'schema_version';"
        " IF tables IS NOT NULL THEN EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY'; END IF;"
        " FOR s IN SELECT schemaname, sequencename FROM pg_sequences WHERE schemaname = " +
        name +
        " LOOP"
        "  EXECUTE format('ALTER SEQUENCE %I.%I RESTART', s.schemaname, s.sequencename);"
        " END LOOP; END $$";
    PGresult* result = PQexec(connection_.get(), sql.c_str());
    const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
    return ok;
  }

  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::mutex mutex_;
  std::map<std::filesystem::path, std::string> by_place_;
  std::unique_ptr<PGconn, Finish> connection_;
};

}  // namespace

const TestPostgres& test_postgres() {
  static const Cluster cluster;  // stopped at exit
  return cluster.postgres();
}

std::string test_schema_for(const std::filesystem::path& place, const std::string& prefix) {
  static Schemas schemas;  // its connection closes at exit, before the cluster stops
  return schemas.for_place(place, prefix);
}

}  // namespace wharf::testing
