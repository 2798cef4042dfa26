// Replica: checkpoints, watermarks, garbage collection and state transfer (OSDI '99 §4.3;
// TOCS '02 §5.3 for fetching state).
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"
#include "protocol/wire_io.h"

namespace protocol {

// The checkpointed state: the service's snapshot and the client reply table (last
// timestamp and result per client), which exactly-once execution depends on.
Bytes Replica::snapshot() const {
  WireWriter w;
  w.bytes(service_.snapshot());
  w.u32(static_cast<std::uint32_t>(replies_.size()));
  for (const auto& [client, rec] : replies_) {
    w.u32(client);
    w.u64(rec.timestamp);
    w.bytes(rec.result);
  }
  return w.take();
}

bool Replica::restore(ByteView snap) {
  WireReader r(snap);
  ByteView service_bytes = r.bytes(kStateBytesMax);
  const std::uint32_t count = r.u32();
  if (!r.ok() || count > snap.size()) return false;
  std::map<ClientId, ReplyRecord> replies;
  for (std::uint32_t i = 0; i < count && r.ok(); ++i) {
    const ClientId client = r.u32();
    ReplyRecord rec;
    rec.timestamp = r.u64();
    ByteView result = r.bytes(kResultBytesMax);
    rec.result.assign(result.begin(), result.end());
    replies[client] = std::move(rec);
  }
  if (!r.ok() || !r.at_end()) return false;
  KvService service;
  if (!service.restore(service_bytes)) return false;
  service_ = std::move(service);
  replies_ = std::move(replies);
  return true;
}

// Checkpoints are taken on *executed* sequence numbers, every checkpoint_interval.
void Replica::take_checkpoint(SequenceNumber seq) {
  assert(seq == last_executed_ || planted(defect_, Defect::CheckpointOnAssigned));
  assert(seq % config_.checkpoint_interval == 0);
  Bytes snap = snapshot();
  const MessageDigest digest = crypto_->digest(snap);
  own_checkpoints_[seq] = OwnCheckpoint{digest, std::move(snap)};
  out_->notes.push_back(note::CheckpointTaken{seq, digest});
  Bytes buf = new_buffer();
  encode_checkpoint_into(buf, self_, Checkpoint{seq, digest});
  multicast(std::move(buf), MessageKind::Checkpoint);
  record_checkpoint_vote(self_, Checkpoint{seq, digest}, out_->messages.back().wire);
}

void Replica::on_checkpoint(const Envelope& env) {
  auto decoded = decode_checkpoint(env.body);
  if (!decoded.ok() || decoded.value.seq == 0 ||
      decoded.value.seq % config_.checkpoint_interval != 0) {
    return reject(RejectReason::Malformed, env.sender, env.kind);
  }
  if (decoded.value.seq <= stable_seq_) {
    stats_.duplicates++;  // a late vote for a checkpoint already stable here
    if (decoded.value.seq == stable_seq_ && decoded.value.state_digest == stable_digest_) {
      add_to_stable_proof(env.sender, env.wire);
    }
    return;
  }
  record_checkpoint_vote(env.sender, decoded.value, env.wire);
}

// The stable checkpoint's proof keeps every matching CHECKPOINT that arrives after it became
// stable: it is what a replica stuck below it is sent (STATUS), and with MAC authenticators
// a faulty replica's CHECKPOINT may authenticate only for some of them.
void Replica::add_to_stable_proof(ReplicaId sender, ByteView wire) {
  for (const auto& w : stable_proof_) {
    auto e = parse_envelope(w);
    if (e.ok() && e.value.sender == sender) return;
  }
  if (stable_proof_.size() >= config_.n) return;
  stable_proof_.emplace_back(wire.begin(), wire.end());
}

void Replica::record_checkpoint_vote(ReplicaId from, const Checkpoint& cp, ByteView wire) {
  CheckpointVote& latest = latest_checkpoint_[from];
  if (!latest.present || cp.seq > latest.seq) {
    latest = CheckpointVote{true, cp.seq, cp.state_digest, Bytes(wire.begin(), wire.end())};
  }
  if (in_window(cp.seq)) {
    auto& votes = checkpoint_votes_[cp.seq];
    votes.resize(config_.n);
    CheckpointVote& v = votes[from];
    if (v.present) {
      if (v.digest == cp.state_digest) {
        stats_.duplicates++;
      } else {
        reject(RejectReason::Conflict, from, MessageKind::Checkpoint);
      }
      return;
    }
    v = CheckpointVote{true, cp.seq, cp.state_digest, Bytes(wire.begin(), wire.end())};
  }
  check_checkpoint_quorum(cp.seq, cp.state_digest);
}

// The CHECKPOINTs for (seq, digest) this replica holds, one per sender: votes in the window
// and each replica's newest one.
std::vector<Bytes> Replica::checkpoint_certificate(SequenceNumber seq, const MessageDigest& digest) const {
  std::vector<Bytes> proof;
  auto votes = checkpoint_votes_.find(seq);
  const bool any_digest = planted(defect_, Defect::CheckpointIgnoresDigest);
  for (ReplicaId r = 0; r < config_.n; ++r) {
    const CheckpointVote* match = nullptr;
    if (votes != checkpoint_votes_.end() && votes->second.size() == config_.n && votes->second[r].present &&
        (votes->second[r].digest == digest || any_digest)) {
      match = &votes->second[r];
    } else if (latest_checkpoint_[r].present && latest_checkpoint_[r].seq == seq &&
               (latest_checkpoint_[r].digest == digest || any_digest)) {
      match = &latest_checkpoint_[r];
    }
    if (match != nullptr) proof.push_back(match->wire);
  }
  return proof;
}

// A quorum of matching CHECKPOINTs from distinct replicas makes a checkpoint stable here
// if this replica reached the same state; if it is behind or its state differs, it must
// fetch the state rather than mark the checkpoint stable and move on.
void Replica::check_checkpoint_quorum(SequenceNumber seq, const MessageDigest& digest) {
  if (seq <= stable_seq_) return;
  std::vector<Bytes> proof = checkpoint_certificate(seq, digest);
  const std::uint32_t quorum = planted(defect_, Defect::CheckpointQuorumShort) ? config_.f + 1 : config_.quorum();
  if (proof.size() < quorum) return;
  out_->notes.push_back(note::CheckpointCertificate{seq, digest, static_cast<std::uint32_t>(proof.size())});
  auto own = own_checkpoints_.find(seq);
  if (own != own_checkpoints_.end() && own->second.digest == digest) {
    make_stable(seq, digest, std::move(proof));
    return;
  }
  const bool diverged = own != own_checkpoints_.end() || last_executed_ >= seq;
  if (diverged || seq > high_watermark()) {
    // Out of reach (beyond the window) or our state is wrong: fetch it now.
    make_stable(seq, digest, std::vector<Bytes>(proof));
    start_state_transfer(seq, digest, std::move(proof));
  } else if (seq > pending_seq_) {
    // Probably just behind: give execution a moment before fetching.
    pending_seq_ = seq;
    pending_digest_ = digest;
    pending_proof_ = std::move(proof);
    if (fetch_seq_ == 0) set_timer(TimerKind::StateFetch, config_.state_fetch_timeout_ns);
  }
}

// The certified checkpoint ahead of our execution (pending_seq_) is out of reach by executing:
// make it stable and fetch its state.
void Replica::fetch_pending_checkpoint() {
  assert(pending_seq_ > last_executed_ && fetch_seq_ == 0);
  std::vector<Bytes> proof = pending_proof_;
  const SequenceNumber seq = pending_seq_;
  const MessageDigest digest = pending_digest_;
  make_stable(seq, digest, std::move(pending_proof_));
  start_state_transfer(seq, digest, std::move(proof));
}

void Replica::make_stable(SequenceNumber seq, const MessageDigest& digest,
                          std::vector<Bytes>&& proof) {
  if (seq <= stable_seq_) return;
  assert(proof.size() >= config_.quorum() || planted(defect_, Defect::CheckpointQuorumShort));
  stable_proof_ = std::move(proof);
  stats_.checkpoints_stable++;
  out_->notes.push_back(note::CheckpointStable{seq, digest});
  advance_low_watermark(seq, digest);
}

void Replica::adopt_checkpoint(SequenceNumber seq, const MessageDigest& digest) {
  if (seq <= stable_seq_) return;
  // The CHECKPOINTs we hold for it, short of a quorum: what we can pass on to a laggard.
  stable_proof_.clear();
  auto votes = checkpoint_votes_.find(seq);
  if (votes != checkpoint_votes_.end()) {
    for (const auto& v : votes->second) {
      if (v.present && v.digest == digest) stable_proof_.push_back(v.wire);
    }
  }
  out_->notes.push_back(note::CheckpointAdopted{seq, digest});
  advance_low_watermark(seq, digest);
}

void Replica::advance_low_watermark(SequenceNumber seq, const MessageDigest& digest) {
  assert(seq > stable_seq_);
  stable_seq_ = seq;
  ring_base_ = (stable_seq_ + 1) % config_.log_window;
  stable_digest_ = digest;
  std::fill(state_replies_sent_.begin(), state_replies_sent_.end(), 0);
  if (pending_seq_ <= seq) {
    pending_seq_ = 0;
    pending_proof_.clear();
  }
  if (next_seq_ <= seq) next_seq_ = seq + 1;
  collect_garbage();
  replay_due_ = true;  // messages that were just above the old window may fit now (after this step's handler)
  if (passive_) {
    // A replica that lost its memory may have voted on anything up to the window it had
    // before the crash; once the group is a full window past the first checkpoint it
    // learned of, none of those sequence numbers can still be decided.
    if (passive_horizon_ == 0) passive_horizon_ = seq + config_.log_window;
    if (seq >= passive_horizon_ && last_executed_ >= seq) passive_ = false;
  }
}

// Discards every log entry, certificate, vote and checkpoint at or below the stable one.
void Replica::collect_garbage() {
  for (auto& slot : log_) {
    if (slot.seq != 0 && slot.seq <= stable_seq_) {
      assert(log_entries_ > 0);
      log_entries_--;
      slot.seq = 0;
      slot.has_pre_prepare = slot.prepared = slot.committed = slot.has_p = slot.has_held = false;
      // Buffers stay for the slot's next sequence number (slot_for resets the rest).
    }
  }
  own_checkpoints_.erase(own_checkpoints_.begin(), own_checkpoints_.lower_bound(stable_seq_));
  checkpoint_votes_.erase(checkpoint_votes_.begin(), checkpoint_votes_.upper_bound(stable_seq_));
  full_check_due_ = true;  // this walked the window anyway; check it whole after the step
}

void Replica::start_state_transfer(SequenceNumber seq, const MessageDigest& digest,
                                   std::vector<Bytes>&& proof) {
  if (last_executed_ >= seq) {
    auto own = own_checkpoints_.find(seq);
    if (own != own_checkpoints_.end() && own->second.digest == digest) return;
  }
  std::vector<ReplicaId> candidates;
  for (const auto& wire : proof) {
    auto env = parse_envelope(wire);
    if (env.ok() && env.value.sender != self_ && env.value.sender < config_.n) candidates.push_back(env.value.sender);
  }
  start_state_transfer_from(seq, digest, std::move(proof), std::move(candidates));
}

void Replica::start_state_transfer_from(SequenceNumber seq, const MessageDigest& digest,
                                        std::vector<Bytes>&& proof, std::vector<ReplicaId> candidates) {
  if (last_executed_ >= seq) {
    auto own = own_checkpoints_.find(seq);
    if (own != own_checkpoints_.end() && own->second.digest == digest) return;
  }
  fetch_seq_ = seq;
  fetch_digest_ = digest;
  fetch_candidates_ = std::move(candidates);
  fetch_proof_ = std::move(proof);
  fetch_awaiting_.assign(config_.n, false);
  fetch_next_ = self_;  // spread the load: each replica starts with a different peer
  stats_.state_transfers++;
  send_fetch();
}

void Replica::send_fetch() {
  if (fetch_candidates_.empty()) return;
  const ReplicaId to = fetch_candidates_[fetch_next_++ % fetch_candidates_.size()];
  assert(to < config_.n && to != self_);
  fetch_awaiting_[to] = true;
  fetch_asked_last_ = to;
  send_to(to, encode_fetch_state(self_, FetchState{fetch_seq_, fetch_digest_}),
          MessageKind::FetchState);
  set_timer(TimerKind::StateFetch, config_.state_fetch_timeout_ns);
}

void Replica::on_fetch_state(const Envelope& env) {
  auto decoded = decode_fetch_state(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  auto own = own_checkpoints_.find(decoded.value.seq);
  if (own == own_checkpoints_.end() || own->second.digest != decoded.value.state_digest) {
    stats_.duplicates++;  // we no longer (or never) had it; the asker will try another
    return;
  }
  std::uint8_t& sent = state_replies_sent_[env.sender];
  if (sent >= kStateRepliesPerAskerMax) return reject(RejectReason::BufferFull, env.sender, env.kind);
  sent++;
  send_to(env.sender,
          encode_state_reply(self_, StateReply{own->first, own->second.digest, own->second.snapshot}),
          MessageKind::StateReply);
}

// A state-transfer reply is believed only if it hashes to the digest a quorum certified.
void Replica::on_state_reply(const Envelope& env) {
  auto decoded = decode_state_reply(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const StateReply& reply = decoded.value;
  if (fetch_seq_ == 0 || reply.seq != fetch_seq_ || !fetch_awaiting_[env.sender]) {
    stats_.duplicates++;  // not an answer to a FETCH-STATE of ours still open
    return;
  }
  fetch_awaiting_[env.sender] = false;
  const bool unchecked = planted(defect_, Defect::StateUnchecked);
  if ((!unchecked && crypto_->digest(reply.snapshot) != fetch_digest_) || !restore(reply.snapshot)) {
    reject(RejectReason::BadState, env.sender, env.kind);
    if (env.sender == fetch_asked_last_) send_fetch();  // ask the next replica at once
    return;
  }
  const bool took_own = own_checkpoints_.count(fetch_seq_) != 0;
  const bool certified = fetch_proof_.size() >= config_.quorum();
  last_executed_ = fetch_seq_;
  own_checkpoints_[fetch_seq_] = OwnCheckpoint{fetch_digest_, reply.snapshot};
  if (fetch_seq_ > stable_seq_) {
    if (certified) {
      make_stable(fetch_seq_, fetch_digest_, std::move(fetch_proof_));
    } else {
      adopt_checkpoint(fetch_seq_, fetch_digest_);  // the state a NEW-VIEW chose: it hashes to that
    }
  }
  if (!took_own && !passive_) {
    // We hold that state now, checked against its digest, so say so, as if we had executed
    // to it. A certified checkpoint needs it too: a faulty replica's first CHECKPOINT for a
    // seq is the one every replica keeps, so if it lied there the quorum a laggard needs can
    // only come from correct replicas, and with exactly a quorum of them correct every one
    // must vouch, the ones that fetched the state included. And a checkpoint a NEW-VIEW chose
    // on the word of f+1 VIEW-CHANGEs: the replicas that computed it themselves (and kept
    // their certified checkpoint below it) see a quorum of CHECKPOINTs for it. Never a second
    // digest for the seq: we had taken no checkpoint there.
    Bytes buf = new_buffer();
    encode_checkpoint_into(buf, self_, Checkpoint{fetch_seq_, fetch_digest_});
    multicast(std::move(buf), MessageKind::Checkpoint);
    if (fetch_seq_ == stable_seq_) add_to_stable_proof(self_, out_->messages.back().wire);
  }
  out_->notes.push_back(note::StateTransferred{fetch_seq_, fetch_digest_});
  fetch_seq_ = 0;
  fetch_proof_.clear();
  cancel_timer(TimerKind::StateFetch);
  // A checkpoint certified while we fetched (check_checkpoint_quorum records it without a
  // timer then): give execution its moment to reach it, as for any other.
  if (pending_seq_ > last_executed_) set_timer(TimerKind::StateFetch, config_.state_fetch_timeout_ns);
  for (auto it = known_requests_.begin(); it != known_requests_.end();) {
    auto done = replies_.find(it->first.first);
    const bool executed = done != replies_.end() && done->second.timestamp >= it->first.second;
    it = executed ? known_requests_.erase(it) : std::next(it);
  }
  if (passive_ && stable_seq_ >= passive_horizon_ && passive_horizon_ != 0) passive_ = false;
  executed_this_step_ = true;
  try_execute();
}

}  // namespace protocol
