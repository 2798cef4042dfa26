// Latency percentiles from a log-bucketed histogram (1 % resolution): memory stays fixed
// however many requests a run completes.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace harness {

class LatencyHistogram {
 public:
  void add(std::int64_t ns) {
    const auto bucket = static_cast<std::size_t>(std::log(std::max<double>(static_cast<double>(ns), 1.0)) / kLogStep);
    if (bucket >= counts_.size()) counts_.resize(bucket + 1, 0);
    counts_[bucket]++;
    total_++;
    max_ = std::max(max_, ns);
  }
  // The upper edge of the bucket holding the p-quantile (0 < p <= 1), at most the maximum.
  std::int64_t percentile(double p) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen >= std::max<std::uint64_t>(rank, 1)) {
        return std::min(max_, static_cast<std::int64_t>(std::exp(static_cast<double>(b + 1) * kLogStep)));
      }
    }
    return max_;
  }
  std::int64_t max() const { return max_; }

 private:
  static constexpr double kLogStep = 0.00995;  // ln(1.01)
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace harness
