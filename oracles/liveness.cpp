#include "oracles/liveness.h"

#include <algorithm>
#include <cassert>

namespace oracles {
namespace {

std::string ms(std::int64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

}  // namespace

std::int64_t last_fault_change_ns(std::span<const FaultTiming> faults, std::int64_t run_end_ns) {
  std::int64_t last = 0;
  for (const auto& f : faults) {
    if (f.from_ns <= run_end_ns) last = std::max(last, f.from_ns);
    if (f.end_ns && *f.end_ns <= run_end_ns) last = std::max(last, *f.end_ns);
  }
  assert(last >= 0);
  assert(last <= std::max<std::int64_t>(run_end_ns, 0));
  return last;
}

LivenessJudge::LivenessJudge(std::int64_t settled_ns, std::int64_t bound_ns)
    : settled_ns_(settled_ns), bound_ns_(bound_ns) {
  assert(settled_ns_ >= 0);
  assert(bound_ns_ > 0);
}

std::int64_t LivenessJudge::deadline_ns(std::int64_t submitted_ns) const {
  return std::max(submitted_ns, settled_ns_) + bound_ns_;
}

void LivenessJudge::on_completion(std::int64_t submitted_ns, std::int64_t completed_ns) {
  assert(completed_ns >= submitted_ns);
  completed_++;
  last_completion_ns_ = std::max(last_completion_ns_, completed_ns);
  const std::int64_t overrun = completed_ns - deadline_ns(submitted_ns);
  if (overrun <= 0) return;
  late_++;
  if (overrun > worst_overrun_ns_) {
    worst_overrun_ns_ = overrun;
    worst_submitted_ns_ = submitted_ns;
    worst_completed_ns_ = completed_ns;
  }
}

LivenessJudge::Verdict LivenessJudge::verdict(std::uint64_t total) const {
  Verdict v;
  v.holds = completed_ == total && late_ == 0;
  v.detail = std::to_string(completed_) + " of " + std::to_string(total) + " requests completed; last at " +
             ms(last_completion_ns_) + "; each must complete within " + ms(bound_ns_) +
             " of its submission or of the last fault change (at " + ms(settled_ns_) + "), whichever is later";
  if (late_ > 0) {
    v.detail += "; " + std::to_string(late_) + " completed late, the worst submitted at " +
                ms(worst_submitted_ns_) + " and completed at " + ms(worst_completed_ns_) + " (deadline " +
                ms(deadline_ns(worst_submitted_ns_)) + ")";
  }
  return v;
}

}  // namespace oracles
