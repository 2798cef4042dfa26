// Named random streams derived from a run's root seed.
//
// Derivation (fixed; changing it changes every run, so it is versioned):
//   stream_seed(root, name) = first 8 bytes, little-endian, of
//       SHA-256( "pbftsim/rng/v1/" || name || 0x00 || root as 8 bytes little-endian )
//   and the stream is boost::random::mt19937_64 seeded with stream_seed.
// Each consumer of randomness draws from its own stream named after it, so adding a new
// consumer never changes what the existing ones draw. The streams today: "network" (latency,
// loss, duplication), "fault/<i>" (the Byzantine behaviour of the scenario's i-th fault),
// "netfault/<i>" (the i-th network fault's drops and delays) and, outside a run,
// "fuzz/scenario" (the scenario a fuzz seed draws). Replicas and clients draw nothing: keys
// come from protocol::KeyRing and each request's operation from a hash of (seed, client, t).
#pragma once
#include <cstdint>
#include <string_view>

#include <boost/random/mersenne_twister.hpp>

namespace sim {

using RngEngine = boost::random::mt19937_64;

std::uint64_t derive_stream_seed(std::uint64_t root_seed, std::string_view name);

inline RngEngine make_stream(std::uint64_t root_seed, std::string_view name) {
  return RngEngine(derive_stream_seed(root_seed, name));
}

// Boost distributions are used (not std's) because their output is specified the same
// on every platform. These helpers keep call sites short.
double uniform_01(RngEngine& rng);                                    // [0, 1)
std::uint64_t uniform_int(RngEngine& rng, std::uint64_t lo, std::uint64_t hi);  // [lo, hi]
bool bernoulli(RngEngine& rng, double p);                             // true with probability p

}  // namespace sim
