// bad_view_change: a Byzantine replica that lies in the TOCS '02 view change with messages it
// authenticates itself. A VIEW-CHANGE carries summaries (C, P, Q), not certificates, so its
// lies are claims: made-up prepared requests, real ones moved to another sequence number
// or view, a checkpoint nobody else holds, prepared requests left out. The decision
// procedure trusts a claim only when enough senders back it (f+1 for a checkpoint and for a
// pre-prepared request, a quorum for the rest), and the lies are well formed so that they
// reach it; one (unbacked_prepared) is not, to show the well-formedness check. As the new
// primary it tampers with NEW-VIEW (V, O), which every backup checks against its own run of
// the decision; and its VIEW-CHANGE-ACKs can vouch for contents nobody sent. Everything is
// sealed with the faulty replica's own keys, so nothing fails on authentication.
// See BadViewChangeVariant.
#include <algorithm>
#include <cassert>
#include <deque>
#include <map>
#include <optional>
#include <tuple>

#include "faults/behaviour.h"
#include "protocol/message.h"
#include "protocol/view_change_decision.h"

namespace faults {
namespace {

using protocol::CheckpointClaim;
using protocol::MessageKind;
using protocol::PrePrepare;
using protocol::SequenceNumber;
using protocol::SlotClaim;
using protocol::ViewNumber;

// Genuine messages remembered, and lies told, per kind (the oldest go first).
constexpr std::size_t kGenuineKeptMax = 256;
constexpr std::size_t kRequestsKeptMax = 64;

// Tags of made-up digests, so that each kind of lie names digests of its own.
constexpr std::uint8_t kMadeUpPrepared = 0xab;
constexpr std::uint8_t kMadeUpCheckpoint = 0xcd;
constexpr std::uint8_t kMadeUpUnbacked = 0xef;

template <class Map>
void keep_bounded(Map& m) {
  while (m.size() > kGenuineKeptMax) m.erase(m.begin());
}

enum class Target { ViewChange, NewView, Ack };

Target target_of(BadViewChangeVariant v) {
  switch (v) {
    case BadViewChangeVariant::PaddedCertificate:
    case BadViewChangeVariant::RebindCertificate:
    case BadViewChangeVariant::CheckpointProof:
    case BadViewChangeVariant::OmitPrepared:
    case BadViewChangeVariant::UnbackedPrepared: return Target::ViewChange;
    case BadViewChangeVariant::SwapBatch:
    case BadViewChangeVariant::WrongDigest:
    case BadViewChangeVariant::DropEntry:
    case BadViewChangeVariant::ShortV:
    case BadViewChangeVariant::DuplicateV:
    case BadViewChangeVariant::EarlyPrePrepare: return Target::NewView;
    case BadViewChangeVariant::FalseAck: return Target::Ack;
  }
  return Target::ViewChange;
}

std::optional<PrePrepare> open_pre_prepare(ByteView wire) {
  auto env = protocol::parse_envelope(wire);
  if (!env.ok() || env.value.kind != MessageKind::PrePrepare) return std::nullopt;
  auto pp = protocol::decode_pre_prepare(env.value.body);
  if (!pp.ok()) return std::nullopt;
  return std::move(pp.value);
}

MessageDigest digest_of_batch(const std::vector<Bytes>& requests) {
  std::vector<MessageDigest> ds;
  for (const auto& w : requests) ds.push_back(protocol::request_digest(protocol::parse_envelope(w).value.content));
  return protocol::batch_digest(ds);
}

// A digest no batch or state has: the tag's fill with (seq, view) in the first bytes, so
// that lies about different slots name different digests and coalition members telling the
// same lie name the same one.
MessageDigest made_up_digest(std::uint8_t tag, SequenceNumber seq, ViewNumber view) {
  MessageDigest d;
  d.bytes.fill(tag);
  for (std::size_t i = 0; i < 8; ++i) {
    d.bytes[i] = static_cast<std::uint8_t>(seq >> (8 * i));
    d.bytes[8 + i] = static_cast<std::uint8_t>(view >> (8 * i));
  }
  return d;
}

// ---- P and Q, kept in the order a well-formed VIEW-CHANGE has them -----------------------

const SlotClaim* p_at(const protocol::ViewChange& vc, SequenceNumber seq) {
  for (const auto& p : vc.prepared) {
    if (p.seq == seq) return &p;
  }
  return nullptr;
}

// P holds one entry per seq, ascending: `claim` replaces the one at its seq.
void put_p(protocol::ViewChange& vc, const SlotClaim& claim) {
  auto& p = vc.prepared;
  p.erase(std::remove_if(p.begin(), p.end(), [&](const SlotClaim& x) { return x.seq == claim.seq; }), p.end());
  p.insert(std::lower_bound(p.begin(), p.end(), claim, [](const SlotClaim& a, const SlotClaim& b) { return a.seq < b.seq; }),
           claim);
  assert(std::is_sorted(p.begin(), p.end(), [](const SlotClaim& a, const SlotClaim& b) { return a.seq < b.seq; }));
}

// Q holds one entry per (seq, digest), ascending, with the latest view: `claim` is added or
// raises the view of its entry.
void put_q(protocol::ViewChange& vc, const SlotClaim& claim) {
  auto& q = vc.pre_prepared;
  auto by_slot = [](const SlotClaim& a, const SlotClaim& b) { return std::tie(a.seq, a.digest) < std::tie(b.seq, b.digest); };
  auto at = std::lower_bound(q.begin(), q.end(), claim, by_slot);
  if (at != q.end() && at->seq == claim.seq && at->digest == claim.digest) {
    at->view = std::max(at->view, claim.view);
  } else {
    q.insert(at, claim);
  }
  assert(std::is_sorted(q.begin(), q.end(), by_slot));
}

bool in_window(const protocol::ViewChange& vc, SequenceNumber seq, const protocol::PbftConfig& config) {
  return seq > vc.stable_seq && seq <= vc.stable_seq + config.log_window;
}

class BadViewChange final : public Behaviour {
 public:
  explicit BadViewChange(std::vector<BadViewChangeVariant> variants) {
    for (auto v : variants) {
      switch (target_of(v)) {
        case Target::ViewChange: vc_variants_.push_back(v); break;
        case Target::NewView: nv_variants_.push_back(v); break;
        case Target::Ack: ack_variants_.push_back(v); break;
      }
    }
  }

  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    bool done = false;
    if (env.ok() && env.value.sender == ctx.self) {
      switch (msg.kind) {
        case MessageKind::ViewChange: done = view_change(msg, env.value, ctx, out); break;
        case MessageKind::NewView: done = new_view(msg, env.value, ctx, out); break;
        case MessageKind::ViewChangeAck: done = view_change_ack(msg, env.value, ctx, out); break;
        default: break;
      }
    }
    if (done) {
      stats_.rewritten++;
      return;
    }
    stats_.forwarded++;
    out.push_back(msg);
  }

  // Remembers genuine PRE-PREPAREs (valid for this replica) and their requests, to move them
  // where they do not belong.
  void on_receive(NodeId, ByteView wire, ByzantineContext& ctx) override {
    auto env = protocol::parse_envelope(wire);
    if (!env.ok() || env.value.kind != MessageKind::PrePrepare || !ctx.crypto.verify(env.value)) return;
    auto pp = protocol::decode_pre_prepare(env.value.body);
    if (!pp.ok() || env.value.sender != ctx.config.primary(pp.value.view)) return;
    pre_prepared_[{pp.value.seq, pp.value.view}] = pp.value.digest;
    keep_bounded(pre_prepared_);
    for (const auto& r : pp.value.batch.requests) remember_request(r);
  }

 private:
  // The VIEW-CHANGE it sent for a view in place of its replica's: sent again whenever the
  // replica sends that VIEW-CHANGE again, and named in its own NEW-VIEW, so that the lie is
  // the one VIEW-CHANGE it has for that view (two would be another fault, equivocation).
  struct Told {
    MessageDigest genuine;  // view_change_digest() of what the replica wanted to send
    MessageDigest lie;      // and of what went out instead (== genuine: the truth went out)
    Bytes wire;
  };

  void remember_request(const Bytes& wire) {
    if (std::find(requests_.begin(), requests_.end(), wire) != requests_.end()) return;
    requests_.push_back(wire);
    if (requests_.size() > kRequestsKeptMax) requests_.pop_front();
  }

  // Picks the variants of one kind in turn, starting at a place drawn from the fault's
  // stream the first time (so that across seeds every variant gets its turn first), and
  // applies the first that fits the message at hand.
  template <class Apply>
  bool rotate(const std::vector<BadViewChangeVariant>& variants, std::optional<std::size_t>& next,
              ByzantineContext& ctx, Apply&& apply) {
    if (variants.empty()) return false;
    if (!next) next = sim::uniform_int(ctx.rng, 0, variants.size() - 1);
    for (std::size_t i = 0; i < variants.size(); ++i) {
      const std::size_t at = (*next + i) % variants.size();
      if (apply(variants[at])) {
        next = (at + 1) % variants.size();
        last_used_ = variants[at];
        return true;
      }
    }
    return false;
  }

  Bytes seal(Bytes&& content, ByzantineContext& ctx) { return ctx.crypto.seal(std::move(content), all_replicas(ctx.config)); }

  // ---- VIEW-CHANGE ------------------------------------------------------------------------

  bool view_change(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                   std::vector<OutMessage>& out) {
    auto decoded = protocol::decode_view_change(env.body);
    // Another fault of this replica (corrupt) may have mangled it already: the lies below
    // keep a VIEW-CHANGE well formed, so they start only from one that is.
    if (!decoded.ok() || decoded.value.new_view == 0 || !protocol::view_change_well_formed(ctx.config, decoded.value)) {
      return false;
    }
    const ViewNumber view = decoded.value.new_view;
    const MessageDigest genuine = protocol::view_change_digest(env.content);
    auto told = told_.find(view);
    if (told == told_.end() || told->second.genuine != genuine) {
      told = told_.insert_or_assign(view, make_lie(msg, decoded.value, genuine, ctx)).first;
      const Told kept = told->second;
      keep_bounded(told_);
      if (kept.lie == genuine) return false;
      out.push_back(OutMessage{msg.to, msg.kind, kept.wire});
      return true;
    }
    if (told->second.lie == genuine) return false;  // no lie fitted: the truth, again
    out.push_back(OutMessage{msg.to, msg.kind, told->second.wire});
    return true;
  }

  // The VIEW-CHANGE it sends for view v in place of `vc`, or `vc` itself (lie == genuine)
  // when no variant fits: then the truth stays what it said for v, even if a lie fits later.
  Told make_lie(const OutMessage& msg, const protocol::ViewChange& genuine_vc, const MessageDigest& genuine,
                ByzantineContext& ctx) {
    protocol::ViewChange vc;
    shared_claim_.reset();
    const bool applied = rotate(vc_variants_, next_vc_, ctx, [&](BadViewChangeVariant v) {
      vc = genuine_vc;
      switch (v) {
        case BadViewChangeVariant::PaddedCertificate: return padded_certificate(vc, ctx);
        case BadViewChangeVariant::RebindCertificate: return rebind_certificate(vc, ctx);
        case BadViewChangeVariant::CheckpointProof: return checkpoint_proof(vc, ctx);
        case BadViewChangeVariant::OmitPrepared: return omit_prepared(vc);
        case BadViewChangeVariant::UnbackedPrepared: return unbacked_prepared(vc, ctx);
        default: return false;
      }
    });
    if (!applied) return Told{genuine, genuine, msg.wire};
    Bytes content = protocol::encode_view_change(ctx.self, vc);
    const MessageDigest lie = protocol::view_change_digest(content);
    Bytes wire = seal(std::move(content), ctx);
    if (last_used_ == BadViewChangeVariant::PaddedCertificate) share_claim(wire, ctx);
    return Told{genuine, lie, std::move(wire)};
  }

  // P and Q: a made-up digest prepared and pre-prepared at a slot in its window, in the
  // latest view below the new one (outranking every real claim there). A1 may hold for it;
  // A2 cannot, since only liars have it in Q, and a fault has at most f of them: members of
  // one coalition tell the same lie (coalition_claim) and still fall one short of f+1.
  bool padded_certificate(protocol::ViewChange& vc, ByzantineContext& ctx) {
    std::optional<SlotClaim> claim = coalition_claim(vc, ctx);
    if (!claim) {
      const ViewNumber view = vc.new_view - 1;
      auto seq = padded_seq(vc, view, ctx.config);
      if (!seq) return false;
      claim = SlotClaim{*seq, view, made_up_digest(kMadeUpPrepared, *seq, view)};
    }
    put_p(vc, *claim);
    put_q(vc, *claim);
    shared_claim_ = claim;
    return true;
  }

  // The latest slot it saw pre-prepared where the claim outranks what prepared there (if
  // anything did), else a fresh slot just above everything it holds.
  static std::optional<SequenceNumber> padded_seq(const protocol::ViewChange& vc, ViewNumber view,
                                                  const protocol::PbftConfig& config) {
    for (auto it = vc.pre_prepared.rbegin(); it != vc.pre_prepared.rend(); ++it) {
      const SlotClaim* p = p_at(vc, it->seq);
      if (p == nullptr || p->view < view) return it->seq;
    }
    SequenceNumber top = vc.stable_seq;
    if (!vc.prepared.empty()) top = std::max(top, vc.prepared.back().seq);
    if (!vc.pre_prepared.empty()) top = std::max(top, vc.pre_prepared.back().seq);
    if (!in_window(vc, top + 1, config)) return std::nullopt;
    return top + 1;
  }

  // Another member's made-up claim for this view change, if it fits this window.
  std::optional<SlotClaim> coalition_claim(const protocol::ViewChange& vc, ByzantineContext& ctx) const {
    if (ctx.coalition == nullptr) return std::nullopt;
    const auto& shared = ctx.coalition->prepares;
    for (auto it = shared.rbegin(); it != shared.rend(); ++it) {
      const auto& [view, seq, digest] = it->first;
      if (view + 1 == vc.new_view && in_window(vc, seq, ctx.config)) return SlotClaim{seq, view, digest};
    }
    return std::nullopt;
  }

  void share_claim(const Bytes& wire, ByzantineContext& ctx) {
    if (ctx.coalition == nullptr || !shared_claim_) return;
    auto& shared = ctx.coalition->prepares;
    const auto key = std::make_tuple(shared_claim_->view, shared_claim_->seq, shared_claim_->digest);
    if (shared.count(key) == 0 && shared.size() >= kCoalitionEntriesMax) return;
    shared[key].push_back(wire);
  }

  // P and Q: a real (seq, digest) it saw pre-prepared, claimed prepared in a later view than
  // it was proposed in, or at another seq (one where something prepared here, where a wrong
  // choice would undo a request that may have committed); the two in turn, each falling back
  // on the other. Only the liar has the rebound pair in Q at that view or seq, so A2 fails.
  bool rebind_certificate(protocol::ViewChange& vc, ByzantineContext& ctx) {
    const bool seq_first = rebinds_++ % 2 == 1;
    return seq_first ? (rebind_seq_claim(vc, ctx) || rebind_view_claim(vc))
                     : (rebind_view_claim(vc) || rebind_seq_claim(vc, ctx));
  }

  static bool rebind_view_claim(protocol::ViewChange& vc) {
    const ViewNumber latest = vc.new_view - 1;
    for (auto it = vc.pre_prepared.rbegin(); it != vc.pre_prepared.rend(); ++it) {
      if (it->view >= latest) continue;
      const SlotClaim claim{it->seq, latest, it->digest};
      put_p(vc, claim);
      put_q(vc, claim);
      return true;
    }
    return false;
  }

  // From what it pre-prepared (Q), then from PRE-PREPAREs it received (executed ones too:
  // a request replayed at a new seq). Null batches are everywhere, so moving one tells nothing.
  bool rebind_seq_claim(protocol::ViewChange& vc, ByzantineContext& ctx) const {
    std::vector<SlotClaim> real(vc.pre_prepared.rbegin(), vc.pre_prepared.rend());
    for (auto it = pre_prepared_.rbegin(); it != pre_prepared_.rend(); ++it) {
      const auto [seq, view] = it->first;
      if (view < vc.new_view) real.push_back(SlotClaim{seq, view, it->second});
    }
    for (const auto& from : real) {
      if (from.digest == protocol::null_batch_digest()) continue;
      auto seq = rebind_seq(vc, from.seq, ctx.config);
      if (!seq) continue;
      const SlotClaim* there = p_at(vc, *seq);
      if (there != nullptr && there->digest == from.digest) continue;
      const SlotClaim claim{*seq, from.view, from.digest};
      put_p(vc, claim);
      put_q(vc, claim);
      return true;
    }
    return false;
  }

  static std::optional<SequenceNumber> rebind_seq(const protocol::ViewChange& vc, SequenceNumber from,
                                                  const protocol::PbftConfig& config) {
    for (auto it = vc.prepared.rbegin(); it != vc.prepared.rend(); ++it) {
      if (it->seq != from) return it->seq;
    }
    for (SequenceNumber seq = vc.stable_seq + 1; seq <= vc.stable_seq + 2; ++seq) {
      if (seq != from && in_window(vc, seq, config)) return seq;
    }
    return std::nullopt;
  }

  // C and h: a checkpoint one interval above every one it holds, with a made-up state
  // digest, as its low watermark; P and Q lose what lies at or below it (so the VIEW-CHANGE
  // stays well formed). Choosing a checkpoint takes f+1 senders listing it: it never is, and
  // the claimed watermark keeps this VIEW-CHANGE out of the quorums for the seqs below it.
  bool checkpoint_proof(protocol::ViewChange& vc, ByzantineContext& ctx) {
    SequenceNumber top = vc.stable_seq;
    for (const auto& c : vc.checkpoints) top = std::max(top, c.seq);
    const SequenceNumber seq = top + ctx.config.checkpoint_interval;
    vc.stable_seq = seq;
    vc.checkpoints = {CheckpointClaim{seq, made_up_digest(kMadeUpCheckpoint, seq, vc.new_view)}};
    auto at_or_below = [&](const SlotClaim& x) { return x.seq <= seq; };
    vc.prepared.erase(std::remove_if(vc.prepared.begin(), vc.prepared.end(), at_or_below), vc.prepared.end());
    vc.pre_prepared.erase(std::remove_if(vc.pre_prepared.begin(), vc.pre_prepared.end(), at_or_below),
                          vc.pre_prepared.end());
    return true;
  }

  // P: left empty, as if nothing had prepared here (Q unchanged). Its VIEW-CHANGE then counts
  // toward B (choose null) for every seq; a committed request prepared at a quorum, so any
  // quorum of VIEW-CHANGEs still holds a correct P entry for it and B never holds there.
  static bool omit_prepared(protocol::ViewChange& vc) {
    if (vc.prepared.empty()) return false;
    vc.prepared.clear();
    return true;
  }

  // P: an entry with nothing in Q behind it (prepared here without having been pre-prepared
  // here): a real prepared entry whose Q entry is dropped, else a real pre-prepared one moved
  // from Q to P, else a made-up one. Not well formed: refused as a bad certificate.
  bool unbacked_prepared(protocol::ViewChange& vc, ByzantineContext& ctx) {
    SlotClaim claim;
    if (!vc.prepared.empty()) {
      claim = vc.prepared.back();
    } else if (!vc.pre_prepared.empty()) {
      claim = vc.pre_prepared.back();
    } else {
      if (!in_window(vc, vc.stable_seq + 1, ctx.config)) return false;
      claim = SlotClaim{vc.stable_seq + 1, vc.new_view - 1, made_up_digest(kMadeUpUnbacked, vc.stable_seq + 1, vc.new_view)};
    }
    put_p(vc, claim);
    auto& q = vc.pre_prepared;
    q.erase(std::remove_if(q.begin(), q.end(), [&](const SlotClaim& x) { return x.seq == claim.seq && x.digest == claim.digest; }),
            q.end());
    return true;
  }

  // ---- NEW-VIEW ---------------------------------------------------------------------------

  bool new_view(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                std::vector<OutMessage>& out) {
    auto decoded = protocol::decode_new_view(env.body);
    if (!decoded.ok()) return false;
    // What it stands by: its replica's NEW-VIEW, naming the VIEW-CHANGE it really sent.
    protocol::NewView own = decoded.value;
    const bool renamed = name_own_lie(own);
    protocol::NewView nv;
    std::vector<Bytes> early;  // early_pre_prepare: what goes out ahead of the NEW-VIEW
    const bool applied = rotate(nv_variants_, next_nv_, ctx, [&](BadViewChangeVariant v) {
      nv = own;
      switch (v) {
        case BadViewChangeVariant::SwapBatch: return swap_batch(nv, ctx);
        case BadViewChangeVariant::WrongDigest: return wrong_digest(nv, ctx);
        case BadViewChangeVariant::DropEntry: return drop_entry(nv, ctx);
        case BadViewChangeVariant::ShortV: return short_v(nv, ctx);
        case BadViewChangeVariant::DuplicateV: return duplicate_v(nv);
        case BadViewChangeVariant::EarlyPrePrepare: return early_pre_prepares(nv, ctx, early);
        default: return false;
      }
    });
    if (!applied && !renamed) return false;
    const Bytes standing = renamed ? seal(protocol::encode_new_view(ctx.self, own), ctx) : msg.wire;
    if (!applied) {
      out.push_back(OutMessage{msg.to, msg.kind, standing});
      return true;
    }
    if (last_used_ == BadViewChangeVariant::EarlyPrePrepare) {
      for (Bytes& pp : early) out.push_back(OutMessage{msg.to, MessageKind::PrePrepare, std::move(pp)});
      out.push_back(OutMessage{msg.to, msg.kind, standing});
      return true;
    }
    const Bytes wire = seal(protocol::encode_new_view(ctx.self, nv), ctx);
    if (last_used_ != BadViewChangeVariant::SwapBatch) {
      out.push_back(OutMessage{msg.to, msg.kind, wire});
      return true;
    }
    // Equivocation on O: the first half of the other replicas gets the swapped batch, the
    // rest the NEW-VIEW it stands by, so that (unless the backups check batches against
    // digests) correct replicas execute different requests at one seq.
    std::vector<ReplicaId> others;
    for (ReplicaId r = 0; r < ctx.config.n; ++r) {
      if (r != ctx.self) others.push_back(r);
    }
    const std::size_t victims = std::max<std::size_t>(1, others.size() / 2);
    for (std::size_t i = 0; i < others.size(); ++i) {
      out.push_back(OutMessage{others[i], msg.kind, i < victims ? wire : standing});
    }
    return true;
  }

  // V: its own entry names the VIEW-CHANGE it sent instead of its replica's (which no other
  // replica holds).
  bool name_own_lie(protocol::NewView& nv) const {
    auto told = told_.find(nv.view);
    if (told == told_.end() || told->second.lie == told->second.genuine) return false;
    bool renamed = false;
    for (auto& ref : nv.view_changes) {
      if (ref.digest == told->second.genuine) {
        ref.digest = told->second.lie;
        renamed = true;
      }
    }
    return renamed;
  }

  Bytes seal_entry(const PrePrepare& pp, ByzantineContext& ctx) { return seal(protocol::encode_pre_prepare(ctx.self, pp), ctx); }

  // A genuine request other than those in `batch`, the latest it saw.
  std::optional<Bytes> other_request(const std::vector<Bytes>& batch) const {
    for (auto it = requests_.rbegin(); it != requests_.rend(); ++it) {
      if (std::find(batch.begin(), batch.end(), *it) == batch.end()) return *it;
    }
    return std::nullopt;
  }

  // O: the right digest with another batch: a real batch traded for another genuine request
  // it saw (or emptied), or a null entry filled with one. The latest such entry (the
  // likeliest not executed yet).
  bool swap_batch(protocol::NewView& nv, ByzantineContext& ctx) {
    for (std::size_t i = nv.pre_prepares.size(); i-- > 0;) {
      auto pp = open_pre_prepare(nv.pre_prepares[i]);
      if (!pp || pp->batch.requests.empty()) continue;
      auto other = other_request(pp->batch.requests);
      pp->batch.requests.clear();
      if (other) pp->batch.requests.push_back(std::move(*other));
      nv.pre_prepares[i] = seal_entry(*pp, ctx);
      return true;
    }
    if (nv.pre_prepares.empty() || requests_.empty()) return false;
    auto pp = open_pre_prepare(nv.pre_prepares.back());
    if (!pp) return false;
    pp->batch.requests = {requests_.back()};  // under the null digest
    nv.pre_prepares.back() = seal_entry(*pp, ctx);
    return true;
  }

  // O: an entry whose digest is not the one the decision gives (with a batch that matches
  // it).
  bool wrong_digest(protocol::NewView& nv, ByzantineContext& ctx) {
    if (nv.pre_prepares.empty()) return false;
    auto pp = open_pre_prepare(nv.pre_prepares.back());
    if (!pp) return false;
    if (!pp->batch.requests.empty()) {
      pp->batch.requests.clear();
    } else if (!requests_.empty()) {
      pp->batch.requests = {requests_.back()};
    } else {
      return false;
    }
    pp->digest = digest_of_batch(pp->batch.requests);
    nv.pre_prepares.back() = seal_entry(*pp, ctx);
    return true;
  }

  // O: the last entry left out, or (O being empty) a null one made up just above the
  // checkpoint.
  bool drop_entry(protocol::NewView& nv, ByzantineContext& ctx) {
    if (!nv.pre_prepares.empty()) {
      nv.pre_prepares.pop_back();
      return true;
    }
    nv.pre_prepares.push_back(seal_entry(PrePrepare{nv.view, nv.checkpoint_seq + 1, protocol::null_batch_digest(), {}}, ctx));
    return true;
  }

  // V: fewer VIEW-CHANGEs than a quorum.
  bool short_v(protocol::NewView& nv, ByzantineContext& ctx) {
    if (nv.view_changes.empty()) return false;
    const std::size_t keep = ctx.config.quorum() - 1;
    nv.view_changes.resize(std::min(nv.view_changes.size() - 1, keep));
    return true;
  }

  // V: its last entry replaced by a copy of the one before it, one replica named twice, as
  // a primary one VIEW-CHANGE short of a quorum would pad V.
  static bool duplicate_v(protocol::NewView& nv) {
    const std::size_t size = nv.view_changes.size();
    if (size < 2) return false;
    nv.view_changes[size - 1] = nv.view_changes[size - 2];
    return true;
  }

  // O unchanged; for each of its entries a PRE-PREPARE of the new view at the same seq with
  // another batch (a real batch reordered or emptied, a null entry filled with a genuine
  // request it saw), sealed by itself. Sent just before the NEW-VIEW, some reach a backup
  // first: it must hold them until it has installed O, and then refuse them as conflicts.
  bool early_pre_prepares(const protocol::NewView& nv, ByzantineContext& ctx, std::vector<Bytes>& early) const {
    early.clear();
    for (const Bytes& entry : nv.pre_prepares) {
      auto pp = open_pre_prepare(entry);
      if (!pp) continue;
      PrePrepare other = pp->batch.requests.empty() ? *pp : other_batch(*pp);
      if (pp->batch.requests.empty()) {
        if (requests_.empty()) continue;
        other.batch.requests = {requests_.back()};
        other.digest = digest_of_batch(other.batch.requests);
      }
      if (other.digest == pp->digest) continue;
      early.push_back(ctx.crypto.seal(protocol::encode_pre_prepare(ctx.self, other), all_replicas(ctx.config)));
    }
    return !early.empty();
  }

  // ---- VIEW-CHANGE-ACK --------------------------------------------------------------------

  bool view_change_ack(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                       std::vector<OutMessage>& out) {
    auto decoded = protocol::decode_view_change_ack(env.body);
    if (!decoded.ok()) return false;
    protocol::ViewChangeAck ack;
    const bool applied = rotate(ack_variants_, next_ack_, ctx, [&](BadViewChangeVariant v) {
      ack = decoded.value;
      return v == BadViewChangeVariant::FalseAck && false_ack(ack);
    });
    if (!applied) return false;
    out.push_back(OutMessage{msg.to, msg.kind, seal(protocol::encode_view_change_ack(ctx.self, ack), ctx)});
    return true;
  }

  // The digest of a VIEW-CHANGE nobody sent (the real one's complement): the new primary
  // must count acks for the content it holds, not for the sender.
  static bool false_ack(protocol::ViewChangeAck& ack) {
    for (auto& b : ack.digest.bytes) b = static_cast<std::uint8_t>(~b);
    return true;
  }

  std::vector<BadViewChangeVariant> vc_variants_;
  std::vector<BadViewChangeVariant> nv_variants_;
  std::vector<BadViewChangeVariant> ack_variants_;
  std::optional<std::size_t> next_vc_, next_nv_, next_ack_;
  BadViewChangeVariant last_used_ = BadViewChangeVariant::PaddedCertificate;
  std::optional<SlotClaim> shared_claim_;  // padded_certificate's claim, for the coalition
  std::uint64_t rebinds_ = 0;
  std::map<ViewNumber, Told> told_;
  std::map<std::pair<SequenceNumber, ViewNumber>, MessageDigest> pre_prepared_;
  std::deque<Bytes> requests_;
};

}  // namespace

const char* bad_view_change_variant_name(BadViewChangeVariant v) {
  switch (v) {
    case BadViewChangeVariant::PaddedCertificate: return "padded_certificate";
    case BadViewChangeVariant::RebindCertificate: return "rebind_certificate";
    case BadViewChangeVariant::CheckpointProof: return "checkpoint_proof";
    case BadViewChangeVariant::SwapBatch: return "swap_batch";
    case BadViewChangeVariant::WrongDigest: return "wrong_digest";
    case BadViewChangeVariant::DropEntry: return "drop_entry";
    case BadViewChangeVariant::ShortV: return "short_v";
    case BadViewChangeVariant::DuplicateV: return "duplicate_v";
    case BadViewChangeVariant::OmitPrepared: return "omit_prepared";
    case BadViewChangeVariant::UnbackedPrepared: return "unbacked_prepared";
    case BadViewChangeVariant::FalseAck: return "false_ack";
    case BadViewChangeVariant::EarlyPrePrepare: return "early_pre_prepare";
  }
  return "?";
}

std::unique_ptr<Behaviour> make_bad_view_change(std::vector<BadViewChangeVariant> variants) {
  if (variants.empty()) {
    for (std::size_t v = 0; v < kBadViewChangeVariants; ++v) variants.push_back(static_cast<BadViewChangeVariant>(v));
  }
  return std::make_unique<BadViewChange>(std::move(variants));
}

}  // namespace faults
