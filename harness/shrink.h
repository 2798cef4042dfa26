// Shrinking a failing scenario: the candidate simplifications `pbftsim fuzz --shrink` tries,
// one step smaller each (one fault fewer, fewer requests or clients, no loss, a plainer
// latency, a smaller cluster...). The caller runs each candidate and keeps the first that
// still fails the same way, then asks again, until no candidate fails: a greedy descent to
// a local minimum, like delta debugging with a fixed menu of moves.
#pragma once
#include <string>
#include <vector>

#include "harness/scenario.h"

namespace harness {

struct ShrinkCandidate {
  std::string what;  // "remove fault 2 (crash)", "requests_per_client 40 -> 20", ...
  Scenario scenario;
};

// Every candidate is valid (parse_scenario would accept its JSON) and strictly simpler than
// `s` by some measure that cannot decrease forever, so repeated shrinking terminates. The
// expectation is recomputed: "holds" when at most f replicas can be faulty, else "any".
// Pure: the same scenario gives the same candidates in the same order.
std::vector<ShrinkCandidate> shrink_candidates(const Scenario& s);

}  // namespace harness
