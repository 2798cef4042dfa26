// The simulation host. See world.h.
#include "harness/world.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>

#include "faults/behaviour.h"
#include "faults/network_faults.h"
#include "harness/workload.h"
#include "oracles/checker.h"
#include "oracles/liveness.h"
#include "protocol/client.h"
#include "protocol/replica.h"
#include "sim/event_queue.h"
#include "sim/network.h"
#include "sim/payload_pool.h"
#include "sim/trace.h"

namespace harness {
namespace {

using protocol::MessageKind;
using protocol::NodeId;
using sim::TimeNs;

enum EventKind : std::uint32_t {
  kDeliver = 1,   // target = receiver, a = payload, b = sender
  kTimer,         // target = node, a = timer kind
  kClientStart,   // target = client node
  kFaultStart,    // a = fault index
  kFaultEnd,      // a = fault index
  kRestart,       // target = replica, a = fault index
  kTick,          // target = replica, a = fault index
};

// Latency percentiles from a log-bucketed histogram (1 % resolution): memory stays fixed
// however many requests a run completes.
class LatencyHistogram {
 public:
  void add(std::int64_t ns) {
    const auto bucket = static_cast<std::size_t>(std::log(std::max<double>(ns, 1.0)) / kLogStep);
    if (bucket >= counts_.size()) counts_.resize(bucket + 1, 0);
    counts_[bucket]++;
    total_++;
    max_ = std::max(max_, ns);
  }
  std::int64_t percentile(double p) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      seen += counts_[b];
      if (seen >= std::max<std::uint64_t>(rank, 1)) {
        return std::min(max_, static_cast<std::int64_t>(std::exp((b + 1) * kLogStep)));
      }
    }
    return max_;
  }
  std::int64_t max() const { return max_; }

 private:
  static constexpr double kLogStep = 0.00995;  // ln(1.01)
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::int64_t max_ = 0;
};

// The last fault change inside the run: liveness is judged from there (oracles/liveness.h).
// A crash ends when the replica restarts; other faults at until_ms.
sim::TimeNs settled_ns(const Scenario& scenario) {
  std::vector<oracles::FaultTiming> timings;
  for (const auto& f : scenario.faults) {
    timings.push_back({f.from_ns, f.kind == FaultKind::Crash ? f.restart_ns : f.until_ns});
  }
  return oracles::last_fault_change_ns(timings, scenario.duration_ns);
}

// Under auth "none" the transport vouches for the sender: a message must claim the node
// that put it on the wire (a forged or relayed copy cannot be told from a real one).
bool claims_transport_sender(protocol::ByteView wire, NodeId from) {
  if (wire.size() < 5) return true;  // malformed: the node refuses it itself
  const NodeId claimed = static_cast<NodeId>(wire[1]) | static_cast<NodeId>(wire[2]) << 8 |
                         static_cast<NodeId>(wire[3]) << 16 | static_cast<NodeId>(wire[4]) << 24;
  return claimed == from;
}

struct FaultRuntime {
  FaultSpec spec;
  std::vector<protocol::ReplicaId> replicas;  // resolved when it starts
  bool active = false;
  faults::Coalition coalition;  // what its replicas share; behaviours get it per call
  std::vector<std::pair<protocol::ReplicaId, std::unique_ptr<faults::Behaviour>>> behaviours;
  sim::RngEngine rng;
};

class World {
 public:
  World(const Scenario& scenario, const RunOptions& options);
  reports::RunReport run();

 private:
  // events
  void handle(const sim::Event& ev);
  void deliver(NodeId to, NodeId from, sim::PayloadId payload);
  void fire_timer(NodeId node, protocol::TimerKind kind);
  void client_submit(NodeId node);
  void fault_start(std::uint32_t index);
  void fault_end(std::uint32_t index);
  void restart(protocol::ReplicaId replica);
  void tick(protocol::ReplicaId replica, std::uint32_t index);
  // node output
  void drain(NodeId node);
  void drain_replica_notes(protocol::ReplicaId r);
  void send_from_replica(protocol::ReplicaId r, protocol::OutMessage&& msg);
  void dispatch(NodeId from, protocol::OutMessage&& msg);
  void route(NodeId from, NodeId to, sim::PayloadId payload, MessageKind kind);
  void set_timer(NodeId node, const protocol::TimerCommand& cmd);
  void cancel_timers(NodeId node);
  void note_sent_vote(protocol::ReplicaId r, const protocol::OutMessage& msg);
  void trace(sim::TraceKind kind, NodeId from, NodeId to, std::uint32_t tag, std::uint64_t hash,
             std::uint64_t a, std::uint64_t b, protocol::ByteView wire = {});
  void trace_note(NodeId node, const std::string& text, std::uint64_t a, std::uint64_t b);
  faults::ByzantineContext context(protocol::ReplicaId r, FaultRuntime& f);
  bool all_clients_done() const { return completed_ == requests_total_; }
  std::vector<protocol::ReplicaId> resolve(const FaultSpec& spec) const;
  void mark_faulty(protocol::ReplicaId r);
  reports::RunReport build_report(const std::string& stop_reason);
  void judge_liveness(reports::RunReport& report) const;

  const Scenario& scenario_;
  RunOptions options_;
  protocol::PbftConfig config_;
  WorkloadLayout workload_;
  std::uint64_t requests_total_;  // workload_.total(), asked after every event
  std::uint32_t nodes_;
  protocol::KeyRing keys_;
  std::vector<std::unique_ptr<protocol::Replica>> replicas_;
  std::vector<std::unique_ptr<protocol::Client>> clients_;
  std::vector<std::uint64_t> issued_;
  std::vector<protocol::Bytes> issued_op_;  // per client: the operation of its latest request
  std::vector<TimeNs> sent_at_ns_;
  std::vector<std::unique_ptr<protocol::NodeCrypto>> byzantine_crypto_;
  std::vector<bool> crashed_;
  // Crash faults in force per replica: crash faults on one replica may overlap (a user lists
  // two windows, or "primary" resolves to a replica already down). It is down while any is in
  // force and restarts when the last one with a restart ends; one without restart keeps it down.
  std::vector<std::uint32_t> crashes_in_force_;
  std::vector<double> timer_skew_;
  std::set<protocol::ReplicaId> faulty_;
  std::vector<bool> is_faulty_;  // faulty_ by replica, for the per-message paths
  // Replicas whose votes the amnesia oracle watches: those a crash fault restarts, as long as
  // no Byzantine fault (which may vote twice on purpose) has touched them.
  std::vector<bool> vote_watch_;
  std::vector<FaultRuntime> faults_;
  sim::EventQueue queue_;
  sim::PayloadPool pool_;
  sim::Network network_;
  faults::NetworkFaults network_faults_;
  bool has_network_faults_ = false;
  sim::Trace trace_;
  oracles::Checker checker_;
  oracles::LivenessJudge liveness_;
  std::vector<sim::EventHandle> timers_;
  protocol::Outbox outbox_;
  std::vector<protocol::OutMessage> staged_;
  // statistics
  std::uint64_t completed_ = 0;
  TimeNs last_completion_ns_ = 0;
  LatencyHistogram latency_;
  std::array<std::uint64_t, protocol::kMessageKindMax + 1> sent_by_kind_{};
  std::array<std::uint64_t, protocol::kMessageKindMax + 1> sent_bytes_by_kind_{};  // one copy per recipient
  std::array<std::uint64_t, protocol::kRejectReasons> rejected_by_reason_{};
  std::uint64_t sent_ = 0, delivered_ = 0, dropped_ = 0, rejected_ = 0;
  std::uint64_t max_log_entries_ = 0, state_transfers_ = 0;
  std::uint64_t in_flight_ = 0;  // deliveries scheduled and not yet happened
  // The message delivered in the step being drained (0 and "" in other steps), for the
  // trace lines of its rejections; the summary only when the trace is recorded.
  std::uint64_t step_message_hash_ = 0;
  std::string step_message_summary_;
  std::set<protocol::ViewNumber> views_entered_;
  std::vector<reports::TimelineMark> timeline_;
  std::vector<reports::Completion> completions_;
};

World::World(const Scenario& scenario, const RunOptions& options)
    : scenario_(scenario),
      options_(options),
      config_(scenario.cluster),
      workload_(layout_workload(scenario)),
      requests_total_(workload_.total()),
      nodes_(config_.n + workload_.protocol_clients),
      keys_(options.seed, config_.auth, nodes_),
      issued_(workload_.protocol_clients, 0),
      issued_op_(workload_.protocol_clients),
      sent_at_ns_(workload_.protocol_clients, 0),
      byzantine_crypto_(config_.n),
      crashed_(config_.n, false),
      crashes_in_force_(config_.n, 0),
      timer_skew_(config_.n, 1.0),
      is_faulty_(config_.n, false),
      network_(scenario.network, sim::make_stream(options.seed, "network")),
      network_faults_(scenario.faults, options.seed, scenario.duration_ns),
      trace_(options.record_trace),
      checker_(config_,
               [this](protocol::ClientId c, protocol::Timestamp t, protocol::Bytes& op) {
                 if (c < workload_.first_node || c >= nodes_) return false;
                 const std::uint32_t i = c - workload_.first_node;
                 if (t == 0 || t > issued_[i]) return false;
                 // Usually the request in flight: its operation is kept, not rebuilt.
                 if (t == issued_[i]) {
                   op.assign(issued_op_[i].begin(), issued_op_[i].end());
                 } else {
                   op = workload_operation(options_.seed, c, t, scenario_.workload.keys);
                 }
                 return true;
               }),
      liveness_(settled_ns(scenario), std::max<sim::DurationNs>(1, scenario.liveness_bound_ns)),
      timers_(std::size_t{nodes_} * protocol::kTimerKinds) {
  network_faults_.set_replica_count(config_.n);
  for (protocol::ReplicaId r = 0; r < config_.n; ++r) {
    replicas_.push_back(std::make_unique<protocol::Replica>(config_, r, keys_, false, options_.defect));
  }
  for (std::uint32_t c = 0; c < workload_.protocol_clients; ++c) {
    clients_.push_back(std::make_unique<protocol::Client>(config_, workload_.first_node + c, keys_, options_.defect));
  }
  for (std::uint32_t i = 0; i < scenario.faults.size(); ++i) {
    const FaultSpec& spec = scenario.faults[i];
    faults_.push_back(FaultRuntime{spec, {}, false, {}, {},
                                   sim::make_stream(options.seed, "fault/" + std::to_string(i))});
    const auto k = spec.kind;
    has_network_faults_ |= k == FaultKind::Delay || k == FaultKind::Drop || k == FaultKind::Partition;
  }
  vote_watch_.assign(config_.n, false);
  for (const auto& spec : scenario.faults) {
    if (spec.kind != FaultKind::Crash || !spec.restart_ns) continue;
    for (protocol::ReplicaId r = 0; r < config_.n; ++r) {
      const bool named = std::find(spec.replicas.begin(), spec.replicas.end(), r) != spec.replicas.end();
      if (named || spec.replicas_is_primary) vote_watch_[r] = true;
    }
  }
}

reports::RunReport World::run() {
  const TimeNs start_ns = sim::from_ms(scenario_.workload.start_ms);
  for (std::uint32_t c = 0; c < workload_.protocol_clients; ++c) {
    queue_.schedule(sim::Event{start_ns, 0, kClientStart, workload_.first_node + c, 0, 0});
  }
  for (std::uint32_t i = 0; i < faults_.size(); ++i) {
    const FaultSpec& spec = faults_[i].spec;
    queue_.schedule(sim::Event{spec.from_ns, 0, kFaultStart, 0, i, 0});
    if (spec.until_ns) queue_.schedule(sim::Event{*spec.until_ns, 0, kFaultEnd, 0, i, 0});
  }
  std::string stop = "quiescent";
  sim::Event event;
  while (true) {
    // After the last request completes, let the messages in flight arrive, so that every
    // replica's final state reflects everything the network delivered.
    if (all_clients_done() && in_flight_ == 0) { stop = "completed"; break; }
    if (queue_.empty()) break;
    if (queue_.peek_time_ns() > scenario_.duration_ns) { stop = "time_limit"; break; }
    if (trace_.events() >= scenario_.max_events) { stop = "event_budget"; break; }
    queue_.pop_into(event);
    handle(event);
  }
  return build_report(stop);
}

void World::handle(const sim::Event& ev) {
  switch (ev.kind) {
    case kDeliver: deliver(ev.target, static_cast<NodeId>(ev.b), static_cast<sim::PayloadId>(ev.a)); return;
    case kTimer: fire_timer(ev.target, static_cast<protocol::TimerKind>(ev.a)); return;
    case kClientStart: client_submit(ev.target); return;
    case kFaultStart: fault_start(static_cast<std::uint32_t>(ev.a)); return;
    case kFaultEnd: fault_end(static_cast<std::uint32_t>(ev.a)); return;
    case kRestart: restart(ev.target); return;
    case kTick: tick(ev.target, static_cast<std::uint32_t>(ev.a)); return;
    default: assert(false && "unknown event kind");
  }
}

void World::trace(sim::TraceKind kind, NodeId from, NodeId to, std::uint32_t tag,
                  std::uint64_t hash, std::uint64_t a, std::uint64_t b, protocol::ByteView wire) {
  const sim::TraceEvent ev{queue_.now_ns(), kind, from, to, tag, hash, a, b};
  if (!trace_.recording()) {
    trace_.record(ev);
    return;
  }
  trace_.record(ev, wire.empty() ? std::string_view{} : std::string_view(protocol::summarize(wire)));
}

void World::trace_note(NodeId node, const std::string& text, std::uint64_t a, std::uint64_t b) {
  const sim::TraceEvent ev{queue_.now_ns(), sim::TraceKind::Note, node, node, 0, 0, a, b};
  trace_.record(ev, trace_.recording() ? std::string_view(text) : std::string_view{});
}

void World::deliver(NodeId to, NodeId from, sim::PayloadId payload) {
  assert(in_flight_ > 0);
  in_flight_--;
  const protocol::ByteView wire = pool_.bytes(payload);
  const std::uint64_t hash = pool_.content_hash(payload);
  const auto kind = wire.empty() ? 0u : wire[0];
  if (to < config_.n && crashed_[to]) {
    dropped_++;
    trace(sim::TraceKind::Drop, from, to, kind, hash, 1, 0, wire);
    pool_.release(payload);
    return;
  }
  if (config_.auth == protocol::AuthMode::None && !claims_transport_sender(wire, from)) {
    // auth "none": no cryptography, but the network knows who sent what (see faults::Forge).
    rejected_++;
    rejected_by_reason_[static_cast<std::size_t>(protocol::RejectReason::BadAuth)]++;
    trace(sim::TraceKind::Reject, from, to, kind, hash, static_cast<std::uint64_t>(protocol::RejectReason::BadAuth), 0,
          wire);
    pool_.release(payload);
    return;
  }
  delivered_++;
  trace(sim::TraceKind::Deliver, from, to, kind, hash, 0, 0, wire);
  step_message_hash_ = hash;  // what a rejection in this step refers to (drain)
  if (trace_.recording()) step_message_summary_ = protocol::summarize(wire);
  outbox_.clear();
  if (to < config_.n) {
    checker_.on_delivered(to, wire);
    bool admitted = true;
    for (auto& f : faults_) {
      for (auto& [r, behaviour] : f.behaviours) {
        if (r != to) continue;
        auto ctx = context(r, f);
        behaviour->on_receive(from, wire, ctx);
        admitted = behaviour->admits(from, wire, ctx) && admitted;
      }
    }
    if (!admitted) {
      pool_.release(payload);
      return;  // a faulty replica's behaviour kept it from the replica
    }
    replicas_[to]->step(protocol::Input::message(from, wire), outbox_);
    max_log_entries_ = std::max<std::uint64_t>(max_log_entries_, replicas_[to]->log_entries());
  } else {
    clients_[to - workload_.first_node]->step(protocol::Input::message(from, wire), outbox_);
  }
  pool_.release(payload);
  drain(to);
  step_message_hash_ = 0;
  step_message_summary_.clear();
}

void World::fire_timer(NodeId node, protocol::TimerKind kind) {
  timers_[std::size_t{node} * protocol::kTimerKinds + static_cast<std::size_t>(kind)] = {};
  trace(sim::TraceKind::Timer, node, node, static_cast<std::uint32_t>(kind), 0, 0, 0);
  outbox_.clear();
  if (node < config_.n) {
    if (crashed_[node]) return;
    replicas_[node]->step(protocol::Input::timer_fired(kind), outbox_);
    max_log_entries_ = std::max<std::uint64_t>(max_log_entries_, replicas_[node]->log_entries());
  } else {
    clients_[node - workload_.first_node]->step(protocol::Input::timer_fired(kind), outbox_);
  }
  drain(node);
}

void World::client_submit(NodeId node) {
  const std::uint32_t c = node - workload_.first_node;
  if (issued_[c] >= workload_.quota(node) || clients_[c]->busy()) return;
  issued_[c]++;
  sent_at_ns_[c] = queue_.now_ns();
  outbox_.clear();
  issued_op_[c] = workload_operation(options_.seed, node, issued_[c], scenario_.workload.keys);
  clients_[c]->submit(issued_op_[c], outbox_);
  assert(clients_[c]->last_timestamp() == issued_[c]);
  drain(node);
}

// Everything a node emitted in one step: messages to route, timers, and what the harness
// records (executions, rejections, notes).
void World::drain(NodeId node) {
  for (const auto& cmd : outbox_.timers) set_timer(node, cmd);
  for (const auto& rej : outbox_.rejections) {
    rejected_++;
    rejected_by_reason_[static_cast<std::size_t>(rej.reason)]++;
    // The trace line names the rejected message (its hash and summary); the fingerprint
    // folds the event as before, since the deliver event just before it holds that hash.
    const sim::TraceEvent ev{queue_.now_ns(), sim::TraceKind::Reject, rej.from, node,
                             static_cast<std::uint32_t>(rej.kind), 0, static_cast<std::uint64_t>(rej.reason), 0};
    trace_.record(ev, step_message_summary_, step_message_hash_);
  }
  if (node < config_.n) {
    // The oracles judge this step's certificates against what was sent, own messages of
    // this very step included (a faulty replica's go through its behaviours first).
    if (!is_faulty_[node]) {
      for (const auto& msg : outbox_.messages) checker_.on_sent(queue_.now_ns(), node, msg.wire);
    }
    // A state transfer is followed in the same step by the executions it made possible:
    // the oracle must hear of the jump first.
    for (const auto& note : outbox_.notes) {
      if (note.kind == protocol::Note::Kind::StateTransferred) {
        checker_.on_state_transfer(queue_.now_ns(), node, note.a, note.digest);
      }
    }
    for (const auto& ex : outbox_.executions) {
      std::uint64_t h = 0;
      for (int i = 0; i < 8; ++i) h = (h << 8) | ex.batch_digest.bytes[i];
      trace(sim::TraceKind::Execute, node, node, 0, h, ex.seq, ex.view);
      checker_.on_execution(queue_.now_ns(), node, ex);
    }
    drain_replica_notes(node);
  } else {
    for (const auto& note : outbox_.notes) {
      if (note.kind != protocol::Note::Kind::Completed) continue;
      const std::uint32_t c = node - workload_.first_node;
      const TimeNs latency = queue_.now_ns() - sent_at_ns_[c];
      completed_++;
      last_completion_ns_ = queue_.now_ns();
      latency_.add(latency);
      liveness_.on_completion(sent_at_ns_[c], queue_.now_ns());
      if (options_.record_trace) completions_.push_back({queue_.now_ns(), latency});
      checker_.on_client_accept(queue_.now_ns(), node, note.a, note.bytes);
      const TimeNs think = sim::from_ms(scenario_.workload.think_ms);
      queue_.post(sim::Event{queue_.now_ns() + think, 0, kClientStart, node, 0, 0});
    }
  }
  staged_.clear();
  std::swap(staged_, outbox_.messages);
  for (auto& msg : staged_) {
    if (node < config_.n) {
      send_from_replica(node, std::move(msg));
    } else {
      dispatch(node, std::move(msg));
    }
  }
}

void World::drain_replica_notes(protocol::ReplicaId r) {
  using K = protocol::Note::Kind;
  const bool correct = !is_faulty_[r];
  for (const auto& note : outbox_.notes) {
    switch (note.kind) {
      case K::ViewEntered:
        checker_.on_view_entered(queue_.now_ns(), r, note.a);
        if (correct) views_entered_.insert(note.a);
        timeline_.push_back({queue_.now_ns(), r, "view", note.a});
        trace_note(r, "entered view " + std::to_string(note.a), note.a, 0);
        break;
      case K::ViewChangeStarted:
        trace_note(r, "view change to " + std::to_string(note.a), note.a, 0);
        break;
      case K::CheckpointStable:
        checker_.on_stable_checkpoint(queue_.now_ns(), r, note.a, note.digest);
        if (options_.record_trace) timeline_.push_back({queue_.now_ns(), r, "stable_checkpoint", note.a});
        break;
      case K::CheckpointTaken: checker_.on_checkpoint(queue_.now_ns(), r, note.a, note.digest); break;
      case K::StateTransferred:
        if (correct) state_transfers_++;
        timeline_.push_back({queue_.now_ns(), r, "state_transfer", note.a});
        trace_note(r, "state transferred to seq " + std::to_string(note.a), note.a, 0);
        break;
      case K::PreparedCertificate: checker_.on_prepared_certificate(queue_.now_ns(), r, note.a, note.b, note.digest); break;
      case K::CheckpointCertificate: checker_.on_checkpoint_certificate(queue_.now_ns(), r, note.a, note.digest); break;
      case K::CheckpointAdopted:
        checker_.on_checkpoint_adopted(queue_.now_ns(), r, note.a, note.digest);
        if (options_.record_trace) timeline_.push_back({queue_.now_ns(), r, "stable_checkpoint", note.a});
        trace_note(r, "adopted checkpoint " + std::to_string(note.a) + " from the NEW-VIEW", note.a, 0);
        break;
      default: break;
    }
  }
}

faults::ByzantineContext World::context(protocol::ReplicaId r, FaultRuntime& f) {
  if (!byzantine_crypto_[r]) byzantine_crypto_[r] = std::make_unique<protocol::NodeCrypto>(keys_, r);
  return faults::ByzantineContext{config_, r, *byzantine_crypto_[r], f.rng, queue_.now_ns(),
                                  workload_.protocol_clients, &f.coalition, workload_.outstanding};
}

// A faulty replica's messages pass through its active behaviours, in fault order.
void World::send_from_replica(protocol::ReplicaId r, protocol::OutMessage&& msg) {
  if (!is_faulty_[r]) {
    if (vote_watch_[r]) note_sent_vote(r, msg);  // it may crash later: remember its votes
    dispatch(r, std::move(msg));  // no behaviour wraps a replica that is not faulty
    return;
  }
  std::vector<protocol::OutMessage> current;
  current.push_back(std::move(msg));
  for (auto& f : faults_) {
    for (auto& [owner, behaviour] : f.behaviours) {
      if (owner != r) continue;
      std::vector<protocol::OutMessage> next;
      auto ctx = context(r, f);
      for (const auto& m : current) behaviour->on_send(m, ctx, next);
      current = std::move(next);
    }
  }
  for (auto& m : current) {
    checker_.on_sent(queue_.now_ns(), r, m.wire);
    if (vote_watch_[r]) note_sent_vote(r, m);
    dispatch(r, std::move(m));
  }
}

// For the amnesia oracle: the votes of a replica a crash fault restarts (see vote_watch_).
void World::note_sent_vote(protocol::ReplicaId r, const protocol::OutMessage& msg) {
  if (msg.kind != MessageKind::PrePrepare && msg.kind != MessageKind::Prepare && msg.kind != MessageKind::Commit) return;
  auto env = protocol::parse_envelope(msg.wire);
  if (!env.ok() || env.value.sender != r) return;
  if (env.value.kind == MessageKind::PrePrepare) {
    auto pp = protocol::decode_pre_prepare(env.value.body);
    if (pp.ok()) checker_.on_vote_sent(queue_.now_ns(), r, env.value.kind, pp.value.view, pp.value.seq, pp.value.digest);
  } else {
    auto v = protocol::decode_vote(env.value.body);
    if (v.ok()) checker_.on_vote_sent(queue_.now_ns(), r, env.value.kind, v.value.view, v.value.seq, v.value.digest);
  }
}

// One payload, shared by every recipient of a multicast.
void World::dispatch(NodeId from, protocol::OutMessage&& msg) {
  std::uint32_t recipients = 1;
  if (msg.to == protocol::kAllReplicas) {
    recipients = config_.n - (from < config_.n ? 1 : 0);
  } else if (msg.to >= nodes_) {
    return;  // a behaviour addressed nobody
  }
  if (recipients == 0) return;
  const sim::PayloadId payload = pool_.put_swap(msg.wire, recipients);
  outbox_.give_buffer(std::move(msg.wire));  // the pool's old buffer, for the next message
  if (msg.to != protocol::kAllReplicas) {
    route(from, msg.to, payload, msg.kind);
    return;
  }
  for (NodeId to = 0; to < config_.n; ++to) {
    if (to != from) route(from, to, payload, msg.kind);
  }
}

void World::route(NodeId from, NodeId to, sim::PayloadId payload, MessageKind kind) {
  sent_++;
  sent_by_kind_[static_cast<std::size_t>(kind)]++;
  sent_bytes_by_kind_[static_cast<std::size_t>(kind)] += pool_.bytes(payload).size();
  const std::uint64_t hash = pool_.content_hash(payload);
  const protocol::ByteView wire = trace_.recording() ? pool_.bytes(payload) : protocol::ByteView{};
  const auto tag = static_cast<std::uint32_t>(kind);
  trace(sim::TraceKind::Send, from, to, tag, hash, 0, 0, wire);
  sim::DurationNs extra_ns = 0;
  if (has_network_faults_) {
    const auto verdict = network_faults_.judge(from, to, queue_.now_ns());
    if (verdict.drop) {
      dropped_++;
      trace(sim::TraceKind::Drop, from, to, tag, hash, 2, verdict.fault_index, wire);
      pool_.release(payload);
      return;
    }
    extra_ns = verdict.extra_delay_ns;
  }
  const sim::LinkOutcome fate = network_.transmit(from, to);
  if (fate.copies == 0) {
    dropped_++;
    trace(sim::TraceKind::Drop, from, to, tag, hash, 0, 0, wire);
    pool_.release(payload);
    return;
  }
  if (fate.copies == 2) pool_.add_reference(payload);
  in_flight_ += fate.copies;
  for (std::uint32_t i = 0; i < fate.copies; ++i) {
    queue_.post(sim::Event{queue_.now_ns() + fate.delay_ns[i] + extra_ns, 0, kDeliver, to,
                           payload, from});
  }
}

void World::set_timer(NodeId node, const protocol::TimerCommand& cmd) {
  sim::EventHandle& handle = timers_[std::size_t{node} * protocol::kTimerKinds +
                                     static_cast<std::size_t>(cmd.kind)];
  if (handle.valid()) queue_.cancel(handle);
  handle = {};
  if (cmd.cancel) return;
  // timer_skew: this node's clock runs fast (or slow); the deadline saturates.
  const double factor = node < config_.n ? timer_skew_[node] : 1.0;
  handle = queue_.schedule(sim::Event{sim::skewed_deadline(queue_.now_ns(), cmd.delay_ns, factor), 0, kTimer, node,
                                      static_cast<std::uint64_t>(cmd.kind), 0});
}

void World::cancel_timers(NodeId node) {
  for (std::uint32_t k = 0; k < protocol::kTimerKinds; ++k) {
    sim::EventHandle& handle = timers_[std::size_t{node} * protocol::kTimerKinds + k];
    if (handle.valid()) queue_.cancel(handle);
    handle = {};
  }
}

}  // namespace
}  // namespace harness

namespace harness {
namespace {

// "primary": the primary of the highest view any correct replica is in, right now.
std::vector<protocol::ReplicaId> World::resolve(const FaultSpec& spec) const {
  std::vector<protocol::ReplicaId> out = spec.replicas;
  if (spec.replicas_is_primary) {
    protocol::ViewNumber view = 0;
    for (protocol::ReplicaId r = 0; r < config_.n; ++r) {
      if (faulty_.count(r) == 0 && replicas_[r]) view = std::max(view, replicas_[r]->view());
    }
    out = {config_.primary(view)};
  }
  if (spec.kind == FaultKind::Equivocate) {
    for (auto c : spec.colluders) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

void World::mark_faulty(protocol::ReplicaId r) {
  faulty_.insert(r);
  is_faulty_[r] = true;
  checker_.mark_faulty(r);
}

void World::fault_start(std::uint32_t index) {
  FaultRuntime& f = faults_[index];
  f.replicas = resolve(f.spec);
  f.active = true;
  std::string who;
  for (auto r : f.replicas) who += (who.empty() ? "" : ",") + std::to_string(r);
  trace_note(0, std::string("fault ") + fault_kind_name(f.spec.kind) + " starts on [" + who + "]",
             index, 1);
  if (fault_kind_is_faulty(f.spec.kind)) {
    for (auto r : f.replicas) mark_faulty(r);
  }
  if (fault_kind_is_faulty(f.spec.kind) && f.spec.kind != FaultKind::Crash) {
    for (auto r : f.replicas) vote_watch_[r] = false;  // a Byzantine replica may vote twice
  }
  switch (f.spec.kind) {
    case FaultKind::Crash:
      for (auto r : f.replicas) {
        crashes_in_force_[r]++;
        if (!crashed_[r]) {
          crashed_[r] = true;
          replicas_[r].reset();  // all volatile state is gone
          cancel_timers(r);
          timeline_.push_back({queue_.now_ns(), r, "crash", 0});
        }
        if (f.spec.restart_ns) {
          queue_.schedule(sim::Event{std::max(*f.spec.restart_ns, queue_.now_ns()), 0, kRestart, r, index, 0});
        }
      }
      return;
    case FaultKind::Delay:
    case FaultKind::Drop:
    case FaultKind::Partition:
      if (f.spec.replicas_is_primary) network_faults_.set_replicas(index, f.replicas);
      return;
    case FaultKind::TimerSkew:
      for (auto r : f.replicas) timer_skew_[r] = f.spec.factor;
      return;
    default: break;
  }
  // The coalition of the resolved replicas ("primary" included), not of the spec's list.
  f.coalition = faults::make_coalition(f.spec, f.replicas, config_);
  for (auto r : f.replicas) {
    auto behaviour = faults::make_behaviour(f.spec, r);
    if (!behaviour) continue;
    if (behaviour->tick_interval_ns() > 0) {
      queue_.schedule(sim::Event{queue_.now_ns() + behaviour->tick_interval_ns(), 0, kTick, r, index, 0});
    }
    f.behaviours.emplace_back(r, std::move(behaviour));
  }
}

void World::fault_end(std::uint32_t index) {
  FaultRuntime& f = faults_[index];
  if (!f.active) return;
  f.active = false;
  trace_note(0, std::string("fault ") + fault_kind_name(f.spec.kind) + " ends", index, 0);
  if (f.spec.kind == FaultKind::TimerSkew) {
    for (auto r : f.replicas) timer_skew_[r] = 1.0;
  }
  f.behaviours.clear();  // the replicas' own traffic flows unchanged again
}

void World::restart(protocol::ReplicaId r) {
  assert(crashed_[r]);
  assert(crashes_in_force_[r] > 0);
  if (--crashes_in_force_[r] > 0) return;  // another crash of it is still in force
  crashed_[r] = false;
  replicas_[r] = std::make_unique<protocol::Replica>(config_, r, keys_, true, options_.defect);
  timeline_.push_back({queue_.now_ns(), r, "restart", 0});
  trace_note(r, "restarted with no state", 0, 0);
}

void World::tick(protocol::ReplicaId r, std::uint32_t index) {
  FaultRuntime& f = faults_[index];
  if (!f.active) return;
  for (auto& [owner, behaviour] : f.behaviours) {
    if (owner != r) continue;
    std::vector<protocol::OutMessage> out;
    auto ctx = context(r, f);
    behaviour->on_tick(ctx, out);
    for (auto& m : out) {
      checker_.on_sent(queue_.now_ns(), r, m.wire);
      dispatch(r, std::move(m));
    }
    queue_.schedule(sim::Event{queue_.now_ns() + behaviour->tick_interval_ns(), 0, kTick, r, index, 0});
  }
}

void World::judge_liveness(reports::RunReport& report) const {
  const auto verdict = liveness_.verdict(workload_.total());
  report.liveness_holds = verdict.holds;
  report.liveness_detail = verdict.detail;
}

bool matches(Expect expect, bool holds) {
  return expect == Expect::Any || (expect == Expect::Holds) == holds;
}

reports::RunReport World::build_report(const std::string& stop_reason) {
  reports::RunReport rep;
  rep.scenario = scenario_.name;
  rep.scenario_path = scenario_.source_path;
  rep.seed = options_.seed;
  rep.stop_reason = stop_reason;
  rep.n = config_.n;
  rep.f = config_.f;
  rep.clients = scenario_.workload.clients;
  rep.faulty_replicas.assign(faulty_.begin(), faulty_.end());
  rep.expect_safety = expect_name(scenario_.expect.safety);
  rep.expect_liveness = expect_name(scenario_.expect.liveness);
  checker_.finish(queue_.now_ns());
  rep.violations = checker_.violations();
  rep.safety_holds = rep.violations.empty();
  rep.submitted = workload_.total();
  rep.completed = completed_;
  judge_liveness(rep);
  auto& st = rep.stats;
  st.events = trace_.events();
  st.messages_sent = sent_;
  st.messages_delivered = delivered_;
  st.messages_dropped = dropped_;
  st.messages_rejected = rejected_;
  st.view_changes = views_entered_.size();
  st.virtual_time_ns = queue_.now_ns();
  st.max_log_entries = max_log_entries_;
  st.state_transfers = state_transfers_;
  bool first = true;
  for (protocol::ReplicaId r = 0; r < config_.n; ++r) {
    if (faulty_.count(r) != 0 || !replicas_[r]) continue;
    st.final_view = std::max<std::uint64_t>(st.final_view, replicas_[r]->view());
    st.executed_seq = first ? replicas_[r]->last_executed()
                            : std::min<std::uint64_t>(st.executed_seq, replicas_[r]->last_executed());
    st.stable_checkpoint = std::max<std::uint64_t>(st.stable_checkpoint, replicas_[r]->low_watermark());
    rep.replica_digests[r] = replicas_[r]->current_state_digest().short_hex();
    rep.replica_executed[r] = replicas_[r]->last_executed();
    first = false;
  }
  st.latency = {latency_.percentile(0.5), latency_.percentile(0.9), latency_.percentile(0.99), latency_.max()};
  for (std::uint32_t k = 1; k <= protocol::kMessageKindMax; ++k) {
    if (sent_by_kind_[k] != 0) {
      st.sent_by_kind[protocol::message_kind_name(static_cast<MessageKind>(k))] = sent_by_kind_[k];
      st.sent_bytes_by_kind[protocol::message_kind_name(static_cast<MessageKind>(k))] = sent_bytes_by_kind_[k];
    }
  }
  for (std::uint32_t k = 0; k < protocol::kRejectReasons; ++k) {
    if (rejected_by_reason_[k] != 0) {
      st.rejected_by_reason[protocol::reject_reason_name(static_cast<protocol::RejectReason>(k))] =
          rejected_by_reason_[k];
    }
  }
  rep.fingerprint = trace_.fingerprint_hex();
  if (options_.crypto_out != nullptr) {
    for (const auto& r : replicas_) if (r) options_.crypto_out->add(r->crypto_counters());
    for (const auto& c : clients_) options_.crypto_out->add(c->crypto_counters());
    for (const auto& b : byzantine_crypto_) if (b) options_.crypto_out->add(b->counters());
  }
  rep.timeline = std::move(timeline_);
  rep.completions = std::move(completions_);
  if (options_.record_trace) rep.trace_lines = trace_.lines();
  rep.replay_command = replay_command(scenario_, options_.seed, options_.defect);
  const bool ok = matches(scenario_.expect.safety, rep.safety_holds) &&
                  matches(scenario_.expect.liveness, rep.liveness_holds);
  rep.outcome = ok ? "pass" : "fail";
  if (stop_reason == "event_budget") {
    rep.outcome = "error";
    rep.harness_error = "the run exceeded its event budget of " + std::to_string(scenario_.max_events) + " events";
  }
  return rep;
}

}  // namespace

std::string replay_command(const Scenario& scenario, std::uint64_t seed, protocol::Defect defect) {
  const std::string file = scenario.source_path.empty() ? "SCENARIO.json" : scenario.source_path;
  std::string line = "pbftsim run " + file + " --seed " + std::to_string(seed);
  if (defect != protocol::Defect::None) line += std::string(" --defect ") + protocol::defect_name(defect);
  return line;
}

reports::RunReport run_scenario(const Scenario& scenario, const RunOptions& options) {
  try {
    World world(scenario, options);
    return world.run();
  } catch (const std::exception& e) {
    reports::RunReport rep;
    rep.scenario = scenario.name;
    rep.scenario_path = scenario.source_path;
    rep.seed = options.seed;
    rep.outcome = "error";
    rep.harness_error = std::string("the run threw: ") + e.what();
    rep.replay_command = replay_command(scenario, options.seed, options.defect);
    return rep;
  }
}

}  // namespace harness
