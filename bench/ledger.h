// What was sent and what came back: unique message ids carried in the
// bodies, acknowledged vs received, duplicates, FIFO order per group.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wharf::bench {

// The head of every body: "wb.<run>.<id>.<sent µs>.<group>.<seq>." then 'x'
// up to the requested size. <run> tells this run's messages from others.
struct MessageTag {
  uint64_t id = 0;
  int64_t sent_us = 0;  // steady clock of this process
  uint32_t group = 0;
  uint64_t seq = 0;
};

std::string make_body(uint32_t run, const MessageTag& tag, size_t size);

enum class BodyCheck { Ok, OtherRun, Corrupt };
BodyCheck parse_body(std::string_view body, uint32_t run, size_t expected_size, MessageTag& tag);

constexpr uint64_t make_id(uint32_t slot, uint32_t index) { return (uint64_t(slot) << 32) | index; }

class Ledger {
 public:
  explicit Ledger(uint32_t max_slots);

  // A producer takes a slot and numbers its messages in it.
  uint32_t open_slot();
  uint64_t reserve(uint32_t slot);
  void acked(uint64_t id);
  void failed(uint64_t id);  // the send was not acknowledged (it may still arrive)

  enum class Receipt { First, Duplicate, Unknown };
  Receipt received(uint64_t id);

  uint64_t acked_count() const { return acked_.load(std::memory_order_relaxed); }
  uint64_t received_unique() const { return received_unique_.load(std::memory_order_relaxed); }
  // Acknowledged and not yet received.
  int64_t outstanding() const { return outstanding_.load(std::memory_order_relaxed); }
  uint64_t duplicates() const { return duplicates_.load(std::memory_order_relaxed); }
  uint64_t unknown() const { return unknown_.load(std::memory_order_relaxed); }
  uint64_t received_unacknowledged() const { return received_unacked_.load(std::memory_order_relaxed); }

  // Walks every slot: acknowledged messages never received.
  uint64_t count_lost() const;

 private:
  struct Slot {
    mutable std::mutex mutex;
    std::vector<uint8_t> states;
  };
  std::unique_ptr<Slot[]> slots_;
  uint32_t max_slots_;
  std::atomic<uint32_t> next_slot_{0};
  std::atomic<uint64_t> acked_{0}, received_unique_{0}, duplicates_{0}, unknown_{0}, received_unacked_{0};
  std::atomic<int64_t> outstanding_{0};
};

// FIFO: per group, sequence numbers must arrive in increasing order. A gap is
// not a violation: a send that failed is retried under a new number, and a
// message that never arrives is the ledger's to count as lost.
class GroupOrder {
 public:
  explicit GroupOrder(uint32_t groups);
  // Returns false (an order violation) when seq is below one already seen in
  // its group and not a duplicate (duplicates the ledger counts).
  bool check(uint32_t group, uint64_t seq, bool duplicate);
  uint64_t violations() const { return violations_.load(std::memory_order_relaxed); }

 private:
  struct Group {
    std::mutex mutex;
    uint64_t next = 0;
  };
  std::unique_ptr<Group[]> groups_;
  uint32_t count_;
  std::atomic<uint64_t> violations_{0};
};

}  // namespace wharf::bench
