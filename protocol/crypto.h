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
#include <optional>
#include <span>
#include <vector>

#include "protocol/config.h"
#include "protocol/message.h"
#include "protocol/types.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace protocol {

MessageDigest sha256(ByteView data);
// HMAC-SHA256 (RFC 2104), one-shot; the hot path uses NodeCrypto's precomputed contexts.
std::array<std::uint8_t, 32> hmac_sha256(ByteView key, ByteView data);

// SHA-256 through EVP on one context, made once and reused for every digest: begin(),
// update()..., finish(), and again. (EVP_Digest allocates a context and looks the algorithm
// up on every call, which costs more than hashing a PBFT message.) Not copyable.
class Sha256 {
 public:
  Sha256();  // ready for update(): begin() is implied
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& begin();
  Sha256& update(ByteView data);
  MessageDigest finish();
  MessageDigest digest(ByteView data) { return begin().update(data).finish(); }
  // The number of 64-byte compression blocks SHA-256 runs over a message of `bytes` bytes
  // (the message, a 0x80 byte and the 8-byte length, padded to a multiple of 64).
  static std::uint64_t blocks(std::uint64_t bytes) { return (bytes + 8) / 64 + 1; }

 private:
  evp_md_ctx_st* ctx_;
};

// batch_digest() (message.h) computed with `hasher`.
MessageDigest batch_digest_with(Sha256& hasher, std::span<const MessageDigest> request_digests);

// Counts of the cryptographic operations a node performed and the sizes they covered, so
// the benchmark can replay exactly the same work to time the crypto floor. SHA-256 work
// is kept by message size class (number of compression blocks), with the bytes of each
// class, so a replay matches the run in operations, blocks and bytes.
struct CryptoCounters {
  static constexpr std::size_t kBlockClasses = 16;  // 1..14 blocks, and 15 or more
  std::uint64_t sha256_ops = 0;
  std::uint64_t sha256_bytes = 0;
  std::array<std::uint64_t, kBlockClasses> sha256_ops_by_blocks{};    // index: min(blocks, 15)
  std::array<std::uint64_t, kBlockClasses> sha256_bytes_by_blocks{};
  std::uint64_t hmac_ops = 0;      // each over a 32-byte digest
  std::uint64_t sign_ops = 0;
  std::uint64_t verify_ops = 0;    // Ed25519 verifications
  void count_sha256(std::uint64_t bytes);
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
  // The same, hashed with the caller's context (no context made per call).
  std::array<std::uint8_t, 32> mac_key(NodeId from, NodeId to, Sha256& hasher) const;
  // Node i's Ed25519 public key (32 bytes); computed once, cached.
  const std::array<std::uint8_t, 32>& public_key(NodeId node) const;

 private:
  std::uint64_t seed_;
  AuthMode mode_;
  std::uint32_t node_count_;
  mutable std::vector<std::array<std::uint8_t, 32>> public_keys_;
  mutable std::vector<bool> public_key_ready_;
};

// One node's cryptographic identity. Holds its digest context, the keyed HMAC states per
// peer (made on first use, then copied for each MAC) and its Ed25519 private key.
// Not copyable.
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
  // When `content_digest` is given and the check hashed the content (MAC mode), the
  // SHA-256 of the content is stored there: it is the request digest of a REQUEST, so a
  // caller that needs both pays for one hash.
  bool verify(const Envelope& envelope, std::optional<MessageDigest>* content_digest = nullptr);

  // seal() on a buffer in place: `wire` holds the content and gets the trailer appended.
  void seal_in_place(Bytes& wire, std::span<const NodeId> receivers);

  const CryptoCounters& counters() const { return counters_; }
  MessageDigest digest(ByteView data);  // sha256 that counts itself
  // request_digest() and batch_digest() (message.h) that count themselves.
  MessageDigest request_digest(ByteView request_content);
  MessageDigest batch_digest(std::span<const MessageDigest> request_digests);
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
