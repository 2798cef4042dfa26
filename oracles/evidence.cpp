#include "oracles/evidence.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <set>

#include "protocol/wire_io.h"

namespace oracles {
namespace {

using protocol::MessageKind;

constexpr std::size_t kHeaderBytes = 1 + 4 + 4;  // kind, sender, body length
constexpr std::size_t kDigestBytes = 32;

// The fixed-size front of a message, read without checking its trailer: the hot path sees
// every delivery, and authenticity is decided by the sent record, not by the trailer.
struct Header {
  MessageKind kind = MessageKind::Request;
  ReplicaId sender = 0;
  ByteView body;
};

bool read_header(ByteView wire, Header& h) {
  if (wire.size() < kHeaderBytes) return false;
  protocol::WireReader r(wire);
  const std::uint8_t kind = r.u8();
  if (kind < 1 || kind > protocol::kMessageKindMax) return false;
  h.kind = static_cast<MessageKind>(kind);
  h.sender = r.u32();
  const std::uint32_t length = r.u32();
  h.body = r.raw(length);
  return r.ok();
}

struct Fields {  // PRE-PREPARE, PREPARE, COMMIT: view, seq, digest; CHECKPOINT: seq, digest
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest digest;
};

bool read_fields(MessageKind kind, ByteView body, Fields& f) {
  protocol::WireReader r(body);
  if (kind != MessageKind::Checkpoint) f.view = r.u64();
  f.seq = r.u64();
  auto d = r.raw(kDigestBytes);
  if (!r.ok()) return false;
  std::copy(d.begin(), d.end(), f.digest.bytes.begin());
  return true;
}

// FNV-1a over a message's content (kind, sender, body): tells two VIEW-CHANGEs apart.
std::uint64_t content_hash(ByteView wire, ByteView body) {
  const std::size_t length = static_cast<std::size_t>(body.data() + body.size() - wire.data());
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i < length && i < wire.size(); ++i) h = (h ^ wire[i]) * 1099511628211ull;
  return h;
}

bool claim_of(MessageKind kind, Claim& claim) {
  switch (kind) {
    case MessageKind::PrePrepare: claim = Claim::PrePrepare; return true;
    case MessageKind::Prepare: claim = Claim::Prepare; return true;
    case MessageKind::Commit: claim = Claim::Commit; return true;
    case MessageKind::Checkpoint: claim = Claim::Checkpoint; return true;
    default: return false;
  }
}

}  // namespace

const char* claim_name(Claim claim) {
  switch (claim) {
    case Claim::PrePrepare: return "PRE-PREPARE";
    case Claim::Prepare: return "PREPARE";
    case Claim::Commit: return "COMMIT";
    case Claim::Checkpoint: return "CHECKPOINT";
  }
  return "?";
}

Evidence::Evidence(std::uint32_t replicas) : n_(replicas), words_((replicas + 63) / 64) {
  assert(n_ >= 1);
  assert(words_ >= 1);
}

Evidence::PerSeq* Evidence::per_seq(SequenceNumber seq, bool create) const {
  auto& cached = seq_cache_[seq % kSeqCache];
  if (cached.first == seq && seq > low_) return cached.second;
  PerSeq* per = nullptr;
  if (create) {
    per = &const_cast<std::map<SequenceNumber, PerSeq>&>(seqs_)[seq];  // only from value_for
  } else {
    auto it = seqs_.find(seq);
    if (it == seqs_.end()) return nullptr;
    per = const_cast<PerSeq*>(&it->second);  // the map's elements are not const objects
  }
  cached = {seq, per};
  return per;
}

Evidence::Value* Evidence::value_for(SequenceNumber seq, Claim kind, ViewNumber view,
                                     const MessageDigest& digest) {
  if (seq <= low_ || seq > horizon_) return nullptr;
  auto& per = *per_seq(seq, true);
  for (auto& v : per.values) {
    if (v.kind == kind && v.view == view && v.digest == digest) return &v;
  }
  per.values.push_back(Value{kind, view, digest, std::vector<std::uint64_t>(words_ * (n_ + 1), 0)});
  return &per.values.back();
}

const Evidence::Value* Evidence::find(SequenceNumber seq, Claim kind, ViewNumber view,
                                      const MessageDigest& digest) const {
  if (seq <= low_) return nullptr;  // forgotten (and the cache's entries for it are stale)
  const PerSeq* per = per_seq(seq, false);
  if (per == nullptr) return nullptr;
  for (const auto& v : per->values) {
    if (v.kind == kind && v.view == view && v.digest == digest) return &v;
  }
  return nullptr;
}

// receiver < 0: `sender` sent it; otherwise it reached `receiver`.
void Evidence::mark(SequenceNumber seq, Claim kind, ViewNumber view, const MessageDigest& digest,
                    ReplicaId sender, std::int64_t receiver) {
  if (sender >= n_ || receiver >= static_cast<std::int64_t>(n_)) return;
  Value* v = value_for(seq, kind, view, digest);
  if (v == nullptr) return;
  const std::size_t row = receiver < 0 ? 0 : static_cast<std::size_t>(receiver) + 1;
  std::uint64_t& word = v->bits[row * words_ + sender / 64];
  const std::uint64_t mask = std::uint64_t{1} << (sender % 64);
  if (receiver >= 0 || (word & mask) != 0) {
    word |= mask;
    return;
  }
  word |= mask;
  // The first time `sender` sends this value: did it send another digest for the same
  // (kind, view, seq) before? Only first sends pay for this look, over the few values
  // one sequence number holds.
  const PerSeq* per = per_seq(seq, false);
  assert(per != nullptr);
  for (const auto& other : per->values) {
    if (&other == v || other.kind != kind || other.view != view || !bit(other, 0, sender)) continue;
    double_votes_.push_back(DoubleVote{kind, view, seq, other.digest, digest});
    break;
  }
}

bool Evidence::bit(const Value& v, std::size_t row, ReplicaId r) const {
  return (v.bits[row * words_ + r / 64] >> (r % 64)) & 1u;
}

void Evidence::on_sent(ReplicaId sender, ByteView wire, bool check_batches) {
  double_votes_.clear();
  Header h;
  if (!read_header(wire, h) || h.sender != sender) return;  // not its own: a forgery or a replay
  Claim claim;
  if (claim_of(h.kind, claim)) {
    Fields f;
    if (!read_fields(h.kind, h.body, f)) return;
    mark(f.seq, claim, f.view, f.digest, sender, -1);
    if (claim == Claim::PrePrepare && check_batches) sent_pre_prepare_batch(sender, h.body);
  } else if (h.kind == MessageKind::ViewChange) {
    record_view_change(0, sender, wire, h.body, true);
  } else if (h.kind == MessageKind::NewView) {
    record_new_view(0, sender, h.body, true, check_batches);
  }
  // A BATCH sent records nothing: its PRE-PREPARE is a relay (record_batch), not a vote.
}

void Evidence::mark_view_change(ViewNumber view, std::uint64_t content_hash, ReplicaId sender,
                                std::int64_t receiver) {
  if (sender >= n_ || receiver >= static_cast<std::int64_t>(n_) || view < views_low_) return;
  if (view - views_low_ > kViewSpanMax) return;
  const auto key = std::make_pair(view, content_hash);
  auto it = views_.find(key);
  if (it == views_.end()) {
    if (receiver >= 0) return;  // never sent by its claimed sender: a forgery, or corrupted on the way
    std::size_t from_sender = 0;
    for (auto v = views_.lower_bound({view, 0}); v != views_.end() && v->first.first == view; ++v) {
      from_sender += (v->second[sender / 64] >> (sender % 64)) & 1u;
    }
    if (from_sender >= kViewChangesPerSenderMax) return;
    it = views_.emplace(key, std::vector<std::uint64_t>(words_ * (n_ + 1), 0)).first;
  }
  const std::size_t row = receiver < 0 ? 0 : static_cast<std::size_t>(receiver) + 1;
  it->second[row * words_ + sender / 64] |= std::uint64_t{1} << (sender % 64);
}

std::vector<ReplicaId> Evidence::view_change_support(ReplicaId at, ViewNumber view) const {
  assert(at < n_);
  Value held{Claim::Prepare, view, {}, std::vector<std::uint64_t>(words_ * (n_ + 1), 0)};
  for (auto it = views_.lower_bound({view, 0}); it != views_.end() && it->first.first == view; ++it) {
    const Value one{Claim::Prepare, view, {}, it->second};
    for (std::size_t w = 0; w < words_; ++w) held.bits[w] |= held_word(one, at, w);
  }
  // Make what `at` holds look like a value `at` sent itself: held_word then returns it.
  for (std::size_t w = 0; w < words_; ++w) held.bits[(at + 1) * words_ + w] = held.bits[w];
  return held_senders(held, at);
}

void Evidence::forget_views_below(ViewNumber view) {
  if (view <= views_low_) return;
  views_low_ = view;
  views_.erase(views_.begin(), views_.lower_bound({view, 0}));
}

void Evidence::on_delivered(ReplicaId receiver, ByteView wire) {
  Header h;
  if (!read_header(wire, h)) return;
  Claim claim;
  if (claim_of(h.kind, claim)) {
    Fields f;
    if (read_fields(h.kind, h.body, f)) mark(f.seq, claim, f.view, f.digest, h.sender, receiver);
  } else if (h.kind == MessageKind::ViewChange) {
    record_view_change(receiver, h.sender, wire, h.body, false);
  } else if (h.kind == MessageKind::NewView) {
    record_new_view(receiver, h.sender, h.body, false, false);
  } else if (h.kind == MessageKind::Batch) {
    record_batch(receiver, h.body);
  }
}

// A faulty sender's PRE-PREPARE: which batch it really carried under the digest it claimed.
void Evidence::sent_pre_prepare_batch(ReplicaId sender, ByteView body) {
  auto pp = protocol::decode_pre_prepare(body);
  if (!pp.ok() || pp.value.seq <= low_ || pp.value.seq > horizon_) return;
  std::vector<MessageDigest> digests;
  for (const auto& w : pp.value.batch.requests) {
    auto env = protocol::parse_envelope(w);
    if (!env.ok()) return;  // not even a request: the digest cannot match
    digests.push_back(protocol::request_digest(env.value.content));
  }
  const MessageDigest carried = protocol::batch_digest(digests);  // empty: the null digest
  auto& batches = seqs_[pp.value.seq].batches;
  constexpr std::size_t kBatchClaimsMax = 64;  // per seq: enough to prove a conflict
  if (batches.size() >= kBatchClaimsMax) return;
  for (const auto& b : batches) {
    if (b.sender == sender && b.view == pp.value.view && b.claimed == pp.value.digest && b.carried == carried) return;
  }
  batches.push_back(BatchClaim{sender, pp.value.view, pp.value.digest, carried});
}

// VIEW-CHANGE. It carries summaries, not messages: C, P and Q say what its sender holds,
// and no entry of them is a CHECKPOINT, PRE-PREPARE or PREPARE anybody sent. So only the
// VIEW-CHANGE itself is recorded, by its content: sent by `sender`, or delivered to
// `receiver`. A copy relayed by another replica is the original wire, whose header names
// the original sender, so the delivery counts for that sender exactly when that sender
// sent those bytes.
void Evidence::record_view_change(ReplicaId receiver, ReplicaId sender, ByteView wire, ByteView body, bool sent) {
  auto vc = protocol::decode_view_change(body);
  if (!vc.ok()) return;
  mark_view_change(vc.value.new_view, content_hash(wire, body), sender, sent ? -1 : static_cast<std::int64_t>(receiver));
}

// NEW-VIEW. O's PRE-PREPAREs are the new primary's votes for the new view: sent, they count
// only if they name the NEW-VIEW's sender; delivered, they reach the receiver as their named
// sender's. V names VIEW-CHANGEs by digest and embeds none, so nothing is recorded from it:
// a replica that installs the view must hold every VIEW-CHANGE named there, each delivered
// to it as a wire of its own. X's checkpoint is vouched for by f+1 VIEW-CHANGEs, not by
// CHECKPOINTs, and is judged when a replica adopts it (Checker::on_checkpoint_adopted).
void Evidence::record_new_view(ReplicaId receiver, ReplicaId sender, ByteView body, bool sent,
                               bool check_batches) {
  auto nv = protocol::decode_new_view(body);
  if (!nv.ok()) return;
  for (const auto& w : nv.value.pre_prepares) {
    Header h;
    Fields f;
    if (!read_header(w, h) || h.kind != MessageKind::PrePrepare || !read_fields(h.kind, h.body, f)) continue;
    if (sent) {
      if (h.sender != sender) continue;
      mark(f.seq, Claim::PrePrepare, f.view, f.digest, sender, -1);
      if (check_batches) sent_pre_prepare_batch(sender, h.body);
    } else {
      mark(f.seq, Claim::PrePrepare, f.view, f.digest, h.sender, receiver);
    }
  }
}

// BATCH: a copy of a PRE-PREPARE of any view (often an earlier primary's), sent to a new
// primary that lacks its batch. It is a relay, never a vote of the BATCH's sender, even
// when the copy names that sender: a replica answers with what it holds, and an old
// PRE-PREPARE re-sent is not a new one. Delivered, the copy reaches the receiver as its
// named sender's message, which counts only if that sender really sent it.
void Evidence::record_batch(ReplicaId receiver, ByteView body) {
  auto b = protocol::decode_batch(body);
  if (!b.ok()) return;
  Header h;
  Fields f;
  if (!read_header(b.value.pre_prepare, h) || h.kind != MessageKind::PrePrepare || !read_fields(h.kind, h.body, f)) {
    return;
  }
  mark(f.seq, Claim::PrePrepare, f.view, f.digest, h.sender, receiver);
}

std::uint64_t Evidence::held_word(const Value& v, ReplicaId at, std::size_t w) const {
  const std::uint64_t sent = v.bits[w];
  std::uint64_t reached = v.bits[(at + 1) * words_ + w];
  if (at / 64 == w) reached |= sent & (std::uint64_t{1} << (at % 64));  // its own
  return reached & sent;
}

std::vector<ReplicaId> Evidence::held_senders(const Value& v, ReplicaId at) const {
  std::vector<ReplicaId> out;
  for (std::size_t w = 0; w < words_; ++w) {
    for (std::uint64_t word = held_word(v, at, w); word != 0; word &= word - 1) {
      out.push_back(static_cast<ReplicaId>(w * 64 + static_cast<std::size_t>(std::countr_zero(word))));
    }
  }
  return out;
}

std::uint32_t Evidence::support_count(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                                      const MessageDigest& digest, ReplicaId excluded) const {
  assert(at < n_);
  const Value* v = find(seq, kind, view, digest);
  if (v == nullptr) return 0;
  std::uint32_t count = 0;
  for (std::size_t w = 0; w < words_; ++w) {
    std::uint64_t word = held_word(*v, at, w);
    if (excluded < n_ && excluded / 64 == w) word &= ~(std::uint64_t{1} << (excluded % 64));
    count += static_cast<std::uint32_t>(std::popcount(word));
  }
  return count;
}

bool Evidence::holds_from(ReplicaId at, ReplicaId sender, Claim kind, ViewNumber view, SequenceNumber seq,
                          const MessageDigest& digest) const {
  assert(at < n_);
  const Value* v = find(seq, kind, view, digest);
  if (v == nullptr || sender >= n_) return false;
  return (held_word(*v, at, sender / 64) >> (sender % 64)) & 1u;
}

std::vector<ReplicaId> Evidence::support(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                                         const MessageDigest& digest) const {
  assert(at < n_);
  const Value* v = find(seq, kind, view, digest);
  if (v == nullptr) return {};
  return held_senders(*v, at);
}

std::vector<Holding> Evidence::holdings(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq) const {
  std::vector<Holding> out;
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return out;
  for (const auto& v : it->second.values) {
    if (v.kind != kind || v.view != view) continue;
    auto senders = held_senders(v, at);
    if (!senders.empty()) out.push_back(Holding{v.digest, std::move(senders)});
  }
  return out;
}

bool Evidence::anyone_sent(Claim kind, ViewNumber view, SequenceNumber seq, const MessageDigest& digest) const {
  const Value* v = find(seq, kind, view, digest);
  if (v == nullptr) return false;
  for (std::size_t w = 0; w < words_; ++w) {
    if (v->bits[w] != 0) return true;
  }
  return false;
}

std::vector<ReplicaId> Evidence::equivocators(SequenceNumber seq, const std::vector<bool>& suspects) const {
  std::set<ReplicaId> out;
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return {};
  const auto& values = it->second.values;
  for (std::size_t i = 0; i < values.size(); ++i) {
    for (std::size_t j = i + 1; j < values.size(); ++j) {
      const Value& a = values[i];
      const Value& b = values[j];
      if (a.kind != b.kind || a.view != b.view) continue;  // digests differ by construction
      for (ReplicaId s = 0; s < n_ && s < suspects.size(); ++s) {
        if (suspects[s] && bit(a, 0, s) && bit(b, 0, s)) out.insert(s);
      }
    }
  }
  const auto& batches = it->second.batches;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    const BatchClaim& a = batches[i];
    if (a.sender < suspects.size() && suspects[a.sender] && a.claimed != a.carried) out.insert(a.sender);
    for (std::size_t j = i + 1; j < batches.size(); ++j) {
      const BatchClaim& b = batches[j];
      if (a.sender == b.sender && a.view == b.view && a.claimed == b.claimed && a.carried != b.carried &&
          a.sender < suspects.size() && suspects[a.sender]) {
        out.insert(a.sender);
      }
    }
  }
  return {out.begin(), out.end()};
}

void Evidence::forget_through(SequenceNumber seq) {
  if (seq <= low_) return;
  low_ = seq;
  seqs_.erase(seqs_.begin(), seqs_.upper_bound(seq));
}

}  // namespace oracles
