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
  view_change_quorum_ = false;
  asked_for_new_view_ = false;
  view_change_retransmits_ = 0;
  new_view_wire_.clear();
  laggard_asks_.assign(config_.n, 0);
  view_change_attempts_ = std::min<std::uint32_t>(view_change_attempts_ + 1, kAttemptsMax);
  stats_.view_changes_started++;
  out_->notes.push_back(Note{Note::Kind::ViewChangeStarted, new_view, 0, {}, {}, 0});
  cancel_timer(TimerKind::Batch);
  ViewChange vc = build_view_change(new_view);
  multicast(encode_view_change(self_, vc), MessageKind::ViewChange);
  const Bytes& wire = out_->messages.back().wire;
  own_view_changes_[new_view] = wire;
  while (own_view_changes_.size() > kOwnViewChangesKept) own_view_changes_.erase(own_view_changes_.begin());
  view_changes_[new_view][self_] = own_view_change(std::move(vc), wire);
  view_changes_.erase(view_changes_.begin(), view_changes_.lower_bound(new_view));
  // Until a quorum of VIEW-CHANGEs arrives this timer only paces retransmissions of ours.
  set_timer(TimerKind::ViewChange, retransmit_interval_ns(0));
  note_view_change_quorum();
  maybe_send_new_view();
}

// Our own VIEW-CHANGE: its certificates are the ones we assembled ourselves, so it is
// accepted as it is; its claims count when corroborating others'.
Replica::ValidViewChange Replica::own_view_change(ViewChange&& vc, const Bytes& wire) const {
  ValidViewChange out;
  out.sender = self_;
  out.wire = wire;
  out.accepted = true;
  out.claims.push_back(Claim{true, 0, vc.stable_seq, vc.stable_digest});
  for (const auto& proof : vc.prepared) {
    auto env = parse_envelope(proof.pre_prepare);
    auto pp = env.ok() ? decode_pre_prepare(env.value.body) : Decoded<PrePrepare>{{}, "malformed"};
    assert(pp.ok());
    out.claims.push_back(Claim{false, pp.value.view, pp.value.seq, pp.value.digest});
  }
  out.body = std::move(vc);
  return out;
}

// The ViewChange timer. In normal status it is the request timer: a request waited too
// long, so suspect the primary (§4.4). In a view change it is the new-view timer, which
// per §4.5.2 runs only once this replica holds a quorum of VIEW-CHANGEs for the view: a
// replica that moved on without one would run ahead alone, and replicas scattered over
// views never assemble a quorum again. Before that, and once more before giving up on a
// new primary, the timer re-sends our VIEW-CHANGE: the paper assumes messages lost by the
// network are eventually retransmitted, and a replica that is already past the view
// answers with the NEW-VIEW it installed (help_laggard), so a lost NEW-VIEW does not cost a
// whole view change.
void Replica::on_view_change_timer() {
  if (status_ == Status::Normal) {
    start_view_change(view_ + 1);
    return;
  }
  if (view_change_quorum_ && asked_for_new_view_) {
    start_view_change(view_ + 1);  // the new primary failed to deliver a NEW-VIEW in time
    return;
  }
  if (view_change_quorum_) asked_for_new_view_ = true;
  auto own = own_view_changes_.find(view_);
  assert(own != own_view_changes_.end());
  out_->messages.push_back(OutMessage{kAllReplicas, MessageKind::ViewChange, own->second});
  // Back off: a replica left alone in a view change (the others are still in the old view)
  // keeps asking, ever more rarely, until they join it or tell it of a newer view.
  set_timer(TimerKind::ViewChange, retransmit_interval_ns(++view_change_retransmits_));
}

// How long to wait before re-sending our VIEW-CHANGE: the view-change timeout, but never
// less than kStatusIntervalMinNs (re-sending faster than an answer can come back only adds
// traffic, and far-too-short timeouts are something users configure), doubling with each
// retransmission up to 2^kRetransmitDoublingsMax.
std::int64_t Replica::retransmit_interval_ns(std::uint32_t retransmits) const {
  const std::int64_t base = std::max(view_change_timeout_ns(), kStatusIntervalMinNs);
  return saturating_shift(base, std::min(retransmits, kRetransmitDoublingsMax));
}

// A quorum of replicas asked for the view this replica is changing to: start the new-view
// timer T (doubled per consecutive view change) from now, as §4.5.2 says. The quorum counts
// the VIEW-CHANGEs held back for a claim we cannot establish yet: the timer decides only when
// to give up on the view, so any authentic, well-formed VIEW-CHANGE is evidence enough.
// Counting only accepted ones stalled the group for good when a faulty replica's PREPAREs,
// authentic for some replicas only, left claims unestablished and the view's primary was
// down: nobody's timer ever started (fuzz seed 41508).
void Replica::note_view_change_quorum() {
  if (status_ != Status::ViewChange || view_change_quorum_) return;
  auto held = view_changes_.find(view_);
  if (held == view_changes_.end() || held->second.size() < config_.quorum()) return;
  view_change_quorum_ = true;
  set_timer(TimerKind::ViewChange, view_change_timeout_ns());
}

// `sender` asked for `wanted_view`, which this replica is already past (or has installed):
// it missed messages. Re-send what it needs to catch up: the NEW-VIEW of our view, or, while
// we are changing view ourselves, our VIEW-CHANGEs for its view and for ours (so that it can
// complete a quorum, or join us by the f+1 rule). At most two messages per VIEW-CHANGE
// received, so the laggard's own (timer-paced) retransmissions pace the answers and a faulty
// replica gains nothing it could not get by sending to us directly. No per-sender budget: a
// budget spent while the network was cut would leave the laggard stranded once it heals.
void Replica::help_laggard(ReplicaId sender, ViewNumber wanted_view) {
  assert(sender < config_.n && sender != self_);
  // Only for the sender's newest word: if we hold a VIEW-CHANGE of it for a later view, this
  // one is old news (a copy delayed in the network, or one of our own answers bouncing back
  // from a replica that had moved on) and answering it would start a ping-pong between two
  // replicas that are both past it.
  for (auto it = view_changes_.upper_bound(wanted_view); it != view_changes_.end(); ++it) {
    if (it->second.count(sender) != 0) return;
  }
  // Backups answer from the sender's second request on: the first copy usually just crossed
  // the NEW-VIEW (or our VIEW-CHANGEs) in the network, and only a retransmission says it
  // missed it. The primary of our view answers the first one too: a replica holding a quorum
  // re-sends its VIEW-CHANGE once before giving up on the view, so the primary must not wait
  // for a second, and one NEW-VIEW per late replica is cheap.
  std::uint8_t& asked = laggard_asks_[sender];
  if (asked < 2) asked++;
  const bool primary_of_ours = status_ == Status::Normal && config_.primary(view_) == self_;
  if (asked < 2 && !primary_of_ours) return;
  if (status_ == Status::Normal) {
    if (!new_view_wire_.empty()) out_->messages.push_back(OutMessage{sender, MessageKind::NewView, new_view_wire_});
    return;
  }
  for (ViewNumber v : {wanted_view, view_}) {
    auto own = own_view_changes_.find(v);
    if (own != own_view_changes_.end()) out_->messages.push_back(OutMessage{sender, MessageKind::ViewChange, own->second});
  }
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
  // Cheap checks first: retransmissions are common, and validating the certificates inside
  // costs a MAC or signature check per embedded message.
  auto header = decode_view_change(env.body);
  if (!header.ok() || header.value.new_view == 0 || header.value.new_view == kViewMax) {
    return reject(RejectReason::Malformed, env.sender, env.kind);  // kViewMax: see replica.h
  }
  const ViewNumber wanted = header.value.new_view;
  if (wanted < view_ || (wanted == view_ && status_ == Status::Normal)) {
    stats_.duplicates++;  // late: that view change is over here
    if (!passive_) help_laggard(env.sender, wanted);
    return;
  }
  // Each sender's VIEW-CHANGEs for its kViewChangesPerSender highest views are kept, not just
  // the highest: a replica that timed out of view v (it held a quorum for v and no NEW-VIEW
  // came) has moved on to v+1, but its VIEW-CHANGE for v may be what the others still need
  // to complete a quorum for v. Keeping only its newest one left them stuck at v, it alone at
  // v+1, and no f+1 to pull anyone along. The bound keeps a faulty replica from growing this.
  std::uint32_t kept = 0;
  ViewNumber lowest_kept = 0;
  for (const auto& [view, senders] : view_changes_) {
    if (senders.count(env.sender) == 0) continue;
    if (view == wanted) {
      stats_.duplicates++;  // we hold this sender's VIEW-CHANGE for this view
      return;
    }
    if (kept++ == 0) lowest_kept = view;
  }
  if (kept >= kViewChangesPerSender && wanted < lowest_kept) {
    stats_.duplicates++;  // older than everything we keep of it
    return;
  }
  auto vc = check_view_change(env.sender, env.body, env.wire);
  if (!vc) return reject(RejectReason::BadCertificate, env.sender, env.kind);
  auto& held = view_changes_[wanted];
  held[env.sender] = std::move(*vc);
  if (kept >= kViewChangesPerSender) {
    auto lowest = view_changes_.find(lowest_kept);
    lowest->second.erase(env.sender);
    if (lowest->second.empty()) view_changes_.erase(lowest);
  }
  // A new VIEW-CHANGE may corroborate claims that others held back (replica_certificates.cpp).
  std::vector<ValidViewChange*> mutable_held;
  std::vector<const ValidViewChange*> sources;
  for (auto& [sender, held_vc] : held) {
    mutable_held.push_back(&held_vc);
    sources.push_back(&held_vc);
  }
  corroborate(mutable_held, sources);
  // Held back, not dropped: a claim in it is neither verifiable by us nor (yet) made by f+1.
  // Counted as a certificate that does not hold for us; later VIEW-CHANGEs may corroborate it.
  if (!held.at(env.sender).accepted) reject(RejectReason::BadCertificate, env.sender, env.kind);
  maybe_join_higher_view();
  note_view_change_quorum();
  maybe_send_new_view();
}

const Replica::ValidViewChange* Replica::held_view_change(ViewNumber view, ReplicaId sender,
                                                          ByteView wire) const {
  auto it = view_changes_.find(view);
  if (it == view_changes_.end()) return nullptr;
  auto vc = it->second.find(sender);
  if (vc == it->second.end() || !std::equal(vc->second.wire.begin(), vc->second.wire.end(), wire.begin(), wire.end())) {
    return nullptr;
  }
  return &vc->second;
}

bool Replica::held_view_change_wire(const Envelope& env) const {
  if (env.sender >= config_.n) return false;
  auto header = decode_view_change(env.body);
  return header.ok() && held_view_change(header.value.new_view, env.sender, env.wire) != nullptr;
}

std::uint32_t Replica::accepted_view_changes(ViewNumber view) const {
  auto it = view_changes_.find(view);
  if (it == view_changes_.end()) return 0;
  std::uint32_t count = 0;
  for (const auto& [sender, vc] : it->second) count += vc.accepted ? 1 : 0;
  return count;
}

// Liveness (§4.5.2): f+1 replicas asking for views above ours cannot all be faulty, so
// join the smallest of those views even if our own timer has not fired.
void Replica::maybe_join_higher_view() {
  // Each other replica's newest view above ours (the map is ordered: the last one wins).
  std::vector<ViewNumber> newest(config_.n, 0);
  for (const auto& [view, senders] : view_changes_) {
    if (view <= view_) continue;
    for (const auto& [sender, vc] : senders) {
      if (sender != self_) newest[sender] = view;
    }
  }
  std::vector<ViewNumber> higher;
  for (ViewNumber v : newest) {
    if (v != 0) higher.push_back(v);
  }
  if (higher.size() < config_.f + 1) return;
  std::sort(higher.begin(), higher.end());
  start_view_change(higher.front());
}

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
    // correct replicas at will, to any view and as often as it likes (review #4).
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
