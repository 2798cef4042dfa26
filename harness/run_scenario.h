// One run of a scenario: the host (host/cluster.h) with the scenario's cluster, network and
// faults, the workload's clients driven through it, and at the end the oracles' verdicts,
// the liveness judgement and the counters turned into a RunReport.
//
// Same scenario + same seed = the same sequence of events, byte for byte.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "harness/scenario.h"
#include "protocol/crypto.h"
#include "protocol/defects.h"
#include "harness/run_report.h"

namespace harness {

struct RunProgress {
  sim::TimeNs virtual_time_ns = 0;
  std::uint64_t completed = 0, submitted_total = 0;  // requests
  std::uint64_t events = 0;
};
inline constexpr std::uint64_t kProgressEvents = 1 << 16;

struct RunOptions {
  std::uint64_t seed = 1;
  bool record_trace = false;  // keep a JSON line per event (for --trace and --html)
  // When set, receives the cryptographic work every node did (the benchmark replays it to
  // time the crypto floor).
  protocol::CryptoCounters* crypto_out = nullptr;
  // A planted defect (protocol/defects.h) in every replica and client; only a defects build
  // has any but Defect::None.
  protocol::Defect defect = protocol::Defect::None;
  // Called every kProgressEvents events with how far the run is (for a progress line; it
  // must not touch the run). Empty: never.
  std::function<void(const RunProgress&)> progress = nullptr;
};

// Runs the scenario to its end (all requests completed, time limit or event budget) and
// judges it. Never throws: an exception inside the run becomes outcome "error" with
// harness_error set.
RunReport run_scenario(const Scenario& scenario, const RunOptions& options);

// The command that replays this run (with `--defect NAME` when a defect is planted).
std::string replay_command(const Scenario& scenario, std::uint64_t seed,
                           protocol::Defect defect = protocol::Defect::None);

}  // namespace harness
