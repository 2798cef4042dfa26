// Replica: construction, the step() entry point, the checks every message needs, sending,
// timers and invariants. The protocol phases live in replica_normal.cpp (requests and the
// three phases), replica_checkpoint.cpp (checkpoints, state transfer), replica_status.cpp
// (retransmission), replica_view_change.cpp (VIEW-CHANGE and its acks) and
// replica_new_view.cpp (NEW-VIEW); the view change's decision procedure is
// view_change_decision.cpp.
#include "protocol/replica.h"

#include <algorithm>
#include <cassert>

namespace protocol {

std::uint64_t ReplicaStats::rejected_total() const {
  std::uint64_t total = 0;
  for (auto v : rejected) total += v;
  return total;
}

Replica::Replica(const PbftConfig& config, ReplicaId self, const KeyRing& keys,
                 bool recovering, Defect defect)
    : config_(config),
      self_(self),
      defect_(defect),
      crypto_(std::make_unique<NodeCrypto>(keys, self)),
      passive_(recovering && !planted(defect, Defect::RecoverActive)) {
  assert(config_.validate().empty());
  assert(self_ < config_.n);
  log_.resize(config_.log_window);
  ring_base_ = (stable_seq_ + 1) % config_.log_window;
  const std::size_t votes = std::size_t{config_.log_window} * config_.n;
  prepare_votes_.resize(votes);
  commit_votes_.resize(votes);
  for (std::size_t i = 0; i < log_.size(); ++i) {
    log_[i].prepares = std::span<VoteRecord>(prepare_votes_).subspan(i * config_.n, config_.n);
    log_[i].commits = std::span<VoteRecord>(commit_votes_).subspan(i * config_.n, config_.n);
  }
  latest_checkpoint_.resize(config_.n);
  laggard_asks_.assign(config_.n, 0);
  early_entries_by_sender_.assign(config_.n, 0);
  fetch_awaiting_.assign(config_.n, false);
  state_replies_sent_.assign(config_.n, 0);
  early_bytes_by_sender_.assign(config_.n, 0);
  for (ReplicaId r = 0; r < config_.n; ++r) {
    all_replicas_.push_back(r);
    if (r != self_) other_replicas_.push_back(r);
  }
  // The genesis checkpoint (seq 0) is stable by definition and identical everywhere.
  genesis_digest_ = current_state_digest();
  stable_digest_ = genesis_digest_;
  own_checkpoints_[0] = OwnCheckpoint{stable_digest_, snapshot()};
}

void Replica::step(const Input& input, Outbox& out) {
  assert(out_ == nullptr);
  out_ = &out;
  if (input.kind == Input::Kind::Timer) {
    timer_armed_[static_cast<std::size_t>(input.timer)] = false;
    on_timer(input.timer);
  } else {
    on_wire(input.from, input.wire);
  }
  // Buffered messages are replayed here, never inside a handler: a replayed message may
  // itself move the window or install a view, hence a few passes (bounded per step).
  for (std::uint32_t pass = 0; replay_due_ && pass < kReplayPassesMax; ++pass) {
    replay_due_ = false;
    replay_early();
  }
  issue_batches();
  // The O(1) checks run after every step, together with the one slot the step last took;
  // the walk over the whole window runs every kFullCheckSteps steps (and after every
  // garbage collection, which walks the window anyway). Checking the whole window after
  // every message made the checks cost more than the protocol (O(log_window) per message);
  // this way they stay O(1) amortised and every slot is still checked often.
  constexpr std::uint64_t kFullCheckSteps = 256;
  check_invariants();
  if (touched_ != nullptr && touched_->seq != 0) check_slot(*touched_);
  touched_ = nullptr;
  if (++steps_ % kFullCheckSteps == 0 || full_check_due_) check_invariants_full();
  full_check_due_ = false;
  out_ = nullptr;
}

void Replica::on_timer(TimerKind kind) {
  switch (kind) {
    case TimerKind::ViewChange:
      if (passive_) return;
      on_view_change_timer();
      return;
    case TimerKind::Batch:
      if (is_primary() && !passive_) issue_one_batch();
      return;
    case TimerKind::StateFetch:
      if (fetch_seq_ != 0) {
        send_fetch();  // the last peer asked did not answer: ask the next
      } else if (pending_seq_ > last_executed_) {
        fetch_pending_checkpoint();  // execution did not reach the certified checkpoint in time
      }
      return;
    case TimerKind::Status:
      on_status_timer();
      return;
    case TimerKind::ClientRetry:
      return;  // not a replica timer
  }
}

// The checks every message needs, then dispatch by kind.
void Replica::on_wire(NodeId from, ByteView wire) {
  auto env = parse_envelope(wire);
  if (!env.ok()) {
    reject(RejectReason::Malformed, from, MessageKind::Request);
    return;
  }
  const Envelope& e = env.value;
  const bool from_replica = e.sender < config_.n;
  if (e.kind == MessageKind::Request ? from_replica : !from_replica) {
    reject(RejectReason::WrongSender, from, e.kind);  // clients and replicas keep their roles
    return;
  }
  if (e.kind == MessageKind::Reply || (from_replica && e.sender == self_)) {
    reject(RejectReason::WrongSender, from, e.kind);  // replies are for clients; no echoes
    return;
  }
  if (e.kind == MessageKind::ViewChange) {
    if (const ValidViewChange* held = held_view_change_wire(e)) {
      // Byte for byte a VIEW-CHANGE we authenticated and hold already (a retransmission):
      // nothing to verify again. Its sender re-sends it when the view change drags on, and
      // our ack to the primary may be what was lost.
      stats_.duplicates++;
      if (status_ == Status::ViewChange && held->body.new_view == view_) send_view_change_ack(view_, *held);
      return;
    }
  }
  std::optional<MessageDigest> content_digest;
  if (!crypto_->verify(e, &content_digest) && !planted(defect_, Defect::BadMacAccepted)) {
    reject(RejectReason::BadAuth, from, e.kind);
    return;
  }
  switch (e.kind) {
    case MessageKind::Request: on_request(from, e, content_digest); return;
    case MessageKind::PrePrepare: on_pre_prepare(e); return;
    case MessageKind::Prepare:
    case MessageKind::Commit: on_vote(e); return;
    case MessageKind::Checkpoint: on_checkpoint(e); return;
    case MessageKind::ViewChange: on_view_change(from, e); return;
    case MessageKind::NewView: on_new_view(e); return;
    case MessageKind::FetchState: on_fetch_state(e); return;
    case MessageKind::StateReply: on_state_reply(e); return;
    case MessageKind::Status: on_status(e); return;
    case MessageKind::ViewChangeAck: on_view_change_ack(e); return;
    case MessageKind::FetchBatch: on_fetch_batch(e); return;
    case MessageKind::Batch: on_batch(e); return;
    case MessageKind::Reply: return;  // refused above
  }
}

std::optional<Envelope> Replica::open_embedded(ByteView wire, MessageKind kind) {
  auto env = parse_envelope(wire);
  if (!env.ok() || env.value.kind != kind || env.value.sender >= config_.n) return std::nullopt;
  // A NEW-VIEW's O is sealed for every replica, its sender included.
  if (!crypto_->verify(env.value)) return std::nullopt;
  return env.value;
}

void Replica::reject(RejectReason reason, NodeId from, MessageKind kind) {
  stats_.rejected[static_cast<std::size_t>(reason)]++;
  out_->rejections.push_back(Rejection{reason, from, kind});
}

// Multicast to every other replica. Kinds a peer may forward back to the sender (a
// PRE-PREPARE inside a BATCH, CHECKPOINTs of a stable checkpoint's proof) carry an
// authenticator entry for the sender too, so it can check its own message.
void Replica::multicast(Bytes&& content, MessageKind kind) {
  const bool embeddable = kind == MessageKind::PrePrepare || kind == MessageKind::Checkpoint;
  crypto_->seal_in_place(content, embeddable ? all_replicas_ : other_replicas_);
  out_->messages.push_back(OutMessage{kAllReplicas, kind, std::move(content)});
}

void Replica::send_to(NodeId to, Bytes&& content, MessageKind kind) {
  assert(to != self_);
  const NodeId receivers[1] = {to};
  crypto_->seal_in_place(content, receivers);
  out_->messages.push_back(OutMessage{to, kind, std::move(content)});
}

void Replica::set_timer(TimerKind kind, std::int64_t delay_ns) {
  assert(delay_ns > 0);
  timer_armed_[static_cast<std::size_t>(kind)] = true;
  out_->timers.push_back(TimerCommand{kind, false, delay_ns});
}

void Replica::cancel_timer(TimerKind kind) {
  if (!timer_armed_[static_cast<std::size_t>(kind)]) return;
  timer_armed_[static_cast<std::size_t>(kind)] = false;
  out_->timers.push_back(TimerCommand{kind, true, 0});
}

bool Replica::in_window(SequenceNumber seq) const {
  return seq > stable_seq_ && seq <= stable_seq_ + config_.log_window;
}

Replica::Slot& Replica::slot_for(SequenceNumber seq) {
  assert(in_window(seq));
  Slot& slot = log_[ring_index(seq)];
  if (slot.seq != seq) {
    // The window moved past the old occupant (garbage collection leaves it free).
    assert(slot.seq == 0 || slot.seq <= stable_seq_);
    // Keep the buffers (votes, wires, requests): no allocation per sequence number.
    const auto prepares = slot.prepares;
    const auto commits = slot.commits;
    auto pp_wire = std::move(slot.pre_prepare_wire);
    auto requests = std::move(slot.requests);
    auto own_prepare = std::move(slot.own_prepare_wire);
    auto own_commit = std::move(slot.own_commit_wire);
    slot = Slot{};
    for (auto& v : prepares) v.present = false;
    for (auto& v : commits) v.present = false;
    pp_wire.clear();
    // The requests' buffers go to the spares decode_batch draws from.
    constexpr std::size_t kSpareRequestsMax = 64;
    for (auto& r : requests) {
      if (spare_requests_.size() < kSpareRequestsMax) spare_requests_.push_back(std::move(r));
    }
    requests.clear();
    slot.prepares = prepares;
    slot.commits = commits;
    slot.pre_prepare_wire = std::move(pp_wire);
    slot.requests = std::move(requests);
    own_prepare.clear();
    own_commit.clear();
    slot.own_prepare_wire = std::move(own_prepare);
    slot.own_commit_wire = std::move(own_commit);
    slot.seq = seq;
    log_entries_++;
  }
  touched_ = &slot;
  return slot;
}

const Replica::Slot* Replica::find_slot(SequenceNumber seq) const {
  if (!in_window(seq)) return nullptr;
  const Slot& slot = log_[ring_index(seq)];
  return slot.seq == seq ? &slot : nullptr;
}

// O(1): bounds and orderings that do not need a walk over the window.
void Replica::check_invariants() const {
  assert(log_.size() == config_.log_window);
  assert(log_entries_ <= config_.log_window);
  assert(last_executed_ >= stable_seq_ || fetch_seq_ != 0 || passive_);
  assert(last_executed_ <= stable_seq_ + config_.log_window);
  assert(early_.size() <= config_.early_buffer_max);
  assert(early_bytes_ <= kEarlyBytesMax);
  assert(early_entries_by_sender_.size() == config_.n && early_bytes_by_sender_.size() == config_.n);
  assert(known_requests_.size() <= config_.request_queue_max);
  assert(own_checkpoints_.size() <= config_.log_window / config_.checkpoint_interval + 2);
  assert(checkpoint_votes_.size() <= config_.log_window / config_.checkpoint_interval + 1);
  assert(view_changes_.size() <= std::size_t{config_.n} * kViewChangesPerSender + 1);
  assert(own_view_changes_.size() <= kOwnViewChangesKept);
  assert(!view_change_quorum_ || status_ == Status::ViewChange);
  assert(!asked_for_new_view_ || view_change_quorum_);
  assert(laggard_asks_.size() == config_.n);
  assert(fetch_awaiting_.size() == config_.n && state_replies_sent_.size() == config_.n);
  assert(next_seq_ >= 1);
}

void Replica::check_slot(const Slot& slot) const {
  // Nothing at or below the stable checkpoint survives garbage collection, and nothing
  // beyond the high watermark is ever admitted.
  assert(slot.seq == 0 || (slot.seq > stable_seq_ && slot.seq <= high_watermark()));
  assert(slot.seq == 0 || &log_[ring_index(slot.seq)] == &slot);
  // prepared and committed are latches: each was set on a quorum (asserted in
  // advance_slot), and a later vote for a higher view may replace a sender's vote and lower
  // the live counts without undoing what the certificate proved (found by `pbftsim fuzz`).
  assert(!slot.committed || slot.has_pre_prepare);
  assert(!slot.prepared || slot.has_p);
  assert(!slot.has_held || !slot.held_wire.empty());
  // What prepared here was pre-prepared here (VIEW-CHANGE's P within its Q).
  assert(!slot.has_p || slot.p_view <= slot.pp_view);
  assert(!slot.has_p || (slot.has_pre_prepare && slot.digest == slot.p_digest) ||
         std::any_of(slot.older_pre_prepares.begin(), slot.older_pre_prepares.end(),
                     [&](const Slot::PrePrepared& q) { return q.digest == slot.p_digest && q.view >= slot.p_view; }));
  assert(slot.older_pre_prepares.size() <= kOlderPrePreparesMax);
  assert(slot.prepare_matches < config_.n && slot.commit_matches <= config_.n);
  assert(slot.prepares.size() == config_.n && slot.commits.size() == config_.n);
  (void)slot;
}

// O(log_window): every slot, and the occupancy count against a recount.
void Replica::check_invariants_full() const {
  check_invariants();
  assert(ring_base_ == (stable_seq_ + 1) % config_.log_window);
  std::size_t occupied = 0;
  for (const auto& slot : log_) {
    check_slot(slot);
    assert(slot.seq == 0 || ring_index(slot.seq) == slot.seq % config_.log_window);
    occupied += slot.seq != 0;
  }
  assert(occupied == log_entries_);
  (void)occupied;
}

MessageDigest Replica::current_state_digest() const { return sha256(snapshot()); }

const char* timer_kind_name(TimerKind kind) {
  switch (kind) {
    case TimerKind::ViewChange: return "view_change";
    case TimerKind::Batch: return "batch";
    case TimerKind::StateFetch: return "state_fetch";
    case TimerKind::ClientRetry: return "client_retry";
    case TimerKind::Status: return "status";
  }
  return "unknown";
}

const char* reject_reason_name(RejectReason reason) {
  static constexpr const char* kNames[kRejectReasons] = {
      "malformed", "bad_auth", "wrong_sender", "wrong_view", "out_of_window", "conflict",
      "bad_digest", "stale", "buffer_full", "bad_certificate", "bad_new_view", "bad_state"};
  const auto i = static_cast<std::size_t>(reason);
  return i < kRejectReasons ? kNames[i] : "unknown";
}

}  // namespace protocol
