// Byzantine behaviours: components that sit around a faulty replica's outbox, in the
// spirit of LevelDB's EnvWrapper. The replica's state machine runs unchanged and knows
// nothing of them; a behaviour sees every message the replica wants to send (and every
// message it receives) and decides what really goes out: forward, drop, rewrite,
// duplicate, equivocate, inject. It acts with the faulty replica's own keys only
// (ByzantineContext::crypto), so it can sign anything as itself but cannot produce a valid
// MAC or signature for another node. What it puts inside its own messages (certificates,
// proofs, O sets) is either sealed by itself or a genuine message some other node sent.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "faults/fault_spec.h"
#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/io.h"
#include "sim/rng.h"
#include "sim/virtual_time.h"

namespace faults {

using protocol::Bytes;
using protocol::ByteView;
using protocol::MessageDigest;
using protocol::NodeId;
using protocol::OutMessage;
using protocol::ReplicaId;

// What the replicas of one fault share: colluders coordinate, the adversary is one. The
// host owns one Coalition per fault (a plain value) and hands it to every behaviour call of
// that fault through ByzantineContext::coalition; behaviours keep no pointer to it.
struct Coalition {
  std::vector<ReplicaId> members;  // the fault's replicas (resolved ids), colluders included
  // equivocate: the correct replicas that see version A / version B of each PRE-PREPARE.
  std::vector<ReplicaId> side_a;
  std::vector<ReplicaId> side_b;
  // equivocate: (view, seq) -> (digest A, digest B) the primary used. Bounded: the oldest
  // entries go first (kCoalitionEntriesMax).
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::pair<MessageDigest, MessageDigest>> digests;
  // bad_view_change: the made-up prepared claims (view, seq, digest) members put in their
  // VIEW-CHANGEs, each with the VIEW-CHANGEs (sealed by their senders) that carry it: what one
  // member shares so that the others tell the same lie.
  std::map<std::tuple<std::uint64_t, std::uint64_t, MessageDigest>, std::vector<Bytes>> prepares;
  // bad_checkpoint: seq -> the wrong state digest every member's CHECKPOINT for seq carries
  // (the first member to send one picks it), so that the lie gathers as many votes as the
  // coalition has. Bounded like `digests`.
  std::map<std::uint64_t, MessageDigest> checkpoint_digests;
  // bad_reply: (client, timestamp) -> the wrong result every member's REPLY carries, so that
  // f+1 members make a client accept it. Bounded like `digests`.
  std::map<std::pair<protocol::ClientId, protocol::Timestamp>, Bytes> results;
};
constexpr std::size_t kCoalitionEntriesMax = 4096;

struct ByzantineContext {
  const protocol::PbftConfig& config;
  ReplicaId self;
  protocol::NodeCrypto& crypto;  // the faulty replica's own identity, nobody else's
  sim::RngEngine& rng;           // this fault's own stream ("fault/<index>")
  sim::TimeNs now_ns;
  std::uint32_t clients;         // client node ids are n .. n + clients - 1
  Coalition* coalition = nullptr;  // this fault's shared state; REQUIRED by equivocate
  std::uint32_t client_slots = 1;  // protocol clients per workload client: workload client c
                                   // owns node ids n + c * client_slots .. + client_slots - 1
};

// Counters a behaviour keeps so tests and reports can see that it really acted.
struct BehaviourStats {
  std::uint64_t seen = 0;        // outgoing messages it was shown
  std::uint64_t forwarded = 0;   // sent unchanged
  std::uint64_t suppressed = 0;  // not sent
  std::uint64_t rewritten = 0;   // sent changed (equivocation, corruption, fabrication)
  std::uint64_t injected = 0;    // sent on its own initiative (replays, forgeries)
};

class Behaviour {
 public:
  virtual ~Behaviour() = default;
  // One message the faulty replica wants to send. Appends what really goes out to `out`
  // (messages addressed to one node or to protocol::kAllReplicas). A message appended
  // unchanged keeps its wire; a rewritten one must be re-sealed with ctx.crypto.
  virtual void on_send(const OutMessage& msg, ByzantineContext& ctx,
                       std::vector<OutMessage>& out) = 0;
  // Every message delivered to the faulty replica, before it sees it.
  virtual void on_receive(NodeId from, ByteView wire, ByzantineContext& ctx) {
    (void)from; (void)wire; (void)ctx;
  }
  // Whether the faulty replica gets to see a message delivered to it (after on_receive): a
  // behaviour may keep some from it (censor). Counted in stats().suppressed.
  virtual bool admits(NodeId from, ByteView wire, ByzantineContext& ctx) {
    (void)from; (void)wire; (void)ctx;
    return true;
  }
  // Behaviours that act on their own (replay) ask for a periodic tick; 0 = never.
  virtual sim::DurationNs tick_interval_ns() const { return 0; }
  virtual void on_tick(ByzantineContext& ctx, std::vector<OutMessage>& out) {
    (void)ctx; (void)out;
  }
  const BehaviourStats& stats() const { return stats_; }

 protected:
  BehaviourStats stats_;
};

// bad_view_change: the fabrications it can make. Each is authenticated by the faulty
// replica itself, so only the protocol's own checks can catch it. New variants go at the end
// (scenario files name them; kBadViewChangeVariantNames lists them in this order).
enum class BadViewChangeVariant : std::uint8_t {
  // VIEW-CHANGE (well formed unless said otherwise, so the decision procedure sees it)
  PaddedCertificate,   // P and Q: a made-up digest prepared at a slot in its window, in the
                       // latest view below the new one; coalition members claim the same
  RebindCertificate,   // P and Q: a real (seq, digest) it saw pre-prepared, claimed prepared
                       // in a later view or at another seq
  CheckpointProof,     // C and h: a checkpoint above its real one with a made-up state
                       // digest (P and Q trimmed to the new window)
  // NEW-VIEW
  SwapBatch,           // O: an entry with the right digest but another batch, sent to half
                       // of the backups (the others get the NEW-VIEW it stands by)
  WrongDigest,         // O: an entry whose digest (and batch) is another request's or null
  DropEntry,           // O: the last entry left out (or, O being empty, one made up)
  ShortV,              // V: fewer VIEW-CHANGEs than a quorum
  DuplicateV,          // V: one replica named twice, in place of another
  // VIEW-CHANGE
  OmitPrepared,        // P: left empty (Q kept), as if nothing had prepared here
  UnbackedPrepared,    // P: an entry with no Q entry behind it (not well formed)
  // VIEW-CHANGE-ACK
  FalseAck,            // its acks name digests of VIEW-CHANGEs nobody sent
  // NEW-VIEW
  EarlyPrePrepare,     // the NEW-VIEW it stands by, sent after PRE-PREPAREs of the new view
                       // for O's sequence numbers with other batches, so that backups hold
                       // a conflicting PRE-PREPARE when they install O
};
constexpr std::size_t kBadViewChangeVariants = static_cast<std::size_t>(BadViewChangeVariant::EarlyPrePrepare) + 1;
const char* bad_view_change_variant_name(BadViewChangeVariant v);  // "swap_batch", ...

// bad_state: what a STATE-REPLY carries in place of the snapshot asked for, always under the
// certified digest the asker named, sealed by the faulty replica. New variants go at the end
// (kBadStateVariantNames lists them in this order).
enum class BadStateVariant : std::uint8_t {
  Garbage,  // random bytes, as many as the real snapshot
  Stale,    // a real snapshot of another checkpoint: the latest other one it sent or
            // received, else the initial state (checkpoint 0, which every replica holds)
};
constexpr std::size_t kBadStateVariants = static_cast<std::size_t>(BadStateVariant::Stale) + 1;
const char* bad_state_variant_name(BadStateVariant v);  // "garbage", "stale"
// The snapshot of the initial state (checkpoint 0): an empty store and an empty reply table,
// encoded as protocol::Replica encodes its snapshots.
Bytes genesis_snapshot();

// split_votes: the correct replicas that get the coalition's PREPAREs and COMMITs for
// (view, seq). With every correct replica voting, the correct replicas alone make a quorum
// (n - f >= quorum), so the coalition's votes decide only where a correct vote is missing
// (lost, late, a replica cut off): then those that get them complete the certificate and the
// others stay short. The set has quorum - |members| correct replicas (at least one): the
// fewest that, with the coalition, still make a quorum, so that they and the coalition can
// certify checkpoints and answer clients (quorum - f >= f + 1) while every other correct
// replica is left behind. It moves by one replica per sequence number and per view, so that
// over a few sequence numbers each correct replica is left short somewhere and they reach a
// view change in different states. Ascending.
std::vector<ReplicaId> split_votes_favoured(const protocol::PbftConfig& config, std::span<const ReplicaId> members,
                                            std::uint64_t view, std::uint64_t seq);

// Builds the shared state of fault `spec` for its resolved replicas `replicas` (the ids
// "primary" resolved to, colluders included). Equivocate: the members see version A; the
// others are split by spec.split, or in halves.
Coalition make_coalition(const FaultSpec& spec, std::span<const ReplicaId> replicas,
                         const protocol::PbftConfig& config);
// The same, for a spec whose replicas are listed (spec.replicas plus spec.colluders).
Coalition make_coalition(const FaultSpec& spec, const protocol::PbftConfig& config);

// Builds the behaviour that fault `spec` gives replica `self`, or nullptr for kinds that
// are not replica behaviours (crash, delay, drop, partition, timer_skew: the host and
// faults/network_faults.h handle those).
std::unique_ptr<Behaviour> make_behaviour(const FaultSpec& spec, ReplicaId self);
// bad_view_change with the given variants, tried in turn (each VIEW-CHANGE, NEW-VIEW and
// VIEW-CHANGE-ACK takes the next of its kind that applies; a VIEW-CHANGE sent again carries
// the same lie). Empty: all, in declaration order.
std::unique_ptr<Behaviour> make_bad_view_change(std::vector<BadViewChangeVariant> variants);
// bad_state with the given variants, taken in turn per STATE-REPLY (the first drawn from the
// fault's stream). Empty: all.
std::unique_ptr<Behaviour> make_bad_state(std::vector<BadStateVariant> variants);
// The liars with authentic values (faults/lying_values.cpp); see docs/scenario-format.md.
std::unique_ptr<Behaviour> make_bad_checkpoint();
std::unique_ptr<Behaviour> make_bad_reply();
// `victims`: the backups sent two PRE-PREPAREs per (view, seq); empty: one backup per
// sequence number, each in turn.
std::unique_ptr<Behaviour> make_double_preprepare(std::vector<ReplicaId> victims);
std::unique_ptr<Behaviour> make_split_votes();

// Shared by the behaviours (behaviours.cpp): every replica, the receivers a faulty replica
// seals its messages for.
std::vector<NodeId> all_replicas(const protocol::PbftConfig& config);
// The PRE-PREPARE a faulty primary sends as its second version of `pp`: the batch reversed,
// or the null request when it holds fewer than two requests; digest recomputed, view and seq kept.
protocol::PrePrepare other_batch(const protocol::PrePrepare& pp);

}  // namespace faults
