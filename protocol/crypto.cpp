// SHA-256, HMAC-SHA256 authenticators and Ed25519 through OpenSSL.
//
// SHA-256 goes through OpenSSL's low-level SHA256_* functions, not EVP. They are deprecated
// in OpenSSL 3 but still built, and they are the same SHA-NI/AVX2 code without the EVP
// layer: for the 40-200 byte messages PBFT hashes, EVP_Digest costs 300-400 ns where the
// hash itself costs 50-160 ns (provider lookup, context allocation), and the EVP context
// cannot be copied by value. Nothing else here is deprecated: Ed25519 stays on EVP.
//
// HMAC is computed from precomputed states: for each peer, the SHA-256 states that have
// absorbed key^ipad and key^opad are made once and copied (a plain struct copy) per MAC,
// so a MAC over a 32-byte digest costs exactly two compression-function calls.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "protocol/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "protocol/wire_io.h"

namespace protocol {

static_assert(sizeof(SHA256_CTX) == 112 && alignof(SHA256_CTX) <= 8,
              "Sha256::state_ must hold exactly one SHA256_CTX");

namespace {

SHA256_CTX* ctx_of(std::array<std::uint8_t, 112>& state) {
  return reinterpret_cast<SHA256_CTX*>(state.data());
}

// The keyed inner and outer SHA-256 states of one HMAC key, kept compact: after absorbing
// exactly one 64-byte block a SHA-256 state is its eight chaining words and a bit count of
// 512 with an empty buffer, so 64 bytes hold both states (not two 112-byte contexts).
// Peers' keys are looked up for every message, so the table's size is cache misses saved.
struct HmacKey {
  std::array<SHA_LONG, 8> inner{};
  std::array<SHA_LONG, 8> outer{};
  bool ready = false;

  static std::array<SHA_LONG, 8> absorb_block(const std::uint8_t (&block)[64]) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, block, 64);
    // What resume() rebuilds: nothing buffered, 512 bits counted.
    assert(c.num == 0 && c.Nl == 512 && c.Nh == 0 && c.md_len == SHA256_DIGEST_LENGTH);
    std::array<SHA_LONG, 8> h;
    std::copy(std::begin(c.h), std::end(c.h), h.begin());
    return h;
  }
  static void resume(SHA256_CTX& c, const std::array<SHA_LONG, 8>& h) {
    std::copy(h.begin(), h.end(), std::begin(c.h));
    c.Nl = 512;
    c.Nh = 0;
    c.num = 0;
    c.md_len = SHA256_DIGEST_LENGTH;
  }
  void init(ByteView key) {
    assert(key.size() <= 64);
    std::uint8_t ipad[64], opad[64];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint8_t k = i < key.size() ? key[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    inner = absorb_block(ipad);
    outer = absorb_block(opad);
    ready = true;
  }
  std::array<std::uint8_t, 32> mac(ByteView data) const {
    assert(ready);
    std::array<std::uint8_t, 32> inner_hash, out;
    SHA256_CTX c;
    resume(c, inner);
    SHA256_Update(&c, data.data(), data.size());
    SHA256_Final(inner_hash.data(), &c);
    resume(c, outer);
    SHA256_Update(&c, inner_hash.data(), inner_hash.size());
    SHA256_Final(out.data(), &c);
    return out;
  }
};

// Constant-time equality of two 32-byte MACs (no early exit on the first difference),
// four word compares instead of CRYPTO_memcmp's byte loop.
bool mac_equal(const std::uint8_t* a, const std::uint8_t* b) {
  std::uint64_t diff = 0;
  for (int i = 0; i < 4; ++i) {
    std::uint64_t x, y;
    std::memcpy(&x, a + 8 * i, 8);
    std::memcpy(&y, b + 8 * i, 8);
    diff |= x ^ y;
  }
  return diff == 0;
}

void put_le(Bytes& out, std::uint64_t v, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

std::array<std::uint8_t, 32> derive(std::string_view tag, std::uint64_t seed, std::uint32_t a,
                                    std::uint32_t b, bool pair) {
  Bytes in(tag.begin(), tag.end());
  put_le(in, seed, 8);
  put_le(in, a, 4);
  if (pair) put_le(in, b, 4);
  return sha256(in).bytes;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

}  // namespace

Sha256::Sha256() { SHA256_Init(ctx_of(state_)); }

Sha256& Sha256::update(ByteView data) {
  SHA256_Update(ctx_of(state_), data.data(), data.size());
  return *this;
}

MessageDigest Sha256::finish() {
  MessageDigest d;
  SHA256_Final(d.bytes.data(), ctx_of(state_));
  return d;
}

MessageDigest sha256(ByteView data) { return Sha256().update(data).finish(); }

std::array<std::uint8_t, 32> hmac_sha256(ByteView key, ByteView data) {
  std::array<std::uint8_t, 32> short_key{};
  ByteView k = key;
  if (key.size() > 64) {  // RFC 2104: longer keys are hashed first
    short_key = sha256(key).bytes;
    k = short_key;
  }
  HmacKey h;
  h.init(k);
  return h.mac(data);
}

void CryptoCounters::count_sha256(std::uint64_t bytes) {
  const std::size_t c = std::min<std::uint64_t>(Sha256::blocks(bytes), kBlockClasses - 1);
  sha256_ops++;
  sha256_bytes += bytes;
  sha256_ops_by_blocks[c]++;
  sha256_bytes_by_blocks[c] += bytes;
}

void CryptoCounters::add(const CryptoCounters& o) {
  sha256_ops += o.sha256_ops;
  sha256_bytes += o.sha256_bytes;
  for (std::size_t c = 0; c < kBlockClasses; ++c) {
    sha256_ops_by_blocks[c] += o.sha256_ops_by_blocks[c];
    sha256_bytes_by_blocks[c] += o.sha256_bytes_by_blocks[c];
  }
  hmac_ops += o.hmac_ops;
  sign_ops += o.sign_ops;
  verify_ops += o.verify_ops;
}

KeyRing::KeyRing(std::uint64_t seed, AuthMode mode, std::uint32_t node_count)
    : seed_(seed), mode_(mode), node_count_(node_count),
      public_keys_(node_count), public_key_ready_(node_count, false) {}

KeyRing::~KeyRing() = default;

std::array<std::uint8_t, 32> KeyRing::mac_key(NodeId from, NodeId to) const {
  return derive("pbftsim/mac/v1", seed_, from, to, true);
}

const std::array<std::uint8_t, 32>& KeyRing::public_key(NodeId node) const {
  assert(node < node_count_);
  if (!public_key_ready_[node]) {
    const auto secret = derive("pbftsim/ed25519/v1", seed_, node, 0, false);
    Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), secret.size()));
    std::size_t length = 32;
    if (!key || EVP_PKEY_get_raw_public_key(key.get(), public_keys_[node].data(), &length) != 1) {
      throw std::runtime_error("Ed25519 key derivation failed");
    }
    public_key_ready_[node] = true;
  }
  return public_keys_[node];
}

struct NodeCrypto::Impl {
  std::vector<HmacKey> send;     // key self -> peer
  std::vector<HmacKey> receive;  // key peer -> self
  std::vector<Pkey> peer_public;
  Pkey private_key;
};

NodeCrypto::NodeCrypto(const KeyRing& ring, NodeId self)
    : ring_(ring), self_(self), impl_(std::make_unique<Impl>()) {
  assert(self < ring.node_count());
  impl_->send.resize(ring.node_count());
  impl_->receive.resize(ring.node_count());
  impl_->peer_public.resize(ring.node_count());
  if (ring.mode() == AuthMode::Signature) {
    const auto secret = derive("pbftsim/ed25519/v1", ring.seed(), self, 0, false);
    impl_->private_key.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, secret.data(), secret.size()));
  }
}

NodeCrypto::~NodeCrypto() = default;

AuthMode NodeCrypto::mode() const { return ring_.mode(); }

MessageDigest NodeCrypto::digest(ByteView data) {
  counters_.count_sha256(data.size());
  return sha256(data);
}

MessageDigest NodeCrypto::request_digest(ByteView request_content) {
  counters_.count_sha256(request_content.size());
  return protocol::request_digest(request_content);
}

MessageDigest NodeCrypto::batch_digest(std::span<const MessageDigest> request_digests) {
  counters_.count_sha256(batch_digest_input_bytes(request_digests.size()));
  return protocol::batch_digest(request_digests);
}

std::array<std::uint8_t, 32> NodeCrypto::mac_to(NodeId receiver, const MessageDigest& d) {
  assert(receiver < impl_->send.size());
  HmacKey& key = impl_->send[receiver];
  if (!key.ready) key.init(ring_.mac_key(self_, receiver));
  counters_.hmac_ops++;
  return key.mac(d.bytes);
}

Bytes NodeCrypto::seal(Bytes&& content, std::span<const NodeId> receivers) {
  Bytes wire = std::move(content);
  seal_in_place(wire, receivers);
  return wire;
}

void NodeCrypto::seal_in_place(Bytes& wire, std::span<const NodeId> receivers) {
  switch (ring_.mode()) {
    case AuthMode::None:
      wire.push_back(static_cast<std::uint8_t>(AuthScheme::None));
      return;
    case AuthMode::Signature: {
      counters_.sign_ops++;
      std::array<std::uint8_t, kSignatureBytes> sig{};
      std::size_t length = sig.size();
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, impl_->private_key.get()) == 1 &&
                      EVP_DigestSign(ctx, sig.data(), &length, wire.data(), wire.size()) == 1;
      EVP_MD_CTX_free(ctx);
      if (!ok) throw std::runtime_error("Ed25519 signing failed");
      wire.push_back(static_cast<std::uint8_t>(AuthScheme::Signature));
      wire.insert(wire.end(), sig.begin(), sig.end());
      return;
    }
    case AuthMode::Mac: break;
  }
  // Receivers as given are usually ascending already (every caller lists replicas in
  // order); only an unsorted list is copied and sorted. Nobody outside the ring holds a key.
  std::span<const NodeId> to = receivers;
  std::vector<NodeId> sorted;
  const bool ascending = std::adjacent_find(receivers.begin(), receivers.end(),
                                            std::greater_equal<NodeId>()) == receivers.end();
  if (!ascending || (!receivers.empty() && receivers.back() >= ring_.node_count())) {
    for (NodeId r : receivers) {
      if (r < ring_.node_count()) sorted.push_back(r);
    }
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    to = sorted;
  }
  const MessageDigest d = digest(wire);
  const std::size_t at = wire.size();
  wire.resize(at + 3 + to.size() * (4 + kMacBytes));
  std::uint8_t* p = wire.data() + at;
  *p++ = static_cast<std::uint8_t>(AuthScheme::Mac);
  *p++ = static_cast<std::uint8_t>(to.size());
  *p++ = static_cast<std::uint8_t>(to.size() >> 8);
  for (NodeId r : to) {
    for (int i = 0; i < 4; ++i) *p++ = static_cast<std::uint8_t>(r >> (8 * i));
    const auto mac = mac_to(r, d);
    std::memcpy(p, mac.data(), kMacBytes);
    p += kMacBytes;
  }
  assert(p == wire.data() + wire.size());
}

bool NodeCrypto::verify(const Envelope& e, std::optional<MessageDigest>* content_digest) {
  if (e.sender >= ring_.node_count()) return false;
  switch (ring_.mode()) {
    case AuthMode::None: return e.scheme == AuthScheme::None;
    case AuthMode::Signature: {
      if (e.scheme != AuthScheme::Signature) return false;
      auto& pub = impl_->peer_public[e.sender];
      if (!pub) {
        const auto& raw = ring_.public_key(e.sender);
        pub.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
      }
      counters_.verify_ops++;
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pub.get()) == 1 &&
                      EVP_DigestVerify(ctx, e.auth.data(), e.auth.size(), e.content.data(), e.content.size()) == 1;
      EVP_MD_CTX_free(ctx);
      return ok;
    }
    case AuthMode::Mac: break;
  }
  if (e.scheme != AuthScheme::Mac || e.auth.size() < 2) return false;
  const std::size_t count = e.auth[0] | (std::size_t{e.auth[1]} << 8);
  constexpr std::size_t kEntry = 4 + kMacBytes;
  // Entries are sorted by receiver: binary search for ours.
  std::size_t lo = 0, hi = count;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const std::uint8_t* p = e.auth.data() + 2 + mid * kEntry;
    const std::uint32_t receiver = p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t{p[3]} << 24);
    if (receiver == self_) {
      HmacKey& key = impl_->receive[e.sender];
      if (!key.ready) key.init(ring_.mac_key(e.sender, self_));
      const MessageDigest d = digest(e.content);
      if (content_digest != nullptr) *content_digest = d;
      counters_.hmac_ops++;
      const auto mac = key.mac(d.bytes);
      static_assert(kMacBytes == 32);
      return mac_equal(mac.data(), p + 4);
    }
    if (receiver < self_) lo = mid + 1; else hi = mid;
  }
  return false;
}

}  // namespace protocol
