// Basic PBFT types, named as in the reference design.
#pragma once
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <string>

namespace protocol {

using ReplicaId = std::uint32_t;       // 0 .. n-1
using ClientId = std::uint32_t;        // a client's node id: n, n+1, ... (replicas come first)
using NodeId = std::uint32_t;          // a replica or a client on the transport
using ViewNumber = std::uint64_t;
using SequenceNumber = std::uint64_t;
using Timestamp = std::uint64_t;       // a client's request timestamp, strictly increasing

// A SHA-256 digest.
struct MessageDigest {
  std::array<std::uint8_t, 32> bytes{};
  auto operator<=>(const MessageDigest&) const = default;
  // Four word compares inline (the defaulted one calls memcmp): digests are compared for
  // every vote a replica counts and every claim the oracles record.
  bool operator==(const MessageDigest& other) const {
    std::uint64_t diff = 0;
    for (std::size_t i = 0; i < 32; i += 8) {
      std::uint64_t a, b;
      std::memcpy(&a, bytes.data() + i, 8);
      std::memcpy(&b, other.bytes.data() + i, 8);
      diff |= a ^ b;
    }
    return diff == 0;
  }
  bool is_zero() const;
  std::string hex() const;        // 64 hex digits
  std::string short_hex() const;  // first 12 hex digits, for summaries
};

}  // namespace protocol
