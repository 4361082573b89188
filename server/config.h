// Process configuration. Every setting can be given three ways: a flag
// (--data-dir), an environment variable (WHARF_DATA_DIR) and a key of the
// config file (data_dir), a JSON document with comments named by --config or
// WHARF_CONFIG. A flag beats the environment, which beats the file, which
// beats the default. The file may also declare queues, created (or brought
// up to date) at start. Anything unknown or out of range stops the start
// with a message that names the setting and where it came from.
#pragma once

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "server/settings.h"
#include "storage/engine.h"

namespace wharf::server {

// A queue the config file declares, in the shape of a CreateQueue request.
struct DeclaredQueue {
  std::string name;
  storage::AttributeMap attributes;  // as declared; the engine validates them
  storage::TagMap tags;
};

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

// Creates the declared queues that do not exist, and gives existing ones the
// declared attributes and tags (attributes and tags not declared are left as
// they are), through the engine so that CreateQueue's and
// SetQueueAttributes' rules apply. Changes nothing when all already match,
// so a restart with the same file is a no-op. On failure `error` names the
// queue and gives the SQS error.
bool apply_declared_queues(storage::Engine& engine, const std::vector<DeclaredQueue>& queues, std::string& error);

}  // namespace wharf::server
