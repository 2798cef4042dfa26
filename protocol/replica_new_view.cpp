// Replica: the NEW-VIEW of the TOCS '02 view change: the new primary's decision over the
// VIEW-CHANGEs it accepted (view_change_decision.cpp) and the batches it needs, a backup's
// check of a NEW-VIEW against the VIEW-CHANGEs it names, and installing the view in one step.
// The VIEW-CHANGE side is replica_view_change.cpp.
//
// Installing a view is atomic: enter the view, move to the chosen checkpoint, lay O into the
// log, and only then (from step(), never from inside this handler) replay the messages
// buffered for the view through the ordinary checks. So no message of the new view is looked
// at before O, and O never meets a PRE-PREPARE of its own view already in the log (asserted
// where O is laid).
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {
namespace {

// The decision a NEW-VIEW states (its checkpoint and O), for the planted defect that takes
// it without running the procedure; an O entry that does not decode is claimed as seq 0,
// which no check accepts.
NewViewDecision decision_of(const NewView& nv) {
  NewViewDecision stated{true, nv.checkpoint_seq, nv.checkpoint_digest, {}, 0};
  for (const auto& wire : nv.pre_prepares) {
    auto env = parse_envelope(wire);
    auto pp = env.ok() ? decode_pre_prepare(env.value.body) : Decoded<PrePrepare>{{}, "malformed"};
    stated.chosen.push_back(pp.ok() ? SlotClaim{pp.value.seq, pp.value.view, pp.value.digest} : SlotClaim{});
  }
  return stated;
}

}  // namespace

void Replica::maybe_send_new_view() {
  if (status_ != Status::ViewChange || config_.primary(view_) != self_ || new_view_sent_) return;
  auto held = view_changes_.find(view_);
  if (held == view_changes_.end()) return;
  std::vector<const ViewChange*> set;
  std::vector<const ValidViewChange*> members;
  for (const auto& [sender, vc] : held->second) {
    if (!vc.accepted) continue;
    set.push_back(&vc.body);
    members.push_back(&vc);
  }
  if (set.size() < config_.quorum()) return;
  const NewViewDecision decision = decide_new_view(config_, set, defect_);
  if (!decision.decided) return;  // wait for more VIEW-CHANGEs (or the timer)
  // A3: the primary must hold every chosen batch; it asks the replicas whose Q has it (f+1
  // do, by A2, so a correct one) for those it lacks.
  std::vector<Bytes> o;
  bool missing = false;
  std::vector<ConsensusRequest> requests;
  for (const SlotClaim& chosen : decision.chosen) {
    PrePrepare pp{view_, chosen.seq, chosen.digest, {}};
    if (chosen.digest != null_batch_digest()) {
      const Bytes* wire = find_batch(chosen.seq, chosen.digest);
      if (wire == nullptr) {
        missing = true;
        const auto key = std::make_pair(chosen.seq, chosen.digest);
        if (std::find(batches_wanted_.begin(), batches_wanted_.end(), key) != batches_wanted_.end()) continue;
        batches_wanted_.push_back(key);
        for (const ValidViewChange* vc : members) {
          const auto& q = vc->body.pre_prepared;
          const bool has = std::any_of(q.begin(), q.end(), [&](const SlotClaim& c) { return c.seq == chosen.seq && c.digest == chosen.digest; });
          if (has && vc->sender != self_) {
            send_to(vc->sender, encode_fetch_batch(self_, FetchBatch{chosen.seq, chosen.digest}), MessageKind::FetchBatch);
          }
        }
        continue;
      }
      auto env = parse_envelope(*wire);
      auto old = env.ok() ? decode_pre_prepare(env.value.body) : Decoded<PrePrepare>{{}, "malformed"};
      assert(old.ok() && old.value.digest == chosen.digest);  // checked when it was kept
      pp.batch = std::move(old.value.batch);
    }
    if (!missing) o.push_back(crypto_->seal(encode_pre_prepare(self_, pp), all_replicas_));
  }
  if (missing) return;
  NewView nv{view_, {}, decision.checkpoint_seq, decision.checkpoint_digest, std::move(o)};
  std::vector<Bytes> named;
  std::vector<ReplicaId> holders;
  const CheckpointClaim chosen_checkpoint{decision.checkpoint_seq, decision.checkpoint_digest};
  for (const ValidViewChange* vc : members) {
    nv.view_changes.push_back(ViewChangeRef{vc->sender, vc->digest});  // ascending: the map's order
    named.push_back(vc->wire);
    const auto& c = vc->body.checkpoints;
    if (std::find(c.begin(), c.end(), chosen_checkpoint) != c.end()) holders.push_back(vc->sender);
  }
  new_view_sent_ = true;
  multicast(encode_new_view(self_, nv), MessageKind::NewView);
  Bytes wire = out_->messages.back().wire;
  install_new_view(view_, decision, holders, nv.pre_prepares, std::move(named));
  new_view_wire_ = std::move(wire);
}

const Bytes* Replica::find_batch(SequenceNumber seq, const MessageDigest& digest) const {
  auto fetched = fetched_batches_.find(std::make_pair(seq, digest));
  if (fetched != fetched_batches_.end()) return &fetched->second;
  const Slot* slot = find_slot(seq);
  if (slot == nullptr) return nullptr;
  if (slot->has_pre_prepare && slot->digest == digest && !slot->pre_prepare_wire.empty()) return &slot->pre_prepare_wire;
  for (const auto& older : slot->older_pre_prepares) {
    if (older.digest == digest && !older.wire.empty()) return &older.wire;
  }
  // A held PRE-PREPARE's batch hashes to its digest; the decision chose it on f+1 Q entries.
  if (slot->has_held && slot->held_digest == digest) return &slot->held_wire;
  return nullptr;
}

// Only the primary of a view being changed to asks, while it decides: that is our view if we
// are changing to it, or one just ahead that we have not joined yet. Anyone else's FETCH-BATCH
// gets nothing (a faulty replica could otherwise draw batch after batch).
void Replica::on_fetch_batch(const Envelope& env) {
  auto decoded = decode_fetch_batch(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  bool asker_may = status_ == Status::ViewChange && env.sender == config_.primary(view_);
  for (ViewNumber ahead = 1; ahead <= kEarlyViewsAhead && view_ <= kViewMax - ahead; ++ahead) {
    asker_may = asker_may || env.sender == config_.primary(view_ + ahead);
  }
  if (!asker_may) return reject(RejectReason::WrongSender, env.sender, env.kind);
  const Bytes* wire = find_batch(decoded.value.seq, decoded.value.digest);
  if (wire == nullptr) {
    stats_.duplicates++;  // we do not hold it: another holder will answer
    return;
  }
  send_to(env.sender, encode_batch(self_, Batch{*wire}), MessageKind::Batch);
}

// A batch we asked for: believed if it hashes to the digest the decision chose.
void Replica::on_batch(const Envelope& env) {
  auto decoded = protocol::decode_batch(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  auto inner = parse_envelope(decoded.value.pre_prepare);
  if (!inner.ok() || inner.value.kind != MessageKind::PrePrepare) return reject(RejectReason::Malformed, env.sender, env.kind);
  auto pp = decode_pre_prepare(inner.value.body);
  if (!pp.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const auto key = std::make_pair(pp.value.seq, pp.value.digest);
  if (status_ != Status::ViewChange || new_view_sent_ ||
      std::find(batches_wanted_.begin(), batches_wanted_.end(), key) == batches_wanted_.end() ||
      fetched_batches_.count(key) != 0) {
    stats_.duplicates++;  // not asked for, or answered already
    return;
  }
  std::vector<ConsensusRequest> requests;
  if (!decode_batch_as(pp.value, requests, false) || digest_of_batch(requests) != pp.value.digest) {
    return reject(RejectReason::BadDigest, env.sender, env.kind);
  }
  fetched_batches_[key] = std::move(decoded.value.pre_prepare);
  maybe_send_new_view();
}

void Replica::on_new_view(const Envelope& env) {
  auto decoded = decode_new_view(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const NewView& nv = decoded.value;
  if (nv.view == kViewMax) return reject(RejectReason::Malformed, env.sender, env.kind);
  if (env.sender != config_.primary(nv.view) || nv.view == 0) {
    return reject(RejectReason::WrongSender, env.sender, env.kind);
  }
  if (nv.view < view_ || (nv.view == view_ && status_ == Status::Normal)) {
    stats_.duplicates++;
    return;
  }
  NewViewDecision decision;
  std::vector<Bytes> named;
  std::vector<ReplicaId> holders;
  switch (check_new_view(nv, decision, named, holders)) {
    case NewViewCheck::Pending: {
      // Kept until the VIEW-CHANGEs it names arrive: their senders re-send them when our
      // STATUS shows them missing, the primary relays them. One is kept, the lowest view in
      // reach: the primary of a view further ahead (faulty, perhaps) cannot push out the
      // NEW-VIEW of the view we are changing to.
      if (!early_view_in_reach(nv.view)) return reject(RejectReason::WrongView, env.sender, env.kind);
      ViewNumber pending_view = kViewMax;
      if (!pending_new_view_.empty()) {
        auto old = parse_envelope(pending_new_view_);
        auto old_nv = old.ok() ? decode_new_view(old.value.body) : Decoded<NewView>{{}, "malformed"};
        if (old_nv.ok() && old_nv.value.view >= view_) pending_view = old_nv.value.view;
      }
      if (nv.view <= pending_view) pending_new_view_.assign(env.wire.begin(), env.wire.end());
      stats_.duplicates++;
      return;
    }
    case NewViewCheck::Reject:
      reject(RejectReason::BadNewView, env.sender, env.kind);
      // §4.4: a backup *waiting* for NEW-VIEW(v) that gets a bad one knows v's primary is
      // faulty and moves on to v+1. From anyone else it is no evidence: the primary of some
      // view ahead of ours (or of ours, once installed) could otherwise force view changes
      // on correct replicas at will, to any view and as often as it likes.
      if (status_ == Status::ViewChange && nv.view == view_) start_view_change(view_ + 1);
      return;
    case NewViewCheck::Accept: break;
  }
  install_new_view(nv.view, decision, holders, nv.pre_prepares, std::move(named));
  new_view_wire_.assign(env.wire.begin(), env.wire.end());
}

bool Replica::pending_names(ViewNumber view, ReplicaId sender, const MessageDigest& digest) const {
  if (pending_new_view_.empty()) return false;
  auto env = parse_envelope(pending_new_view_);
  auto nv = env.ok() ? decode_new_view(env.value.body) : Decoded<NewView>{{}, "malformed"};
  if (!nv.ok() || nv.value.view != view) return false;
  const ViewChangeRef ref{sender, digest};
  return std::find(nv.value.view_changes.begin(), nv.value.view_changes.end(), ref) != nv.value.view_changes.end();
}

void Replica::retry_pending_new_view() {
  if (pending_new_view_.empty()) return;
  const Bytes wire = std::move(pending_new_view_);
  pending_new_view_.clear();
  auto env = parse_envelope(wire);
  auto nv = env.ok() ? decode_new_view(env.value.body) : Decoded<NewView>{{}, "malformed"};
  assert(nv.ok());  // it decoded when it arrived
  if (!nv.ok() || nv.value.view < view_ || (nv.value.view == view_ && status_ == Status::Normal)) return;
  NewViewDecision decision;
  std::vector<Bytes> named;
  std::vector<ReplicaId> holders;
  switch (check_new_view(nv.value, decision, named, holders)) {
    case NewViewCheck::Pending: pending_new_view_ = wire; return;
    case NewViewCheck::Reject:
      reject(RejectReason::BadNewView, env.value.sender, MessageKind::NewView);
      if (status_ == Status::ViewChange && nv.value.view == view_) start_view_change(view_ + 1);
      return;
    case NewViewCheck::Accept: break;
  }
  install_new_view(nv.value.view, decision, holders, nv.value.pre_prepares, std::move(named));
  new_view_wire_ = wire;
}

// A NEW-VIEW holds iff V names at least a quorum of distinct replicas (ascending), we hold
// each named VIEW-CHANGE (authenticated for us, its digest the one named), our own run of the
// decision procedure on exactly those gives the NEW-VIEW's checkpoint and, per sequence number,
// O's digest, and each PRE-PREPARE in O is the primary's, of the view, with a batch that
// hashes to its digest. Anything else the primary could only have built wrongly on purpose.
Replica::NewViewCheck Replica::check_new_view(const NewView& nv, NewViewDecision& decision, std::vector<Bytes>& named,
                                              std::vector<ReplicaId>& holders) {
  if (nv.view_changes.size() < config_.quorum() || nv.view_changes.size() > config_.n) return NewViewCheck::Reject;
  for (std::size_t i = 0; i < nv.view_changes.size(); ++i) {
    const ViewChangeRef& ref = nv.view_changes[i];
    if (ref.replica >= config_.n || (i > 0 && ref.replica <= nv.view_changes[i - 1].replica)) return NewViewCheck::Reject;
  }
  auto held = view_changes_.find(nv.view);
  std::vector<const ValidViewChange*> members;
  for (const ViewChangeRef& ref : nv.view_changes) {
    if (held == view_changes_.end()) return NewViewCheck::Pending;
    auto vc = held->second.find(ref.replica);
    if (vc == held->second.end() || vc->second.digest != ref.digest) return NewViewCheck::Pending;
    members.push_back(&vc->second);
  }
  std::vector<const ViewChange*> set;
  for (const ValidViewChange* vc : members) set.push_back(&vc->body);
  decision = decide_new_view(config_, set, defect_);
  if (planted(defect_, Defect::NewViewUnchecked)) decision = decision_of(nv);  // X taken on the primary's word
  if (!decision.decided || decision.checkpoint_seq != nv.checkpoint_seq ||
      decision.checkpoint_digest != nv.checkpoint_digest || decision.chosen.size() != nv.pre_prepares.size()) {
    return NewViewCheck::Reject;
  }
  std::vector<ConsensusRequest> requests;
  for (std::size_t i = 0; i < nv.pre_prepares.size(); ++i) {
    auto env = open_embedded(nv.pre_prepares[i], MessageKind::PrePrepare);
    if (!env || env->sender != config_.primary(nv.view)) return NewViewCheck::Reject;
    auto pp = decode_pre_prepare(env->body);
    if (!pp.ok() || pp.value.view != nv.view || pp.value.seq != decision.chosen[i].seq ||
        pp.value.digest != decision.chosen[i].digest) {
      return NewViewCheck::Reject;
    }
    // The digest is the decision's (A2: a correct replica pre-prepared it, having
    // authenticated every request), so the batch is authentic if it hashes to it.
    if (!decode_batch_as(pp.value, requests, false) || digest_of_batch(requests) != pp.value.digest) {
      return NewViewCheck::Reject;
    }
  }
  const CheckpointClaim chosen_checkpoint{decision.checkpoint_seq, decision.checkpoint_digest};
  for (const ValidViewChange* vc : members) {
    named.push_back(vc->wire);
    const auto& c = vc->body.checkpoints;
    if (std::find(c.begin(), c.end(), chosen_checkpoint) != c.end()) holders.push_back(vc->sender);
  }
  return NewViewCheck::Accept;
}

void Replica::install_new_view(ViewNumber view, const NewViewDecision& decision, const std::vector<ReplicaId>& holders,
                               const std::vector<Bytes>& o_wires, std::vector<Bytes>&& named) {
  status_ = Status::Normal;
  view_ = view;
  view_change_quorum_ = false;
  asked_for_new_view_ = false;
  laggard_asks_.assign(config_.n, 0);
  // The STATE-REPLY budget per asker refills with each view as well as with each stable
  // checkpoint: when every reply to a laggard was lost, our checkpoint may never move
  // without it (n = 2), but a group that cannot progress changes views.
  std::fill(state_replies_sent_.begin(), state_replies_sent_.end(), 0);
  out_->notes.push_back(note::ViewEntered{view});
  cancel_timer(TimerKind::ViewChange);
  view_changes_.erase(view_changes_.begin(), view_changes_.upper_bound(view));
  view_change_acks_.erase(view_change_acks_.begin(), view_change_acks_.upper_bound(view));
  pending_new_view_.clear();
  fetched_batches_.clear();
  batches_wanted_.clear();
  new_view_named_ = std::move(named);
  deferred_o_.clear();
  install_checkpoint(decision, holders);
  const bool replay_first = planted(defect_, Defect::ReplayBeforeNewView);
  if (replay_first) replay_early();
  SequenceNumber max_s = decision.checkpoint_seq;
  for (const auto& wire : o_wires) {
    auto env = parse_envelope(wire);
    auto pp = decode_pre_prepare(env.value.body);
    assert(env.ok() && pp.ok());
    max_s = std::max(max_s, pp.value.seq);
    if (pp.value.seq <= stable_seq_) continue;
    if (!in_window(pp.value.seq)) {
      // Beyond our window (we kept our certified checkpoint below the chosen one): laid when
      // the window moves (lay_deferred_o). Not through the early buffer: the primary would
      // refuse its own PRE-PREPARE coming back, and O is checked already.
      deferred_o_.push_back(wire);
      continue;
    }
    Slot& slot = slot_for(pp.value.seq);
    // Nothing of this view has been looked at yet (its early messages are replayed after O),
    // so only a passive replica, which follows PRE-PREPAREs of views ahead without voting,
    // can hold one for it already; O is the view's word on the seq.
    assert(!slot.has_pre_prepare || slot.pp_view < view || passive_ || replay_first);
    if (slot.has_pre_prepare && slot.pp_view == view && slot.digest == pp.value.digest) continue;
    if (replay_first) slot.prepares[self_].present = false;
    std::vector<ConsensusRequest> requests;
    if (!decode_batch_as(pp.value, requests, false)) continue;  // checked by check_new_view
    accept_pre_prepare(slot, pp.value, wire, std::move(requests));
  }
  reproposed_high_ = std::min(max_s, last_executed_);  // O re-proposes these: see status_low_mark
  next_seq_ = std::max(max_s, stable_seq_) + 1;
  reset_proposals_for_view();
  replay_due_ = true;  // the view's early messages, through the normal checks, after O
}

void Replica::install_checkpoint(const NewViewDecision& decision, const std::vector<ReplicaId>& holders) {
  const SequenceNumber h = decision.checkpoint_seq;
  const MessageDigest& digest = decision.checkpoint_digest;
  if (h <= stable_seq_) return;
  // Stable outright if we hold its certificate (a quorum of matching CHECKPOINTs).
  std::vector<Bytes> proof = checkpoint_certificate(h, digest);
  auto own = own_checkpoints_.find(h);
  const bool have = own != own_checkpoints_.end() && own->second.digest == digest;
  if (proof.size() >= config_.quorum()) {
    make_stable(h, digest, std::vector<Bytes>(proof));
  } else if (have) {
    // We computed that state ourselves: the low watermark stays where a quorum certified it
    // and moves when CHECKPOINTs for h make a quorum (ours went out when we executed h; the
    // replicas that fetch it send theirs). Moving it on the word of f+1 VIEW-CHANGEs, of
    // which f may be faulty, left a correct replica alone above a checkpoint no other
    // correct one held, and later decisions (f+1 must list the checkpoint, a quorum must be
    // at or below it) could never choose again (fuzz seed 502040). O's entries beyond our
    // window wait in the early buffer.
    return;
  } else {
    adopt_checkpoint(h, digest);
  }
  if (have) return;
  std::vector<ReplicaId> candidates;
  for (ReplicaId r : holders) {
    if (r != self_) candidates.push_back(r);
  }
  start_state_transfer_from(h, digest, std::move(proof), std::move(candidates));
}

// The new primary re-proposes every known request not already in O; backups forget which
// requests were assigned in the old view.
void Replica::reset_proposals_for_view() {
  proposal_queue_.clear();
  for (auto& [key, known] : known_requests_) known.assigned = false;
  for (SequenceNumber seq = stable_seq_ + 1; seq <= high_watermark(); ++seq) {
    const Slot* slot = find_slot(seq);
    if (slot == nullptr || !slot->has_pre_prepare || slot->pp_view != view_) continue;
    for (const auto& r : slot->requests) {
      auto it = known_requests_.find(RequestKey{r.client, r.timestamp});
      if (it != known_requests_.end()) it->second.assigned = true;
    }
  }
  if (config_.primary(view_) != self_) return;
  for (const auto& [key, known] : known_requests_) {
    if (!known.assigned && !known.wire.empty()) proposal_queue_.push_back(key);
  }
}

void Replica::lay_deferred_o() {
  if (deferred_o_.empty()) return;
  if (status_ != Status::Normal) {
    deferred_o_.clear();  // that view is over
    return;
  }
  auto pending = std::move(deferred_o_);
  deferred_o_.clear();
  for (auto& wire : pending) {
    auto env = parse_envelope(wire);
    auto pp = decode_pre_prepare(env.value.body);
    assert(env.ok() && pp.ok());  // checked with the NEW-VIEW
    if (pp.value.view != view_ || pp.value.seq <= stable_seq_) continue;
    if (!in_window(pp.value.seq)) {
      deferred_o_.push_back(std::move(wire));
      continue;
    }
    Slot& slot = slot_for(pp.value.seq);
    if (slot.has_pre_prepare && slot.pp_view >= view_) continue;
    if (slot.committed) continue;
    std::vector<ConsensusRequest> requests;
    if (!decode_batch_as(pp.value, requests, false)) continue;
    accept_pre_prepare(slot, pp.value, wire, std::move(requests));
  }
}

void Replica::replay_early() {
  lay_deferred_o();
  auto pending = std::move(early_);
  early_.clear();
  std::fill(early_entries_by_sender_.begin(), early_entries_by_sender_.end(), 0);
  std::fill(early_bytes_by_sender_.begin(), early_bytes_by_sender_.end(), 0);
  early_bytes_ = 0;
  for (const auto& [from, wire] : pending) on_wire(from, wire);
}

}  // namespace protocol
