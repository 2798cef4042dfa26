// Byzantine behaviours: components that sit around a faulty replica's outbox, in the
// spirit of LevelDB's EnvWrapper. The replica's state machine runs unchanged and knows
// nothing of them; a behaviour sees every message the replica wants to send (and every
// message it receives) and decides what really goes out: forward, drop, rewrite,
// duplicate, equivocate, inject. It acts with the faulty replica's own keys only
// (ByzantineContext::crypto), so it can sign anything as itself but cannot produce a valid
// MAC or signature for another node.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/scenario.h"
#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/io.h"
#include "sim/rng.h"
#include "sim/virtual_time.h"

namespace faults {

using protocol::Bytes;
using protocol::ByteView;
using protocol::NodeId;
using protocol::OutMessage;
using protocol::ReplicaId;

struct ByzantineContext {
  const protocol::PbftConfig& config;
  ReplicaId self;
  protocol::NodeCrypto& crypto;  // the faulty replica's own identity, nobody else's
  sim::RngEngine& rng;           // this fault's own stream ("fault/<index>")
  sim::TimeNs now_ns;
  std::uint32_t clients;         // client node ids are n .. n + clients - 1
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
  // Behaviours that act on their own (replay) ask for a periodic tick; 0 = never.
  virtual sim::DurationNs tick_interval_ns() const { return 0; }
  virtual void on_tick(ByzantineContext& ctx, std::vector<OutMessage>& out) {
    (void)ctx; (void)out;
  }
  const BehaviourStats& stats() const { return stats_; }

 protected:
  BehaviourStats stats_;
};

// State shared by the replicas of one fault (colluders coordinate: the adversary is one).
struct Coalition;

// Builds the behaviour that fault `spec` gives replica `self`. `coalition` is shared by
// every replica of the same fault (make_coalition once per fault). Returns nullptr for
// kinds that are not replica behaviours (crash, delay, drop, partition, timer_skew: the
// host and faults/network_faults.h handle those).
std::shared_ptr<Coalition> make_coalition(const harness::FaultSpec& spec,
                                          const protocol::PbftConfig& config);
std::unique_ptr<Behaviour> make_behaviour(const harness::FaultSpec& spec, ReplicaId self,
                                          std::shared_ptr<Coalition> coalition);

}  // namespace faults
