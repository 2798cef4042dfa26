// Replica: the NEW-VIEW (OSDI '99 §4.4): the new primary's decision (O from the VIEW-CHANGEs
// it accepted), a backup's check of it, and installing the view in one step. The VIEW-CHANGE
// side is replica_view_change.cpp, the certificates inside VIEW-CHANGEs
// replica_certificates.cpp.
//
// Installing a view is atomic: enter the view, make min-s stable, lay O into the log, and
// only then (from step(), never from inside this handler) replay the messages buffered for
// the view through the ordinary checks. So no message of the new view is looked at before O,
// and O never meets a PRE-PREPARE of its own view already in the log (asserted where O is
// laid).
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {
void Replica::maybe_send_new_view() {
  if (status_ != Status::ViewChange || config_.primary(view_) != self_ || new_view_sent_) return;
  if (accepted_view_changes(view_) < config_.quorum()) return;
  // V holds every VIEW-CHANGE we accepted, not just a quorum: with MACs a backup may be
  // unable to verify some of them (a faulty sender can break its entry), and it accepts the
  // NEW-VIEW if the ones it can verify still form a quorum that yields the same O. Those we
  // hold back stay out: O must not rest on a claim we could not establish.
  const auto& held = view_changes_.at(view_);
  std::vector<ValidViewChange> v_set;
  v_set.push_back(held.at(self_));
  assert(v_set.front().accepted);
  for (const auto& [sender, vc] : held) {
    if (sender != self_ && vc.accepted) v_set.push_back(vc);
  }
  SequenceNumber min_s = 0;
  bool decided = true;
  auto o = compute_new_view_o(v_set, min_s, decided);
  if (!decided) return;  // weak claims tie: wait for VIEW-CHANGEs that settle it, or time out
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
  const Bytes wire = out_->messages.back().wire;
  install_new_view(view_, v_set, nv.pre_prepares);
  new_view_wire_ = wire;
}

// O (§4.4): for every seq between the latest stable checkpoint in V (min-s) and the highest
// prepared seq in V (max-s), the batch whose certificate has the highest view — not the
// first or the most frequent — or the null request where none prepared.
std::map<SequenceNumber, PrePrepare> Replica::compute_new_view_o(
    const std::vector<ValidViewChange>& v_set, SequenceNumber& min_s, bool& decided) const {
  min_s = 0;
  for (const auto& vc : v_set) min_s = std::max(min_s, vc.body.stable_seq);
  decided = true;
  // Per seq, the claims of the highest view seen: one PRE-PREPARE per digest, and whether
  // any claim for that digest is strong (verified, or made by f+1 VIEW-CHANGEs in V).
  struct Candidate {
    PrePrepare pp;
    bool strong = false;
  };
  struct Best {
    ViewNumber view = 0;
    std::vector<Candidate> candidates;
  };
  auto makers = [&](const Claim& claim) {
    std::uint32_t count = 0;
    for (const auto& vc : v_set) {
      count += std::find(vc.claims.begin(), vc.claims.end(), claim) != vc.claims.end() ? 1 : 0;
    }
    return count;
  };
  std::map<SequenceNumber, Best> best;
  for (const auto& vc : v_set) {
    for (const auto& proof : vc.body.prepared) {
      auto env = parse_envelope(proof.pre_prepare);
      if (!env.ok()) continue;  // validated on receipt; cannot happen
      auto pp = decode_pre_prepare(env.value.body);
      if (!pp.ok() || pp.value.seq <= min_s) continue;
      const Claim claim{false, pp.value.view, pp.value.seq, pp.value.digest};
      const bool weak = std::find(vc.weak.begin(), vc.weak.end(), claim) != vc.weak.end();
      const bool strong = !weak || makers(claim) >= config_.f + 1;
      auto [it, fresh] = best.try_emplace(pp.value.seq);
      Best& b = it->second;
      if (!fresh && pp.value.view < b.view) continue;
      if (fresh || pp.value.view > b.view) {
        b.view = pp.value.view;
        b.candidates.clear();
      }
      auto same = std::find_if(b.candidates.begin(), b.candidates.end(),
                               [&](const Candidate& c) { return c.pp.digest == pp.value.digest; });
      if (same == b.candidates.end()) {
        b.candidates.push_back(Candidate{std::move(pp.value), strong});
      } else {
        same->strong = same->strong || strong;
      }
    }
  }
  std::map<SequenceNumber, PrePrepare> o;
  const SequenceNumber max_s = best.empty() ? min_s : best.rbegin()->first;
  for (SequenceNumber seq = min_s + 1; seq <= max_s; ++seq) {
    auto found = best.find(seq);
    PrePrepare pp{0, seq, null_batch_digest(), {}};
    if (found != best.end()) {
      const auto& candidates = found->second.candidates;
      const auto strong = std::find_if(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.strong; });
      if (strong != candidates.end()) {
        pp = strong->pp;  // two strong claims of one view never differ (quorum intersection)
      } else if (candidates.size() == 1) {
        pp = candidates.front().pp;
      } else {
        decided = false;  // weak claims of different digests, nothing to settle them
        return {};
      }
    }
    pp.view = 0;
    o.emplace(seq, std::move(pp));
  }
  return o;
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
  std::vector<ValidViewChange> v_set;
  if (!check_new_view(nv, v_set)) {
    reject(RejectReason::BadNewView, env.sender, env.kind);
    // §4.4: a backup *waiting* for NEW-VIEW(v) that gets a bad one knows v's primary is
    // faulty and moves on to v+1. From anyone else it is no evidence: the primary of some
    // view ahead of ours (or of ours, once installed) could otherwise force view changes on
    // correct replicas at will, to any view and as often as it likes.
    if (status_ == Status::ViewChange && nv.view == view_) start_view_change(view_ + 1);
    return;
  }
  install_new_view(nv.view, v_set, nv.pre_prepares);
  new_view_wire_.assign(env.wire.begin(), env.wire.end());
}

// Checks the VIEW-CHANGEs in V (certificates included) and recomputes O (§4.4). With MACs
// this replica may be unable to verify some VIEW-CHANGEs in V that the primary could: their
// own authenticator for us is broken (a faulty sender), or a claim in them is neither
// verifiable by us nor corroborated (replica_certificates.cpp). Those are set aside. The
// NEW-VIEW holds iff the ones we accept form a quorum and O recomputed from them alone is
// the O received: O is then what §4.4 computes from a quorum of VIEW-CHANGEs whose claims
// are established for us, so the paper's safety argument applies unchanged. Anything the
// primary could only have built wrongly on purpose (a malformed entry, a sender twice, a
// VIEW-CHANGE for another view or with a certificate wrong in itself) rejects the NEW-VIEW.
bool Replica::check_new_view(const NewView& nv, std::vector<ValidViewChange>& v_set) {
  std::vector<bool> seen(config_.n, false);
  std::vector<ValidViewChange> checked;
  for (const auto& wire : nv.view_changes) {
    auto env = parse_envelope(wire);
    if (!env.ok() || env.value.kind != MessageKind::ViewChange || env.value.sender >= config_.n ||
        seen[env.value.sender]) {
      return false;
    }
    seen[env.value.sender] = true;
    if (const ValidViewChange* held = held_view_change(nv.view, env.value.sender, wire)) {
      // We checked this very VIEW-CHANGE when it reached us: reuse that (each check costs a
      // MAC or signature per embedded message, and NEW-VIEWs come often when timeouts are short).
      checked.push_back(*held);
      checked.back().accepted = checked.back().unverified.empty();
      continue;
    }
    auto header = decode_view_change(env.value.body);
    if (!header.ok() || header.value.new_view != nv.view) return false;
    if (!crypto_->verify(env.value)) continue;  // our entry is broken: we cannot use it
    auto vc = check_view_change(env.value.sender, env.value.body, wire);
    if (!vc) return false;
    checked.push_back(std::move(*vc));
  }
  // Claims may be corroborated by any VIEW-CHANGE for this view that authenticates for us:
  // those in V and those we received ourselves.
  std::vector<ValidViewChange*> held;
  std::vector<const ValidViewChange*> sources;
  for (auto& vc : checked) {
    held.push_back(&vc);
    sources.push_back(&vc);
  }
  auto ours = view_changes_.find(nv.view);
  if (ours != view_changes_.end()) {
    for (const auto& [sender, vc] : ours->second) sources.push_back(&vc);
  }
  corroborate(held, sources);
  for (auto& vc : checked) {
    if (vc.accepted) v_set.push_back(std::move(vc));
  }
  if (v_set.size() < config_.quorum()) return false;
  SequenceNumber min_s = 0;
  bool decided = true;
  const auto o = compute_new_view_o(v_set, min_s, decided);
  if (!decided) return false;
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
    // The digest is the null request's or certified by a prepared certificate in V: the
    // batch content is authentic if it hashes to it (see decode_batch_as).
    std::vector<ConsensusRequest> requests;
    if (!decode_batch_as(pp.value, requests, false) || digest_of_batch(requests) != pp.value.digest) return false;
    ++expected;
  }
  return true;
}

void Replica::install_new_view(ViewNumber view, const std::vector<ValidViewChange>& v_set,
                               const std::vector<Bytes>& o_wires) {
  status_ = Status::Normal;
  view_ = view;
  view_change_quorum_ = false;
  asked_for_new_view_ = false;
  laggard_asks_.assign(config_.n, 0);
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
    // The CHECKPOINTs of every VIEW-CHANGE in V that names this checkpoint, one per sender:
    // the claim may have been established by corroboration, and a faulty claimant's own
    // proof may be short, but a correct claimant's holds a quorum.
    std::vector<Bytes> proof;
    std::vector<bool> have_sender(config_.n, false);
    for (const auto& vc : v_set) {
      if (vc.body.stable_seq != min_s || vc.body.stable_digest != latest->body.stable_digest) continue;
      for (const auto& wire : vc.body.checkpoint_proof) {
        auto e = parse_envelope(wire);
        if (!e.ok() || e.value.sender >= config_.n || have_sender[e.value.sender]) continue;
        have_sender[e.value.sender] = true;
        proof.push_back(wire);
      }
    }
    // Short only if every claimant is faulty (more than f of them corroborated a claim):
    // PBFT promises nothing then, but a correct replica must not crash; it keeps its own
    // checkpoint and stays behind rather than install one it cannot vouch for.
    if (proof.size() >= config_.quorum()) {
      make_stable(min_s, latest->body.stable_digest, std::vector<Bytes>(proof));
      if (!have) start_state_transfer(min_s, latest->body.stable_digest, std::move(proof));
    }
  }
  const bool replay_first = config_.test_defect == TestDefect::ReplayBeforeNewView;
  if (replay_first) replay_early();
  SequenceNumber max_s = min_s;
  for (const auto& wire : o_wires) {
    auto env = parse_envelope(wire);
    auto pp = decode_pre_prepare(env.value.body);
    assert(env.ok() && pp.ok());
    max_s = std::max(max_s, pp.value.seq);
    if (!in_window(pp.value.seq)) continue;
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
  std::fill(early_entries_by_sender_.begin(), early_entries_by_sender_.end(), 0);
  std::fill(early_bytes_by_sender_.begin(), early_bytes_by_sender_.end(), 0);
  early_bytes_ = 0;
  for (const auto& [from, wire] : pending) on_wire(from, wire);
}

}  // namespace protocol
