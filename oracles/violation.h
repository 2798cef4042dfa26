// A broken invariant, as an oracle found it: what the report lists under safety and
// liveness.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace oracles {

struct Violation {
  std::string invariant;   // "agreement", "validity", "integrity", "client_consistency",
                           // "liveness", "certificate"
  std::int64_t time_ns = 0;
  std::string detail;      // one readable sentence
  std::vector<std::uint32_t> replicas;      // correct replicas involved
  std::optional<std::uint64_t> seq;         // sequence number, when it has one
  std::string value_a;                      // the two conflicting values, when there are two
  std::string value_b;
  std::vector<std::uint32_t> culprits;      // faulty replicas that signed conflicting messages
};

}  // namespace oracles
