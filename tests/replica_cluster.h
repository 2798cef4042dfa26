// A small synchronous fake network of replicas driven through step(), for the protocol
// tests (in the style of etcd/raft's paper tests): the test decides what is delivered,
// and can craft any message as any node, since it holds every identity's keys.
#pragma once
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <vector>

#include "protocol/client.h"
#include "protocol/replica.h"
#include "protocol/service.h"
#include "protocol/wire_io.h"

namespace protocol_test {

using namespace protocol;

struct Packet {
  NodeId from;
  NodeId to;
  Bytes wire;
};

// n replicas and a few client identities, wired by a FIFO queue the test controls.
struct Cluster {
  PbftConfig config;
  std::unique_ptr<KeyRing> ring;
  std::vector<std::unique_ptr<Replica>> replicas;
  std::vector<std::unique_ptr<NodeCrypto>> crypto;  // every node's identity, for crafting
  std::deque<Packet> queue;
  std::vector<Outbox> last;       // last outbox per replica
  std::vector<std::vector<Execution>> executed;
  std::vector<std::vector<Bytes>> client_inbox;
  std::vector<bool> isolated;

  explicit Cluster(std::uint32_t n, std::uint32_t f = 1, std::uint32_t clients = 2,
                   std::uint64_t window = 16, std::uint64_t k = 4, AuthMode auth = AuthMode::Mac) {
    config.n = n;
    config.f = f;
    config.checkpoint_interval = k;
    config.log_window = window;
    config.auth = auth;
    REQUIRE(config.validate() == "");
    ring = std::make_unique<KeyRing>(7, auth, n + clients);
    for (ReplicaId r = 0; r < n; ++r) replicas.push_back(std::make_unique<Replica>(config, r, *ring, false));
    for (NodeId i = 0; i < n + clients; ++i) crypto.push_back(std::make_unique<NodeCrypto>(*ring, i));
    last.resize(n);
    executed.resize(n);
    client_inbox.resize(clients);
    isolated.assign(n, false);
  }
  NodeId client(std::uint32_t i) const { return config.n + i; }
  std::vector<NodeId> all_replicas() const {
    std::vector<NodeId> v;
    for (NodeId r = 0; r < config.n; ++r) v.push_back(r);
    return v;
  }
  Bytes request(std::uint32_t c, Timestamp t, Bytes op) {
    return crypto[client(c)]->seal(encode_request(client(c), Request{client(c), t, std::move(op)}), all_replicas());
  }
  Bytes seal_from(NodeId sender, Bytes content) { return crypto[sender]->seal(std::move(content), all_replicas()); }
  Bytes pre_prepare(NodeId sender, ViewNumber v, SequenceNumber seq, std::vector<Bytes> reqs) {
    std::vector<MessageDigest> ds;
    for (const auto& w : reqs) ds.push_back(request_digest(parse_envelope(w).value.content));
    PrePrepare pp{v, seq, batch_digest(ds), ConsensusBatch{std::move(reqs)}};
    return seal_from(sender, encode_pre_prepare(sender, pp));
  }
  Bytes vote(MessageKind kind, NodeId sender, ViewNumber v, SequenceNumber seq, const MessageDigest& d) {
    return seal_from(sender, encode_vote(kind, sender, Vote{v, seq, d}));
  }
  // Feeds one input to replica r and queues what it sends.
  void step(ReplicaId r, const Input& in) {
    Outbox out;
    replicas[r]->step(in, out);
    for (auto& m : out.messages) {
      if (m.to == kAllReplicas) {
        for (NodeId to = 0; to < config.n; ++to) {
          if (to != r) queue.push_back({r, to, m.wire});
        }
      } else {
        queue.push_back({r, m.to, m.wire});
      }
    }
    for (auto& e : out.executions) executed[r].push_back(e);
    last[r] = std::move(out);
  }
  void deliver(NodeId from, NodeId to, const Bytes& wire) {
    if (to >= config.n) {
      client_inbox[to - config.n].push_back(wire);
      return;
    }
    if (isolated[to] || (from < config.n && isolated[from])) return;
    step(to, Input::message(from, wire));
  }
  void run(std::size_t max_steps = 100000) {
    for (std::size_t i = 0; i < max_steps && !queue.empty(); ++i) {
      Packet p = std::move(queue.front());
      queue.pop_front();
      deliver(p.from, p.to, p.wire);
    }
  }
  // Replaces replica r by a new one (another config, or restarted with no state, or with a
  // planted defect in a defects build).
  void restart(ReplicaId r, const PbftConfig& cfg, bool recovering, Defect defect = Defect::None) {
    replicas[r] = std::make_unique<Replica>(cfg, r, *ring, recovering, defect);
  }
  std::uint64_t rejected(ReplicaId r, RejectReason why) const {
    return replicas[r]->stats().rejected[static_cast<std::size_t>(why)];
  }
};

inline Bytes op_incr(const char* key) { return encode_kv_operation(KvOpcode::Increment, key); }

// How many messages of `kind` an outbox holds.
inline std::size_t count_kind(const Outbox& out, MessageKind kind) {
  std::size_t n = 0;
  for (const auto& m : out.messages) n += m.kind == kind;
  return n;
}

// A VIEW-CHANGE for view v from the genesis checkpoint, with the given P and Q.
inline Bytes view_change(Cluster& c, NodeId sender, ViewNumber v, std::vector<SlotClaim> prepared = {},
                         std::vector<SlotClaim> pre_prepared = {}) {
  ViewChange vc{v, 0, {CheckpointClaim{0, c.replicas[0]->stable_digest()}}, std::move(prepared), std::move(pre_prepared)};
  return c.seal_from(sender, encode_view_change(sender, vc));
}

// What NEW-VIEW's V calls a VIEW-CHANGE.
inline ViewChangeRef ref_of(const Bytes& view_change_wire) {
  auto env = parse_envelope(view_change_wire);
  REQUIRE(env.ok());
  return ViewChangeRef{env.value.sender, view_change_digest(env.value.content)};
}

inline MessageDigest digest_of_pre_prepare(const Bytes& pre_prepare_wire) {
  return decode_pre_prepare(parse_envelope(pre_prepare_wire).value.body).value.digest;
}

// Flips a bit of `receiver`'s MAC entry: the message stays authentic for everyone else, as a
// faulty sender (or a faulty replica rewriting its own message) can arrange.
inline Bytes break_entry(Bytes wire, NodeId receiver) {
  auto env = parse_envelope(wire);
  REQUIRE(env.ok());
  REQUIRE(env.value.scheme == AuthScheme::Mac);
  const std::size_t trailer = static_cast<std::size_t>(env.value.auth.data() - wire.data());
  const std::size_t count = load_le16(wire.data() + trailer);
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t entry = trailer + 2 + i * 36;
    const NodeId to = load_le32(wire.data() + entry);
    if (to == receiver) wire[entry + 4 + 7] ^= 0x10;
  }
  return wire;
}

}  // namespace protocol_test
