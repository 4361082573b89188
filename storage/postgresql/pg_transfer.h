// Copies of messages into queues of one database group, made by another
// group's work: cross-group dead-letter redrive and move tasks
// (docs/design/postgresql.md section 12b). Two databases share no
// transaction, so a transfer is copy-then-delete: the copy is keyed by the
// message id it came from (`transfer_keys`), and a copy made again after a
// crash between the copy and the source's delete is skipped. A crash leaves
// the message in both places until the next attempt deletes it from the
// source: at worst a duplicate, never a loss.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/sqs_error.h"
#include "storage/postgresql/pool.h"

namespace wharf::storage::postgresql {

// How long a transfer key stays (the janitor prunes it after that).
inline constexpr int64_t kTransferKeyMs = 24LL * 3600 * 1000;

// One message to copy into `destination` (a queue name of the group).
struct TransferMessage {
  std::string destination;
  std::string key;         // the id the copy is keyed by (the source's message id)
  std::string message_id;  // its id in the destination
  std::string group_id;    // "" none
  int64_t sent_ms = 0;
  int64_t first_receive_ms = 0;
  int64_t receive_count = 0;
  std::string body, body_md5, message_attributes, system_attributes;
};

struct TransferOutcome {
  std::vector<std::string> missing;    // destinations with no live queue: their messages were not copied
  std::vector<std::string> delivered;  // destinations that got new messages (to notify)
  int64_t now = 0;                     // the destination's clock
};

// One transaction on `pool`'s group: the live destinations (kept from
// deletion until COMMIT), a FIFO destination's groups locked, each
// message's key inserted and the message only when its key is new (in the
// given order, visible now), the destinations' groups settled (FIFO) or
// added (fair queues), then `also` (statements of this same group, for a
// caller whose source is this group), COMMIT. `done` only after COMMIT.
void transfer_in(Pool& pool, PgParam now, std::string account_id, std::string region,
                 std::vector<TransferMessage> messages, std::vector<Statement> also,
                 std::function<void(Result<TransferOutcome>)> done);

}  // namespace wharf::storage::postgresql
