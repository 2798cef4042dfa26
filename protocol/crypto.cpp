// SHA-256, HMAC-SHA256 authenticators and Ed25519 through OpenSSL's EVP interface.
//
// HMAC is computed from precomputed states: for each peer, the SHA-256 contexts that have
// absorbed key^ipad and key^opad are made once and copied per MAC, so a MAC costs two
// short hash finalisations and no allocation or algorithm lookup.
#include "protocol/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cassert>
#include <stdexcept>

#include "protocol/wire_io.h"

namespace protocol {

namespace {

const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_sha256();  // fetched once
  return md;
}

struct MdCtx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  MdCtx() { if (ctx == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed"); }
  ~MdCtx() { EVP_MD_CTX_free(ctx); }
  MdCtx(const MdCtx&) = delete;
  MdCtx& operator=(const MdCtx&) = delete;
};

// The keyed inner and outer SHA-256 states of one HMAC key.
struct HmacKey {
  MdCtx inner;
  MdCtx outer;
  explicit HmacKey(ByteView key) {
    assert(key.size() <= 64);
    std::uint8_t ipad[64], opad[64];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint8_t k = i < key.size() ? key[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    EVP_DigestInit_ex(inner.ctx, sha256_md(), nullptr);
    EVP_DigestUpdate(inner.ctx, ipad, 64);
    EVP_DigestInit_ex(outer.ctx, sha256_md(), nullptr);
    EVP_DigestUpdate(outer.ctx, opad, 64);
  }
  std::array<std::uint8_t, 32> mac(ByteView data, EVP_MD_CTX* scratch) const {
    std::array<std::uint8_t, 32> inner_hash{}, out{};
    unsigned int length = 0;
    EVP_MD_CTX_copy_ex(scratch, inner.ctx);
    EVP_DigestUpdate(scratch, data.data(), data.size());
    EVP_DigestFinal_ex(scratch, inner_hash.data(), &length);
    EVP_MD_CTX_copy_ex(scratch, outer.ctx);
    EVP_DigestUpdate(scratch, inner_hash.data(), inner_hash.size());
    EVP_DigestFinal_ex(scratch, out.data(), &length);
    return out;
  }
};

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

MessageDigest sha256(ByteView data) {
  MessageDigest d;
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), d.bytes.data(), &length, sha256_md(), nullptr);
  assert(length == 32);
  return d;
}

std::array<std::uint8_t, 32> hmac_sha256(ByteView key, ByteView data) {
  std::array<std::uint8_t, 32> short_key{};
  ByteView k = key;
  if (key.size() > 64) {  // RFC 2104: longer keys are hashed first
    short_key = sha256(key).bytes;
    k = short_key;
  }
  HmacKey h(k);
  MdCtx scratch;
  return h.mac(data, scratch.ctx);
}

void CryptoCounters::add(const CryptoCounters& o) {
  sha256_ops += o.sha256_ops;
  sha256_bytes += o.sha256_bytes;
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
  std::vector<std::unique_ptr<HmacKey>> send;     // key self -> peer
  std::vector<std::unique_ptr<HmacKey>> receive;  // key peer -> self
  std::vector<Pkey> peer_public;
  Pkey private_key;
  MdCtx scratch;
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
  counters_.sha256_ops++;
  counters_.sha256_bytes += data.size();
  return sha256(data);
}

std::array<std::uint8_t, 32> NodeCrypto::mac_to(NodeId receiver, const MessageDigest& d) {
  auto& key = impl_->send[receiver];
  if (!key) {
    const auto k = ring_.mac_key(self_, receiver);
    key = std::make_unique<HmacKey>(k);
  }
  counters_.hmac_ops++;
  return key->mac(d.bytes, impl_->scratch.ctx);
}

Bytes NodeCrypto::seal(Bytes&& content, std::span<const NodeId> receivers) {
  Bytes wire = std::move(content);
  switch (ring_.mode()) {
    case AuthMode::None:
      wire.push_back(static_cast<std::uint8_t>(AuthScheme::None));
      return wire;
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
      return wire;
    }
    case AuthMode::Mac: break;
  }
  std::vector<NodeId> to;
  to.reserve(receivers.size());
  for (NodeId r : receivers) {
    if (r < ring_.node_count()) to.push_back(r);  // nobody else holds a key
  }
  std::sort(to.begin(), to.end());
  to.erase(std::unique(to.begin(), to.end()), to.end());
  const MessageDigest d = digest(wire);
  wire.reserve(wire.size() + 3 + to.size() * (4 + kMacBytes));
  wire.push_back(static_cast<std::uint8_t>(AuthScheme::Mac));
  put_le(wire, to.size(), 2);
  for (NodeId r : to) {
    put_le(wire, r, 4);
    const auto mac = mac_to(r, d);
    wire.insert(wire.end(), mac.begin(), mac.end());
  }
  return wire;
}

bool NodeCrypto::verify(const Envelope& e) {
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
      auto& key = impl_->receive[e.sender];
      if (!key) key = std::make_unique<HmacKey>(ring_.mac_key(e.sender, self_));
      const MessageDigest d = digest(e.content);
      counters_.hmac_ops++;
      const auto mac = key->mac(d.bytes, impl_->scratch.ctx);
      return CRYPTO_memcmp(mac.data(), p + 4, kMacBytes) == 0;
    }
    if (receiver < self_) lo = mid + 1; else hi = mid;
  }
  return false;
}

}  // namespace protocol
