// The one simulation host: n replicas and some clients (pure state machines, protocol/) on
// a virtual clock. It owns the event queue, routes every message through its Links, keeps
// each node's timers, wraps faulty replicas in their behaviours (faults/), crashes and
// restarts replicas, records the trace and its fingerprint, feeds the oracles and counts the
// traffic. It knows nothing of scenarios or reports: the scenario runner (harness/) and the
// tests drive it through the same calls, and watch it through an Observer.
//
// Same options + same Links + same calls = the same sequence of events, byte for byte.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "faults/behaviour.h"
#include "faults/fault_spec.h"
#include "host/counters.h"
#include "host/links.h"
#include "oracles/checker.h"
#include "protocol/client.h"
#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/defects.h"
#include "protocol/io.h"
#include "protocol/replica.h"
#include "sim/event_queue.h"
#include "sim/payload_pool.h"
#include "sim/rng.h"
#include "sim/trace.h"

namespace host {

using protocol::NodeId;
using protocol::ReplicaId;
using sim::TimeNs;

struct ClusterOptions {
  protocol::PbftConfig config;
  std::uint32_t clients = 0;   // protocol clients: node ids n .. n + clients - 1
  std::uint64_t seed = 1;      // the keys, and each fault's stream "fault/<index>"
  // Faults started and ended at their times (crash, timer skew and the Byzantine
  // behaviours here; network faults act in the Links, which the host tells whom "primary"
  // resolved to).
  std::vector<faults::FaultSpec> faults;
  std::uint32_t client_slots = 1;  // protocol clients per workload client (ByzantineContext)
  protocol::Defect defect = protocol::Defect::None;  // planted in every replica and client
  bool record_trace = false;   // keep the trace's lines and the detailed timeline marks
  // Under auth "none" the transport vouches for senders: a message that claims another
  // sender than the node that put it on the links is refused (counted as bad_auth) before
  // any node sees it. Tests of the property checks themselves turn it off.
  bool transport_checks_sender = true;
  oracles::IssuedOperation issued;  // what the clients issued, for the validity oracle
};

// How the scenario runner and the tests watch a run. Every method has a default that does
// nothing.
class Observer {
 public:
  virtual ~Observer() = default;
  // A client accepted a result (the oracles have judged it already).
  virtual void on_completed(NodeId client, const protocol::note::Completed& done) {
    (void)client;
    (void)done;
  }
  // An alarm set with Cluster::set_alarm went off.
  virtual void on_alarm(std::uint32_t tag, NodeId target) {
    (void)tag;
    (void)target;
  }
  // A node took a step on `input` and emitted `out`, before the host routes it (a faulty
  // replica's messages before its behaviours). Called only when watch_steps() is true.
  virtual void on_step(NodeId node, const protocol::Input& input, const protocol::Outbox& out) {
    (void)node;
    (void)input;
    (void)out;
  }
  virtual bool watch_steps() const { return false; }
};

class Cluster {
 public:
  // REQUIRES: options.config is valid. `links` and `observer` outlive the cluster.
  Cluster(ClusterOptions options, Links& links, Observer* observer = nullptr);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // ---- driving the clock
  // Schedules the options' faults; call once, before the first step. Alarms set before it
  // come first among events due at the same virtual time.
  void start();
  bool idle() const { return queue_.empty(); }
  TimeNs next_time_ns() { return queue_.peek_time_ns(); }  // REQUIRES: !idle()
  void step();                                             // the earliest event; REQUIRES: !idle()
  // Steps until no event is due by end_ns (or none is left).
  void run_until(TimeNs end_ns);
  // Steps while messages are in flight, at most events_max events: the traffic settles,
  // and timers due later stay pending.
  void run_while_in_flight(std::uint64_t events_max = 1'000'000);
  TimeNs now_ns() const { return queue_.now_ns(); }
  std::uint64_t in_flight() const { return in_flight_; }  // deliveries not yet happened
  std::uint64_t events() const { return trace_.events(); }

  // ---- acting on it, now
  void set_alarm(TimeNs at_ns, std::uint32_t tag, NodeId target);  // Observer::on_alarm then
  // Client node `client` submits an operation. REQUIRES: that client is not busy.
  void submit(NodeId client, protocol::ByteView operation);
  // Puts `wire` on the links from `from` to `to` (protocol::kAllReplicas: every replica but
  // `from`), as a test crafts a message.
  void send(NodeId from, NodeId to, protocol::Bytes wire);
  // Node `node`'s timer of `kind` fires now (a pending one of that kind is cancelled).
  void fire_timer(NodeId node, protocol::TimerKind kind);
  // A fault of the caller's, active from now on: returns its index, for add_behaviour.
  // `coalition`: what the fault's replicas share.
  std::uint32_t add_fault(faults::Coalition coalition = {});
  // Wraps replica r in `behaviour` from now on, as part of fault `fault_index` (behaviours
  // of several faults on one replica apply in fault order); r becomes faulty.
  void add_behaviour(std::uint32_t fault_index, ReplicaId r, std::unique_ptr<faults::Behaviour> behaviour);

  // ---- looking at it
  const protocol::PbftConfig& config() const { return config_; }
  const protocol::KeyRing& keys() const { return keys_; }  // every node's keys, for crafting
  std::uint32_t nodes() const { return nodes_; }
  protocol::Replica* replica(ReplicaId r) { return replicas_[r].get(); }  // nullptr: crashed
  const protocol::Replica* replica(ReplicaId r) const { return replicas_[r].get(); }
  protocol::Client& client(NodeId node) { return *clients_[node - config_.n]; }
  bool is_faulty(ReplicaId r) const { return is_faulty_[r]; }
  const std::set<ReplicaId>& faulty() const { return faulty_; }
  oracles::Checker& checker() { return checker_; }
  const oracles::Checker& checker() const { return checker_; }
  const Counters& counters() const { return counters_; }
  Counters& counters() { return counters_; }
  const sim::Trace& trace() const { return trace_; }
  std::vector<sim::TraceRecord> take_trace_records() { return trace_.take_records(); }
  // The behaviour fault `fault_index` put on replica r (nullptr when none).
  faults::Behaviour* behaviour(std::uint32_t fault_index, ReplicaId r);
  const faults::Coalition& coalition(std::uint32_t fault_index) const;
  // Every node's cryptographic work so far, Byzantine identities included.
  void add_crypto_counters(protocol::CryptoCounters& out) const;

 private:
  struct FaultRuntime;
  enum EventKind : std::uint32_t;

  void handle(const sim::Event& ev);
  void deliver(NodeId to, NodeId from, sim::PayloadId payload);
  void timer_fired(NodeId node, protocol::TimerKind kind);
  void fault_start(std::uint32_t index);
  void fault_end(std::uint32_t index);
  void restart(ReplicaId replica);
  void tick(ReplicaId replica, std::uint32_t index);
  void step_node(NodeId node, const protocol::Input& input);
  void drain(NodeId node);
  void drain_replica_notes(ReplicaId r);
  void send_from_replica(ReplicaId r, protocol::OutMessage&& msg);
  void dispatch(NodeId from, protocol::OutMessage&& msg);
  void route(NodeId from, NodeId to, sim::PayloadId payload, protocol::MessageKind kind, std::string_view summary);
  void set_timer(NodeId node, const protocol::TimerCommand& cmd);
  void cancel_timers(NodeId node);
  void note_sent_vote(ReplicaId r, const protocol::OutMessage& msg);
  // Records an event; `summary` is the message's (empty when the trace is not kept).
  void trace(sim::TraceKind kind, NodeId from, NodeId to, std::uint32_t tag, std::uint64_t hash, std::uint64_t a,
             std::uint64_t b, std::string_view summary = {});
  void trace_note(NodeId node, sim::NoteKind kind, const std::string& text, std::uint64_t a, std::uint64_t b);
  faults::ByzantineContext context(ReplicaId r, FaultRuntime& f);
  std::vector<ReplicaId> resolve(const faults::FaultSpec& spec) const;
  void mark_faulty(ReplicaId r);

  ClusterOptions options_;
  const protocol::PbftConfig& config_;  // options_.config
  Links& links_;
  Observer* observer_;
  bool watch_steps_;
  std::uint32_t nodes_;
  protocol::KeyRing keys_;
  std::vector<std::unique_ptr<protocol::Replica>> replicas_;
  std::vector<std::unique_ptr<protocol::Client>> clients_;
  std::vector<std::unique_ptr<protocol::NodeCrypto>> byzantine_crypto_;
  std::vector<bool> crashed_;
  // Crash faults in force per replica: crash faults on one replica may overlap (a user lists
  // two windows, or "primary" resolves to a replica already down). It is down while any is in
  // force and restarts when the last one with a restart ends; one without restart keeps it down.
  std::vector<std::uint32_t> crashes_in_force_;
  std::vector<double> timer_skew_;
  std::set<ReplicaId> faulty_;
  std::vector<bool> is_faulty_;  // faulty_ by replica, for the per-message paths
  // Replicas whose votes the amnesia oracle watches: those a crash fault restarts, as long as
  // no Byzantine fault (which may vote twice on purpose) has touched them.
  std::vector<bool> vote_watch_;
  std::vector<FaultRuntime> faults_;
  sim::EventQueue queue_;
  sim::PayloadPool pool_;
  sim::Trace trace_;
  oracles::Checker checker_;
  std::vector<sim::EventHandle> timers_;
  protocol::Outbox outbox_;
  std::vector<protocol::OutMessage> staged_;
  Counters counters_;
  std::uint64_t in_flight_ = 0;
  bool started_ = false;
  // The message delivered in the step being drained (0 and "" in other steps), for the
  // trace lines of its rejections; the summary only when the trace is recorded.
  std::uint64_t step_message_hash_ = 0;
  std::string step_message_summary_;
};

}  // namespace host
