// The database schema as numbered migrations (docs/design/postgresql.md,
// sections 3 to 5). An applied migration is never edited: a change is a new
// entry at the end. The statements name no schema: they run with
// search_path set to PgOptions::schema.
#pragma once

#include <string>
#include <vector>

namespace wharf::storage::postgresql {

struct Migration {
  int version;
  std::string description;
  std::vector<std::string> statements;  // run in order, in the migrating transaction
};

// Every migration this Wharf knows, in version order (1, 2, ...).
const std::vector<Migration>& migrations();
// The newest version above: a database at a greater one is refused.
int newest_schema_version();

// The advisory lock key that serialises migrations of `schema` across nodes.
long long migration_lock_key(const std::string& schema);

}  // namespace wharf::storage::postgresql
