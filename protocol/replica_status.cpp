// Replica: recovering lost messages with STATUS (receiver-driven retransmission).
//
// PBFT's liveness argument assumes that a message sent repeatedly is eventually delivered
// (OSDI '99 §4.5; the TOCS '02 implementation gets there with receiver-driven
// retransmission prompted by status messages). Without it, one lost PRE-PREPARE or COMMIT
// leaves a replica unable to execute until the next view change, and with n - f replicas
// left every loss stalls the group. So a replica that has work pending and has made no
// progress for a status interval multicasts STATUS (its view, stable checkpoint and last
// executed sequence number); each peer answers with what it can tell the sender is missing:
//   - a NEW-VIEW or VIEW-CHANGEs when the sender is in an older view (help_laggard),
//   - the proof of its stable checkpoint when the sender is below it (so it fetches state),
//     and its own CHECKPOINTs above the sender's stable one (lost ones stall the window),
//   - in the same view, its own PREPARE and COMMIT (and, from the primary, the PRE-PREPARE)
//     for the sequence numbers the sender has not executed yet, or has executed in an
//     earlier view but not yet committed to in this one (status_low_mark),
//   - and, when the sender is ahead of it and the STATUS was not itself an answer, its own
//     STATUS, so that the sender learns what this replica lacks.
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
bool Replica::stuck_candidate() const {
  if (status_ != Status::Normal) return false;  // a view change retransmits VIEW-CHANGE instead
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

// Half the request timeout, so a lost message is usually recovered before the timer turns it
// into a view change; bounded both ways so a tiny timeout does not flood and a huge one does
// not leave losses unrepaired for long.
std::int64_t Replica::status_interval_ns() const {
  return std::clamp<std::int64_t>(config_.view_change_timeout_ns / 2, kStatusIntervalMinNs, kStatusIntervalMaxNs);
}

// While stuck, the interval doubles after each STATUS sent (up to 2^kRetransmitDoublingsMax),
// like the client's retransmissions: a replica that cannot be helped (its primary is faulty
// and a view change is coming) asks a few times, not every interval.
void Replica::update_status_timer() {
  const bool armed = timer_armed_[static_cast<std::size_t>(TimerKind::Status)];
  if (stuck_candidate() && !armed) {
    const std::uint32_t doublings = std::min(statuses_sent_, kRetransmitDoublingsMax);
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
  multicast(encode_status(self_, protocol::Status{view_, 0, stable_seq_, low_mark}), MessageKind::Status);
}

void Replica::on_status(const Envelope& env) {
  auto decoded = decode_status(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const protocol::Status& st = decoded.value;
  if (passive_) {
    stats_.duplicates++;  // a recovering replica knows nothing worth re-sending
    return;
  }
  const bool in_view_change = (st.flags & protocol::Status::kInViewChange) != 0;
  if (st.view < view_ || (st.view == view_ && in_view_change && status_ == Status::Normal)) {
    help_laggard(env.sender, st.view);
  }
  if (st.last_executed < stable_seq_ && st.stable_seq < stable_seq_) {
    // Below our stable checkpoint: its proof makes the sender fetch the state.
    for (const auto& wire : stable_proof_) out_->messages.push_back(OutMessage{env.sender, MessageKind::Checkpoint, wire});
  }
  // Our own CHECKPOINTs above the sender's stable one: if they were lost (a partition), no
  // checkpoint becomes stable, the window fills and the primary can assign nothing more.
  for (auto it = checkpoint_votes_.upper_bound(std::max(st.stable_seq, stable_seq_)); it != checkpoint_votes_.end(); ++it) {
    const CheckpointVote& mine = it->second[self_];
    if (mine.present && !mine.wire.empty()) out_->messages.push_back(OutMessage{env.sender, MessageKind::Checkpoint, mine.wire});
  }
  if (status_ == Status::Normal && st.view == view_ && !in_view_change) {
    retransmit_slots(env.sender, st.last_executed);
  }
  // Answer with our own STATUS only if the sender can help us: it is in a later view or has
  // executed more. Otherwise every STATUS would draw n - 1 answers nobody needs.
  const bool behind = st.view > view_ || (st.view == view_ && st.last_executed > last_executed_);
  if ((st.flags & protocol::Status::kReply) == 0 && behind) {
    const std::uint8_t flags = protocol::Status::kReply | (status_ == Status::ViewChange ? protocol::Status::kInViewChange : 0);
    send_to(env.sender, encode_status(self_, protocol::Status{view_, flags, stable_seq_, last_executed_}),
            MessageKind::Status);
  }
}

// This replica's own messages of the current view for sequence numbers above `last_executed`
// (the PRE-PREPARE too when it is the primary), oldest first: the receiver executes in order.
void Replica::retransmit_slots(ReplicaId to, SequenceNumber last_executed) {
  const bool primary = config_.primary(view_) == self_;
  std::uint32_t sent = 0;
  for (SequenceNumber seq = std::max(last_executed, stable_seq_) + 1; seq <= high_watermark(); ++seq) {
    if (sent >= kStatusRetransmitMax) return;
    const Slot* slot = find_slot(seq);
    if (slot == nullptr || !slot->has_pre_prepare || slot->pp_view != view_) continue;
    if (primary && !slot->pre_prepare_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::PrePrepare, slot->pre_prepare_wire});
      sent++;
    }
    const VoteRecord& prepare = slot->prepares[self_];
    const Bytes& prepare_wire = slot->prepare_wires[self_];
    if (slot->sent_prepare && prepare.present && prepare.view == view_ && !prepare_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::Prepare, prepare_wire});
      sent++;
    }
    const VoteRecord& commit = slot->commits[self_];
    if (slot->sent_commit && commit.present && commit.view == view_ && !slot->own_commit_wire.empty()) {
      out_->messages.push_back(OutMessage{to, MessageKind::Commit, slot->own_commit_wire});
      sent++;
    }
  }
}

}  // namespace protocol
