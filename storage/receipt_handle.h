// Receipt handles: opaque, unforgeable (HMAC-SHA256 under a per-data-dir
// secret), naming the exact receive they came from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wharf::storage {

struct ReceiptHandle {
  uint64_t queue_id = 0;
  uint64_t seq = 0;
  uint32_t receive_count = 0;  // which receive of the message issued it
};

std::string encode_receipt_handle(const ReceiptHandle& handle, std::string_view secret);
std::optional<ReceiptHandle> decode_receipt_handle(std::string_view text, std::string_view secret);

}  // namespace wharf::storage
