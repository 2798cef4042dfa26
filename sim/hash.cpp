#include "sim/hash.h"

namespace sim {

std::uint64_t hash_mix(std::uint64_t state, std::uint64_t word) {
  // splitmix64's finalizer over (state ^ word) plus a rotation of the old state, so that
  // the order of words matters.
  std::uint64_t z = state ^ (word + 0x9e3779b97f4a7c15ULL + (state << 6) + (state >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t state = hash_mix(seed, bytes.size());
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w = 0;
    for (int k = 0; k < 8; ++k) w |= std::uint64_t{bytes[i + k]} << (8 * k);
    state = hash_mix(state, w);
  }
  if (i < bytes.size()) {
    std::uint64_t w = 0;
    for (int k = 0; i + k < bytes.size(); ++k) w |= std::uint64_t{bytes[i + k]} << (8 * k);
    state = hash_mix(state, w);
  }
  return state;
}

}  // namespace sim
