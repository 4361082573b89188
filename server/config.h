// Process configuration. Every setting can be given three ways: a flag
// (--data-dir), an environment variable (WHARF_DATA_DIR) and a key of the
// config file (data_dir), a JSON document with comments named by --config or
// WHARF_CONFIG. A flag beats the environment, which beats the file, which
// beats the default. The file may also declare queues, created (or brought
// up to date) at start (server/declared_queues.h). Anything unknown or out
// of range stops the start with a message that names the setting and where
// it came from.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "server/declared_queues.h"
#include "server/settings.h"

namespace wharf::server {

struct StartupConfig {
  Settings settings;
  // SigV4: the credentials themselves come only from WHARF_CREDENTIALS or
  // the credentials file (never a flag, which `ps` would show, nor the
  // config file, which is often committed); these say whether and where.
  bool auth = false;
  std::string credentials_file;
  // In creation order: each dead-letter queue before the queues that name it.
  std::vector<DeclaredQueue> queues;
};

// Looks up an environment variable; nullopt when it is not set.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
std::optional<std::string> process_environment(const std::string& name);

// Reads the command line, the environment and the config file into `config`.
// Answers -1 to go on starting, else the exit code: 0 after --help or
// --version (written to `out`), 1 for any bad setting (a message on `err`).
int load_config(int argc, const char* const* argv, const Environment& environment, StartupConfig& config,
                std::ostream& out, std::ostream& err);

}  // namespace wharf::server
