// Replica: recovering lost messages with STATUS (receiver-driven retransmission).
//
// PBFT's liveness argument assumes that a message sent repeatedly is eventually delivered
// (OSDI '99 §4.5; the TOCS '02 implementation gets there with receiver-driven
// retransmission prompted by status messages). Without it, one lost PRE-PREPARE or COMMIT
// leaves a replica unable to execute until the next view change, and with n - f replicas
// left every loss stalls the group. So a replica that has work pending and has made no
// progress for a status interval multicasts STATUS: its view (and whether it is changing to
// it), stable checkpoint, last executed sequence number, what it holds of each sequence
// number above that in its view (PRE-PREPARE, prepared, committed: one byte each, at most
// kStatusSlotsMax) and, in a view change, which VIEW-CHANGEs for the view it holds. Each
// peer answers with exactly what it can tell the sender lacks:
//   - a NEW-VIEW or VIEW-CHANGEs when the sender is in an older view or still changing to
//     the view the peer installed (help_laggard), and its own VIEW-CHANGE when both are
//     changing to the same view and the sender does not hold it,
//   - the proof of its stable checkpoint when the sender is below it (so it fetches state),
//     and its own CHECKPOINTs above the sender's stable one (lost ones stall the window),
//   - in the same view, for each sequence number the sender lacks something of: the
//     PRE-PREPARE (from the primary and the f backups after it, so that one correct replica
//     holding it re-sends it), its own PREPARE and its own COMMIT,
//   - and its own STATUS (unless the STATUS was itself an answer) when the sender holds
//     something it lacks: a later view, a NEW-VIEW it is waiting for, more executed, a
//     PRE-PREPARE or a quorum it has not got. A replica that lost a PRE-PREPARE knows no
//     request is waiting and never asks on its own; the primary's STATUS (its request is
//     waiting) shows it the gap, and its answer shows the primary what to re-send.
// Everything re-sent is a message its author already sent (wire-identical), so receivers
// treat it as a duplicate or as the original; nothing here creates new votes. The answer
// to one STATUS is bounded (kStatusRetransmitMax), and STATUS itself goes out only from a
// stuck replica, at most once per interval: healthy runs send none.
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {

// Work is pending that this replica cannot finish on its own yet: a known request has not
// executed, a certified checkpoint is ahead of it, or a sequence number it executed in an
// earlier view was proposed again in this one (a NEW-VIEW's O) and it has not prepared it
// here: its COMMIT of this view may be the one a laggard needs to execute it.
// In a view change there is always work pending: the view is not installed.
bool Replica::stuck_candidate() const {
  if (passive_) return false;
  if (status_ != Status::Normal) return true;
  return !known_requests_.empty() || fetch_seq_ != 0 || pending_seq_ > last_executed_ ||
         status_low_mark() < last_executed_;
}

// What STATUS reports as executed: the last executed sequence number, or less when a
// sequence number at or below it is proposed again in this view and this replica has not
// committed to it here (no COMMIT of this view sent), so that peers re-send their PREPAREs
// and COMMITs of this view for it. Without this, a replica that executed seq n in view v
// and missed a PREPARE of n in view v' > v stayed unprepared in v' forever (it asked for
// nothing past n), and with exactly a quorum of active correct replicas a laggard could
// then never gather the COMMITs of v' it needed, nor the checkpoint at n become stable
// (fuzz seed 30166: n = 7, two replicas crashed, K = L = 1, 10 % loss).
// Only sequence numbers a NEW-VIEW proposed again after this replica executed them can be
// in that state (reproposed_high_), so the scan is empty outside the views after a view change.
SequenceNumber Replica::status_low_mark() const {
  const SequenceNumber high = std::min(last_executed_, reproposed_high_);
  for (SequenceNumber seq = stable_seq_ + 1; seq <= high; ++seq) {
    const Slot* slot = find_slot(seq);
    if (slot != nullptr && slot->has_pre_prepare && slot->pp_view == view_ && !slot->sent_commit) return seq - 1;
  }
  return last_executed_;
}

// An eighth of the request timeout, so that a lost message is asked for several times (each
// try can be lost too) before the timer turns it into a view change; bounded both ways so a
// tiny timeout does not flood and a huge one does not leave losses unrepaired for long. A
// replica notices it is stuck one interval after its last progress and asks at the next.
std::int64_t Replica::status_interval_ns() const {
  return std::clamp<std::int64_t>(config_.view_change_timeout_ns / 8, kStatusIntervalMinNs, kStatusIntervalMaxNs);
}

// While stuck, the first kStatusEagerSends STATUSes go out one interval apart; then the
// interval doubles after each one (up to 2^kRetransmitDoublingsMax), like the client's
// retransmissions: a replica that cannot be helped (its primary is faulty and a view change
// is coming) asks a few times, not every interval.
void Replica::update_status_timer() {
  const bool armed = timer_armed_[static_cast<std::size_t>(TimerKind::Status)];
  if (stuck_candidate() && !armed) {
    const std::uint32_t late = statuses_sent_ > kStatusEagerSends ? statuses_sent_ - kStatusEagerSends : 0;
    const std::uint32_t doublings = std::min(late, kRetransmitDoublingsMax);
    set_timer(TimerKind::Status, saturating_shift(status_interval_ns(), doublings));
  } else if (!stuck_candidate() && armed) {
    cancel_timer(TimerKind::Status);
    status_mark_valid_ = false;
    statuses_sent_ = 0;
  }
}

void Replica::on_status_timer() {
  if (!stuck_candidate()) return;
  const SequenceNumber low_mark = status_low_mark();
  if (low_mark == last_executed_) reproposed_high_ = 0;  // every proposal again committed to here
  const bool moved = !status_mark_valid_ || status_mark_view_ != view_ || status_mark_executed_ != low_mark;
  status_mark_valid_ = true;
  status_mark_view_ = view_;
  status_mark_executed_ = low_mark;
  if (moved) {
    statuses_sent_ = 0;
    return;  // progress since the last tick: nothing to ask for yet
  }
  statuses_sent_++;
  // Stuck below a checkpoint the others have certified: what we lack is probably gone from
  // their logs (garbage collected), so fetch the state now instead of waiting out the
  // state-fetch timeout as well.
  if (status_ == Status::Normal && fetch_seq_ == 0 && pending_seq_ > last_executed_) fetch_pending_checkpoint();
  multicast(encode_status(self_, build_status(0, status_low_mark())), MessageKind::Status);
}

// Where this replica stands, with `low_mark` reported as its last executed sequence number.
protocol::Status Replica::build_status(std::uint8_t flags, SequenceNumber low_mark) const {
  protocol::Status st;
  st.view = view_;
  st.flags = flags | (status_ == Status::ViewChange ? protocol::Status::kInViewChange : 0);
  st.stable_seq = stable_seq_;
  st.last_executed = low_mark;
  if (status_ == Status::ViewChange) {
    st.view_changes.assign((config_.n + 7) / 8, 0);
    auto held = view_changes_.find(view_);
    if (held != view_changes_.end()) {
      for (const auto& [sender, vc] : held->second) st.view_changes[sender / 8] |= std::uint8_t(1u << (sender % 8));
    }
    return st;
  }
  // Up to the last sequence number it holds anything of: a peer re-sends what lies beyond.
  const SequenceNumber first = std::max(low_mark, stable_seq_) + 1;
  const SequenceNumber last = std::min<SequenceNumber>(high_watermark(), low_mark + kStatusSlotsMax);
  std::size_t used = 0;
  for (SequenceNumber seq = first; seq <= last; ++seq) {
    const std::uint8_t bits = held_bits(seq);
    const std::size_t index = static_cast<std::size_t>(seq - low_mark - 1);
    if (bits == 0) continue;
    st.slots.resize(index + 1, 0);
    st.slots[index] = bits;
    used = index + 1;
  }
  assert(st.slots.size() == used && used <= kStatusSlotsMax);
  return st;
}

// What this replica holds of `seq` in its view, as a STATUS slot byte.
std::uint8_t Replica::held_bits(SequenceNumber seq) const {
  const Slot* slot = find_slot(seq);
  if (slot == nullptr || !slot->has_pre_prepare || slot->pp_view != view_) return 0;
  return protocol::Status::kSlotPrePrepared | (slot->prepared ? protocol::Status::kSlotPrepared : 0) |
         (slot->committed ? protocol::Status::kSlotCommitted : 0);
}

// What the STATUS says its sender holds of `seq` (in its view): nothing past the end.
std::uint8_t Replica::status_slot(const protocol::Status& st, SequenceNumber seq) {
  if (seq <= st.last_executed) return protocol::Status::kSlotAll;  // executed: it needs nothing
  const SequenceNumber index = seq - st.last_executed - 1;
  return index < st.slots.size() ? st.slots[static_cast<std::size_t>(index)] : 0;
}

// Whether the STATUS shows its sender holding something of our view that we lack: then our
// own STATUS tells it what to re-send.
bool Replica::status_shows_more(const protocol::Status& st) const {
  if (st.last_executed > last_executed_) return true;
  for (std::size_t i = 0; i < st.slots.size(); ++i) {
    const SequenceNumber seq = st.last_executed + 1 + i;
    if (seq <= last_executed_) continue;
    if (!in_window(seq)) break;
    if ((st.slots[i] & ~held_bits(seq)) != 0) return true;
  }
  return false;
}

bool Replica::status_holds_view_change(const protocol::Status& st, ReplicaId replica) {
  const std::size_t byte = replica / 8;
  return byte < st.view_changes.size() && ((st.view_changes[byte] >> (replica % 8)) & 1u) != 0;
}

void Replica::on_status(const Envelope& env) {
  auto decoded = decode_status(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const protocol::Status& st = decoded.value;
  if (passive_) {
    stats_.duplicates++;  // a recovering replica knows nothing worth re-sending
    return;
  }
  const bool sender_changing = (st.flags & protocol::Status::kInViewChange) != 0;
  const bool changing = status_ == Status::ViewChange;
  if (st.view < view_ || (st.view == view_ && sender_changing && !changing)) {
    help_laggard(env.sender, st.view, true, &st);
  } else if (st.view == view_ && sender_changing && changing) {
    if (!status_holds_view_change(st, self_)) {
      auto own = own_view_changes_.find(view_);
      if (own != own_view_changes_.end()) out_->messages.push_back(OutMessage{env.sender, MessageKind::ViewChange, own->second});
    }
    // The new primary is still waiting: our acks may have been lost, and it may lack
    // VIEW-CHANGEs whose senders are gone (relayed as sealed; see help_laggard).
    auto held = view_changes_.find(view_);
    if (env.sender == config_.primary(view_) && held != view_changes_.end()) {
      for (const auto& [sender, vc] : held->second) {
        if (status_holds_view_change(st, sender)) {
          send_view_change_ack(view_, vc);
        } else if (sender != self_ && config_.auth != AuthMode::None) {
          out_->messages.push_back(OutMessage{env.sender, MessageKind::ViewChange, vc.wire});
        }
      }
    }
  }
  if (st.stable_seq < stable_seq_) {
    // Below our stable checkpoint: its proof makes the sender fetch the state, or, if it
    // executed that far itself (a replica that kept its certified checkpoint when a NEW-VIEW
    // chose a higher one), lets it certify the checkpoint and move its window. Its own
    // CHECKPOINT in the proof stays out: a replica refuses its own messages echoed back.
    for (const auto& wire : stable_proof_) {
      auto cp = parse_envelope(wire);
      if (cp.ok() && cp.value.sender == env.sender) continue;
      out_->messages.push_back(OutMessage{env.sender, MessageKind::Checkpoint, wire});
    }
  }
  // Our own CHECKPOINTs above the sender's stable one: if they were lost (a partition), no
  // checkpoint becomes stable, the window fills and the primary can assign nothing more.
  for (auto it = checkpoint_votes_.upper_bound(std::max(st.stable_seq, stable_seq_)); it != checkpoint_votes_.end(); ++it) {
    const CheckpointVote& mine = it->second[self_];
    if (mine.present && !mine.wire.empty()) out_->messages.push_back(OutMessage{env.sender, MessageKind::Checkpoint, mine.wire});
  }
  const bool same_normal_view = !changing && !sender_changing && st.view == view_;
  if (same_normal_view) retransmit_slots(env.sender, st);
  // Answer with our own STATUS only if the sender can help us. Otherwise every STATUS would
  // draw n - 1 answers nobody needs.
  bool behind = st.view > view_ || (st.view == view_ && changing && !sender_changing);
  if (same_normal_view) behind = behind || status_shows_more(st);
  if (st.view == view_ && changing && sender_changing) {
    auto held = view_changes_.find(view_);
    behind = held == view_changes_.end() || held->second.count(env.sender) == 0;
  }
  if ((st.flags & protocol::Status::kReply) == 0 && behind) {
    send_to(env.sender, encode_status(self_, build_status(protocol::Status::kReply, status_low_mark())),
            MessageKind::Status);
  }
}

// For the sequence numbers above the sender's last executed one that it lacks something of
// (oldest first: the receiver executes in order): the PRE-PREPARE, if we are the primary or
// one of the f backups after it (one correct replica among them re-sends it, and not every
// replica), and our own PREPARE and COMMIT of the current view.
void Replica::retransmit_slots(ReplicaId to, const protocol::Status& st) {
  const ReplicaId primary = config_.primary(view_);
  // Without authentication ("none") only the transport vouches for a sender, so a copy of the
  // primary's PRE-PREPARE relayed by a backup would be refused: only the primary re-sends it.
  const bool relayable = config_.auth != AuthMode::None;
  const bool resends_pre_prepare = self_ == primary || (relayable && (self_ + config_.n - primary) % config_.n <= config_.f);
  std::uint32_t sent = 0;
  for (SequenceNumber seq = std::max(st.last_executed, stable_seq_) + 1; seq <= high_watermark(); ++seq) {
    if (sent >= kStatusRetransmitMax) return;
    const Slot* slot = find_slot(seq);
    if (slot == nullptr || !slot->has_pre_prepare || slot->pp_view != view_) continue;
    const std::uint8_t theirs = status_slot(st, seq);
    if (theirs == protocol::Status::kSlotAll) continue;
    if ((theirs & protocol::Status::kSlotPrePrepared) == 0 && resends_pre_prepare && !slot->pre_prepare_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::PrePrepare, slot->pre_prepare_wire});
      sent++;
    }
    const VoteRecord& prepare = slot->prepares[self_];
    const Bytes& prepare_wire = slot->own_prepare_wire;
    if ((theirs & protocol::Status::kSlotPrepared) == 0 && slot->sent_prepare && prepare.present &&
        prepare.view == view_ && !prepare_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::Prepare, prepare_wire});
      sent++;
    }
    const VoteRecord& commit = slot->commits[self_];
    if ((theirs & protocol::Status::kSlotCommitted) == 0 && slot->sent_commit && commit.present &&
        commit.view == view_ && !slot->own_commit_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::Commit, slot->own_commit_wire});
      sent++;
    }
  }
}

}  // namespace protocol
