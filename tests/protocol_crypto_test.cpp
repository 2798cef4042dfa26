// Digests, HMAC authenticators and Ed25519 signatures.
#include <doctest/doctest.h>

#include <string>

#include "protocol/crypto.h"

using namespace protocol;

namespace {
ByteView text(const std::string& s) { return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }
std::string hex(std::span<const std::uint8_t> b) {
  static const char* k = "0123456789abcdef";
  std::string s;
  for (auto x : b) { s.push_back(k[x >> 4]); s.push_back(k[x & 15]); }
  return s;
}
std::vector<NodeId> everyone(NodeId n) {
  std::vector<NodeId> v;
  for (NodeId i = 0; i < n; ++i) v.push_back(i);
  return v;
}
}  // namespace

TEST_CASE("SHA-256 and HMAC-SHA256 known answers") {
  static const std::string abc = "abc";
  CHECK(sha256(text(abc)).hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  static const std::string key = "Jefe", data = "what do ya want for nothing?";
  CHECK(hex(hmac_sha256(text(key), text(data))) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("MAC authenticators: each receiver checks its own entry; tampering fails") {
  KeyRing ring(1, AuthMode::Mac, 6);
  NodeCrypto sender(ring, 2), r0(ring, 0), r5(ring, 5);
  const Bytes wire = sender.seal(encode_vote(MessageKind::Prepare, 2, Vote{0, 1, {}}), everyone(4));
  auto e = parse_envelope(wire);
  REQUIRE(e.ok());
  CHECK(r0.verify(e.value));
  CHECK_FALSE(r5.verify(e.value));  // not among the receivers
  // Every byte replica 0 depends on: the content, and its own entry (receiver id and MAC).
  const std::size_t content_size = e.value.content.size(), entry0 = content_size + 1 + 2;
  std::vector<std::size_t> positions;
  for (std::size_t i = 0; i < content_size; ++i) positions.push_back(i);
  for (std::size_t i = entry0; i < entry0 + 36; ++i) positions.push_back(i);
  for (std::size_t i : positions) {
    Bytes bad = wire;
    bad[i] ^= 0x10;
    auto be = parse_envelope(bad);
    CHECK_FALSE((be.ok() && r0.verify(be.value)));
  }
  // Sealed by 2, claiming to come from 1: replica 0 checks with key(1 -> 0) and refuses.
  Bytes content = encode_vote(MessageKind::Prepare, 1, Vote{0, 1, {}});
  const Bytes forged_wire = sender.seal(std::move(content), everyone(4));  // outlives the envelope
  auto forged = parse_envelope(forged_wire);
  REQUIRE(forged.ok());
  CHECK_FALSE(r0.verify(forged.value));
  CHECK(ring.mac_key(1, 2) != ring.mac_key(2, 1));
  CHECK(sender.counters().hmac_ops == 8);
  CHECK(sender.counters().sha256_ops == 2);
}

TEST_CASE("Ed25519 signatures verify under the sender's key only; modes do not mix") {
  KeyRing ring(3, AuthMode::Signature, 4);
  NodeCrypto a(ring, 1), b(ring, 2);
  const Bytes wire = a.seal(encode_checkpoint(1, Checkpoint{64, {}}), everyone(4));
  auto e = parse_envelope(wire);
  REQUIRE(e.ok());
  CHECK(b.verify(e.value));
  Bytes bad = wire;
  bad[7] ^= 1;
  auto be = parse_envelope(bad);
  CHECK_FALSE((be.ok() && b.verify(be.value)));
  KeyRing mac_ring(3, AuthMode::Mac, 4);
  NodeCrypto m(mac_ring, 2);
  CHECK_FALSE(m.verify(e.value));  // a signature where a MAC authenticator is expected
  KeyRing none_ring(3, AuthMode::None, 4);
  NodeCrypto n1(none_ring, 1), n2(none_ring, 2);
  const Bytes none_wire = n1.seal(encode_checkpoint(1, Checkpoint{64, {}}), everyone(4));
  auto ne = parse_envelope(none_wire);
  CHECK(n2.verify(ne.value));
  CHECK_FALSE(b.verify(ne.value));
}

TEST_CASE("keys come from the seed: same seed, same sealed bytes; another seed, others") {
  KeyRing r1(5, AuthMode::Mac, 4), r2(5, AuthMode::Mac, 4), r3(6, AuthMode::Mac, 4);
  NodeCrypto a(r1, 0), b(r2, 0), c(r3, 0);
  auto msg = [] { return encode_vote(MessageKind::Commit, 0, Vote{1, 2, {}}); };
  CHECK(a.seal(msg(), everyone(4)) == b.seal(msg(), everyone(4)));
  CHECK(a.seal(msg(), everyone(4)) != c.seal(msg(), everyone(4)));
}
