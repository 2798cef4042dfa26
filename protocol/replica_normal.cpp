// Replica: the normal case (OSDI '99 §4.2): requests, PRE-PREPARE, PREPARE, COMMIT,
// in-order execution, replies, and the primary's batching.
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {

bool Replica::open_request(ByteView wire, ConsensusRequest& out, bool authenticate) {
  auto env = parse_envelope(wire);
  if (!env.ok() || env.value.kind != MessageKind::Request || env.value.sender < config_.n) {
    return false;
  }
  std::optional<MessageDigest> content_digest;
  if (authenticate && !crypto_->verify(env.value, &content_digest)) return false;
  RequestView req;
  if (!decode_request_view(env.value.body, req).empty() || req.client != env.value.sender) {
    return false;
  }
  out.client = req.client;
  out.timestamp = req.timestamp;
  out.operation.assign(req.operation.begin(), req.operation.end());  // reuses out's buffer
  // The MAC check hashed the content already: that hash is the request digest.
  out.digest = content_digest ? *content_digest : crypto_->request_digest(env.value.content);
  return true;
}

Replica::KnownRequest& Replica::known_insert(const RequestKey& key, bool& fresh) {
  auto it = known_requests_.find(key);
  fresh = it == known_requests_.end();
  if (!fresh) return it->second;
  if (spare_known_.empty()) {
    KnownRequest& k = known_requests_.try_emplace(key).first->second;
    k.arrival = ++arrivals_;
    return k;
  }
  auto node = std::move(spare_known_.back());
  spare_known_.pop_back();
  node.key() = key;
  KnownRequest& k = node.mapped();
  k.wire.clear();  // capacity kept
  k.request.operation.clear();
  k.assigned = false;
  k.arrival = ++arrivals_;
  return known_requests_.insert(std::move(node)).position->second;
}

void Replica::known_erase(std::map<RequestKey, KnownRequest>::iterator first,
                          std::map<RequestKey, KnownRequest>::iterator last) {
  constexpr std::size_t kSpareNodesMax = 256;
  while (first != last) {
    auto next = std::next(first);
    if (spare_known_.size() < kSpareNodesMax) {
      spare_known_.push_back(known_requests_.extract(first));
    } else {
      known_requests_.erase(first);
    }
    first = next;
  }
}

bool Replica::client_at_bound(ClientId client) const {
  std::uint32_t pending = 0;
  for (auto it = known_requests_.lower_bound(RequestKey{client, 0});
       it != known_requests_.end() && it->first.first == client; ++it) {
    if (++pending >= kKnownRequestsPerClientMax) return true;
  }
  return false;
}

void Replica::on_request(NodeId from, const Envelope& env,
                         const std::optional<MessageDigest>& content_digest) {
  RequestView req;
  const bool decoded = decode_request_view(env.body, req).empty();
  if (!decoded || req.client != env.sender) {
    reject(decoded ? RejectReason::WrongSender : RejectReason::Malformed, from, env.kind);
    return;
  }
  auto done = replies_.find(req.client);
  if (planted(defect_, Defect::ReexecuteRetransmission)) done = replies_.end();
  if (done != replies_.end() && req.timestamp <= done->second.timestamp) {
    // Exactly once: a retransmission of the last executed request gets the cached reply.
    if (req.timestamp == done->second.timestamp) {
      send_reply(req.client, req.timestamp, done->second.result);
      stats_.duplicates++;
    } else {
      reject(RejectReason::Stale, from, env.kind);
    }
    return;
  }
  const RequestKey key{req.client, req.timestamp};
  const ReplicaId primary = config_.primary(view_);
  const bool from_client = from == env.sender;
  if (known_requests_.count(key) == 0) {
    if (known_requests_.size() >= config_.request_queue_max || client_at_bound(req.client)) {
      reject(RejectReason::BufferFull, from, env.kind);
      return;
    }
    bool fresh = false;
    KnownRequest& known = known_insert(key, fresh);
    assert(fresh);
    known.wire.assign(env.wire.begin(), env.wire.end());
    known.request.client = req.client;
    known.request.timestamp = req.timestamp;
    known.request.operation.assign(req.operation.begin(), req.operation.end());
    // Authentication by MAC hashed the content already: that is the request digest.
    known.request.digest = content_digest ? *content_digest : crypto_->request_digest(env.content);
    if (primary == self_) proposal_queue_.push_back(key);
  } else {
    stats_.duplicates++;
  }
  // A client that timed out sends to everyone: backups relay to the primary (§4.5.1).
  if (from_client && primary != self_ && !passive_) {
    const auto& wire = known_requests_.at(key).wire;
    out_->messages.push_back(OutMessage{primary, MessageKind::Request, wire});
  }
}

void Replica::resize_requests(std::vector<ConsensusRequest>& requests, std::size_t count) {
  while (requests.size() < count && !spare_requests_.empty()) {
    requests.push_back(std::move(spare_requests_.back()));
    spare_requests_.pop_back();
  }
  requests.resize(count);
}

bool Replica::decode_batch(std::span<const ByteView> wires, std::vector<ConsensusRequest>& out,
                           bool authenticate) {
  resize_requests(out, wires.size());  // elements with buffers from earlier batches
  for (std::size_t i = 0; i < wires.size(); ++i) {
    if (!open_request(wires[i], out[i], authenticate)) return false;  // a request its client did not authenticate
  }
  return true;
}

bool Replica::decode_batch(const PrePrepare& pp, std::vector<ConsensusRequest>& out) {
  return decode_batch_as(pp, out, true);
}

// `authenticate` = false only for a batch whose digest the view change's decision chose (f+1
// VIEW-CHANGEs list it pre-prepared, A2, so a correct replica authenticated these requests
// before it pre-prepared) and the digest binds their content. Their MAC entries for *this* replica may have been broken on the way (a
// faulty primary can do that per recipient) and must not block the view change.
bool Replica::decode_batch_as(const PrePrepare& pp, std::vector<ConsensusRequest>& out, bool authenticate) {
  std::vector<ByteView> wires(pp.batch.requests.begin(), pp.batch.requests.end());
  return decode_batch(wires, out, authenticate);
}

MessageDigest Replica::digest_of_batch(const std::vector<ConsensusRequest>& requests) {
  digests_scratch_.clear();
  for (const auto& r : requests) digests_scratch_.push_back(r.digest);
  return crypto_->batch_digest(digests_scratch_);
}

void Replica::on_pre_prepare(const Envelope& env) {
  PrePrepareView& pp = pp_scratch_;  // views into env.wire, valid for this step
  if (!decode_pre_prepare_view(env.body, pp).empty()) {
    return reject(RejectReason::Malformed, env.sender, env.kind);
  }
  if (env.sender != config_.primary(pp.view)) {
    return reject(RejectReason::WrongSender, env.sender, env.kind);
  }
  const bool future = pp.view > view_ || (pp.view == view_ && status_ == Status::ViewChange);
  if (!passive_ && future) {
    if (!early_view_in_reach(pp.view)) return reject(RejectReason::WrongView, env.sender, env.kind);
    return buffer_early(env);
  }
  if (pp.view < view_ && !observing()) return reject(RejectReason::WrongView, env.sender, env.kind);
  if (pp.seq <= stable_seq_) { stats_.duplicates++; return; }
  if (!in_window(pp.seq)) return buffer_ahead(env, pp.seq);
  std::vector<ConsensusRequest>& requests = requests_scratch_;
  if (!decode_batch(pp.requests, requests)) return hold_pre_prepare(env, pp);
  if (digest_of_batch(requests) != pp.digest) {
    return reject(RejectReason::BadDigest, env.sender, env.kind);
  }
  Slot& slot = slot_for(pp.seq);
  if (slot.has_pre_prepare && slot.pp_view == pp.view) {
    if (slot.digest == pp.digest) { stats_.duplicates++; return; }
    if (!planted(defect_, Defect::EquivocationAccepted)) {
      return reject(RejectReason::Conflict, env.sender, env.kind);  // the primary equivocated
    }
    slot.prepares[self_].present = slot.commits[self_].present = false;  // as if it had not voted for the first
  }
  if (slot.has_pre_prepare && slot.pp_view > pp.view) {
    return reject(RejectReason::WrongView, env.sender, env.kind);
  }
  // Committed is settled: only a NEW-VIEW may re-propose the seq
  // (install_new_view), and then with the same digest. An observing or passive replica takes
  // PRE-PREPAREs of other views, and one from the primary of any such view (a faulty one)
  // would otherwise erase a committed slot not yet executed, which no later COMMIT matches.
  if (slot.committed) return reject(RejectReason::Stale, env.sender, env.kind);
  accept_batch(slot, pp.view, pp.seq, pp.digest, pp.requests, env.wire, requests);
}

// A request in the batch does not authenticate for us, though it may have for
// others (MAC authenticators are per receiver). Refused and counted, but if the batch is
// intact (it hashes to the digest) it is held: once f+1 distinct replicas vouch for it (the
// primary by proposing it, backups by PREPAREs matching (v, n, d)), one of them is correct
// and authenticated every request, and the digest binds their content, so we accept it
// without authenticating. Before, one faulty client could make a batch unpreparable at f+1
// backups and force a view change, in every view (Aardvark's "big MAC" attack).
void Replica::hold_pre_prepare(const Envelope& env, const PrePrepareView& pp) {
  reject(RejectReason::BadAuth, env.sender, env.kind);
  std::vector<ConsensusRequest>& requests = requests_scratch_;
  if (!decode_batch(pp.requests, requests, false) || digest_of_batch(requests) != pp.digest) return;
  Slot& slot = slot_for(pp.seq);
  if ((slot.has_pre_prepare && slot.pp_view >= pp.view) || slot.committed) return;
  if (slot.has_held && slot.held_view >= pp.view) return;
  slot.has_held = true;
  slot.held_view = pp.view;
  slot.held_digest = pp.digest;
  slot.held_wire.assign(env.wire.begin(), env.wire.end());
  accept_held(slot);  // the PREPAREs may have come first
}

// Accepts the held PRE-PREPARE once f+1 replicas vouch for it; true if it did (and so
// advanced the slot).
bool Replica::accept_held(Slot& slot) {
  if (!slot.has_held) return false;
  if ((slot.has_pre_prepare && slot.pp_view >= slot.held_view) || slot.committed) {
    slot.has_held = false;  // overtaken
    return false;
  }
  const ReplicaId primary = config_.primary(slot.held_view);
  std::uint32_t vouchers = 1;  // the primary, by proposing it
  for (ReplicaId r = 0; r < config_.n; ++r) {
    const VoteRecord& p = slot.prepares[r];
    vouchers += r != primary && p.present && p.view == slot.held_view && p.digest == slot.held_digest;
  }
  if (vouchers < config_.f + 1) return false;
  slot.has_held = false;
  const Bytes wire = std::move(slot.held_wire);  // the slot's buffer is reused below: own the bytes
  auto env = parse_envelope(wire);
  PrePrepareView pp;
  const bool decoded = env.ok() && decode_pre_prepare_view(env.value.body, pp).empty();
  assert(decoded);  // it was decoded when held
  if (!decoded) return false;
  std::vector<ConsensusRequest>& requests = requests_scratch_;
  if (!decode_batch(pp.requests, requests, false) || digest_of_batch(requests) != pp.digest) return false;
  accept_batch(slot, pp.view, pp.seq, pp.digest, pp.requests, wire, requests);
  return true;
}

void Replica::accept_pre_prepare(Slot& slot, const PrePrepare& pp, ByteView wire,
                                 std::vector<ConsensusRequest>&& requests) {
  std::vector<ByteView> request_wires(pp.batch.requests.begin(), pp.batch.requests.end());
  accept_batch(slot, pp.view, pp.seq, pp.digest, request_wires, wire, requests);
}

void Replica::accept_batch(Slot& slot, ViewNumber view, SequenceNumber seq,
                           const MessageDigest& digest, std::span<const ByteView> request_wires,
                           ByteView wire, std::vector<ConsensusRequest>& requests) {
  assert(slot.seq == seq);
  assert(request_wires.size() == requests.size());
  if (slot.has_pre_prepare && slot.digest != digest) keep_older_pre_prepare(slot);
  auto& older = slot.older_pre_prepares;
  older.erase(std::remove_if(older.begin(), older.end(), [&](const Slot::PrePrepared& q) { return q.digest == digest; }),
              older.end());  // the new PRE-PREPARE stands for this digest now, at a later view
  slot.has_pre_prepare = true;
  slot.pp_view = view;
  slot.digest = digest;
  slot.pre_prepare_wire.assign(wire.begin(), wire.end());
  slot.requests.swap(requests);  // the caller gets the slot's old buffers back for reuse
  slot.prepared = slot.committed = slot.sent_prepare = slot.sent_commit = false;
  // Requests being ordered count as known: if they never execute, the timer fires.
  for (std::size_t i = 0; i < slot.requests.size(); ++i) {
    const ConsensusRequest& r = slot.requests[i];
    auto done = replies_.find(r.client);
    if (done != replies_.end() && done->second.timestamp >= r.timestamp) continue;
    if (known_requests_.size() >= config_.request_queue_max) break;
    bool fresh = false;
    KnownRequest& known = known_insert(RequestKey{r.client, r.timestamp}, fresh);
    if (fresh) {
      known.request.client = r.client;
      known.request.timestamp = r.timestamp;
      known.request.operation.assign(r.operation.begin(), r.operation.end());
      known.request.digest = r.digest;
      known.wire.assign(request_wires[i].begin(), request_wires[i].end());  // a later primary may re-propose it
    }
    known.assigned = true;
  }
  recount(slot);
  if (may_vote() && self_ != config_.primary(view) && view == view_) {
    // One PREPARE per (view, seq): if this batch was accepted here before in this view
    // (only ever with this digest: every caller refuses another digest for a view it holds),
    // our PREPARE went out then and recount() has counted it already.
    const VoteRecord& own = slot.prepares[self_];
    const bool voted = own.present && own.view == view;
    assert(!voted || own.digest == digest);
    if (!voted) send_prepare(slot);
    slot.sent_prepare = true;
  }
  advance_slot(slot);
}

// Q keeps, per digest, the latest view it was pre-prepared in, and the batch. Only a primary
// per view can put a PRE-PREPARE here, and a digest other than a committed one only before it
// committed, so few digests ever meet at one seq; past the bound the oldest view goes, never
// the one P names (what prepared here stays in Q: the decision's A2 counts on it).
void Replica::keep_older_pre_prepare(Slot& slot) {
  auto& older = slot.older_pre_prepares;
  auto same = std::find_if(older.begin(), older.end(), [&](const Slot::PrePrepared& q) { return q.digest == slot.digest; });
  if (same != older.end()) {
    same->view = std::max(same->view, slot.pp_view);
    same->wire = slot.pre_prepare_wire;
    return;
  }
  if (older.size() >= kOlderPrePreparesMax) {
    auto oldest = older.end();
    for (auto it = older.begin(); it != older.end(); ++it) {
      if (slot.has_p && it->digest == slot.p_digest) continue;
      if (oldest == older.end() || it->view < oldest->view) oldest = it;
    }
    assert(oldest != older.end());
    older.erase(oldest);
  }
  older.push_back(Slot::PrePrepared{slot.pp_view, slot.digest, slot.pre_prepare_wire});
}

void Replica::send_prepare(Slot& slot) {
  assert(slot.has_pre_prepare && slot.pp_view == view_ && may_vote());
  Bytes buf = new_buffer();
  encode_vote_into(buf, MessageKind::Prepare, self_, Vote{slot.pp_view, slot.seq, slot.digest});
  multicast(std::move(buf), MessageKind::Prepare);
  VoteRecord& own = slot.prepares[self_];
  own.present = true;
  own.view = slot.pp_view;
  own.digest = slot.digest;
  slot.own_prepare_wire = out_->messages.back().wire;
  slot.prepare_matches++;
}

// Votes count only for the digest they name: matching on (v, n) alone lets a
// mutated message commit a different request. The planted defect switches that off.
bool Replica::digest_matches(const MessageDigest& vote, const MessageDigest& accepted) const {
  return vote == accepted || planted(defect_, Defect::VotesIgnoreDigest);
}

// A message just above the high watermark (within one more window) usually means this
// replica is a checkpoint behind the group: keep it (bounded) and replay it when the window
// moves, instead of losing it. Anything further out is dropped and counted.
void Replica::buffer_ahead(const Envelope& env, SequenceNumber seq) {
  if (seq > high_watermark() + config_.log_window) {
    return reject(RejectReason::OutOfWindow, env.sender, env.kind);
  }
  buffer_early(env);
}

void Replica::buffer_early(const Envelope& env) {
  assert(env.sender < config_.n);
  const std::uint32_t entries_share = std::max<std::uint32_t>(1, config_.early_buffer_max / config_.n);
  const std::size_t bytes_share = kEarlyBytesMax / config_.n;
  std::uint32_t& entries = early_entries_by_sender_[env.sender];
  std::size_t& bytes = early_bytes_by_sender_[env.sender];
  assert(bytes <= bytes_share);
  if (early_.size() >= config_.early_buffer_max || entries >= entries_share ||
      env.wire.size() > bytes_share - bytes) {
    return reject(RejectReason::BufferFull, env.sender, env.kind);
  }
  entries++;
  bytes += env.wire.size();
  early_bytes_ += env.wire.size();
  early_.emplace_back(env.sender, Bytes(env.wire.begin(), env.wire.end()));
}

void Replica::recount(Slot& slot) {
  slot.prepare_matches = 0;
  slot.commit_matches = 0;
  if (!slot.has_pre_prepare) return;
  const ReplicaId primary = config_.primary(slot.pp_view);
  for (ReplicaId r = 0; r < config_.n; ++r) {
    const auto& p = slot.prepares[r];
    const auto& c = slot.commits[r];
    slot.prepare_matches += r != primary && p.present && p.view == slot.pp_view && digest_matches(p.digest, slot.digest);
    slot.commit_matches += c.present && c.view == slot.pp_view && digest_matches(c.digest, slot.digest);
  }
}

void Replica::on_vote(const Envelope& env) {
  auto decoded = decode_vote(env.body);
  if (!decoded.ok()) return reject(RejectReason::Malformed, env.sender, env.kind);
  const Vote& vote = decoded.value;
  const bool is_prepare = env.kind == MessageKind::Prepare;
  if (is_prepare && env.sender == config_.primary(vote.view)) {
    return reject(RejectReason::WrongSender, env.sender, env.kind);  // primaries never prepare
  }
  const bool future = vote.view > view_ || (vote.view == view_ && status_ == Status::ViewChange);
  if (!passive_ && future) {
    if (!early_view_in_reach(vote.view)) return reject(RejectReason::WrongView, env.sender, env.kind);
    return buffer_early(env);
  }
  if (vote.view < view_ && !observing()) return reject(RejectReason::WrongView, env.sender, env.kind);
  if (vote.seq <= stable_seq_) { stats_.duplicates++; return; }
  if (!in_window(vote.seq)) return buffer_ahead(env, vote.seq);
  Slot& slot = slot_for(vote.seq);
  VoteRecord& rec = (is_prepare ? slot.prepares : slot.commits)[env.sender];
  if (rec.present && rec.view == vote.view) {
    if (rec.digest == vote.digest) { stats_.duplicates++; return; }
    return reject(RejectReason::Conflict, env.sender, env.kind);  // it voted twice
  }
  if (rec.present && rec.view > vote.view) return reject(RejectReason::Stale, env.sender, env.kind);
  const bool replaced = rec.present;
  rec.present = true;
  rec.view = vote.view;
  rec.digest = vote.digest;
  if (replaced) {
    recount(slot);
  } else if (slot.has_pre_prepare && vote.view == slot.pp_view && digest_matches(vote.digest, slot.digest)) {
    (is_prepare ? slot.prepare_matches : slot.commit_matches)++;
  }
  if (is_prepare && slot.has_held && accept_held(slot)) return;  // accept_batch advanced it
  advance_slot(slot);
}

// Moves a slot through prepared -> committed-local as its certificates fill up.
void Replica::advance_slot(Slot& slot) {
  if (!slot.has_pre_prepare) return;
  const std::uint32_t quorum = config_.quorum();
  const std::uint32_t prepare_quorum = quorum - (planted(defect_, Defect::PrepareQuorumShort) ? 1 : 0);
  if (!slot.prepared && slot.prepare_matches + 1 >= prepare_quorum) {
    slot.prepared = true;
    // P: prepared in a view at least as high as any before (pp_view only grows per slot).
    assert(!slot.has_p || slot.p_view <= slot.pp_view);
    slot.has_p = true;
    slot.p_view = slot.pp_view;
    slot.p_digest = slot.digest;
    out_->notes.push_back(note::PreparedCertificate{slot.pp_view, slot.seq, slot.digest, slot.prepare_matches + 1});
    if (may_vote() && slot.pp_view == view_) {
      // One COMMIT per (view, seq), as for PREPARE: a batch accepted again in this view
      // prepares again, but our COMMIT is out and counted already.
      VoteRecord& own = slot.commits[self_];
      const bool voted = own.present && own.view == slot.pp_view;
      assert(!voted || own.digest == slot.digest);
      if (!voted) {
        Bytes buf = new_buffer();
        encode_vote_into(buf, MessageKind::Commit, self_, Vote{slot.pp_view, slot.seq, slot.digest});
        multicast(std::move(buf), MessageKind::Commit);
        own.present = true;
        own.view = slot.pp_view;
        own.digest = slot.digest;
        slot.own_commit_wire = out_->messages.back().wire;  // re-sent to a replica that lost it (STATUS)
        slot.commit_matches++;
      }
      slot.sent_commit = true;
    }
  }
  // An observing replica never votes; a quorum of matching COMMITs alone proves the batch
  // committed (at least f+1 correct replicas prepared it), so it may still execute it.
  const std::uint32_t commit_quorum = quorum - (planted(defect_, Defect::CommitQuorumShort) ? 1 : 0);
  if (!slot.committed && (slot.prepared || observing()) && slot.commit_matches >= commit_quorum) {
    assert(slot.commit_matches >= quorum || planted(defect_, Defect::CommitQuorumShort));
    slot.committed = true;
    // A quorum committed in pp_view, so that view was really installed: a recovering
    // replica that does not know the current view yet adopts it.
    if (passive_ && slot.pp_view > view_) view_ = slot.pp_view;
    if (planted(defect_, Defect::ExecuteOutOfOrder) && slot.seq > last_executed_ + 1) execute_slot(slot);
    try_execute();
  }
}

void Replica::try_execute() {
  for (std::uint64_t i = 0; i < config_.log_window; ++i) {
    if (fetch_seq_ != 0 && last_executed_ < stable_seq_) return;  // waiting for state
    const Slot* slot = find_slot(last_executed_ + 1);
    if (slot == nullptr || !slot->committed) return;
    execute_slot(log_[ring_index(slot->seq)]);
  }
}

void Replica::execute_slot(Slot& slot) {
  assert(slot.seq == last_executed_ + 1 || planted(defect_, Defect::ExecuteOutOfOrder));
  assert(slot.committed);
  // A recycled record: its vectors keep their buffers, every field is set below.
  Execution& ex = out_->add_execution();
  ex.seq = slot.seq;
  ex.view = slot.pp_view;
  ex.batch_digest = slot.digest;
  ex.requests.resize(slot.requests.size());
  for (std::size_t i = 0; i < slot.requests.size(); ++i) {
    const ConsensusRequest& r = slot.requests[i];
    ReplyRecord& rec = replies_[r.client];
    ExecutedRequest& done = ex.requests[i];
    done.client = r.client;
    done.timestamp = r.timestamp;
    done.request_digest = r.digest;
    done.operation.assign(r.operation.begin(), r.operation.end());
    done.result.clear();
    done.duplicate = r.timestamp <= rec.timestamp;  // ordered twice (e.g. re-proposed after a view change)
    if (planted(defect_, Defect::ReexecuteRetransmission)) done.duplicate = r.timestamp < rec.timestamp;
    if (!done.duplicate) {
      rec.timestamp = r.timestamp;
      rec.result = service_.execute(r.operation);
      done.result.assign(rec.result.begin(), rec.result.end());
      stats_.requests_executed++;
      send_reply(r.client, r.timestamp, rec.result);
    }
    auto first = known_requests_.lower_bound(RequestKey{r.client, 0});
    auto last = known_requests_.upper_bound(RequestKey{r.client, rec.timestamp});
    known_erase(first, last);
  }
  last_executed_ = slot.seq;
  stats_.batches_executed++;
  executed_this_step_ = true;
  if (slot.pp_view == view_ && !slot.requests.empty()) view_change_attempts_ = 0;
  if (slot.seq % config_.checkpoint_interval == 0) take_checkpoint(slot.seq);
}

void Replica::send_reply(ClientId client, Timestamp t, const Bytes& result) {
  if (client < config_.n) return;
  Bytes buf = new_buffer();
  encode_reply_into(buf, self_, view_, t, client, result);
  send_to(client, std::move(buf), MessageKind::Reply);
}

// The primary assigns sequence numbers only within (h, H]: beyond H backups would drop
// its PRE-PREPAREs and a spurious view change would follow.
void Replica::issue_batches() {
  update_request_timer(executed_this_step_);
  update_status_timer();
  executed_this_step_ = false;
  if (!is_primary() || passive_) return;
  for (std::uint32_t i = 0; i < config_.log_window; ++i) {
    if (proposal_queue_.empty() || (next_seq_ > high_watermark() && !planted(defect_, Defect::AssignBeyondWindow))) return;
    if (proposal_queue_.size() < config_.batch_size_max && config_.batch_delay_ns > 0) {
      if (!timer_armed_[static_cast<std::size_t>(TimerKind::Batch)]) {
        set_timer(TimerKind::Batch, config_.batch_delay_ns);
      }
      return;
    }
    issue_one_batch();
  }
}

void Replica::issue_one_batch() {
  if ((next_seq_ > high_watermark() && !planted(defect_, Defect::AssignBeyondWindow)) || next_seq_ <= stable_seq_) return;
  // Views into known_requests_ nodes: nothing below erases them before accept_batch.
  std::vector<ByteView>& wires = pp_scratch_.requests;
  std::vector<ConsensusRequest>& requests = requests_scratch_;
  wires.clear();
  std::size_t count = 0;
  while (!proposal_queue_.empty() && count < config_.batch_size_max) {
    const RequestKey key = proposal_queue_.front();
    proposal_queue_.pop_front();
    auto it = known_requests_.find(key);
    if (it == known_requests_.end() || it->second.assigned || it->second.wire.empty()) continue;
    it->second.assigned = true;
    wires.push_back(it->second.wire);
    if (count == requests.size()) resize_requests(requests, count + 1);
    const ConsensusRequest& known = it->second.request;
    ConsensusRequest& r = requests[count++];
    r.client = known.client;
    r.timestamp = known.timestamp;
    r.operation.assign(known.operation.begin(), known.operation.end());
    r.digest = known.digest;
  }
  requests.resize(count);
  if (count == 0) return;
  const SequenceNumber seq = next_seq_++;
  const MessageDigest digest = digest_of_batch(requests);
  Bytes buf = new_buffer();
  encode_pre_prepare_into(buf, self_, view_, seq, digest, wires);
  multicast(std::move(buf), MessageKind::PrePrepare);
  // A copy: accept_batch may send (and so move the outbox's messages) while it reads this.
  own_wire_scratch_ = out_->messages.back().wire;
  if (planted(defect_, Defect::AssignBeyondWindow) && !in_window(seq)) return;  // sent, but no slot to log it in
  accept_batch(slot_for(seq), view_, seq, digest, wires, own_wire_scratch_, requests);
  if (planted(defect_, Defect::CheckpointOnAssigned) && seq % config_.checkpoint_interval == 0) take_checkpoint(seq);
}

std::int64_t Replica::view_change_timeout_ns() const {
  return saturating_shift(config_.view_change_timeout_ns, view_change_attempts_);
}

// base * 2^doublings, capped at kTimeoutMaxNs: a user may configure a huge timeout, and a
// plain shift would overflow into a negative delay.
std::int64_t Replica::saturating_shift(std::int64_t base_ns, std::uint32_t doublings) {
  assert(base_ns > 0 && doublings < 63);
  if (base_ns >= (kTimeoutMaxNs >> doublings)) return kTimeoutMaxNs;
  return base_ns << doublings;
}

// The request timer runs while this replica knows of a request that has not executed. It
// waits for one request (timed_request_): it is restarted only when that one is no longer
// pending (executed, or overtaken by a later request of its client) and others still are
// (OSDI '99 §4.5.2). Restarting it on any execution would let a primary that orders every
// request but one client's keep its view for ever.
void Replica::update_request_timer(bool executed_something) {
  if (passive_ || status_ != Status::Normal) return;
  if (known_requests_.empty()) {
    cancel_timer(TimerKind::ViewChange);
    return;
  }
  const bool armed = timer_armed_[static_cast<std::size_t>(TimerKind::ViewChange)];
  // Only an execution (or a state transfer, which counts as one) takes requests out.
  const bool timed_done = armed && executed_something && known_requests_.count(timed_request_) == 0;
  if (!armed || timed_done) {
    // The request waiting longest: the one that would have started the timer (§4.5.2).
    auto oldest = known_requests_.begin();
    for (auto it = known_requests_.begin(); it != known_requests_.end(); ++it) {
      if (it->second.arrival < oldest->second.arrival) oldest = it;
    }
    timed_request_ = oldest->first;
    set_timer(TimerKind::ViewChange, view_change_timeout_ns());
  }
}

}  // namespace protocol
