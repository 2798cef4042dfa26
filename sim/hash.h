// A fast, portable, non-cryptographic 64-bit hash for fingerprints. Not for security: the
// protocol's digests use SHA-256 (protocol/crypto.h). Defined by this file alone, so a
// fingerprint depends only on the bytes hashed, never on the platform or the library.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>

namespace sim {

// Mixes one 64-bit word into a running state (a splitmix64-style finalizer over state ^ word).
std::uint64_t hash_mix(std::uint64_t state, std::uint64_t word);

// Hashes a byte string, 8 bytes at a time (little-endian loads, tail zero-padded, length
// folded in). Same bytes -> same value on every platform.
std::uint64_t hash_bytes(std::span<const std::uint8_t> bytes, std::uint64_t seed = 0);

}  // namespace sim
