// Replica: the VIEW-CHANGE side of the TOCS '02 view change (liveness rules of OSDI '99
// §4.5.2): starting one, receiving and keeping others', VIEW-CHANGE-ACKs, timers,
// retransmission, joining a higher view. The NEW-VIEW (decision, check, installation) is
// replica_new_view.cpp; the decision procedure itself view_change_decision.cpp.
//
// A VIEW-CHANGE carries summaries, not certificates: C (the checkpoints this replica holds),
// P (per sequence number, the request that prepared here in the highest view) and Q (the
// requests pre-prepared here, per digest the latest view). With MAC authenticators nobody
// could check a certificate a third replica assembled anyway; the decision procedure trusts
// only what enough senders agree on. Every replica that holds j's VIEW-CHANGE tells the new
// primary so (VIEW-CHANGE-ACK), and the primary decides only on VIEW-CHANGEs that, with the
// acks, a quorum holds: the others can then get the very message the NEW-VIEW names.
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"
#include "protocol/wire_io.h"

namespace protocol {

// Stops accepting normal-case messages for the current view and asks for `new_view`. The
// timer is the new-view timer now; it doubles with every consecutive view change, so
// spurious view changes die out once timeouts back off.
void Replica::start_view_change(ViewNumber new_view) {
  if (passive_ || new_view <= view_) return;
  status_ = Status::ViewChange;
  view_ = new_view;
  new_view_sent_ = false;
  view_change_quorum_ = false;
  asked_for_new_view_ = false;
  view_change_retransmits_ = 0;
  new_view_wire_.clear();
  new_view_named_.clear();
  fetched_batches_.clear();
  batches_wanted_.clear();
  laggard_asks_.assign(config_.n, 0);
  view_change_attempts_ = std::min<std::uint32_t>(view_change_attempts_ + 1, kAttemptsMax);
  stats_.view_changes_started++;
  out_->notes.push_back(note::ViewChangeStarted{new_view});
  cancel_timer(TimerKind::Batch);
  ViewChange vc = build_view_change(new_view);
  assert(view_change_well_formed(config_, vc));
  multicast(encode_view_change(self_, vc), MessageKind::ViewChange);
  const Bytes& wire = out_->messages.back().wire;
  own_view_changes_[new_view] = wire;
  while (own_view_changes_.size() > kOwnViewChangesKept) own_view_changes_.erase(own_view_changes_.begin());
  auto env = parse_envelope(wire);
  assert(env.ok());
  view_changes_[new_view][self_] = ValidViewChange{self_, std::move(vc), wire, view_change_digest(env.value.content), true};
  view_changes_.erase(view_changes_.begin(), view_changes_.lower_bound(new_view));
  view_change_acks_.erase(view_change_acks_.begin(), view_change_acks_.lower_bound(new_view));
  // The VIEW-CHANGEs of this view that reached us before we joined it: the primary hears we hold them.
  for (const auto& [sender, held] : view_changes_[new_view]) send_view_change_ack(new_view, held);
  // Until a quorum of VIEW-CHANGEs arrives this timer only paces retransmissions of ours.
  set_timer(TimerKind::ViewChange, retransmit_interval_ns(0));
  note_view_change_quorum();
  if (config_.primary(new_view) == self_) update_accepted(new_view);
  maybe_send_new_view();
  retry_pending_new_view();
}

ViewChange Replica::build_view_change(ViewNumber new_view) const {
  ViewChange vc;
  vc.new_view = new_view;
  vc.stable_seq = stable_seq_;
  // C: the stable checkpoint and every later one this replica took.
  vc.checkpoints.push_back(CheckpointClaim{stable_seq_, stable_digest_});
  for (auto it = own_checkpoints_.upper_bound(stable_seq_); it != own_checkpoints_.end(); ++it) {
    vc.checkpoints.push_back(CheckpointClaim{it->first, it->second.digest});
  }
  std::vector<SlotClaim> q;
  for (SequenceNumber seq = stable_seq_ + 1; seq <= high_watermark(); ++seq) {
    const Slot* slot = find_slot(seq);
    if (slot == nullptr) continue;
    if (slot->has_p && slot->p_view < new_view) vc.prepared.push_back(SlotClaim{seq, slot->p_view, slot->p_digest});
    q.clear();
    if (slot->has_pre_prepare && slot->pp_view < new_view) q.push_back(SlotClaim{seq, slot->pp_view, slot->digest});
    for (const auto& older : slot->older_pre_prepares) {
      if (older.view < new_view) q.push_back(SlotClaim{seq, older.view, older.digest});
    }
    std::sort(q.begin(), q.end(), [](const SlotClaim& a, const SlotClaim& b) { return a.digest < b.digest; });
    vc.pre_prepared.insert(vc.pre_prepared.end(), q.begin(), q.end());
  }
  return vc;
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
  // The new primary still lacks batches it chose: the holders' answers may have been lost.
  for (const auto& [seq, digest] : batches_wanted_) {
    if (fetched_batches_.count(std::make_pair(seq, digest)) == 0) {
      multicast(encode_fetch_batch(self_, FetchBatch{seq, digest}), MessageKind::FetchBatch);
    }
  }
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
// timer T (doubled per consecutive view change) from now, as §4.5.2 says. Any authentic,
// well-formed VIEW-CHANGE counts, acked or not: the timer decides only when to give up on
// the view.
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
void Replica::help_laggard(ReplicaId sender, ViewNumber wanted_view, bool paced, const protocol::Status* st) {
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
    if (new_view_wire_.empty()) return;
    // The laggard cannot check our NEW-VIEW without every VIEW-CHANGE it names, and their
    // senders may be gone: the primary and the f backups after it (one of them correct)
    // relay them as their senders sealed them (each carries an authenticator entry for the
    // laggard). A laggard changing to our view says in its STATUS which ones it holds.
    // Without authentication only the transport vouches for a sender: nothing is relayed.
    // Every author re-sends its own (the only way without authentication, and cheap).
    const ReplicaId primary = config_.primary(view_);
    const bool relays = (self_ + config_.n - primary) % config_.n <= config_.f;
    auto own = own_view_changes_.find(view_);
    if (st != nullptr && own != own_view_changes_.end() && !(st->view == view_ && status_holds_view_change(*st, self_))) {
      out_->messages.push_back(OutMessage{sender, MessageKind::ViewChange, own->second});
    }
    // Relays answer a STATUS only: it is paced, a VIEW-CHANGE may come back at once. They go
    // out before the NEW-VIEW, which is then checked at once rather than kept pending.
    if (st != nullptr && relays && config_.auth != AuthMode::None) {
      for (const auto& wire : new_view_named_) {
        auto env = parse_envelope(wire);
        const bool held = st->view == view_ && status_holds_view_change(*st, env.value.sender);
        if (env.ok() && env.value.sender != sender && env.value.sender != self_ && !held) {
          out_->messages.push_back(OutMessage{sender, MessageKind::ViewChange, wire});
        }
      }
    }
    out_->messages.push_back(OutMessage{sender, MessageKind::NewView, new_view_wire_});
    return;
  }
  for (ViewNumber v : {wanted_view, view_}) {
    auto own = own_view_changes_.find(v);
    if (own != own_view_changes_.end()) out_->messages.push_back(OutMessage{sender, MessageKind::ViewChange, own->second});
  }
}

void Replica::on_view_change(NodeId from, const Envelope& env) {
  auto decoded = decode_view_change(env.body);
  if (!decoded.ok() || decoded.value.new_view == 0 || decoded.value.new_view == kViewMax) {
    return reject(RejectReason::Malformed, env.sender, env.kind);  // kViewMax: see replica.h
  }
  const ViewNumber wanted = decoded.value.new_view;
  if (wanted < view_ || (wanted == view_ && status_ == Status::Normal)) {
    stats_.duplicates++;  // late: that view change is over here
    // Only its author asks for help with it: a copy relayed by a third replica (answering
    // someone's STATUS) says nothing about its author, and answering it would bounce
    // relays between replicas that are all past the view.
    if (!passive_ && from == env.sender) help_laggard(env.sender, wanted);
    return;
  }
  // Proves its sender faulty: a correct replica's sets always satisfy these rules.
  if (!view_change_well_formed(config_, decoded.value)) return reject(RejectReason::BadCertificate, env.sender, env.kind);
  const MessageDigest digest = view_change_digest(env.content);
  // Each sender's VIEW-CHANGEs for its kViewChangesPerSender highest views are kept, not just
  // the highest: a replica that timed out of view v (it held a quorum for v and no NEW-VIEW
  // came) has moved on to v+1, but its VIEW-CHANGE for v may be what the others still need
  // to complete a quorum for v. Keeping only its newest one left them stuck at v, it alone at
  // v+1, and no f+1 to pull anyone along. The bound keeps a faulty replica from growing this.
  std::uint32_t kept = 0;
  ViewNumber lowest_kept = 0;
  for (auto& [view, senders] : view_changes_) {
    auto held = senders.find(env.sender);
    if (held == senders.end()) continue;
    if (view == wanted) {
      if (held->second.digest == digest) {
        stats_.duplicates++;  // we hold this very VIEW-CHANGE
        if (status_ == Status::ViewChange && view == view_) send_view_change_ack(view, held->second);
        return;
      }
      // Two different VIEW-CHANGEs for one view: the sender is faulty. We keep the first,
      // unless a NEW-VIEW we wait on names this one (any of a faulty sender's messages is as
      // good as another to the decision; the NEW-VIEW must be checked on the one it names).
      if (!pending_names(wanted, env.sender, digest)) return reject(RejectReason::Conflict, env.sender, env.kind);
      held->second = ValidViewChange{env.sender, std::move(decoded.value), Bytes(env.wire.begin(), env.wire.end()), digest, false};
      retry_pending_new_view();
      return;
    }
    if (kept++ == 0) lowest_kept = view;
  }
  if (kept >= kViewChangesPerSender && wanted < lowest_kept) {
    stats_.duplicates++;  // older than everything we keep of it
    return;
  }
  auto& held = view_changes_[wanted];
  ValidViewChange& vc = held[env.sender] =
      ValidViewChange{env.sender, std::move(decoded.value), Bytes(env.wire.begin(), env.wire.end()), digest, false};
  if (kept >= kViewChangesPerSender) {
    auto lowest = view_changes_.find(lowest_kept);
    lowest->second.erase(env.sender);
    if (lowest->second.empty()) view_changes_.erase(lowest);
  }
  if (status_ == Status::ViewChange && wanted == view_) send_view_change_ack(wanted, vc);
  if (config_.primary(wanted) == self_) update_accepted(wanted);
  maybe_join_higher_view();
  note_view_change_quorum();
  maybe_send_new_view();
  retry_pending_new_view();
}

void Replica::send_view_change_ack(ViewNumber view, const ValidViewChange& vc) {
  const ReplicaId primary = config_.primary(view);
  if (passive_ || primary == self_ || vc.sender == self_ || vc.sender == primary) return;
  send_to(primary, encode_view_change_ack(self_, ViewChangeAck{view, vc.sender, vc.digest}), MessageKind::ViewChangeAck);
}

void Replica::on_view_change_ack(const Envelope& env) {
  auto decoded = decode_view_change_ack(env.body);
  if (!decoded.ok() || decoded.value.view == 0 || decoded.value.view == kViewMax ||
      decoded.value.replica >= config_.n || decoded.value.replica == env.sender) {
    return reject(RejectReason::Malformed, env.sender, env.kind);
  }
  const ViewChangeAck& ack = decoded.value;
  if (config_.primary(ack.view) != self_) return reject(RejectReason::WrongSender, env.sender, env.kind);
  if (ack.view < view_ || (ack.view == view_ && status_ == Status::Normal) || ack.replica == self_) {
    stats_.duplicates++;  // the view change is over here, or the ack is for our own VIEW-CHANGE
    return;
  }
  if (!early_view_in_reach(ack.view)) return reject(RejectReason::WrongView, env.sender, env.kind);
  auto& acks = view_change_acks_[ack.view];
  acks.resize(std::size_t{config_.n} * config_.n);
  AckRecord& rec = acks[std::size_t{env.sender} * config_.n + ack.replica];
  if (rec.present) {
    if (rec.digest == ack.digest) {
      stats_.duplicates++;
    } else {
      reject(RejectReason::Conflict, env.sender, env.kind);  // a correct replica acks one VIEW-CHANGE per sender
    }
    return;
  }
  rec = AckRecord{true, ack.digest};
  // Bounded: only views from ours to kEarlyViewsAhead past it are kept.
  view_change_acks_.erase(view_change_acks_.begin(), view_change_acks_.lower_bound(view_));
  update_accepted(ack.view);
  maybe_send_new_view();
}

void Replica::update_accepted(ViewNumber view) {
  assert(config_.primary(view) == self_);
  auto held = view_changes_.find(view);
  if (held == view_changes_.end()) return;
  auto acks = view_change_acks_.find(view);
  for (auto& [sender, vc] : held->second) {
    if (vc.accepted) continue;
    if (sender == self_) {
      vc.accepted = true;
      continue;
    }
    std::uint32_t count = 0;
    for (ReplicaId acker = 0; acker < config_.n && acks != view_change_acks_.end(); ++acker) {
      if (acker == sender || acker == self_) continue;
      const AckRecord& rec = acks->second[std::size_t{acker} * config_.n + sender];
      count += rec.present && rec.digest == vc.digest ? 1 : 0;
    }
    // The sender, the primary and quorum - 2 acking replicas: a quorum holds this message.
    vc.accepted = count + 2 >= config_.quorum();
  }
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

const Replica::ValidViewChange* Replica::held_view_change_wire(const Envelope& env) const {
  if (env.sender >= config_.n || env.body.size() < 8) return nullptr;
  const std::uint64_t view = load_le64(env.body.data());  // the body starts with the view
  return held_view_change(view, env.sender, env.wire);
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
