#include "latency.h"

#include <algorithm>
#include <bit>

namespace wharf::bench {

int LatencyHistogram::bucket_of(uint64_t v) {
  if (v < static_cast<uint64_t>(kLinear)) return static_cast<int>(v);
  const int msb = std::bit_width(v) - 1;  // >= kSubBits + 1
  const int shift = msb - kSubBits;
  const uint64_t mantissa = v >> shift;  // in [2^kSubBits, 2^(kSubBits+1))
  return kLinear + (msb - kSubBits - 1) * (1 << kSubBits) + static_cast<int>(mantissa - (1u << kSubBits));
}

double LatencyHistogram::value_of(int bucket) {
  if (bucket < kLinear) return bucket;
  const int rel = bucket - kLinear;
  const int msb = rel / (1 << kSubBits) + kSubBits + 1;
  const uint64_t mantissa = static_cast<uint64_t>(rel % (1 << kSubBits)) + (1u << kSubBits);
  const int shift = msb - kSubBits;
  const double low = static_cast<double>(mantissa << shift);
  return low + static_cast<double>((uint64_t(1) << shift)) / 2;  // the bucket's middle
}

void LatencyHistogram::record(int64_t micros) {
  const uint64_t v = micros < 0 ? 0 : static_cast<uint64_t>(micros);
  ++buckets_[static_cast<size_t>(bucket_of(v))];
  ++count_;
  max_ = std::max(max_, v);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

double LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * static_cast<double>(count_) + 0.5));
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(value_of(static_cast<int>(i)), static_cast<double>(max_));
  }
  return static_cast<double>(max_);
}

}  // namespace wharf::bench
