#include "ledger.h"

#include <charconv>
#include <stdexcept>

namespace wharf::bench {

namespace {

constexpr uint8_t kAcked = 1;
constexpr uint8_t kFailed = 2;
constexpr uint8_t kReceivedShift = 2;  // bits 2-3: times received, saturating at 3

// A body's fields are numbers in hex (std::to_chars' digits, no leading
// zeros), each followed by '.'.
void append_field(std::string& out, uint64_t v) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, 16);
  (void)ec;
  out.append(buf, end);
  out += '.';
}

bool read_field(std::string_view& s, uint64_t& v) {
  const auto dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + dot, v, 16);
  if (ec != std::errc() || ptr != s.data() + dot) return false;
  s.remove_prefix(dot + 1);
  return true;
}

}  // namespace

std::string make_body(uint32_t run, const MessageTag& tag, size_t size) {
  std::string body;
  body.reserve(std::max<size_t>(size, 64));
  body.append("wb.");
  append_field(body, run);
  append_field(body, tag.id);
  append_field(body, static_cast<uint64_t>(tag.sent_us));
  append_field(body, tag.group);
  append_field(body, tag.seq);
  if (body.size() < size) body.append(size - body.size(), 'x');
  return body;
}

BodyCheck parse_body(std::string_view body, uint32_t run, size_t expected_size, MessageTag& tag) {
  if (body.substr(0, 3) != "wb.") return BodyCheck::OtherRun;
  std::string_view s = body.substr(3);
  uint64_t r = 0, id = 0, sent = 0, group = 0, seq = 0;
  if (!read_field(s, r)) return BodyCheck::Corrupt;
  if (r != run) return BodyCheck::OtherRun;
  if (!read_field(s, id) || !read_field(s, sent) || !read_field(s, group) || !read_field(s, seq))
    return BodyCheck::Corrupt;
  const size_t head = body.size() - s.size();
  if (std::max(head, expected_size) != body.size()) return BodyCheck::Corrupt;
  if (s.find_first_not_of('x') != std::string_view::npos) return BodyCheck::Corrupt;
  tag.id = id;
  tag.sent_us = static_cast<int64_t>(sent);
  tag.group = static_cast<uint32_t>(group);
  tag.seq = seq;
  return BodyCheck::Ok;
}

Ledger::Ledger(uint32_t max_slots) : slots_(new Slot[max_slots]), max_slots_(max_slots) {}

uint32_t Ledger::open_slot() {
  const uint32_t slot = next_slot_.fetch_add(1);
  if (slot >= max_slots_) throw std::logic_error("ledger: out of producer slots");
  return slot;
}

uint64_t Ledger::reserve(uint32_t slot) {
  Slot& s = slots_[slot];
  std::lock_guard lock(s.mutex);
  s.states.push_back(0);
  return make_id(slot, static_cast<uint32_t>(s.states.size() - 1));
}

void Ledger::acked(uint64_t id) {
  Slot& s = slots_[id >> 32];
  std::lock_guard lock(s.mutex);
  uint8_t& state = s.states[id & 0xffffffffu];
  if (state & kAcked) return;
  state = static_cast<uint8_t>((state | kAcked) & ~kFailed);
  acked_.fetch_add(1, std::memory_order_relaxed);
  if ((state >> kReceivedShift) == 0) {
    outstanding_.fetch_add(1, std::memory_order_relaxed);
  } else {
    received_unacked_.fetch_sub(1, std::memory_order_relaxed);  // it was counted so when it arrived first
  }
}

void Ledger::failed(uint64_t id) {
  Slot& s = slots_[id >> 32];
  std::lock_guard lock(s.mutex);
  uint8_t& state = s.states[id & 0xffffffffu];
  if (!(state & kAcked)) state |= kFailed;
}

Ledger::Receipt Ledger::received(uint64_t id) {
  const uint32_t slot = static_cast<uint32_t>(id >> 32);
  const uint32_t index = static_cast<uint32_t>(id & 0xffffffffu);
  if (slot >= max_slots_) {
    unknown_.fetch_add(1, std::memory_order_relaxed);
    return Receipt::Unknown;
  }
  Slot& s = slots_[slot];
  std::lock_guard lock(s.mutex);
  if (index >= s.states.size()) {
    unknown_.fetch_add(1, std::memory_order_relaxed);
    return Receipt::Unknown;
  }
  uint8_t& state = s.states[index];
  const unsigned times = state >> kReceivedShift;
  if (times < 3) state = static_cast<uint8_t>((state & 3) | ((times + 1) << kReceivedShift));
  if (times > 0) {
    duplicates_.fetch_add(1, std::memory_order_relaxed);
    return Receipt::Duplicate;
  }
  received_unique_.fetch_add(1, std::memory_order_relaxed);
  if (state & kAcked) {
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
  } else {
    // Received before its acknowledgement was read, or its send failed on our side.
    received_unacked_.fetch_add(1, std::memory_order_relaxed);
  }
  return Receipt::First;
}

uint64_t Ledger::count_lost() const {
  uint64_t lost = 0;
  const uint32_t used = std::min(next_slot_.load(), max_slots_);
  for (uint32_t i = 0; i < used; ++i) {
    std::lock_guard lock(slots_[i].mutex);
    for (uint8_t state : slots_[i].states) {
      if ((state & kAcked) && (state >> kReceivedShift) == 0) ++lost;
    }
  }
  return lost;
}

GroupOrder::GroupOrder(uint32_t groups) : groups_(new Group[groups]), count_(groups) {}

bool GroupOrder::check(uint32_t group, uint64_t seq, bool duplicate) {
  if (group >= count_) {
    violations_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Group& g = groups_[group];
  std::lock_guard lock(g.mutex);
  if (seq >= g.next) {
    g.next = seq + 1;
    return true;
  }
  if (duplicate) return true;  // counted as a duplicate, not twice
  // An earlier message after a later one.
  violations_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

}  // namespace wharf::bench
