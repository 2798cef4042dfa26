// Replica: view change and NEW-VIEW (OSDI '99 §4.4, liveness rules §4.5.2).
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {

// Stops accepting normal-case messages for the current view and asks for `new_view`,
// carrying C (the stable checkpoint's proof) and P (a prepared certificate per prepared
// sequence number above it). The timer is the new-view timer now; it doubles with every
// consecutive view change, so spurious view changes die out once timeouts back off.
void Replica::start_view_change(ViewNumber new_view) {
  if (passive_ || new_view <= view_) return;
  status_ = Status::ViewChange;
  view_ = new_view;
  new_view_sent_ = false;
  view_change_attempts_++;
  stats_.view_changes_started++;
  out_->notes.push_back(Note{Note::Kind::ViewChangeStarted, new_view, 0, {}, {}, 0});
  cancel_timer(TimerKind::Batch);
  ViewChange vc = build_view_change(new_view);
  multicast(encode_view_change(self_, vc), MessageKind::ViewChange);
  auto& mine = view_changes_[new_view][self_];
  mine = ValidViewChange{self_, std::move(vc), out_->messages.back().wire};
  view_changes_.erase(view_changes_.begin(), view_changes_.lower_bound(new_view));
  set_timer(TimerKind::ViewChange, view_change_timeout_ns());
  maybe_send_new_view();
}

ViewChange Replica::build_view_change(ViewNumber new_view) const {
  ViewChange vc;
  vc.new_view = new_view;
  vc.stable_seq = stable_seq_;
  vc.stable_digest = stable_digest_;
  vc.checkpoint_proof = stable_proof_;
  for (SequenceNumber seq = stable_seq_ + 1; seq <= high_watermark(); ++seq) {
    const Slot* slot = find_slot(seq);
    if (slot != nullptr && slot->has_proof) vc.prepared.push_back(slot->proof);
  }
  return vc;
}

void Replica::on_view_change(const Envelope& env) {
  auto vc = validate_view_change(env.sender, env.body);
  if (!vc) return reject(RejectReason::BadCertificate, env.sender, env.kind);
  if (vc->new_view < view_ || (vc->new_view == view_ && status_ == Status::Normal)) {
    stats_.duplicates++;  // late: that view change is over here
    return;
  }
  // Keep only each sender's highest VIEW-CHANGE: a faulty replica cannot grow this table.
  for (auto it = view_changes_.begin(); it != view_changes_.end();) {
    auto mine = it->second.find(env.sender);
    if (mine != it->second.end()) {
      if (it->first >= vc->new_view) {
        stats_.duplicates++;
        return;
      }
      it->second.erase(mine);
    }
    it = it->second.empty() ? view_changes_.erase(it) : std::next(it);
  }
  const ViewNumber v = vc->new_view;
  view_changes_[v][env.sender] =
      ValidViewChange{env.sender, std::move(*vc), Bytes(env.wire.begin(), env.wire.end())};
  maybe_join_higher_view();
  maybe_send_new_view();
}

std::optional<ViewChange> Replica::validate_view_change(ReplicaId sender, ByteView body) {
  auto decoded = decode_view_change(body);
  if (!decoded.ok() || decoded.value.new_view == 0) return std::nullopt;
  const ViewChange& vc = decoded.value;
  if (vc.stable_seq == 0 ? vc.stable_digest != genesis_digest_ || !vc.checkpoint_proof.empty()
                         : !verify_checkpoint_proof(vc.stable_seq, vc.stable_digest,
                                                    vc.checkpoint_proof)) {
    return std::nullopt;
  }
  std::vector<SequenceNumber> seqs;
  for (const auto& proof : vc.prepared) {
    ViewNumber view = 0;
    SequenceNumber seq = 0;
    MessageDigest digest;
    if (!validate_prepared_proof(proof, vc.new_view, vc.stable_seq, view, seq, digest)) {
      return std::nullopt;
    }
    seqs.push_back(seq);
  }
  std::sort(seqs.begin(), seqs.end());
  if (std::adjacent_find(seqs.begin(), seqs.end()) != seqs.end()) return std::nullopt;
  (void)sender;
  return std::move(decoded.value);
}

// A prepared certificate holds iff its PRE-PREPARE comes from that view's primary, carries
// an authentic batch matching its digest, lies in the sender's window, and quorum - 1
// distinct backups sent matching PREPAREs. Certificates are bound to (view, seq, digest).
bool Replica::validate_prepared_proof(const PreparedProof& proof, ViewNumber before_view,
                                      SequenceNumber low, ViewNumber& view_out,
                                      SequenceNumber& seq_out, MessageDigest& digest_out) {
  auto env = open_embedded(proof.pre_prepare, MessageKind::PrePrepare);
  if (!env) return false;
  auto pp = decode_pre_prepare(env->body);
  if (!pp.ok() || env->sender != config_.primary(pp.value.view)) return false;
  if (pp.value.view >= before_view || pp.value.seq <= low ||
      pp.value.seq > low + config_.log_window) {
    return false;
  }
  std::vector<ConsensusRequest> requests;
  if (!decode_batch(pp.value, requests)) return false;
  std::vector<MessageDigest> digests;
  for (const auto& r : requests) digests.push_back(r.digest);
  if (crypto_->batch_digest(digests) != pp.value.digest) return false;
  std::vector<bool> seen(config_.n, false);
  std::uint32_t matching = 0;
  for (const auto& wire : proof.prepares) {
    auto penv = open_embedded(wire, MessageKind::Prepare);
    if (!penv || seen[penv->sender] || penv->sender == env->sender) return false;
    auto vote = decode_vote(penv->body);
    if (!vote.ok() || vote.value.view != pp.value.view || vote.value.seq != pp.value.seq ||
        vote.value.digest != pp.value.digest) {
      return false;
    }
    seen[penv->sender] = true;
    matching++;
  }
  if (matching + 1 < config_.quorum()) return false;
  view_out = pp.value.view;
  seq_out = pp.value.seq;
  digest_out = pp.value.digest;
  return true;
}

// Liveness (§4.5.2): f+1 replicas asking for views above ours cannot all be faulty, so
// join the smallest of those views even if our own timer has not fired.
void Replica::maybe_join_higher_view() {
  std::vector<ViewNumber> higher;
  for (const auto& [view, senders] : view_changes_) {
    if (view <= view_) continue;
    for (const auto& [sender, vc] : senders) {
      if (sender != self_) higher.push_back(view);
    }
  }
  if (higher.size() < config_.f + 1) return;
  std::sort(higher.begin(), higher.end());
  start_view_change(higher.front());
}

void Replica::maybe_send_new_view() {
  if (status_ != Status::ViewChange || config_.primary(view_) != self_ || new_view_sent_) return;
  auto it = view_changes_.find(view_);
  if (it == view_changes_.end() || it->second.size() < config_.quorum()) return;
  std::vector<ValidViewChange> v_set;
  v_set.push_back(it->second.at(self_));
  for (const auto& [sender, vc] : it->second) {
    if (v_set.size() < config_.quorum() && sender != self_) v_set.push_back(vc);
  }
  SequenceNumber min_s = 0;
  auto o = compute_new_view_o(v_set, min_s);
  std::vector<NodeId> everyone;
  for (ReplicaId r = 0; r < config_.n; ++r) everyone.push_back(r);
  NewView nv{view_, {}, {}};
  for (const auto& vc : v_set) nv.view_changes.push_back(vc.wire);
  for (auto& [seq, pp] : o) {
    pp.view = view_;
    nv.pre_prepares.push_back(crypto_->seal(encode_pre_prepare(self_, pp), everyone));
  }
  new_view_sent_ = true;
  multicast(encode_new_view(self_, nv), MessageKind::NewView);
  install_new_view(view_, v_set, nv.pre_prepares);
}

// O (§4.4): for every seq between the latest stable checkpoint in V (min-s) and the highest
// prepared seq in V (max-s), the batch whose certificate has the highest view — not the
// first or the most frequent — or the null request where none prepared.
std::map<SequenceNumber, PrePrepare> Replica::compute_new_view_o(
    const std::vector<ValidViewChange>& v_set, SequenceNumber& min_s) const {
  min_s = 0;
  for (const auto& vc : v_set) min_s = std::max(min_s, vc.body.stable_seq);
  std::map<SequenceNumber, std::pair<ViewNumber, PrePrepare>> best;
  for (const auto& vc : v_set) {
    for (const auto& proof : vc.body.prepared) {
      auto env = parse_envelope(proof.pre_prepare);
      if (!env.ok()) continue;  // validated on receipt; cannot happen
      auto pp = decode_pre_prepare(env.value.body);
      if (!pp.ok() || pp.value.seq <= min_s) continue;
      auto found = best.find(pp.value.seq);
      if (found == best.end() || pp.value.view > found->second.first) {
        best[pp.value.seq] = {pp.value.view, std::move(pp.value)};
      }
    }
  }
  std::map<SequenceNumber, PrePrepare> o;
  const SequenceNumber max_s = best.empty() ? min_s : best.rbegin()->first;
  for (SequenceNumber seq = min_s + 1; seq <= max_s; ++seq) {
    auto found = best.find(seq);
    PrePrepare pp = found != best.end() ? found->second.second
                                        : PrePrepare{0, seq, null_batch_digest(), {}};
    pp.view = 0;
    o.emplace(seq, std::move(pp));
  }
  return o;
}

void Replica::on_new_view(const Envelope& env) {
  auto decoded = decode_new_view(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const NewView& nv = decoded.value;
  if (env.sender != config_.primary(nv.view) || nv.view == 0) {
    return reject(RejectReason::WrongSender, env.sender, env.kind);
  }
  if (nv.view < view_ || (nv.view == view_ && status_ == Status::Normal)) {
    stats_.duplicates++;
    return;
  }
  std::vector<ValidViewChange> v_set;
  if (!check_new_view(nv, v_set)) {
    reject(RejectReason::BadNewView, env.sender, env.kind);
    start_view_change(nv.view + 1);  // its primary is faulty: on to the next view
    return;
  }
  install_new_view(nv.view, v_set, nv.pre_prepares);
}

// Checks every VIEW-CHANGE in V (certificates included) and recomputes O.
bool Replica::check_new_view(const NewView& nv, std::vector<ValidViewChange>& v_set) {
  std::vector<bool> seen(config_.n, false);
  for (const auto& wire : nv.view_changes) {
    auto env = open_embedded(wire, MessageKind::ViewChange);
    if (!env || seen[env->sender]) return false;
    auto vc = validate_view_change(env->sender, env->body);
    if (!vc || vc->new_view != nv.view) return false;
    seen[env->sender] = true;
    v_set.push_back(ValidViewChange{env->sender, std::move(*vc), wire});
  }
  if (v_set.size() < config_.quorum()) return false;
  SequenceNumber min_s = 0;
  const auto o = compute_new_view_o(v_set, min_s);
  if (o.size() != nv.pre_prepares.size()) return false;
  auto expected = o.begin();
  for (const auto& wire : nv.pre_prepares) {
    auto env = open_embedded(wire, MessageKind::PrePrepare);
    if (!env || env->sender != config_.primary(nv.view)) return false;
    auto pp = decode_pre_prepare(env->body);
    if (!pp.ok() || pp.value.view != nv.view || pp.value.seq != expected->first ||
        pp.value.digest != expected->second.digest) {
      return false;
    }
    std::vector<ConsensusRequest> requests;
    if (!decode_batch(pp.value, requests)) return false;
    ++expected;
  }
  return true;
}

void Replica::install_new_view(ViewNumber view, const std::vector<ValidViewChange>& v_set,
                               const std::vector<Bytes>& o_wires) {
  status_ = Status::Normal;
  view_ = view;
  out_->notes.push_back(Note{Note::Kind::ViewEntered, view, 0, {}, {}, 0});
  cancel_timer(TimerKind::ViewChange);
  view_changes_.erase(view_changes_.begin(), view_changes_.upper_bound(view));
  // Catch up to min-s first: fetch the checkpoint if this replica does not have it.
  const ValidViewChange* latest = &v_set.front();
  for (const auto& vc : v_set) {
    if (vc.body.stable_seq > latest->body.stable_seq) latest = &vc;
  }
  const SequenceNumber min_s = latest->body.stable_seq;
  if (min_s > stable_seq_) {
    auto own = own_checkpoints_.find(min_s);
    const bool have = own != own_checkpoints_.end() && own->second.digest == latest->body.stable_digest;
    std::vector<Bytes> proof = latest->body.checkpoint_proof;
    make_stable(min_s, latest->body.stable_digest, std::vector<Bytes>(proof));
    if (!have) start_state_transfer(min_s, latest->body.stable_digest, std::move(proof));
  }
  SequenceNumber max_s = min_s;
  for (const auto& wire : o_wires) {
    auto env = parse_envelope(wire);
    auto pp = decode_pre_prepare(env.value.body);
    assert(env.ok() && pp.ok());
    max_s = std::max(max_s, pp.value.seq);
    if (!in_window(pp.value.seq)) continue;
    std::vector<ConsensusRequest> requests;
    if (!decode_batch(pp.value, requests)) continue;
    accept_pre_prepare(slot_for(pp.value.seq), pp.value, wire, std::move(requests));
  }
  next_seq_ = std::max(max_s, stable_seq_) + 1;
  reset_proposals_for_view();
  replay_early();
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

void Replica::replay_early() {
  auto pending = std::move(early_);
  early_.clear();
  for (const auto& [from, wire] : pending) on_wire(from, wire);
}

}  // namespace protocol
