// Replica: the VIEW-CHANGE side of the view change (OSDI '99 §4.4, liveness rules §4.5.2):
// starting one, receiving and keeping others', timers, retransmission, joining a higher view.
// The NEW-VIEW (decision, check, installation) is replica_new_view.cpp.
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
void Replica::help_laggard(ReplicaId sender, ViewNumber wanted_view, bool paced) {
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
  if (asked < 2 && !primary_of_ours && !paced) return;
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

}  // namespace protocol
