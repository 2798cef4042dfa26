// SHA-256, HMAC-SHA256 authenticators and Ed25519 through OpenSSL's EVP interface.
//
// Per-call EVP overhead is most of the cost of hashing PBFT's small messages, so nothing
// is looked up or allocated per digest: the SHA-256 algorithm is fetched once, and every
// node hashes with its own context, re-initialised for each digest.
//
// HMAC is computed from precomputed states: for each peer, the SHA-256 contexts that have
// absorbed key^ipad and key^opad are made once and copied into the node's scratch context
// per MAC (EVP_MD_CTX_copy_ex), so a MAC over a 32-byte digest costs two short hash
// finalisations and no key schedule. (OpenSSL 3.0's copy still duplicates the provider
// context on the heap; docs/PERFORMANCE.md gives what that and EVP's dispatch cost.)
#include "protocol/crypto.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "protocol/wire_io.h"

namespace protocol {

namespace {

// SHA-256, fetched once per process: an immutable algorithm handle, like EVP_sha256(),
// but explicitly fetched so that initialising a context does not search the providers.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) throw std::runtime_error("OpenSSL has no SHA256");
    return fetched;
  }();
  return md;
}

EVP_MD_CTX* new_md_ctx() {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("EVP_MD_CTX_new failed");
  return ctx;
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// The keyed inner and outer SHA-256 states of one HMAC key.
struct HmacKey {
  MdCtx inner;
  MdCtx outer;
  bool ready() const { return inner != nullptr; }
  void init(ByteView key) {
    assert(key.size() <= 64);
    std::uint8_t ipad[64], opad[64];
    for (std::size_t i = 0; i < 64; ++i) {
      const std::uint8_t k = i < key.size() ? key[i] : 0;
      ipad[i] = k ^ 0x36;
      opad[i] = k ^ 0x5c;
    }
    inner.reset(new_md_ctx());
    outer.reset(new_md_ctx());
    const bool ok = EVP_DigestInit_ex2(inner.get(), sha256_md(), nullptr) == 1 &&
                    EVP_DigestUpdate(inner.get(), ipad, 64) == 1 &&
                    EVP_DigestInit_ex2(outer.get(), sha256_md(), nullptr) == 1 &&
                    EVP_DigestUpdate(outer.get(), opad, 64) == 1;
    if (!ok) throw std::runtime_error("HMAC key set-up failed");
  }
  std::array<std::uint8_t, 32> mac(ByteView data, EVP_MD_CTX* scratch) const {
    assert(ready());
    std::array<std::uint8_t, 32> inner_hash, out;
    unsigned int length = 0;
    const bool ok = EVP_MD_CTX_copy_ex(scratch, inner.get()) == 1 &&
                    EVP_DigestUpdate(scratch, data.data(), data.size()) == 1 &&
                    EVP_DigestFinal_ex(scratch, inner_hash.data(), &length) == 1 &&
                    EVP_MD_CTX_copy_ex(scratch, outer.get()) == 1 &&
                    EVP_DigestUpdate(scratch, inner_hash.data(), inner_hash.size()) == 1 &&
                    EVP_DigestFinal_ex(scratch, out.data(), &length) == 1;
    if (!ok) throw std::runtime_error("HMAC failed");
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
                                    std::uint32_t b, bool pair, Sha256* hasher = nullptr) {
  Bytes in(tag.begin(), tag.end());
  put_le(in, seed, 8);
  put_le(in, a, 4);
  if (pair) put_le(in, b, 4);
  return hasher != nullptr ? hasher->digest(in).bytes : sha256(in).bytes;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

}  // namespace

Sha256::Sha256() : ctx_(new_md_ctx()) { begin(); }

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256& Sha256::begin() {
  // Same algorithm as last time: OpenSSL re-initialises the context in place.
  if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1) throw std::runtime_error("SHA-256 init failed");
  return *this;
}

Sha256& Sha256::update(ByteView data) {
  if (EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1) throw std::runtime_error("SHA-256 update failed");
  return *this;
}

MessageDigest Sha256::finish() {
  MessageDigest d;
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_, d.bytes.data(), &length) != 1 || length != 32) {
    throw std::runtime_error("SHA-256 final failed");
  }
  return d;
}

MessageDigest sha256(ByteView data) {
  MessageDigest d;
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), d.bytes.data(), &length, sha256_md(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 failed");
  }
  assert(length == 32);
  return d;
}

MessageDigest batch_digest_with(Sha256& h, std::span<const MessageDigest> request_digests) {
  static constexpr std::string_view kTag = "pbftsim/batch/v1";
  static_assert(batch_digest_input_bytes(0) == kTag.size() + 4);
  const auto count = static_cast<std::uint32_t>(request_digests.size());
  std::uint8_t count_le[4];
  boost::endian::store_little_u32(count_le, count);
  h.begin();
  h.update(ByteView(reinterpret_cast<const std::uint8_t*>(kTag.data()), kTag.size()));
  h.update(count_le);
  for (const auto& d : request_digests) h.update(d.bytes);
  return h.finish();
}

std::array<std::uint8_t, 32> hmac_sha256(ByteView key, ByteView data) {
  std::array<std::uint8_t, 32> short_key{};
  ByteView k = key;
  if (key.size() > 64) {  // RFC 2104: longer keys are hashed first
    short_key = sha256(key).bytes;
    k = short_key;
  }
  HmacKey h;
  h.init(k);
  MdCtx scratch(new_md_ctx());
  return h.mac(data, scratch.get());
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

std::array<std::uint8_t, 32> KeyRing::mac_key(NodeId from, NodeId to, Sha256& hasher) const {
  return derive("pbftsim/mac/v1", seed_, from, to, true, &hasher);
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
  Sha256 hasher;                 // every digest this node takes
  MdCtx scratch{new_md_ctx()};   // each MAC is computed in it
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
  return impl_->hasher.digest(data);
}

MessageDigest NodeCrypto::request_digest(ByteView request_content) {
  // request_digest() (message.h) is SHA-256 over the content.
  counters_.count_sha256(request_content.size());
  return impl_->hasher.digest(request_content);
}

MessageDigest NodeCrypto::batch_digest(std::span<const MessageDigest> request_digests) {
  counters_.count_sha256(batch_digest_input_bytes(request_digests.size()));
  return batch_digest_with(impl_->hasher, request_digests);
}

std::array<std::uint8_t, 32> NodeCrypto::mac_to(NodeId receiver, const MessageDigest& d) {
  assert(receiver < impl_->send.size());
  HmacKey& key = impl_->send[receiver];
  if (!key.ready()) key.init(ring_.mac_key(self_, receiver, impl_->hasher));
  counters_.hmac_ops++;
  return key.mac(d.bytes, impl_->scratch.get());
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
  wire.reserve(wire.size() + 3 + to.size() * (4 + kMacBytes));
  std::uint8_t head[3] = {static_cast<std::uint8_t>(AuthScheme::Mac), 0, 0};
  boost::endian::store_little_u16(head + 1, static_cast<std::uint16_t>(to.size()));
  wire.insert(wire.end(), head, head + 3);
  for (NodeId r : to) {
    std::uint8_t entry[4 + kMacBytes];
    for (int i = 0; i < 4; ++i) entry[i] = static_cast<std::uint8_t>(r >> (8 * i));
    const auto mac = mac_to(r, d);
    std::memcpy(entry + 4, mac.data(), kMacBytes);
    wire.insert(wire.end(), entry, entry + sizeof entry);
  }
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
  const std::size_t count = load_le16(e.auth.data());
  constexpr std::size_t kEntry = 4 + kMacBytes;
  // Entries are sorted by receiver: binary search for ours.
  std::size_t lo = 0, hi = count;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    const std::uint8_t* p = e.auth.data() + 2 + mid * kEntry;
    const std::uint32_t receiver = load_le32(p);
    if (receiver == self_) {
      HmacKey& key = impl_->receive[e.sender];
      if (!key.ready()) key.init(ring_.mac_key(e.sender, self_, impl_->hasher));
      const MessageDigest d = digest(e.content);
      if (content_digest != nullptr) *content_digest = d;
      counters_.hmac_ops++;
      const auto mac = key.mac(d.bytes, impl_->scratch.get());
      static_assert(kMacBytes == 32);
      return mac_equal(mac.data(), p + 4);
    }
    if (receiver < self_) lo = mid + 1; else hi = mid;
  }
  return false;
}

}  // namespace protocol
