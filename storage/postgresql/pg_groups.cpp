// Several database groups, start-up: opening every group, their ids, and
// the catalog's checks (docs/design/postgresql.md, "Several groups").
// GroupedEngine is in pg_grouped_engine.cpp.
#include "storage/postgresql/pg_groups.h"

#include <algorithm>
#include <future>
#include <set>
#include <utility>

#include "storage/postgresql/transaction.h"

namespace wharf::storage::postgresql {

namespace {

// Runs `statements` (one implicit transaction) and waits: start-up only.
Result<std::vector<QueryResult>> wait_statements(PgCluster& cluster, std::vector<Statement> statements) {
  std::promise<Result<std::vector<QueryResult>>> answered;
  run_statements(cluster.pool(), std::move(statements),
                 [&answered](Result<std::vector<QueryResult>> r) { answered.set_value(std::move(r)); });
  return answered.get_future().get();
}

std::string listed(size_t index) {
  return "group " + std::to_string(index + 1) + " (URL " + std::to_string(index + 1) + " in the list)";
}

// What start-up reads from one group: its id and the groups it records as
// a catalog (none unless it is one).
struct GroupFacts {
  std::string id;
  std::set<std::string> catalog_of;
};

Result<GroupFacts> read_facts(PgCluster& cluster) {
  std::vector<Statement> statements;
  // Migration 4 made the id; made again here if meta was emptied since
  // (as the test fixtures do), like the receipt secret.
  statements.push_back(
      Statement{"INSERT INTO meta (key, value) VALUES ('group_id', convert_to(gen_random_uuid()::text, 'UTF8'))"
                " ON CONFLICT (key) DO NOTHING",
                {}});
  statements.push_back(Statement{"SELECT convert_from(value, 'UTF8') FROM meta WHERE key = 'group_id'", {}});
  statements.push_back(Statement{"SELECT group_id FROM placement_groups", {}});
  auto r = wait_statements(cluster, std::move(statements));
  if (!r) return r.error();
  GroupFacts facts;
  if ((*r)[1].rows() != 1) return make_error(ErrorCode::InternalError, "its group id is missing from table meta");
  facts.id = std::string((*r)[1].text(0, 0));
  for (int row = 0; row < (*r)[2].rows(); ++row) facts.catalog_of.emplace((*r)[2].text(row, 0));
  return facts;
}

// A group the catalog does not know yet: placement records for the queues
// it already holds (e.g. a database used alone before), then its row in
// placement_groups. Both idempotent: a crash in between redoes them. A
// name the catalog already places elsewhere keeps that record.
Status add_group(PgCluster& catalog, PgCluster& group, const std::string& group_id) {
  auto live = wait_statements(
      group, {Statement{"SELECT account_id, region, name FROM queues WHERE deleted_ms IS NULL ORDER BY 1, 2, 3", {}}});
  if (!live) return live.error();
  std::vector<Statement> statements;
  const QueryResult& rows = live->front();
  for (int row = 0; row < rows.rows(); ++row) {
    statements.push_back(Statement{
        "INSERT INTO queue_placements (account_id, region, name, group_id, created_ms)"
        " VALUES ($1, $2, $3, $4, now_ms(NULL)) ON CONFLICT DO NOTHING",
        {std::string(rows.text(row, 0)), std::string(rows.text(row, 1)), std::string(rows.text(row, 2)), group_id}});
  }
  statements.push_back(
      Statement{"INSERT INTO placement_groups (group_id, added_ms) VALUES ($1, now_ms(NULL)) ON CONFLICT DO NOTHING",
                {group_id}});
  auto added = wait_statements(catalog, std::move(statements));
  if (!added) return added.error();
  return Ok{};
}

// The checks of the design's "Several groups" section, on the facts read.
std::string check_groups(const std::vector<GroupFacts>& facts) {
  for (size_t i = 0; i < facts.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (facts[i].id == facts[j].id) {
        return listed(j) + " and " + listed(i) + " are the same database (group id " + facts[i].id +
               "): list each group once";
      }
    }
  }
  for (size_t i = 1; i < facts.size(); ++i) {
    if (!facts[i].catalog_of.empty()) {
      return listed(i) +
             " is the catalog of these groups, so it must be listed first (the first URL is the "
             "catalog group)";
    }
  }
  std::string missing;
  for (const auto& known : facts.front().catalog_of) {
    const bool present =
        std::any_of(facts.begin(), facts.end(), [&known](const GroupFacts& f) { return f.id == known; });
    if (!present) missing += (missing.empty() ? "" : ", ") + known;
  }
  if (!missing.empty()) {
    return "the catalog (the first URL) has queues on group(s) " + missing +
           ", which the list does not name: their queues would vanish; list every group";
  }
  return "";
}

}  // namespace

uint64_t placement_hash(std::string_view account_id, std::string_view region, std::string_view name) {
  uint64_t hash = 14695981039346656037ULL;
  auto mix = [&hash](std::string_view part) {
    for (const unsigned char c : part) {
      hash ^= c;
      hash *= 1099511628211ULL;
    }
    hash ^= 0;  // the separator (a NUL byte)
    hash *= 1099511628211ULL;
  };
  mix(account_id);
  mix(region);
  mix(name);
  return hash;
}

PgGroups::PgGroups(std::vector<PgGroup> groups) : groups_(std::move(groups)) {
  for (size_t i = 0; i < groups_.size(); ++i) by_id_.push_back(i);
  std::sort(by_id_.begin(), by_id_.end(), [this](size_t a, size_t b) { return groups_[a].id < groups_[b].id; });
}

std::optional<size_t> PgGroups::index_of(std::string_view group_id) const {
  for (size_t i = 0; i < groups_.size(); ++i) {
    if (groups_[i].id == group_id) return i;
  }
  return std::nullopt;
}

size_t PgGroups::hashed_group(std::string_view account_id, std::string_view region, std::string_view name) const {
  return by_id_[placement_hash(account_id, region, name) % by_id_.size()];
}

std::shared_ptr<PgGroups> open_postgresql_groups(const std::vector<PgOptions>& options, std::string& error) {
  if (options.empty()) {
    error = "PostgreSQL groups: the list names no group";
    return nullptr;
  }
  std::vector<PgGroup> groups;
  std::vector<GroupFacts> facts;
  for (size_t i = 0; i < options.size(); ++i) {
    std::string why;
    auto cluster = open_postgresql_cluster(options[i], why);
    if (!cluster) {
      error = "PostgreSQL " + listed(i) + ": " + why;
      return nullptr;
    }
    auto read = read_facts(*cluster);
    if (!read) {
      error = "PostgreSQL " + listed(i) + ": cannot read its group id: " + read.error().message;
      return nullptr;
    }
    facts.push_back(std::move(*read));
    groups.push_back(PgGroup{facts.back().id, std::move(cluster)});
  }
  if (auto why = check_groups(facts); !why.empty()) {
    error = "PostgreSQL groups: " + why;
    return nullptr;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (facts.front().catalog_of.count(groups[i].id)) continue;
    if (auto added = add_group(*groups.front().cluster, *groups[i].cluster, groups[i].id); !added) {
      error = "PostgreSQL groups: cannot add " + listed(i) + " to the catalog: " + added.error().message;
      return nullptr;
    }
  }
  return std::make_shared<PgGroups>(std::move(groups));
}

}  // namespace wharf::storage::postgresql
