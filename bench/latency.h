// Latency histogram: log-linear buckets over microseconds (about 1.5%
// resolution from 128 µs up, exact below), cheap to record and merge.
#pragma once

#include <array>
#include <cstdint>

namespace wharf::bench {

class LatencyHistogram {
 public:
  void record(int64_t micros);
  void merge(const LatencyHistogram& other);
  uint64_t count() const { return count_; }
  // q in [0, 1]; microseconds, 0 when empty.
  double percentile(double q) const;
  double max() const { return static_cast<double>(max_); }

 private:
  static constexpr int kSubBits = 6;
  static constexpr int kLinear = 1 << (kSubBits + 1);  // values below are exact
  static constexpr int kBuckets = kLinear + (64 - kSubBits - 1) * (1 << kSubBits);
  static int bucket_of(uint64_t v);
  static double value_of(int bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

}  // namespace wharf::bench
