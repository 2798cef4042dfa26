// The simulation host. See cluster.h.
#include "host/cluster.h"

#include <algorithm>
#include <boost/endian/conversion.hpp>
#include <cassert>
#include <utility>

#include "protocol/wire_io.h"

namespace host {

using protocol::MessageKind;
using FaultKind = faults::FaultKind;

enum Cluster::EventKind : std::uint32_t {
  kDeliver = 1,  // target = receiver, a = payload, b = sender
  kTimer,        // target = node, a = timer kind
  kAlarm,        // target = node, a = the observer's tag
  kFaultStart,   // a = fault index
  kFaultEnd,     // a = fault index
  kRestart,      // target = replica, a = fault index
  kTick,         // target = replica, a = fault index
};

struct Cluster::FaultRuntime {
  faults::FaultSpec spec;
  std::vector<ReplicaId> replicas;  // resolved when it starts
  bool active = false;
  faults::Coalition coalition;  // what its replicas share; behaviours get it per call
  std::vector<std::pair<ReplicaId, std::unique_ptr<faults::Behaviour>>> behaviours;
  sim::RngEngine rng;
};

const char* timeline_kind_name(TimelineKind kind) {
  switch (kind) {
    case TimelineKind::View: return "view";
    case TimelineKind::StableCheckpoint: return "stable_checkpoint";
    case TimelineKind::StateTransfer: return "state_transfer";
    case TimelineKind::Crash: return "crash";
    case TimelineKind::Restart: return "restart";
  }
  return "unknown";
}

namespace {

// Under auth "none" the transport vouches for the sender: a message must claim the node
// that put it on the wire (a forged or relayed copy cannot be told from a real one).
bool claims_transport_sender(protocol::ByteView wire, NodeId from) {
  if (wire.size() < 5) return true;  // malformed: the node refuses it itself
  return protocol::load_le32(wire.data() + 1) == from;  // kind, then the sender
}

}  // namespace

Cluster::Cluster(ClusterOptions options, Links& links, Observer* observer)
    : options_(std::move(options)),
      config_(options_.config),
      links_(links),
      observer_(observer),
      watch_steps_(observer != nullptr && observer->watch_steps()),
      nodes_(config_.n + options_.clients),
      keys_(options_.seed, config_.auth, nodes_),
      byzantine_crypto_(config_.n),
      crashed_(config_.n, false),
      crashes_in_force_(config_.n, 0),
      timer_skew_(config_.n, 1.0),
      is_faulty_(config_.n, false),
      vote_watch_(config_.n, false),
      trace_(options_.record_trace),
      checker_(config_, options_.issued ? options_.issued : oracles::IssuedOperation([](auto, auto, auto&) { return false; })),
      timers_(std::size_t{nodes_} * protocol::kTimerKinds) {
  assert(config_.validate().empty());
  for (ReplicaId r = 0; r < config_.n; ++r) {
    replicas_.push_back(std::make_unique<protocol::Replica>(config_, r, keys_, false, options_.defect));
  }
  for (std::uint32_t c = 0; c < options_.clients; ++c) {
    clients_.push_back(std::make_unique<protocol::Client>(config_, config_.n + c, keys_, options_.defect));
  }
  for (std::uint32_t i = 0; i < options_.faults.size(); ++i) {
    const faults::FaultSpec& spec = options_.faults[i];
    faults_.push_back(FaultRuntime{spec, {}, false, {}, {}, sim::make_stream(options_.seed, "fault/" + std::to_string(i))});
    if (spec.kind != FaultKind::Crash || !spec.restart_ns) continue;
    for (ReplicaId r = 0; r < config_.n; ++r) {
      const bool named = std::find(spec.replicas.begin(), spec.replicas.end(), r) != spec.replicas.end();
      if (named || spec.replicas_is_primary) vote_watch_[r] = true;
    }
  }
}

Cluster::~Cluster() = default;

void Cluster::start() {
  assert(!started_);
  started_ = true;
  for (std::uint32_t i = 0; i < options_.faults.size(); ++i) {
    const faults::FaultSpec& spec = options_.faults[i];
    queue_.schedule(sim::Event{spec.from_ns, 0, kFaultStart, 0, i, 0});
    if (spec.until_ns) queue_.schedule(sim::Event{*spec.until_ns, 0, kFaultEnd, 0, i, 0});
  }
}

void Cluster::step() {
  assert(started_);
  sim::Event event;
  queue_.pop_into(event);
  handle(event);
}

void Cluster::run_until(TimeNs end_ns) {
  while (!queue_.empty() && queue_.peek_time_ns() <= end_ns) step();
}

void Cluster::run_while_in_flight(std::uint64_t events_max) {
  for (std::uint64_t i = 0; i < events_max && in_flight_ > 0 && !queue_.empty(); ++i) step();
}

void Cluster::set_alarm(TimeNs at_ns, std::uint32_t tag, NodeId target) {
  queue_.post(sim::Event{at_ns, 0, kAlarm, target, tag, 0});
}

void Cluster::handle(const sim::Event& ev) {
  switch (ev.kind) {
    case kDeliver: deliver(ev.target, static_cast<NodeId>(ev.b), static_cast<sim::PayloadId>(ev.a)); return;
    case kTimer: timer_fired(ev.target, static_cast<protocol::TimerKind>(ev.a)); return;
    case kAlarm:
      if (observer_ != nullptr) observer_->on_alarm(static_cast<std::uint32_t>(ev.a), ev.target);
      return;
    case kFaultStart: fault_start(static_cast<std::uint32_t>(ev.a)); return;
    case kFaultEnd: fault_end(static_cast<std::uint32_t>(ev.a)); return;
    case kRestart: restart(ev.target); return;
    case kTick: tick(ev.target, static_cast<std::uint32_t>(ev.a)); return;
    default: assert(false && "unknown event kind");
  }
}

void Cluster::trace(sim::TraceKind kind, NodeId from, NodeId to, std::uint32_t tag, std::uint64_t hash,
                    std::uint64_t a, std::uint64_t b, std::string_view summary) {
  trace_.record(sim::TraceEvent{queue_.now_ns(), kind, from, to, tag, hash, a, b}, summary);
}

void Cluster::trace_note(NodeId node, sim::NoteKind kind, const std::string& text, std::uint64_t a, std::uint64_t b) {
  const sim::TraceEvent ev{queue_.now_ns(), sim::TraceKind::Note, node, node, 0, 0, a, b};
  if (!trace_.recording()) {
    trace_.record(ev);
    return;
  }
  trace_.record(ev, text, 0, kind);
}

void Cluster::deliver(NodeId to, NodeId from, sim::PayloadId payload) {
  assert(in_flight_ > 0);
  in_flight_--;
  const protocol::ByteView wire = pool_.bytes(payload);
  const std::uint64_t hash = pool_.content_hash(payload);
  const auto kind = wire.empty() ? 0u : wire[0];
  // Summarised once, for this event's line and for the lines of the rejections it causes.
  if (trace_.recording()) step_message_summary_ = protocol::summarize(wire);
  if (to < config_.n && crashed_[to]) {
    counters_.dropped++;
    trace(sim::TraceKind::Drop, from, to, kind, hash, static_cast<std::uint64_t>(LossCause::ReceiverDown), 0,
          step_message_summary_);
    pool_.release(payload);
    step_message_summary_.clear();
    return;
  }
  if (config_.auth == protocol::AuthMode::None && options_.transport_checks_sender &&
      !claims_transport_sender(wire, from)) {
    // auth "none": no cryptography, but the network knows who sent what (see faults::Forge).
    counters_.rejected++;
    counters_.rejected_by_reason[static_cast<std::size_t>(protocol::RejectReason::BadAuth)]++;
    trace(sim::TraceKind::Reject, from, to, kind, hash, static_cast<std::uint64_t>(protocol::RejectReason::BadAuth), 0,
          step_message_summary_);
    pool_.release(payload);
    step_message_summary_.clear();
    return;
  }
  counters_.delivered++;
  trace(sim::TraceKind::Deliver, from, to, kind, hash, 0, 0, step_message_summary_);
  step_message_hash_ = hash;  // what a rejection in this step refers to (drain)
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
      step_message_hash_ = 0;
      step_message_summary_.clear();
      return;  // a faulty replica's behaviour kept it from the replica
    }
  }
  const auto input = protocol::Input::message(from, wire);
  step_node(to, input);
  pool_.release(payload);
  drain(to);
  step_message_hash_ = 0;
  step_message_summary_.clear();
}

// Feeds one input to a running node and lets the observer see what it emitted.
void Cluster::step_node(NodeId node, const protocol::Input& input) {
  outbox_.clear();
  if (node < config_.n) {
    replicas_[node]->step(input, outbox_);
    counters_.max_log_entries = std::max<std::uint64_t>(counters_.max_log_entries, replicas_[node]->log_entries());
  } else {
    clients_[node - config_.n]->step(input, outbox_);
  }
  if (watch_steps_) observer_->on_step(node, input, outbox_);
}

void Cluster::timer_fired(NodeId node, protocol::TimerKind kind) {
  timers_[std::size_t{node} * protocol::kTimerKinds + static_cast<std::size_t>(kind)] = {};
  trace(sim::TraceKind::Timer, node, node, static_cast<std::uint32_t>(kind), 0, 0, 0);
  if (node < config_.n && crashed_[node]) return;
  const auto input = protocol::Input::timer_fired(kind);
  step_node(node, input);
  drain(node);
}

void Cluster::fire_timer(NodeId node, protocol::TimerKind kind) {
  sim::EventHandle& handle = timers_[std::size_t{node} * protocol::kTimerKinds + static_cast<std::size_t>(kind)];
  if (handle.valid()) queue_.cancel(handle);
  timer_fired(node, kind);
}

void Cluster::submit(NodeId node, protocol::ByteView operation) {
  protocol::Client& c = client(node);
  assert(!c.busy());
  outbox_.clear();
  c.submit(protocol::Bytes(operation.begin(), operation.end()), outbox_);
  const auto input = protocol::Input::message(node, operation);  // what the observer is shown
  if (watch_steps_) observer_->on_step(node, input, outbox_);
  drain(node);
}

void Cluster::send(NodeId from, NodeId to, protocol::Bytes wire) {
  const auto kind = static_cast<MessageKind>(wire.empty() ? 0 : wire[0]);
  dispatch(from, protocol::OutMessage{to, kind, std::move(wire)});
}

// Everything a node emitted in one step: messages to route, timers, and what the oracles,
// the counters and the trace record (executions, rejections, notes).
void Cluster::drain(NodeId node) {
  for (const auto& cmd : outbox_.timers) set_timer(node, cmd);
  for (const auto& rej : outbox_.rejections) {
    counters_.rejected++;
    counters_.rejected_by_reason[static_cast<std::size_t>(rej.reason)]++;
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
      if (const auto* st = std::get_if<protocol::note::StateTransferred>(&note)) {
        checker_.on_state_transfer(queue_.now_ns(), node, st->seq, st->digest);
      }
    }
    for (const auto& ex : outbox_.executions) {
      const std::uint64_t h = boost::endian::load_big_u64(ex.batch_digest.bytes.data());  // the digest's first 8 bytes
      trace(sim::TraceKind::Execute, node, node, 0, h, ex.seq, ex.view);
      checker_.on_execution(queue_.now_ns(), node, ex);
    }
    drain_replica_notes(node);
  } else {
    for (const auto& note : outbox_.notes) {
      const auto* done = std::get_if<protocol::note::Completed>(&note);
      if (done == nullptr) continue;
      checker_.on_client_accept(queue_.now_ns(), node, done->timestamp, done->result);
      if (observer_ != nullptr) observer_->on_completed(node, *done);
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

void Cluster::drain_replica_notes(ReplicaId r) {
  namespace note = protocol::note;
  const bool correct = !is_faulty_[r];
  const TimeNs now = queue_.now_ns();
  for (const auto& n : outbox_.notes) {
    if (const auto* e = std::get_if<note::ViewEntered>(&n)) {
      checker_.on_view_entered(now, r, e->view);
      if (correct) counters_.views_entered.insert(e->view);
      counters_.timeline.push_back({now, r, TimelineKind::View, e->view});
      trace_note(r, sim::NoteKind::ViewEntered, "entered view " + std::to_string(e->view), e->view, 0);
    } else if (const auto* s = std::get_if<note::ViewChangeStarted>(&n)) {
      trace_note(r, sim::NoteKind::ViewChangeStarted, "view change to " + std::to_string(s->view), s->view, 0);
    } else if (const auto* cs = std::get_if<note::CheckpointStable>(&n)) {
      checker_.on_stable_checkpoint(now, r, cs->seq, cs->digest);
      if (options_.record_trace) counters_.timeline.push_back({now, r, TimelineKind::StableCheckpoint, cs->seq});
    } else if (const auto* ct = std::get_if<note::CheckpointTaken>(&n)) {
      checker_.on_checkpoint(now, r, ct->seq, ct->digest);
    } else if (const auto* st = std::get_if<note::StateTransferred>(&n)) {
      if (correct) counters_.state_transfers++;
      counters_.timeline.push_back({now, r, TimelineKind::StateTransfer, st->seq});
      trace_note(r, sim::NoteKind::StateTransferred, "state transferred to seq " + std::to_string(st->seq), st->seq, 0);
    } else if (const auto* pc = std::get_if<note::PreparedCertificate>(&n)) {
      checker_.on_prepared_certificate(now, r, pc->view, pc->seq, pc->digest);
    } else if (const auto* cc = std::get_if<note::CheckpointCertificate>(&n)) {
      checker_.on_checkpoint_certificate(now, r, cc->seq, cc->digest);
    } else if (const auto* ca = std::get_if<note::CheckpointAdopted>(&n)) {
      checker_.on_checkpoint_adopted(now, r, ca->seq, ca->digest);
      if (options_.record_trace) counters_.timeline.push_back({now, r, TimelineKind::StableCheckpoint, ca->seq});
      trace_note(r, sim::NoteKind::CheckpointAdopted, "adopted checkpoint " + std::to_string(ca->seq) + " from the NEW-VIEW", ca->seq, 0);
    }
  }
}

faults::ByzantineContext Cluster::context(ReplicaId r, FaultRuntime& f) {
  if (!byzantine_crypto_[r]) byzantine_crypto_[r] = std::make_unique<protocol::NodeCrypto>(keys_, r);
  return faults::ByzantineContext{config_, r, *byzantine_crypto_[r], f.rng, queue_.now_ns(),
                                  options_.clients, &f.coalition, options_.client_slots};
}

// A faulty replica's messages pass through its active behaviours, in fault order.
void Cluster::send_from_replica(ReplicaId r, protocol::OutMessage&& msg) {
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
void Cluster::note_sent_vote(ReplicaId r, const protocol::OutMessage& msg) {
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
void Cluster::dispatch(NodeId from, protocol::OutMessage&& msg) {
  std::uint32_t recipients = 1;
  if (msg.to == protocol::kAllReplicas) {
    recipients = config_.n - (from < config_.n ? 1 : 0);
  } else if (msg.to >= nodes_) {
    return;  // a behaviour addressed nobody
  }
  if (recipients == 0) return;
  const sim::PayloadId payload = pool_.put_swap(msg.wire, recipients);
  outbox_.give_buffer(std::move(msg.wire));  // the pool's old buffer, for the next message
  // Summarised once for every recipient's lines, and only when the trace is kept.
  const std::string summary = trace_.recording() ? protocol::summarize(pool_.bytes(payload)) : std::string();
  if (msg.to != protocol::kAllReplicas) {
    route(from, msg.to, payload, msg.kind, summary);
    return;
  }
  for (NodeId to = 0; to < config_.n; ++to) {
    if (to != from) route(from, to, payload, msg.kind, summary);
  }
}

void Cluster::route(NodeId from, NodeId to, sim::PayloadId payload, MessageKind kind, std::string_view summary) {
  counters_.sent++;
  counters_.sent_by_kind[static_cast<std::size_t>(kind)]++;
  counters_.sent_bytes_by_kind[static_cast<std::size_t>(kind)] += pool_.bytes(payload).size();
  const std::uint64_t hash = pool_.content_hash(payload);
  const auto tag = static_cast<std::uint32_t>(kind);
  trace(sim::TraceKind::Send, from, to, tag, hash, 0, 0, summary);
  const LinkFate fate = links_.transmit(from, to, pool_.bytes(payload), queue_.now_ns());
  if (fate.copies == 0) {
    counters_.dropped++;
    trace(sim::TraceKind::Drop, from, to, tag, hash, static_cast<std::uint64_t>(fate.cause),
          fate.cause == LossCause::Fault ? fate.fault_index : 0, summary);
    pool_.release(payload);
    return;
  }
  if (fate.copies == 2) pool_.add_reference(payload);
  in_flight_ += fate.copies;
  for (std::uint32_t i = 0; i < fate.copies; ++i) {
    queue_.post(sim::Event{queue_.now_ns() + fate.delay_ns[i], 0, kDeliver, to, payload, from});
  }
}

void Cluster::set_timer(NodeId node, const protocol::TimerCommand& cmd) {
  sim::EventHandle& handle = timers_[std::size_t{node} * protocol::kTimerKinds + static_cast<std::size_t>(cmd.kind)];
  if (handle.valid()) queue_.cancel(handle);
  handle = {};
  if (cmd.cancel) return;
  // timer_skew: this node's clock runs fast (or slow); the deadline saturates.
  const double factor = node < config_.n ? timer_skew_[node] : 1.0;
  handle = queue_.schedule(sim::Event{sim::skewed_deadline(queue_.now_ns(), cmd.delay_ns, factor), 0, kTimer, node,
                                      static_cast<std::uint64_t>(cmd.kind), 0});
}

void Cluster::cancel_timers(NodeId node) {
  for (std::uint32_t k = 0; k < protocol::kTimerKinds; ++k) {
    sim::EventHandle& handle = timers_[std::size_t{node} * protocol::kTimerKinds + k];
    if (handle.valid()) queue_.cancel(handle);
    handle = {};
  }
}

// "primary": the primary of the highest view any correct replica is in, right now.
std::vector<ReplicaId> Cluster::resolve(const faults::FaultSpec& spec) const {
  std::vector<ReplicaId> out = spec.replicas;
  if (spec.replicas_is_primary) {
    protocol::ViewNumber view = 0;
    for (ReplicaId r = 0; r < config_.n; ++r) {
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

void Cluster::mark_faulty(ReplicaId r) {
  faulty_.insert(r);
  is_faulty_[r] = true;
  checker_.mark_faulty(r);
}

void Cluster::fault_start(std::uint32_t index) {
  FaultRuntime& f = faults_[index];
  f.replicas = resolve(f.spec);
  f.active = true;
  std::string who;
  for (auto r : f.replicas) {
    if (!who.empty()) who += ",";
    who += std::to_string(r);
  }
  trace_note(0, sim::NoteKind::FaultStarted,
             std::string("fault ") + faults::fault_kind_name(f.spec.kind) + " starts on [" + who + "]", index, 1);
  if (faults::fault_kind_is_faulty(f.spec.kind)) {
    for (auto r : f.replicas) mark_faulty(r);
  }
  if (faults::fault_kind_is_faulty(f.spec.kind) && f.spec.kind != FaultKind::Crash) {
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
          counters_.timeline.push_back({queue_.now_ns(), r, TimelineKind::Crash, 0});
        }
        if (f.spec.restart_ns) {
          queue_.schedule(sim::Event{std::max(*f.spec.restart_ns, queue_.now_ns()), 0, kRestart, r, index, 0});
        }
      }
      return;
    case FaultKind::Delay:
    case FaultKind::Drop:
    case FaultKind::Partition:
      if (f.spec.replicas_is_primary) links_.resolve_fault(index, f.replicas);
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

std::uint32_t Cluster::add_fault(faults::Coalition coalition) {
  const auto index = static_cast<std::uint32_t>(faults_.size());
  faults::FaultSpec spec;
  spec.from_ns = queue_.now_ns();
  faults_.push_back(FaultRuntime{spec, {}, true, std::move(coalition), {},
                                 sim::make_stream(options_.seed, "fault/" + std::to_string(index))});
  return index;
}

void Cluster::add_behaviour(std::uint32_t fault_index, ReplicaId r, std::unique_ptr<faults::Behaviour> behaviour) {
  FaultRuntime& f = faults_[fault_index];
  f.replicas.push_back(r);
  mark_faulty(r);
  vote_watch_[r] = false;  // a Byzantine replica may vote twice
  if (behaviour->tick_interval_ns() > 0) {
    queue_.schedule(sim::Event{queue_.now_ns() + behaviour->tick_interval_ns(), 0, kTick, r, fault_index, 0});
  }
  f.behaviours.emplace_back(r, std::move(behaviour));
}

faults::Behaviour* Cluster::behaviour(std::uint32_t fault_index, ReplicaId r) {
  for (auto& [owner, b] : faults_[fault_index].behaviours) {
    if (owner == r) return b.get();
  }
  return nullptr;
}

const faults::Coalition& Cluster::coalition(std::uint32_t fault_index) const { return faults_[fault_index].coalition; }

void Cluster::fault_end(std::uint32_t index) {
  FaultRuntime& f = faults_[index];
  if (!f.active) return;
  f.active = false;
  trace_note(0, sim::NoteKind::FaultEnded, std::string("fault ") + faults::fault_kind_name(f.spec.kind) + " ends", index, 0);
  if (f.spec.kind == FaultKind::TimerSkew) {
    for (auto r : f.replicas) timer_skew_[r] = 1.0;
  }
  f.behaviours.clear();  // the replicas' own traffic flows unchanged again
}

void Cluster::restart(ReplicaId r) {
  assert(crashed_[r]);
  assert(crashes_in_force_[r] > 0);
  if (--crashes_in_force_[r] > 0) return;  // another crash of it is still in force
  crashed_[r] = false;
  replicas_[r] = std::make_unique<protocol::Replica>(config_, r, keys_, true, options_.defect);
  counters_.timeline.push_back({queue_.now_ns(), r, TimelineKind::Restart, 0});
  trace_note(r, sim::NoteKind::Restarted, "restarted with no state", 0, 0);
}

void Cluster::tick(ReplicaId r, std::uint32_t index) {
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

void Cluster::add_crypto_counters(protocol::CryptoCounters& out) const {
  for (const auto& r : replicas_) {
    if (r) out.add(r->crypto_counters());
  }
  for (const auto& c : clients_) out.add(c->crypto_counters());
  for (const auto& b : byzantine_crypto_) {
    if (b) out.add(b->counters());
  }
}

}  // namespace host
