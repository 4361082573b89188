// The PostgreSQL that the PostgreSQL backend's tests run against: the one
// WHARF_TEST_POSTGRES_URL names when it is set, else a throwaway cluster
// started with tests/pg/cluster.sh for this test binary (on first use) and
// stopped when the binary exits.
#pragma once

#include <filesystem>
#include <string>

namespace wharf::testing {

struct TestPostgres {
  std::string url;  // libpq URL; "" when there is none
  // Why there is none. `skip`: PostgreSQL (initdb, or the postgres user) is
  // not installed here, so the tests that need it are skipped; otherwise
  // starting it failed, and they fail.
  std::string problem;
  bool skip = false;
};

const TestPostgres& test_postgres();

// The schema for the engine a test keeps in `place` (a directory the test
// owns while it runs): the same schema for as long as `place` exists, so
// reopening finds the state. A new place gets the schema of a place that is
// gone (its test is over and its engine closed), emptied: every table
// truncated but schema_version, every sequence restarted, so it is what a
// fresh migration makes, without paying the migration per test case (the
// conformance suite opens hundreds). Else, or when emptying fails, a new
// schema "<prefix><place's name>", which opening migrates.
std::string test_schema_for(const std::filesystem::path& place, const std::string& prefix);

// Runs `command` through the shell; answers its exit status (-1 when it did
// not exit normally) and appends its standard output to `output`.
int run_command(const std::string& command, std::string& output);

// A throwaway cluster of one test's own (tests/pg/cluster.sh, under /tmp),
// which the test may stop and start again on the same port; stopped and
// removed when it goes. Every step REQUIREs success.
class OwnCluster {
 public:
  OwnCluster();
  ~OwnCluster();
  OwnCluster(const OwnCluster&) = delete;
  OwnCluster& operator=(const OwnCluster&) = delete;

  int port() const { return port_; }
  std::string url() const;
  void stop();
  void start_again();  // pg_ctl start on the same port (cluster.sh start would pick a new one)
  // `sql` run by psql as postgres (one transaction unless it says
  // otherwise): its unaligned output, trimmed. `background`: started and
  // left running (its own end is the test's business).
  std::string psql(const std::string& sql, bool background = false);
  // psql's answer to `sql`, asked every 50 ms until it is not empty (30 s at most).
  std::string await_row(const std::string& sql);

 private:
  std::string dir_;
  int port_ = 0;
};

}  // namespace wharf::testing

// At the top of a test that needs PostgreSQL: skips the test (with a
// warning) when PostgreSQL is not installed, fails it when it would not
// start.
#define WHARF_REQUIRE_TEST_POSTGRES()                                    \
  do {                                                                   \
    const auto& wharf_pg_ = ::wharf::testing::test_postgres();           \
    if (wharf_pg_.skip) {                                                \
      WARN("skipped: no PostgreSQL here (" << wharf_pg_.problem << ")"); \
      return;                                                            \
    }                                                                    \
    INFO(wharf_pg_.problem);                                             \
    REQUIRE(!wharf_pg_.url.empty());                                     \
  } while (false)
