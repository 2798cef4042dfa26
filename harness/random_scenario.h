// Random scenarios for `pbftsim fuzz`: a pure function from a seed to a valid Scenario that
// covers the space users write by hand (cluster sizes, authentication, batching,
// checkpoints, timeouts, latency distributions, loss, workloads, Byzantine behaviours and
// network faults with windows), in the spirit of TigerBeetle's VOPR.
//
// The contract that makes a generated scenario a test: unless the options allow more, at
// most f replicas are ever faulty (counting "primary" faults as a fresh replica each, the
// worst case), every network fault heals (has until_ms), and duration_ms and
// liveness_bound_ms leave room for the run to finish after the last fault ends. So both
// safety and liveness must hold, and the scenario's `expect` says so. When more than f may
// be faulty, `expect` is "any" for both: only crashes and harness errors are failures.
#pragma once
#include <cstdint>

#include "harness/scenario.h"

namespace harness {

struct RandomScenarioOptions {
  // Faulty replicas allowed beyond f (0: a run must keep both safety and liveness).
  std::uint32_t faulty_over_f_max = 0;
  // Cluster sizes drawn from [n_min, n_max] (weighted toward small clusters).
  std::uint32_t n_min = 1;
  std::uint32_t n_max = 13;
};

// REQUIRES: 1 <= options.n_min <= options.n_max <= 64.
// Draws only from the named stream "fuzz/scenario" of `seed`; the scenario's own seed (the
// run's seed) is `seed` too, so `pbftsim run` of its JSON replays the fuzz run exactly.
Scenario random_scenario(std::uint64_t seed, const RandomScenarioOptions& options);

// True when PBFT promises both safety and liveness for the scenario: at most f replicas can
// be faulty and, with "auth": "none", no fault makes up messages in another node's name
// (corrupt, forge and bad_view_change do: without authentication nothing stops them, so a
// violation there is the model's limit, not a bug). Network faults are not checked here:
// the generator always heals them.
bool guarantees_apply(const Scenario& scenario);

// The number of distinct replicas the scenario's faults can make faulty in the worst case
// (each "primary" fault may hit a replica no other fault names).
std::uint32_t faulty_replicas_max(const Scenario& scenario);

}  // namespace harness
