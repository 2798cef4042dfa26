// The decision procedure of the TOCS '02 view change: see view_change_decision.h.
#include "protocol/view_change_decision.h"

#include <algorithm>
#include <cassert>
#include <tuple>

namespace protocol {
namespace {

// The P entry of `vc` for seq, or nullptr (P is ascending by seq).
const SlotClaim* prepared_at(const ViewChange& vc, SequenceNumber seq) {
  auto it = std::lower_bound(vc.prepared.begin(), vc.prepared.end(), seq,
                             [](const SlotClaim& c, SequenceNumber s) { return c.seq < s; });
  return it != vc.prepared.end() && it->seq == seq ? &*it : nullptr;
}

// Whether `vc`'s Q has (seq, digest, v') with v' >= view (Q is ascending by (seq, digest)).
bool pre_prepared_since(const ViewChange& vc, SequenceNumber seq, const MessageDigest& digest, ViewNumber view) {
  auto it = std::lower_bound(vc.pre_prepared.begin(), vc.pre_prepared.end(), std::tie(seq, digest),
                             [](const SlotClaim& c, const std::tuple<const SequenceNumber&, const MessageDigest&>& k) {
                               return std::tie(c.seq, c.digest) < k;
                             });
  return it != vc.pre_prepared.end() && it->seq == seq && it->digest == digest && it->view >= view;
}

}  // namespace

bool view_change_well_formed(const PbftConfig& config, const ViewChange& vc) {
  const SequenceNumber h = vc.stable_seq;
  if (vc.new_view == 0 || h % config.checkpoint_interval != 0) return false;
  bool names_h = false;
  for (std::size_t i = 0; i < vc.checkpoints.size(); ++i) {
    const CheckpointClaim& c = vc.checkpoints[i];
    if (c.seq < h || c.seq % config.checkpoint_interval != 0) return false;
    if (i > 0 && c.seq <= vc.checkpoints[i - 1].seq) return false;
    names_h = names_h || c.seq == h;
  }
  if (!names_h) return false;
  // h + L cannot overflow for a correct sender; a faulty one's huge h fails here instead.
  if (h > ~SequenceNumber{0} - config.log_window) return false;
  auto in_window = [&](const SlotClaim& c) { return c.seq > h && c.seq <= h + config.log_window && c.view < vc.new_view; };
  for (std::size_t i = 0; i < vc.prepared.size(); ++i) {
    const SlotClaim& p = vc.prepared[i];
    if (!in_window(p) || (i > 0 && p.seq <= vc.prepared[i - 1].seq)) return false;
    if (!pre_prepared_since(vc, p.seq, p.digest, p.view)) return false;
  }
  for (std::size_t i = 0; i < vc.pre_prepared.size(); ++i) {
    const SlotClaim& q = vc.pre_prepared[i];
    if (!in_window(q)) return false;
    if (i > 0 && std::tie(q.seq, q.digest) <= std::tie(vc.pre_prepared[i - 1].seq, vc.pre_prepared[i - 1].digest)) {
      return false;
    }
  }
  return true;
}

NewViewDecision decide_new_view(const PbftConfig& config, std::span<const ViewChange* const> set, Defect defect) {
  NewViewDecision out;
  const std::uint32_t quorum = config.quorum();
  if (set.size() < quorum) return out;
  // The checkpoint: candidates are the C entries; at most one per message and seq.
  std::vector<CheckpointClaim> candidates;
  for (const ViewChange* vc : set) {
    candidates.insert(candidates.end(), vc->checkpoints.begin(), vc->checkpoints.end());
  }
  std::sort(candidates.begin(), candidates.end(), [](const CheckpointClaim& a, const CheckpointClaim& b) {
    return std::tie(b.seq, a.digest) < std::tie(a.seq, b.digest);  // highest seq first, then lowest digest
  });
  bool have_checkpoint = false;
  for (std::size_t i = 0; i < candidates.size() && !have_checkpoint;) {
    std::size_t j = i;
    while (j < candidates.size() && candidates[j] == candidates[i]) ++j;
    const CheckpointClaim& c = candidates[i];
    const std::size_t listing = j - i;
    std::uint32_t low_enough = 0;
    for (const ViewChange* vc : set) low_enough += vc->stable_seq <= c.seq ? 1 : 0;
    if (listing >= config.f + 1 && low_enough >= quorum) {
      out.checkpoint_seq = c.seq;
      out.checkpoint_digest = c.digest;
      have_checkpoint = true;
    }
    i = j;
  }
  if (!have_checkpoint) return out;  // undecided_seq = 0
  const SequenceNumber h = out.checkpoint_seq;
  SequenceNumber max_s = h;
  for (const ViewChange* vc : set) {
    for (const SlotClaim& p : vc->prepared) {
      if (p.seq > h && p.seq <= h + config.log_window) max_s = std::max(max_s, p.seq);
    }
  }
  std::vector<SlotClaim> at_seq;
  for (SequenceNumber n = h + 1; n <= max_s; ++n) {
    // The P entries for n, highest view first (then by digest, so every run picks alike).
    at_seq.clear();
    std::uint32_t below_without_p = 0;  // low < n and no P entry for n (B)
    for (const ViewChange* vc : set) {
      const SlotClaim* p = prepared_at(*vc, n);
      if (p != nullptr) {
        at_seq.push_back(*p);
      } else if (vc->stable_seq < n) {
        below_without_p++;
      }
    }
    std::sort(at_seq.begin(), at_seq.end(), [](const SlotClaim& a, const SlotClaim& b) {
      return std::tie(b.view, a.digest) < std::tie(a.view, b.digest);
    });
    at_seq.erase(std::unique(at_seq.begin(), at_seq.end()), at_seq.end());
    if (planted(defect, Defect::DecisionLowestView)) std::reverse(at_seq.begin(), at_seq.end());
    bool chosen = false;
    for (const SlotClaim& candidate : at_seq) {
      std::uint32_t a1 = 0;
      std::uint32_t a2 = 0;
      for (const ViewChange* vc : set) {
        if (vc->stable_seq < n) {
          const SlotClaim* p = prepared_at(*vc, n);
          a1 += p == nullptr || p->view < candidate.view || *p == candidate ? 1 : 0;
        }
        a2 += pre_prepared_since(*vc, n, candidate.digest, candidate.view) ? 1 : 0;
      }
      if (planted(defect, Defect::DecisionLowestView)) a1 = quorum;
      if (planted(defect, Defect::DecisionSkipsA2)) a2 = config.f + 1;
      if (a1 >= quorum && a2 >= config.f + 1) {
        out.chosen.push_back(candidate);
        chosen = true;
        break;
      }
    }
    if (chosen) continue;
    if (below_without_p >= quorum) {
      out.chosen.push_back(SlotClaim{n, 0, null_batch_digest()});
      continue;
    }
    out.undecided_seq = n;
    out.chosen.clear();
    return out;
  }
  out.decided = true;
  return out;
}

}  // namespace protocol
