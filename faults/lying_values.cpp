// Liars with authentic values: Byzantine replicas that send well-formed messages, sealed
// with their own keys, whose values are wrong. Nothing fails on authentication or on
// framing, so only the protocol's own rules can catch them: a quorum of matching
// CHECKPOINTs (bad_checkpoint), a snapshot checked against its certified digest
// (bad_state), f+1 matching REPLYs at the client (bad_reply), one PRE-PREPARE accepted per
// (view, seq) (double_preprepare), and quorums that intersect in a correct replica
// (split_votes). Colluders in one fault tell the same lie through the fault's Coalition.
#include <algorithm>
#include <cassert>
#include <deque>
#include <map>
#include <optional>

#include "faults/behaviour.h"
#include "protocol/message.h"
#include "protocol/service.h"
#include "protocol/wire_io.h"

namespace faults {
namespace {

using protocol::MessageKind;

// Real messages and snapshots remembered per behaviour (the oldest go first).
constexpr std::size_t kMessagesKeptMax = 256;
constexpr std::size_t kSnapshotsKeptMax = 4;
// A snapshot made of garbage for an empty one still carries some bytes.
constexpr std::size_t kGarbageBytesMin = 32;

bool contains(std::span<const ReplicaId> ids, ReplicaId r) { return std::find(ids.begin(), ids.end(), r) != ids.end(); }

// The fault's members as this behaviour sees them: the coalition's, or itself alone (a
// behaviour driven without a host, as in unit tests).
std::vector<ReplicaId> members_of(const ByzantineContext& ctx) {
  if (ctx.coalition != nullptr && !ctx.coalition->members.empty()) return ctx.coalition->members;
  return {ctx.self};
}

template <class Map>
void keep_bounded(Map& m, std::size_t max) {
  while (m.size() > max) m.erase(m.begin());
}

// A state digest no state has: the real one with every byte complemented, so that the lie
// about each checkpoint is its own (and every member with the right state tells the same).
MessageDigest wrong_state_digest(const MessageDigest& real) {
  MessageDigest d = real;
  for (auto& b : d.bytes) b = static_cast<std::uint8_t>(~b);
  return d;
}

// A plausible wrong result for a request, a function of the request and its real result:
// a counter or length one higher (results of INCREMENT and APPEND are decimal text), else a
// decimal made from (client, timestamp). Looks like an answer; is not the one.
Bytes wrong_result(protocol::ClientId client, protocol::Timestamp t, const Bytes& real) {
  const bool decimal = !real.empty() && real.size() < 19 &&
                       std::all_of(real.begin(), real.end(), [](std::uint8_t c) { return c >= '0' && c <= '9'; });
  std::string text;
  if (decimal) {
    text = std::to_string(std::stoull(std::string(real.begin(), real.end())) + 1);
  } else {
    text = std::to_string((std::uint64_t{client} * 1'000'003u + t) % 100'000u);
    if (Bytes(text.begin(), text.end()) == real) text += "0";
  }
  return Bytes(text.begin(), text.end());
}

// ---- bad_checkpoint -----------------------------------------------------------------------

// Its CHECKPOINTs name the right seq and a wrong state digest. A relayed CHECKPOINT of
// another replica (a stable proof sent to a laggard) goes out unchanged: it is that
// replica's word, not this one's. Its own CHECKPOINT sent again carries the same lie.
class BadCheckpoint final : public Behaviour {
 public:
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    if (msg.kind != MessageKind::Checkpoint || !env.ok() || env.value.sender != ctx.self) return forward(msg, out);
    auto cp = protocol::decode_checkpoint(env.value.body);
    if (!cp.ok()) return forward(msg, out);
    protocol::Checkpoint lie = cp.value;
    lie.state_digest = shared_lie(cp.value, ctx);
    out.push_back(OutMessage{msg.to, msg.kind,
                             ctx.crypto.seal(protocol::encode_checkpoint(ctx.self, lie), all_replicas(ctx.config))});
    stats_.rewritten++;
  }

 private:
  void forward(const OutMessage& msg, std::vector<OutMessage>& out) {
    stats_.forwarded++;
    out.push_back(msg);
  }
  // The coalition's digest for this seq, or a new one it then shares.
  static MessageDigest shared_lie(const protocol::Checkpoint& cp, ByzantineContext& ctx) {
    if (ctx.coalition == nullptr) return wrong_state_digest(cp.state_digest);
    auto& shared = ctx.coalition->checkpoint_digests;
    auto it = shared.find(cp.seq);
    if (it != shared.end()) return it->second;
    const MessageDigest lie = wrong_state_digest(cp.state_digest);
    shared[cp.seq] = lie;
    keep_bounded(shared, kCoalitionEntriesMax);
    return lie;
  }
};

// ---- bad_state ----------------------------------------------------------------------------

// Answers FETCH-STATE with a STATE-REPLY for the seq and certified digest asked for, whose
// snapshot is not the one that hashes to it. The asker checks the snapshot against the digest
// a quorum certified and asks another replica.
class BadState final : public Behaviour {
 public:
  explicit BadState(std::vector<BadStateVariant> variants) : variants_(std::move(variants)) {}

  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    std::optional<protocol::StateReply> reply;
    if (msg.kind == MessageKind::StateReply && env.ok() && env.value.sender == ctx.self) {
      auto decoded = protocol::decode_state_reply(env.value.body);
      if (decoded.ok()) reply = std::move(decoded.value);
    }
    if (!reply || variants_.empty()) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    if (!next_) next_ = sim::uniform_int(ctx.rng, 0, variants_.size() - 1);
    const BadStateVariant variant = variants_[*next_];
    next_ = (*next_ + 1) % variants_.size();
    protocol::StateReply lie{reply->seq, reply->state_digest, {}};
    lie.snapshot = variant == BadStateVariant::Garbage ? garbage(reply->snapshot.size(), ctx) : stale(*reply);
    keep(reply->seq, std::move(reply->snapshot));  // a real snapshot, for the next stale lie
    out.push_back(OutMessage{msg.to, msg.kind,
                             ctx.crypto.seal(protocol::encode_state_reply(ctx.self, lie), all_replicas(ctx.config))});
    stats_.rewritten++;
  }

  // STATE-REPLYs its own replica receives (it fetches state too) are snapshots of real
  // checkpoints, when they hash to what they claim.
  void on_receive(NodeId, ByteView wire, ByzantineContext& ctx) override {
    auto env = protocol::parse_envelope(wire);
    if (!env.ok() || env.value.kind != MessageKind::StateReply) return;
    auto decoded = protocol::decode_state_reply(env.value.body);
    if (!decoded.ok() || ctx.crypto.digest(decoded.value.snapshot) != decoded.value.state_digest) return;
    keep(decoded.value.seq, std::move(decoded.value.snapshot));
  }

 private:
  static Bytes garbage(std::size_t size, ByzantineContext& ctx) {
    Bytes b(std::max(size, kGarbageBytesMin));
    for (auto& x : b) x = static_cast<std::uint8_t>(sim::uniform_int(ctx.rng, 0, 255));
    return b;
  }
  // The latest snapshot of another checkpoint that differs from the real one, else the
  // initial state's (if that is the real one too, at seq 0, one byte more makes it wrong).
  Bytes stale(const protocol::StateReply& real) const {
    for (auto it = snapshots_.rbegin(); it != snapshots_.rend(); ++it) {
      if (it->first != real.seq && it->second != real.snapshot) return it->second;
    }
    Bytes genesis = genesis_snapshot();
    if (genesis == real.snapshot) genesis.push_back(0);
    return genesis;
  }
  void keep(std::uint64_t seq, Bytes&& snapshot) {
    snapshots_[seq] = std::move(snapshot);
    keep_bounded(snapshots_, kSnapshotsKeptMax);
  }

  std::vector<BadStateVariant> variants_;
  std::optional<std::size_t> next_;
  std::map<std::uint64_t, Bytes> snapshots_;  // seq -> a real snapshot of that checkpoint
};

// ---- bad_reply ----------------------------------------------------------------------------

// Its REPLYs carry the right view, timestamp and client and a wrong result; the members of
// one fault all send the same wrong result for a request. Within f a client never sees f+1
// of them match; with f+1 members it may accept the lie.
class BadReply final : public Behaviour {
 public:
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    std::optional<protocol::Reply> reply;
    if (msg.kind == MessageKind::Reply && env.ok() && env.value.sender == ctx.self) {
      auto decoded = protocol::decode_reply(env.value.body);
      if (decoded.ok()) reply = std::move(decoded.value);
    }
    if (!reply) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    reply->result = shared_lie(*reply, ctx);
    const NodeId receivers[] = {msg.to};
    out.push_back(OutMessage{msg.to, msg.kind, ctx.crypto.seal(protocol::encode_reply(ctx.self, *reply), receivers)});
    stats_.rewritten++;
  }

 private:
  static Bytes shared_lie(const protocol::Reply& real, ByzantineContext& ctx) {
    if (ctx.coalition == nullptr) return wrong_result(real.client, real.timestamp, real.result);
    auto& shared = ctx.coalition->results;
    const auto key = std::make_pair(real.client, real.timestamp);
    auto it = shared.find(key);
    if (it != shared.end()) return it->second;
    Bytes lie = wrong_result(real.client, real.timestamp, real.result);
    shared[key] = lie;
    keep_bounded(shared, kCoalitionEntriesMax);
    return lie;
  }
};

// ---- double_preprepare --------------------------------------------------------------------

// As the primary, sends a victim backup two PRE-PREPAREs for one (view, seq), both its own:
// the real one and another valid batch (its requests reversed, or the null request for a
// single one), the other first on odd sequence numbers. Every other backup gets the real
// one. The victim accepts whichever arrives first and must refuse the second as a conflict;
// the real one prepares at a quorum without it. A PRE-PREPARE sent again (STATUS) brings the
// same second version.
class DoublePrePrepare final : public Behaviour {
 public:
  explicit DoublePrePrepare(std::vector<ReplicaId> victims) : victims_(std::move(victims)) {}

  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    std::optional<protocol::PrePrepare> pp;
    if (msg.kind == MessageKind::PrePrepare && env.ok() && env.value.sender == ctx.self) {
      auto decoded = protocol::decode_pre_prepare(env.value.body);
      if (decoded.ok() && ctx.config.primary(decoded.value.view) == ctx.self && !decoded.value.batch.requests.empty()) {
        pp = std::move(decoded.value);
      }
    }
    if (!pp) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    const std::vector<ReplicaId> victims = victims_of(pp->seq, ctx);
    const Bytes& other = second_version(*pp, ctx);
    const bool other_first = pp->seq % 2 == 1;
    auto send = [&](ReplicaId to) {
      if (!contains(victims, to)) {
        out.push_back(OutMessage{to, msg.kind, msg.wire});
        return;
      }
      out.push_back(OutMessage{to, msg.kind, other_first ? other : msg.wire});
      out.push_back(OutMessage{to, msg.kind, other_first ? msg.wire : other});
    };
    if (msg.to == protocol::kAllReplicas) {
      for (ReplicaId r = 0; r < ctx.config.n; ++r) {
        if (r != ctx.self) send(r);
      }
    } else {
      send(msg.to);
    }
    stats_.rewritten++;
  }

 private:
  // The listed backups, else one per sequence number in turn.
  std::vector<ReplicaId> victims_of(std::uint64_t seq, const ByzantineContext& ctx) const {
    if (!victims_.empty()) return victims_;
    std::vector<ReplicaId> backups;
    for (ReplicaId r = 0; r < ctx.config.n; ++r) {
      if (r != ctx.self) backups.push_back(r);
    }
    if (backups.empty()) return {};
    return {backups[seq % backups.size()]};
  }

  const Bytes& second_version(const protocol::PrePrepare& pp, ByzantineContext& ctx) {
    const auto key = std::make_pair(pp.view, pp.seq);
    auto it = sent_.find(key);
    if (it != sent_.end()) return it->second;
    const protocol::PrePrepare b = other_batch(pp);
    Bytes wire = ctx.crypto.seal(protocol::encode_pre_prepare(ctx.self, b), all_replicas(ctx.config));
    keep_bounded(sent_, kMessagesKeptMax - 1);
    return sent_.emplace(key, std::move(wire)).first->second;
  }

  std::vector<ReplicaId> victims_;
  std::map<std::pair<std::uint64_t, std::uint64_t>, Bytes> sent_;  // (view, seq) -> the second version
};

// ---- split_votes --------------------------------------------------------------------------

// Its PREPAREs and COMMITs go only to the favoured correct replicas of their (view, seq) and
// to the other members; the rest of the correct replicas never get them (not even re-sent
// on a STATUS). See split_votes_favoured.
class SplitVotes final : public Behaviour {
 public:
  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    std::optional<protocol::Vote> vote;
    if ((msg.kind == MessageKind::Prepare || msg.kind == MessageKind::Commit) && env.ok() && env.value.sender == ctx.self) {
      auto decoded = protocol::decode_vote(env.value.body);
      if (decoded.ok()) vote = decoded.value;
    }
    if (!vote) {
      stats_.forwarded++;
      out.push_back(msg);
      return;
    }
    const std::vector<ReplicaId> members = members_of(ctx);
    const std::vector<ReplicaId> favoured = split_votes_favoured(ctx.config, members, vote->view, vote->seq);
    auto gets_it = [&](ReplicaId r) { return r != ctx.self && (contains(favoured, r) || contains(members, r)); };
    if (msg.to != protocol::kAllReplicas) {
      if (gets_it(msg.to)) {
        stats_.forwarded++;
        out.push_back(msg);
      } else {
        stats_.suppressed++;
      }
      return;
    }
    for (ReplicaId r = 0; r < ctx.config.n; ++r) {
      if (gets_it(r)) out.push_back(OutMessage{r, msg.kind, msg.wire});
    }
    stats_.rewritten++;
  }
};

}  // namespace

const char* bad_state_variant_name(BadStateVariant v) {
  switch (v) {
    case BadStateVariant::Garbage: return "garbage";
    case BadStateVariant::Stale: return "stale";
  }
  return "?";
}

Bytes genesis_snapshot() {
  // Replica::snapshot(): the service's snapshot, then the reply table (count, entries).
  protocol::WireWriter w;
  w.bytes(protocol::KvService{}.snapshot());
  w.u32(0);
  return w.take();
}

std::vector<ReplicaId> split_votes_favoured(const protocol::PbftConfig& config, std::span<const ReplicaId> members,
                                            std::uint64_t view, std::uint64_t seq) {
  std::vector<ReplicaId> correct;
  for (ReplicaId r = 0; r < config.n; ++r) {
    if (!contains(members, r)) correct.push_back(r);
  }
  if (correct.empty()) return {};
  const std::size_t colluders = config.n - correct.size();
  const std::size_t quorum = config.quorum();
  const std::size_t size = std::clamp<std::size_t>(quorum > colluders ? quorum - colluders : 1, 1, correct.size());
  const std::size_t start = (view + seq) % correct.size();
  std::vector<ReplicaId> favoured;
  for (std::size_t i = 0; i < size; ++i) favoured.push_back(correct[(start + i) % correct.size()]);
  std::sort(favoured.begin(), favoured.end());
  return favoured;
}

std::unique_ptr<Behaviour> make_bad_state(std::vector<BadStateVariant> variants) {
  if (variants.empty()) {
    for (std::size_t v = 0; v < kBadStateVariants; ++v) variants.push_back(static_cast<BadStateVariant>(v));
  }
  return std::make_unique<BadState>(std::move(variants));
}
std::unique_ptr<Behaviour> make_bad_checkpoint() { return std::make_unique<BadCheckpoint>(); }
std::unique_ptr<Behaviour> make_bad_reply() { return std::make_unique<BadReply>(); }
std::unique_ptr<Behaviour> make_double_preprepare(std::vector<ReplicaId> victims) {
  return std::make_unique<DoublePrePrepare>(std::move(victims));
}
std::unique_ptr<Behaviour> make_split_votes() { return std::make_unique<SplitVotes>(); }

}  // namespace faults
