// The TOCS '02 view change's decision procedure, as a pure function of a set of VIEW-CHANGEs.
//
// The new primary runs it over the VIEW-CHANGEs it accepted, as they arrive, until it decides;
// a backup runs it over exactly the VIEW-CHANGEs a NEW-VIEW names and accepts the NEW-VIEW only
// if it gives the same result. No certificate is carried: what the procedure trusts is what
// enough senders agree on, so at most f faulty ones among them cannot steer it.
//
// With S the set, q the quorum and f the faults tolerated:
//   checkpoint: the highest h such that at least f+1 messages in S list (h, d) in C and at
//     least q messages in S have a low watermark <= h;
//   each n in (h, h + L], up to the highest n any message in S has a P entry for:
//     choose d if some message has (n, d, v) in P and
//       A1: q messages have low watermark < n and, for n, no P entry, one of a lower view, or
//           exactly (n, d, v); and
//       A2: f+1 messages have (n, d, v') in Q with v' >= v;
//     choose the null request if
//       B:  q messages have low watermark < n and no P entry for n;
//     otherwise the set cannot decide n yet: wait for more VIEW-CHANGEs (never guess).
// Why that is safe: if d committed at n in view u, a quorum prepared it, and any q messages
// in S share a correct replica with that quorum, whose P names d at a view >= u (a correct
// replica's later P entries for n are d again, by induction over views). So B fails, A1 fails
// for any digest other than d at a view >= u; one at a view < u is outvoted by A1's quorum;
// A2 holds for d (f+1 correct replicas of the quorum pre-prepared it).
#pragma once
#include <span>
#include <vector>

#include "protocol/config.h"
#include "protocol/defects.h"
#include "protocol/message.h"

namespace protocol {

struct NewViewDecision {
  bool decided = false;
  SequenceNumber checkpoint_seq = 0;
  MessageDigest checkpoint_digest;
  // One entry per sequence number in (checkpoint_seq, max-s], ascending and without gaps; the
  // null request's digest where B chose it. `view` is the P entry's view (0 for null).
  std::vector<SlotClaim> chosen;
  // When not decided: the first sequence number the set could not decide (0: the checkpoint).
  SequenceNumber undecided_seq = 0;
};

// Whether a VIEW-CHANGE is well formed (the rules in message.h): a correct replica never sends
// one that is not, so a malformed one proves its sender faulty.
bool view_change_well_formed(const PbftConfig& config, const ViewChange& vc);

// REQUIRES: every element is well formed, for one view, from distinct senders.
// `defect`: a planted defect of the procedure (protocol/defects.h), Defect::None outside a
// defects build.
NewViewDecision decide_new_view(const PbftConfig& config, std::span<const ViewChange* const> set,
                                Defect defect = Defect::None);

}  // namespace protocol
