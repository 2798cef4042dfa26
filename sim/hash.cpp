#include "sim/hash.h"

#include <bit>
#include <cstdio>
#include <cstring>

namespace sim {

std::string hex16(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
  return buf;
}

std::uint64_t hash_mix(std::uint64_t state, std::uint64_t word) {
  // splitmix64's finalizer over (state ^ word) plus a rotation of the old state, so that
  // the order of words matters.
  std::uint64_t z = state ^ (word + 0x9e3779b97f4a7c15ULL + (state << 6) + (state >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

std::uint64_t load_le64(const std::uint8_t* p) {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  return w;
}

}  // namespace

std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t state = hash_chain(seed, bytes.size(), 0x8bb84b93962eacc9ULL);
  const std::uint8_t* p = bytes.data();
  std::size_t left = bytes.size();
  for (; left >= 16; p += 16, left -= 16) state = hash_chain(state, load_le64(p), load_le64(p + 8));
  if (left > 0) {
    std::uint8_t tail[16] = {};
    std::memcpy(tail, p, left);
    state = hash_chain(state, load_le64(tail), load_le64(tail + 8));
  }
  return hash_mix(state, 0);  // a final avalanche over the chained state
}

}  // namespace sim
