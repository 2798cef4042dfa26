// The liveness oracle. PBFT promises liveness only once the faults stop changing: with at
// most f faulty replicas and a network that delivers, every request completes. So each
// request must complete within `bound` after the later of its submission and the last
// fault change of the run (a start, an end, a restart). A fault without an end inside the
// run changes only once, when it starts: a replica crashed for good, or silent for good, is
// simply faulty from then on, a steady state the protocol must tolerate.
//
// The verdict is a fact about the run; whether it was promised (faulty set within f) is the
// scenario's `expect`.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace oracles {

// One fault, as far as timing goes.
struct FaultTiming {
  std::int64_t from_ns = 0;
  std::optional<std::int64_t> end_ns;  // until_ms, or restart_ms for a crash; none: never ends
};

// The last moment inside [0, run_end_ns] at which some fault started or ended; 0 if none.
std::int64_t last_fault_change_ns(std::span<const FaultTiming> faults, std::int64_t run_end_ns);

class LivenessJudge {
 public:
  // REQUIRES: bound_ns > 0, settled_ns >= 0 (the last fault change).
  LivenessJudge(std::int64_t settled_ns, std::int64_t bound_ns);

  // One request completed (a client accepted its result).
  void on_completion(std::int64_t submitted_ns, std::int64_t completed_ns);

  struct Verdict {
    bool holds = true;
    std::string detail;  // one readable sentence
  };
  // `total`: requests the workload was to submit; all must have completed, none late.
  Verdict verdict(std::uint64_t total) const;

  std::int64_t deadline_ns(std::int64_t submitted_ns) const;
  std::uint64_t completed() const { return completed_; }
  std::uint64_t late() const { return late_; }

 private:
  std::int64_t settled_ns_;
  std::int64_t bound_ns_;
  std::uint64_t completed_ = 0;
  std::uint64_t late_ = 0;
  std::int64_t last_completion_ns_ = 0;
  std::int64_t worst_overrun_ns_ = 0;  // the latest completion past its deadline
  std::int64_t worst_submitted_ns_ = 0;
  std::int64_t worst_completed_ns_ = 0;
};

}  // namespace oracles
