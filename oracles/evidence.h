// The evidence trail the oracles judge certificates and culprits by: which replica
// authenticated which protocol message (what it really sent, after any Byzantine behaviour),
// and which of those messages reached which replica. It is built from the host's view of the
// network, never from what a replica says about itself, so a replica that miscounts its own
// certificates (a test defect, a bug) cannot also vouch for them.
//
// A message counts as really sent by S only if S itself put it on the network with S as the
// claimed sender, or embedded it, so claimed, as an O entry of its own NEW-VIEW. A forged
// copy claiming S, sent by someone else, is not S's. A replay of S's genuine message by
// someone else still is S's: a delivery is attributed to the sender its header names.
//
// Recorded claims: PRE-PREPARE (also the O entries of NEW-VIEW), PREPARE and COMMIT by
// (view, seq, digest), CHECKPOINT by (seq, state digest), VIEW-CHANGE by the view it asks
// for and its content. A delivery also records the PRE-PREPAREs it carries inside: NEW-VIEW's
// O entries, and the copy in a BATCH (a relay of its named sender's message, never a vote
// of the BATCH's sender). VIEW-CHANGE's C, P and Q and NEW-VIEW's V and checkpoint are
// summaries and references, not messages, and count for nothing here: a replica learns
// others' VIEW-CHANGEs only as wires of their own (sent to it, or relayed unchanged).
//
// Memory: one entry per sequence number between the trim point (forget_through) and the
// horizon (set_horizon); anything outside is ignored. Each entry holds, per distinct claimed
// value, a bit per sender and a bit per (receiver, sender): O(n^2) bits, like a replica's own
// vote table.
#pragma once
#include <cstdint>
#include <map>
#include <vector>

#include "protocol/message.h"
#include "protocol/types.h"

namespace oracles {

using protocol::ByteView;
using protocol::MessageDigest;
using protocol::ReplicaId;
using protocol::SequenceNumber;
using protocol::ViewNumber;

enum class Claim : std::uint8_t { PrePrepare, Prepare, Commit, Checkpoint };
const char* claim_name(Claim claim);  // "PRE-PREPARE", ...

// Two different digests one sender really sent for one (kind, view, seq); for CHECKPOINT
// the view is 0. A correct replica never does this: what it sent first is what it voted.
struct DoubleVote {
  Claim kind = Claim::Prepare;
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest first;   // sent earlier
  MessageDigest second;  // sent now
};

// Senders of one claimed value that a replica holds.
struct Holding {
  MessageDigest digest;
  std::vector<ReplicaId> senders;  // ascending
};

class Evidence {
 public:
  explicit Evidence(std::uint32_t replicas);

  // `sender` put `wire` on the network. `check_batches`: also remember, for its
  // PRE-PREPAREs, the digest of the batch really carried (costs a SHA-256 per request; the
  // checker asks for it for faulty senders only, to name those that signed two batches
  // under one digest or a batch that does not match its digest).
  // Afterwards double_votes() lists the claims of `wire` (its O entries, for a NEW-VIEW)
  // that contradict what `sender` sent before.
  void on_sent(ReplicaId sender, ByteView wire, bool check_batches);
  const std::vector<DoubleVote>& double_votes() const { return double_votes_; }
  // `wire` reached replica `receiver`.
  void on_delivered(ReplicaId receiver, ByteView wire);

  // The senders whose claim (kind, view, seq, digest) `at` holds: the message reached `at`
  // (or `at` sent it itself) and its sender really sent it. For Checkpoint, view is 0.
  std::vector<ReplicaId> support(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                                 const MessageDigest& digest) const;
  // How many of those senders there are, leaving out `excluded` (e.g. the primary, whose
  // PREPARE never counts); the hot path of the certificate checks.
  std::uint32_t support_count(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                              const MessageDigest& digest, ReplicaId excluded = kNobody) const;
  // True if `sender`'s claim reached `at` (or `at` is the sender) and `sender` really sent it.
  bool holds_from(ReplicaId at, ReplicaId sender, Claim kind, ViewNumber view, SequenceNumber seq,
                  const MessageDigest& digest) const;
  static constexpr ReplicaId kNobody = 0xFFFFFFFFu;
  // Every value `at` holds for (kind, view, seq), really sent, with its senders.
  std::vector<Holding> holdings(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq) const;
  // True if anyone really sent the claim.
  bool anyone_sent(Claim kind, ViewNumber view, SequenceNumber seq, const MessageDigest& digest) const;

  // Replicas flagged in `suspects` (indexed by replica) that signed conflicting messages at
  // `seq`: two digests for one (kind, view), two different batches under one PRE-PREPARE
  // digest, or a batch that does not hash to its PRE-PREPARE's digest.
  std::vector<ReplicaId> equivocators(SequenceNumber seq, const std::vector<bool>& suspects) const;

  // The senders whose VIEW-CHANGE for `view` `at` holds (reached it, from its sender or
  // relayed unchanged by another replica, or its own), really sent by them.
  std::vector<ReplicaId> view_change_support(ReplicaId at, ViewNumber view) const;
  // Forgets VIEW-CHANGEs for views below `view` (every correct replica is in it or later).
  void forget_views_below(ViewNumber view);

  // Drops everything at or below `seq` (every correct replica is past it).
  void forget_through(SequenceNumber seq);
  // Records above `seq` are ignored: no correct replica can act on them yet, and a faulty
  // sender must not grow the trail without bound.
  void set_horizon(SequenceNumber seq) { horizon_ = seq; }
  std::size_t held() const { return seqs_.size() + views_.size(); }
  // VIEW-CHANGEs are bounded two ways, so that correct replicas spread over many views (a partition with
  // far-too-short timeouts sends some of them hundreds of views ahead alone) are all kept,
  // while a faulty sender asking for absurd views or flooding one view cannot grow it: views
  // at most kViewSpanMax above the lowest one kept, and at most kViewChangesPerSenderMax
  // distinct VIEW-CHANGE contents per (view, sender) (a correct replica sends one per view).
  // Only a VIEW-CHANGE its sender really sent gets an entry; deliveries only mark entries
  // that exist. (A total of 64 entries made the certificate oracle report views whose
  // VIEW-CHANGEs it had dropped, `pbftsim fuzz` seed 3249; then 4n per view let a replica
  // corrupting every message, with forged copies, crowd out the correct replicas' ones,
  // seed 40862.)
  static constexpr ViewNumber kViewSpanMax = 1024;
  static constexpr std::size_t kViewChangesPerSenderMax = 8;

 private:
  struct Value {
    Claim kind = Claim::Prepare;
    ViewNumber view = 0;
    MessageDigest digest;
    std::vector<std::uint64_t> bits;  // words_ for senders, then words_ per receiver
  };
  struct BatchClaim {  // a faulty sender's PRE-PREPARE: claimed digest vs the batch's
    ReplicaId sender = 0;
    ViewNumber view = 0;
    MessageDigest claimed;
    MessageDigest carried;
  };
  struct PerSeq {
    std::vector<Value> values;
    std::vector<BatchClaim> batches;
  };

  Value* value_for(SequenceNumber seq, Claim kind, ViewNumber view, const MessageDigest& digest);
  // seqs_[seq] through a small direct-mapped cache (every send and delivery looks one up).
  // Map nodes stay put until forget_through erases them, and it erases only seq <= low_,
  // so an entry is good while its seq is above low_.
  PerSeq* per_seq(SequenceNumber seq, bool create) const;
  const Value* find(SequenceNumber seq, Claim kind, ViewNumber view, const MessageDigest& digest) const;
  void mark(SequenceNumber seq, Claim kind, ViewNumber view, const MessageDigest& digest,
            ReplicaId sender, std::int64_t receiver);
  void sent_pre_prepare_batch(ReplicaId sender, ByteView body);
  void record_view_change(ReplicaId receiver, ReplicaId sender, ByteView wire, ByteView body, bool sent);
  void mark_view_change(ViewNumber view, std::uint64_t content_hash, ReplicaId sender, std::int64_t receiver);
  void record_new_view(ReplicaId receiver, ReplicaId sender, ByteView body, bool sent,
                       bool check_batches);
  void record_batch(ReplicaId receiver, ByteView body);
  bool bit(const Value& v, std::size_t row, ReplicaId r) const;
  // Word w of the senders `at` holds: (reached it, or its own) and really sent.
  std::uint64_t held_word(const Value& v, ReplicaId at, std::size_t w) const;
  std::vector<ReplicaId> held_senders(const Value& v, ReplicaId at) const;

  std::uint32_t n_;
  std::size_t words_;
  std::vector<DoubleVote> double_votes_;  // found by the last on_sent
  SequenceNumber low_ = 0;  // everything at or below is forgotten
  SequenceNumber horizon_ = 0;
  std::map<SequenceNumber, PerSeq> seqs_;
  static constexpr std::size_t kSeqCache = 256;
  mutable std::vector<std::pair<SequenceNumber, PerSeq*>> seq_cache_ =
      std::vector<std::pair<SequenceNumber, PerSeq*>>(kSeqCache, {0, nullptr});
  ViewNumber views_low_ = 0;
  // VIEW-CHANGEs by (view, hash of the content): a copy claiming S counts only if S sent
  // those very bytes (its C, P and Q decide X and O, and NEW-VIEW names it by the digest of
  // its content). Same bit layout as Value::bits.
  std::map<std::pair<ViewNumber, std::uint64_t>, std::vector<std::uint64_t>> views_;
};

}  // namespace oracles
