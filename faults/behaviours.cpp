// The Byzantine behaviours (see behaviour.h). Each acts on real protocol messages with the
// faulty replica's own keys only.
#include <algorithm>
#include <cassert>
#include <deque>
#include <map>

#include "faults/behaviour.h"
#include "protocol/message.h"

namespace faults {

using protocol::MessageDigest;
using protocol::MessageKind;

std::vector<NodeId> all_replicas(const protocol::PbftConfig& config) {
  std::vector<NodeId> v;
  for (NodeId r = 0; r < config.n; ++r) v.push_back(r);
  return v;
}

protocol::PrePrepare other_batch(const protocol::PrePrepare& pp) {
  protocol::PrePrepare b = pp;
  if (b.batch.requests.size() >= 2) {
    std::reverse(b.batch.requests.begin(), b.batch.requests.end());
  } else {
    b.batch.requests.clear();  // the null request
  }
  std::vector<MessageDigest> ds;
  for (const auto& w : b.batch.requests) ds.push_back(protocol::request_digest(protocol::parse_envelope(w).value.content));
  b.digest = protocol::batch_digest(ds);
  return b;
}

namespace {


void send_each(const std::vector<ReplicaId>& to, ReplicaId self, MessageKind kind, const Bytes& wire,
               std::vector<OutMessage>& out) {
  for (ReplicaId r : to) {
    if (r != self) out.push_back(OutMessage{r, kind, wire});
  }
}

class Silence final : public Behaviour {
 public:
  void on_send(const OutMessage&, ByzantineContext&, std::vector<OutMessage>&) override {
    stats_.seen++;
    stats_.suppressed++;
  }
};

// Colluders coordinate through the fault's Coalition (ctx.coalition): the primary records
// both digests it used for (view, seq) and every member votes for each side toward that side.
class Equivocate final : public Behaviour {
 public:
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    assert(ctx.coalition != nullptr);  // REQUIRED: the host passes the fault's coalition
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    if (!env.ok() || env.value.sender != ctx.self) return forward(msg, out);
    if (msg.kind == MessageKind::PrePrepare) return pre_prepare(msg, env.value, ctx, out);
    if (msg.kind == MessageKind::Prepare || msg.kind == MessageKind::Commit) return vote(msg, env.value, ctx, out);
    forward(msg, out);
  }

 private:
  void forward(const OutMessage& msg, std::vector<OutMessage>& out) {
    stats_.forwarded++;
    out.push_back(msg);
  }
  // Version A (the original) to side A and the coalition; version B, another valid batch
  // with another digest, to side B.
  void pre_prepare(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                   std::vector<OutMessage>& out) {
    auto pp = protocol::decode_pre_prepare(env.body);
    if (!pp.ok() || ctx.config.primary(pp.value.view) != ctx.self) return forward(msg, out);
    const protocol::PrePrepare b = other_batch(pp.value);
    Coalition& c = *ctx.coalition;
    if (c.digests.size() >= kCoalitionEntriesMax) c.digests.erase(c.digests.begin());
    c.digests[{b.view, b.seq}] = {pp.value.digest, b.digest};
    const Bytes wire_b = ctx.crypto.seal(protocol::encode_pre_prepare(ctx.self, b), all_replicas(ctx.config));
    send_each(c.side_a, ctx.self, msg.kind, msg.wire, out);
    send_each(c.members, ctx.self, msg.kind, msg.wire, out);
    send_each(c.side_b, ctx.self, msg.kind, wire_b, out);
    stats_.rewritten++;
  }
  void vote(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx, std::vector<OutMessage>& out) {
    auto v = protocol::decode_vote(env.body);
    if (!v.ok()) return forward(msg, out);
    const Coalition& c = *ctx.coalition;
    auto it = c.digests.find({v.value.view, v.value.seq});
    if (it == c.digests.end()) return forward(msg, out);
    const auto& [a, b] = it->second;
    auto sealed = [&](const MessageDigest& d) {
      return ctx.crypto.seal(protocol::encode_vote(msg.kind, ctx.self, protocol::Vote{v.value.view, v.value.seq, d}),
                             all_replicas(ctx.config));
    };
    const Bytes wire_a = v.value.digest == a ? msg.wire : sealed(a);
    send_each(c.side_a, ctx.self, msg.kind, wire_a, out);
    send_each(c.members, ctx.self, msg.kind, wire_a, out);
    send_each(c.side_b, ctx.self, msg.kind, sealed(b), out);
    stats_.rewritten++;
  }
};

// censor: never orders the listed workload clients' requests and orders everything else as
// it would: those clients' REQUESTs (from the client, or relayed by a backup) never reach its
// replica, which therefore, as primary, proposes every other request normally and stays
// consistent with itself. Only the censored client waits; backups that learn of its request
// (the client broadcasts it after its timeout) run their request timers until that very
// request executes, and depose the censor.
class Censor final : public Behaviour {
 public:
  explicit Censor(std::vector<std::uint32_t> clients) : clients_(std::move(clients)) {}
  void on_send(const OutMessage& msg, ByzantineContext&, std::vector<OutMessage>& out) override {
    stats_.seen++;
    stats_.forwarded++;
    out.push_back(msg);
  }
  bool admits(NodeId, ByteView wire, ByzantineContext& ctx) override {
    auto env = protocol::parse_envelope(wire);
    if (!env.ok() || env.value.kind != MessageKind::Request || env.value.sender < ctx.config.n) return true;
    const std::uint32_t workload_client = (env.value.sender - ctx.config.n) / std::max<std::uint32_t>(1, ctx.client_slots);
    if (std::find(clients_.begin(), clients_.end(), workload_client) == clients_.end()) return true;
    stats_.suppressed++;
    return false;
  }

 private:
  std::vector<std::uint32_t> clients_;
};

class Withhold final : public Behaviour {
 public:
  explicit Withhold(std::vector<ReplicaId> to) : to_(std::move(to)) {}
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    if (msg.kind != MessageKind::Prepare && msg.kind != MessageKind::Commit && msg.kind != MessageKind::ViewChange) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    stats_.rewritten++;
    if (msg.to == protocol::kAllReplicas) {
      send_each(to_, ctx.self, msg.kind, msg.wire, out);
    } else if (std::find(to_.begin(), to_.end(), msg.to) != to_.end()) {
      out.push_back(msg);
    }
  }

 private:
  std::vector<ReplicaId> to_;
};

class Corrupt final : public Behaviour {
 public:
  explicit Corrupt(double p) : p_(p) {}
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    if (msg.wire.empty() || !sim::bernoulli(ctx.rng, p_)) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    OutMessage bad = msg;
    const auto flips = sim::uniform_int(ctx.rng, 1, 3);
    for (std::uint64_t i = 0; i < flips; ++i) {
      const auto at = sim::uniform_int(ctx.rng, 0, bad.wire.size() - 1);
      bad.wire[at] ^= static_cast<std::uint8_t>(1u << sim::uniform_int(ctx.rng, 0, 7));
    }
    stats_.rewritten++;
    out.push_back(std::move(bad));
  }

 private:
  double p_;
};

// Sends, besides its own messages, copies that claim another replica as sender. It can only
// seal them with its own keys, so under mac or signature no correct replica accepts them.
// Under auth "none" there is no cryptography, but the simulated network still knows which
// node put a message on the wire, as authenticated channels would: the host refuses (as
// bad_auth) every delivered message whose claimed sender is not the node that sent it
// (host/cluster.cpp), so forged copies are refused there too. What "none" cannot protect
// is content forwarded inside another message (requests inside PRE-PREPARE, certificates
// inside VIEW-CHANGE and NEW-VIEW, relayed requests): no behaviour forges those with another
// node's identity, but corrupt's bit flips can alter them undetected, so Byzantine scenarios
// belong under mac or signature.
class Forge final : public Behaviour {
 public:
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    stats_.forwarded++;
    out.push_back(msg);
    auto env = protocol::parse_envelope(msg.wire);
    if (!env.ok() || ctx.config.n < 2) return;
    const NodeId victim = (ctx.self + 1) % ctx.config.n;
    Bytes content(env.value.content.begin(), env.value.content.end());
    for (int i = 0; i < 4; ++i) content[1 + i] = static_cast<std::uint8_t>(victim >> (8 * i));
    std::vector<NodeId> receivers = all_replicas(ctx.config);
    if (msg.to != protocol::kAllReplicas) receivers = {msg.to};
    out.push_back(OutMessage{msg.to, msg.kind, ctx.crypto.seal(std::move(content), receivers)});
    stats_.injected++;
  }
};

class Replay final : public Behaviour {
 public:
  explicit Replay(double rate_per_s) : interval_ns_(std::max<sim::DurationNs>(1, static_cast<sim::DurationNs>(1e9 / rate_per_s))) {}
  void on_send(const OutMessage& msg, ByzantineContext&, std::vector<OutMessage>& out) override {
    stats_.seen++;
    stats_.forwarded++;
    out.push_back(msg);
  }
  void on_receive(NodeId, ByteView wire, ByzantineContext&) override {
    seen_.emplace_back(wire.begin(), wire.end());
    if (seen_.size() > kSeenMax) seen_.pop_front();  // bounded: the newest 256
  }
  sim::DurationNs tick_interval_ns() const override { return interval_ns_; }
  void on_tick(ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    if (seen_.empty() || ctx.config.n < 2) return;
    const auto& wire = seen_[sim::uniform_int(ctx.rng, 0, seen_.size() - 1)];
    auto to = static_cast<NodeId>(sim::uniform_int(ctx.rng, 0, ctx.config.n - 2));
    if (to >= ctx.self) to++;
    auto kind = wire.empty() ? MessageKind::Request : static_cast<MessageKind>(wire[0]);
    out.push_back(OutMessage{to, kind, wire});
    stats_.injected++;
  }

 private:
  static constexpr std::size_t kSeenMax = 256;
  sim::DurationNs interval_ns_;
  std::deque<Bytes> seen_;
};

}  // namespace

Coalition make_coalition(const FaultSpec& spec, std::span<const ReplicaId> replicas,
                         const protocol::PbftConfig& config) {
  Coalition c;
  for (auto r : replicas) {
    if (r < config.n && std::find(c.members.begin(), c.members.end(), r) == c.members.end()) c.members.push_back(r);
  }
  for (auto r : spec.colluders) {
    if (r < config.n && std::find(c.members.begin(), c.members.end(), r) == c.members.end()) c.members.push_back(r);
  }
  if (!spec.split.empty()) {
    c.side_a = spec.split[0];
    for (std::size_t g = 1; g < spec.split.size(); ++g) c.side_b.insert(c.side_b.end(), spec.split[g].begin(), spec.split[g].end());
    return c;
  }
  std::vector<ReplicaId> others;
  for (ReplicaId r = 0; r < config.n; ++r) {
    if (std::find(c.members.begin(), c.members.end(), r) == c.members.end()) others.push_back(r);
  }
  const std::size_t half = others.size() / 2;
  c.side_a.assign(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(half));
  c.side_b.assign(others.begin() + static_cast<std::ptrdiff_t>(half), others.end());
  return c;
}

Coalition make_coalition(const FaultSpec& spec, const protocol::PbftConfig& config) {
  return make_coalition(spec, spec.replicas, config);
}

std::unique_ptr<Behaviour> make_behaviour(const FaultSpec& spec, ReplicaId self) {
  (void)self;
  switch (spec.kind) {
    case FaultKind::Silence: return std::make_unique<Silence>();
    case FaultKind::Equivocate: return std::make_unique<Equivocate>();
    case FaultKind::Withhold: return std::make_unique<Withhold>(spec.to);
    case FaultKind::Censor: return std::make_unique<Censor>(spec.clients);
    case FaultKind::Corrupt: return std::make_unique<Corrupt>(spec.probability);
    case FaultKind::Forge: return std::make_unique<Forge>();
    case FaultKind::Replay: return std::make_unique<Replay>(spec.rate_per_s);
    case FaultKind::BadViewChange: {
      std::vector<BadViewChangeVariant> variants;
      for (const auto& name : spec.variants) {
        for (std::uint8_t v = 0; v < kBadViewChangeVariantNames.size(); ++v) {
          if (name == kBadViewChangeVariantNames[v]) variants.push_back(static_cast<BadViewChangeVariant>(v));
        }
      }
      return make_bad_view_change(std::move(variants));
    }
    case FaultKind::BadState: {
      std::vector<BadStateVariant> variants;
      for (const auto& name : spec.variants) {
        for (std::uint8_t v = 0; v < kBadStateVariantNames.size(); ++v) {
          if (name == kBadStateVariantNames[v]) variants.push_back(static_cast<BadStateVariant>(v));
        }
      }
      return make_bad_state(std::move(variants));
    }
    case FaultKind::BadCheckpoint: return make_bad_checkpoint();
    case FaultKind::BadReply: return make_bad_reply();
    case FaultKind::DoublePrePrepare: return make_double_preprepare(spec.to);
    case FaultKind::SplitVotes: return make_split_votes();
    default: return nullptr;
  }
}

}  // namespace faults
