// The PostgreSQL that the PostgreSQL backend's tests run against: the one
// WHARF_TEST_POSTGRES_URL names when it is set, else a throwaway cluster
// started with tests/pg/cluster.sh for this test binary (on first use) and
// stopped when the binary exits.
#pragma once

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
