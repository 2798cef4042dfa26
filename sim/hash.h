// Fast, portable, non-cryptographic 64-bit hashing for fingerprints. Not for security: the
// protocol's digests use SHA-256 (protocol/crypto.h). Defined by this file alone, so a
// fingerprint depends only on the values hashed, never on the platform or the library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace sim {

// Mixes one 64-bit word into a running state (a splitmix64-style finalizer over state ^ word).
std::uint64_t hash_mix(std::uint64_t state, std::uint64_t word);

// The 128-bit product of a and b folded to 64 bits (the "mum" step of wyhash): one
// multiply that spreads every input bit over the output. Cheap enough to run several
// times per simulated event.
inline std::uint64_t hash_mum(std::uint64_t a, std::uint64_t b) {
  const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
}

// Folds two words into a chained state. Order-sensitive, and the old state survives even
// in the (astronomically unlikely) case that the product is zero.
inline std::uint64_t hash_chain(std::uint64_t state, std::uint64_t x, std::uint64_t y) {
  constexpr std::uint64_t kX = 0xa0761d6478bd642fULL, kY = 0xe7037ed1a0b428dbULL;
  return ((state << 29) | (state >> 35)) ^ hash_mum(state ^ x ^ kX, y ^ kY);
}

// Hashes a byte string, 16 bytes at a time (little-endian loads, tail zero-padded, length
// folded in first). Same bytes -> same value on every platform.
std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0);

// A 64-bit hash as written everywhere (fingerprints, trace hashes): 16 lowercase hex digits.
std::string hex16(std::uint64_t value);

}  // namespace sim
