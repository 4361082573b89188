#include "tests/unit/pg_test_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <string_view>

namespace wharf::testing {
namespace {

constexpr std::string_view kUrlPrefix = "WHARF_TEST_POSTGRES_URL=";

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `command`; answers its exit status and its standard output.
int run(const std::string& command, std::string& output) {
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
    const int status = run(script() + " start " + shell_quoted(dir_), output);
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
      run(script() + " stop " + shell_quoted(dir_) + " >/dev/null", ignored);
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

}  // namespace

const TestPostgres& test_postgres() {
  static const Cluster cluster;  // stopped at exit
  return cluster.postgres();
}

}  // namespace wharf::testing
