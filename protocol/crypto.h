// Cryptography through OpenSSL: SHA-256 digests, HMAC-SHA256 MAC authenticators with a
// pairwise key per (sender, receiver), and Ed25519 signatures.
//
// Keys are derived from the run's seed, so a run replays exactly:
//   mac key (i -> j)  = SHA-256("pbftsim/mac/v1" || seed u64 || i u32 || j u32)
//   ed25519 seed (i)  = SHA-256("pbftsim/ed25519/v1" || seed u64 || i u32)
// (all integers little-endian).
//
// A KeyRing holds the derivation for a whole run; a node only ever gets a NodeCrypto, which
// can authenticate as that node alone and verify what is addressed to it. That is how a
// Byzantine replica (faults/) signs what it likes as itself but cannot produce a valid MAC
// or signature for another node.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "protocol/config.h"
#include "protocol/message.h"
#include "protocol/types.h"

namespace protocol {

MessageDigest sha256(ByteView data);
// HMAC-SHA256 (RFC 2104), one-shot; the hot path uses NodeCrypto's precomputed contexts.
std::array<std::uint8_t, 32> hmac_sha256(ByteView key, ByteView data);

// Counts of the cryptographic operations a node performed and the bytes they covered, so
// the benchmark can replay exactly the same work to time the crypto floor.
struct CryptoCounters {
  std::uint64_t sha256_ops = 0;
  std::uint64_t sha256_bytes = 0;
  std::uint64_t hmac_ops = 0;      // each over a 32-byte digest
  std::uint64_t sign_ops = 0;
  std::uint64_t verify_ops = 0;    // Ed25519 verifications
  void add(const CryptoCounters& o);
};

class KeyRing {
 public:
  KeyRing(std::uint64_t seed, AuthMode mode, std::uint32_t node_count);
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  AuthMode mode() const { return mode_; }
  std::uint64_t seed() const { return seed_; }
  std::uint32_t node_count() const { return node_count_; }

  // The raw 32-byte HMAC key for messages from `from` to `to`.
  std::array<std::uint8_t, 32> mac_key(NodeId from, NodeId to) const;
  // Node i's Ed25519 public key (32 bytes); computed once, cached.
  const std::array<std::uint8_t, 32>& public_key(NodeId node) const;

 private:
  std::uint64_t seed_;
  AuthMode mode_;
  std::uint32_t node_count_;
  mutable std::vector<std::array<std::uint8_t, 32>> public_keys_;
  mutable std::vector<bool> public_key_ready_;
};

// One node's cryptographic identity. Holds reusable HMAC contexts per peer (created on
// first use) and its Ed25519 private key. Not copyable.
class NodeCrypto {
 public:
  NodeCrypto(const KeyRing& ring, NodeId self);
  ~NodeCrypto();
  NodeCrypto(const NodeCrypto&) = delete;
  NodeCrypto& operator=(const NodeCrypto&) = delete;

  NodeId self() const { return self_; }
  AuthMode mode() const;

  // Appends the auth scheme byte and trailer to `content` (a message whose sender is self)
  // for the given receivers: MAC mode computes one HMAC per receiver (over SHA-256 of the
  // content; receivers are sorted and de-duplicated); signature mode signs once; none
  // appends only the scheme byte. Returns the wire message.
  Bytes seal(Bytes&& content, std::span<const NodeId> receivers);

  // True if `envelope` is authentic for self as receiver: its sender's MAC entry for self
  // is correct, or its signature verifies under the sender's public key. In mode none,
  // true when the scheme byte is none. A message sealed under another scheme is false.
  bool verify(const Envelope& envelope);

  const CryptoCounters& counters() const { return counters_; }
  MessageDigest digest(ByteView data);  // sha256 that counts itself
  // The MAC this node puts in an authenticator entry for `receiver` over `digest` (the
  // same fast path seal() uses; the benchmark times it for the crypto floor).
  std::array<std::uint8_t, 32> mac_to(NodeId receiver, const MessageDigest& digest);

 private:
  struct Impl;
  const KeyRing& ring_;
  NodeId self_;
  std::unique_ptr<Impl> impl_;
  CryptoCounters counters_;
};

}  // namespace protocol
