// Replica: checking the certificates a VIEW-CHANGE carries (OSDI '99 §4.4) when messages are
// authenticated with MACs (TOCS '02).
//
// A VIEW-CHANGE makes claims: "checkpoint s with digest d is stable" (backed by C, a quorum
// of CHECKPOINTs) and, per sequence number, "(v, n, d) prepared at me" (backed by a
// PRE-PREPARE and quorum - 1 PREPAREs). With signatures anyone can check those certificates.
// With MAC authenticators a message is authentic only to the receivers whose entry verifies,
// and a faulty replica can send a message whose entries verify for some receivers and not
// for others. A correct replica's certificate may then hold a message that verifies for it
// but not for us, and if the certificate had exactly quorum - 1 PREPAREs (all the correct
// backups that were still in the view, plus a faulty one), no amount of waiting makes it
// verify for us. The fuzzer found this stalling view changes with 2 faulty replicas of 13.
//
// So a claim is established for this replica in one of two ways:
//   1. its certificate verifies for us: enough embedded messages authenticate *for us*
//      (the others are skipped, not fatal), helped by the matching messages we received
//      ourselves (as authentic to us as any embedded copy); or
//   2. it is corroborated: at least f+1 distinct replicas make the same claim in
//      VIEW-CHANGEs for the same view that authenticate for us. At most f of them are
//      faulty, so a correct replica holds the certificate: the claim is true. This is the
//      counting argument of the TOCS '02 MAC view change, applied per claim.
// A prepared claim that is neither may still be *weak*: f+1 distinct replicas vouch, with
// messages that authenticate for us, that they pre-prepared exactly (v, n, d) (the primary
// by its PRE-PREPARE, backups by PREPAREs), so a correct replica did: the TOCS '02 view
// change's condition A2 on pre-prepared sets. A weak claim takes part in O like the others,
// except at a tie: at a seq's highest view a verified claim (or one f+1 VIEW-CHANGEs make)
// beats weak ones, and weak claims of different digests with nothing to settle them leave O
// undecided (no NEW-VIEW from this V). Why that is safe: say d* committed at n in view u. Any
// quorum of VIEW-CHANGEs we accept holds a correct replica that prepared d* in a view >= u,
// whose claim is established for us. A correct replica pre-prepares at n in a view above u
// only what a NEW-VIEW's O put there, and by induction that is d*; so a weak claim for
// another digest has a view <= u, is outranked below u, and at u meets d*'s claim: if d*'s is
// verified it wins, and if it is weak too the tie leaves O undecided. A weak claim never
// displaces a committed request; it only lets a view change go through where a faulty
// replica's PREPAREs, authentic for some replicas only, left a correct replica's
// certificate short for us (fuzz seeds 40862, 41508, 51021).
// A claim that is none of these is not dropped: the VIEW-CHANGE making it is held back (not
// accepted) until the claim is established. Dropping the claim and using the rest could let
// O leave out a request that committed; refusing the whole VIEW-CHANGE forever could stall.
// A certificate that is wrong in a way no authenticator explains (wrong primary, view not
// below the new one, outside the window, a batch that does not hash to its digest, two
// certificates for one sequence number) proves its sender faulty: that VIEW-CHANGE is refused.
#include <algorithm>
#include <cassert>

#include "protocol/replica.h"

namespace protocol {

std::optional<Replica::ValidViewChange> Replica::check_view_change(ReplicaId sender, ByteView body,
                                                                   ByteView wire) {
  auto decoded = decode_view_change(body);
  if (!decoded.ok() || decoded.value.new_view == 0) return std::nullopt;
  ValidViewChange out;
  out.sender = sender;
  out.wire.assign(wire.begin(), wire.end());
  const ViewChange& vc = decoded.value;
  const Claim stable{true, 0, vc.stable_seq, vc.stable_digest};
  switch (check_checkpoint_proof(vc.stable_seq, vc.stable_digest, vc.checkpoint_proof)) {
    case CertCheck::Invalid: return std::nullopt;
    case CertCheck::Weak:  // only prepared certificates have a weak form; held back if one ever came
    case CertCheck::Unverified: out.unverified.push_back(stable); break;
    case CertCheck::Verified: break;
  }
  out.claims.push_back(stable);
  for (const auto& proof : vc.prepared) {
    Claim claim;
    switch (check_prepared_proof(proof, vc.new_view, vc.stable_seq, claim)) {
      case CertCheck::Invalid: return std::nullopt;
      case CertCheck::Unverified: out.unverified.push_back(claim); break;
      case CertCheck::Weak: out.weak.push_back(claim); break;
      case CertCheck::Verified: break;
    }
    for (const auto& earlier : out.claims) {
      if (!earlier.stable && earlier.seq == claim.seq) return std::nullopt;  // two for one seq
    }
    out.claims.push_back(claim);
  }
  out.accepted = out.unverified.empty();
  out.body = std::move(decoded.value);
  return out;
}

// A checkpoint proof verifies iff a quorum of distinct replicas vouch for (seq, digest) with
// CHECKPOINTs this replica can authenticate, counting the CHECKPOINTs we received ourselves
// and our own checkpoint. Genesis (seq 0) needs no proof and has one digest.
Replica::CertCheck Replica::check_checkpoint_proof(SequenceNumber seq, const MessageDigest& digest,
                                                   const std::vector<Bytes>& proof) {
  if (seq == 0) return proof.empty() && digest == genesis_digest_ ? CertCheck::Verified : CertCheck::Invalid;
  if (seq % config_.checkpoint_interval != 0 || proof.size() > config_.n) return CertCheck::Invalid;
  if (seq == stable_seq_ && digest == stable_digest_) return CertCheck::Verified;  // we hold a quorum
  std::vector<bool> counted(config_.n, false);
  std::uint32_t valid = 0;
  auto count = [&](ReplicaId r) {
    if (counted[r]) return;
    counted[r] = true;
    valid++;
  };
  for (const auto& wire : proof) {
    auto env = open_embedded(wire, MessageKind::Checkpoint);
    if (!env) continue;  // does not authenticate for us: adds nothing
    auto cp = decode_checkpoint(env->body);
    if (cp.ok() && cp.value.seq == seq && cp.value.state_digest == digest) count(env->sender);
  }
  auto own = own_checkpoints_.find(seq);
  if (own != own_checkpoints_.end() && own->second.digest == digest) count(self_);
  auto votes = checkpoint_votes_.find(seq);
  for (ReplicaId r = 0; r < config_.n; ++r) {
    const bool voted = votes != checkpoint_votes_.end() && votes->second[r].present && votes->second[r].digest == digest;
    const auto& latest = latest_checkpoint_[r];
    if (voted || (latest.present && latest.seq == seq && latest.digest == digest)) count(r);
  }
  return valid >= config_.quorum() ? CertCheck::Verified : CertCheck::Unverified;
}

// A prepared certificate is well formed iff its PRE-PREPARE names that view's primary, has a
// view below the new one, lies in the sender's window and carries a batch whose content
// hashes to its digest. It verifies iff quorum - 1 distinct backups (never the primary)
// vouch for exactly (view, seq, digest) with PREPAREs that authenticate for us (embedded or
// received by us), and the PRE-PREPARE authenticates for us, unless f+1 of those PREPAREs do:
// one of them is from a correct backup, which prepared only after authenticating the
// primary's PRE-PREPARE and every request in it (and the digest binds the batch's content),
// so a faulty primary that broke our entries cannot hide a certificate from us that way.
Replica::CertCheck Replica::check_prepared_proof(const PreparedProof& proof, ViewNumber before_view,
                                                 SequenceNumber low, Claim& claim) {
  auto env = parse_envelope(proof.pre_prepare);
  if (!env.ok() || env.value.kind != MessageKind::PrePrepare) return CertCheck::Invalid;
  auto pp = decode_pre_prepare(env.value.body);
  if (!pp.ok() || env.value.sender != config_.primary(pp.value.view)) return CertCheck::Invalid;
  if (pp.value.view >= before_view || pp.value.seq <= low || pp.value.seq > low + config_.log_window) {
    return CertCheck::Invalid;
  }
  if (proof.prepares.size() >= config_.n) return CertCheck::Invalid;  // more than the backups
  std::vector<ConsensusRequest> requests;
  if (!decode_batch_as(pp.value, requests, false) || digest_of_batch(requests) != pp.value.digest) {
    return CertCheck::Invalid;
  }
  claim = Claim{false, pp.value.view, pp.value.seq, pp.value.digest};
  const Slot* ours = find_slot(pp.value.seq);
  if (ours != nullptr && ours->has_proof && ours->proof_view == claim.view && ours->proof_digest == claim.digest) {
    return CertCheck::Verified;  // we prepared exactly this ourselves
  }
  // The PREPAREs we received ourselves first (free), then embedded ones until enough:
  // each embedded check is a MAC or a signature.
  std::vector<bool> counted(config_.n, false);
  std::uint32_t matching = count_own_prepares(pp.value.view, pp.value.seq, pp.value.digest, counted);
  const ReplicaId primary = env.value.sender;
  const std::uint32_t wanted = std::max(config_.quorum() - 1, config_.f + 1);
  for (const auto& wire : proof.prepares) {
    if (matching >= wanted) break;
    auto head = parse_envelope(wire);
    if (!head.ok() || head.value.sender >= config_.n || counted[head.value.sender]) continue;
    auto penv = open_embedded(wire, MessageKind::Prepare);
    if (!penv || penv->sender == primary || counted[penv->sender]) continue;
    auto vote = decode_vote(penv->body);
    if (!vote.ok() || vote.value.view != pp.value.view || vote.value.seq != pp.value.seq ||
        vote.value.digest != pp.value.digest) {
      continue;
    }
    counted[penv->sender] = true;
    matching++;
  }
  if (matching + 1 < config_.quorum()) {
    // Weak: the primary (its PRE-PREPARE authenticates for us, or we accepted the same one)
    // and the backups whose PREPAREs we hold make f+1 replicas that pre-prepared exactly
    // (view, seq, digest), so a correct one did (TOCS '02's pre-prepared sets, condition A2).
    const bool primary_vouches =
        (ours != nullptr && ours->has_pre_prepare && ours->pp_view == claim.view && ours->digest == claim.digest) ||
        crypto_->verify(env.value);
    return matching + (primary_vouches ? 1 : 0) >= config_.f + 1 ? CertCheck::Weak : CertCheck::Unverified;
  }
  if (matching >= config_.f + 1) return CertCheck::Verified;
  if (!crypto_->verify(env.value) || !decode_batch_as(pp.value, requests, true)) return CertCheck::Unverified;
  return CertCheck::Verified;
}

// PREPAREs for exactly (view, seq, digest) that this replica received itself (and
// authenticated on receipt), or sent, from backups not yet counted.
std::uint32_t Replica::count_own_prepares(ViewNumber view, SequenceNumber seq, const MessageDigest& digest,
                                          std::vector<bool>& counted) const {
  const Slot* slot = find_slot(seq);
  if (slot == nullptr) return 0;
  std::uint32_t added = 0;
  const ReplicaId primary = config_.primary(view);
  for (ReplicaId r = 0; r < config_.n; ++r) {
    const VoteRecord& p = slot->prepares[r];
    if (r == primary || counted[r] || !p.present || p.view != view || p.digest != digest) continue;
    counted[r] = true;
    added++;
  }
  return added;
}

// Marks accepted every VIEW-CHANGE in `held` whose unverified claims are each made by at
// least f+1 distinct senders among `sources` (VIEW-CHANGEs for the same view that
// authenticate for us; a sender may count for its own claim: it is one of the f+1, and at
// most f of them are faulty).
void Replica::corroborate(std::vector<ValidViewChange*>& held,
                          const std::vector<const ValidViewChange*>& sources) const {
  for (ValidViewChange* vc : held) {
    if (vc->accepted) continue;
    bool all = true;
    for (const Claim& claim : vc->unverified) {
      std::vector<bool> seen(config_.n, false);
      std::uint32_t makers = 0;
      for (const ValidViewChange* other : sources) {
        if (seen[other->sender]) continue;
        if (std::find(other->claims.begin(), other->claims.end(), claim) == other->claims.end()) continue;
        seen[other->sender] = true;
        makers++;
      }
      if (makers < config_.f + 1) {
        all = false;
        break;
      }
    }
    vc->accepted = all;
  }
}

}  // namespace protocol
