// bad_view_change: a Byzantine replica that lies in the view-change protocol (OSDI '99
// §4.4) with messages it authenticates itself. Every fabrication is validly sealed by the
// faulty replica, and everything it embeds is either sealed by itself (its own, made-up
// PREPAREs and CHECKPOINTs, O entries as the new primary) or a genuine message some other
// node sent and it received. So no fabrication fails on authentication: only the
// protocol's checks (distinct senders, binding to (view, seq, digest), quorum sizes, the
// recomputation of O, batch against digest) can catch it. See BadViewChangeVariant.
#include <algorithm>
#include <cassert>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "faults/behaviour.h"
#include "protocol/message.h"

namespace faults {
namespace {

using protocol::MessageKind;
using protocol::PrePrepare;
using protocol::SequenceNumber;
using protocol::ViewNumber;

// Genuine messages remembered, per kind (the oldest go first).
constexpr std::size_t kKeptMax = 256;
constexpr std::size_t kRequestsKeptMax = 64;

std::vector<NodeId> all_replicas(const protocol::PbftConfig& config) {
  std::vector<NodeId> v;
  for (NodeId r = 0; r < config.n; ++r) v.push_back(r);
  return v;
}

template <class Map>
void keep_bounded(Map& m) {
  while (m.size() > kKeptMax) m.erase(m.begin());
}

bool is_view_change_variant(BadViewChangeVariant v) {
  return static_cast<std::size_t>(v) < kViewChangeVariants;
}

std::optional<PrePrepare> open_pre_prepare(ByteView wire, NodeId* sender = nullptr) {
  auto env = protocol::parse_envelope(wire);
  if (!env.ok() || env.value.kind != MessageKind::PrePrepare) return std::nullopt;
  auto pp = protocol::decode_pre_prepare(env.value.body);
  if (!pp.ok()) return std::nullopt;
  if (sender != nullptr) *sender = env.value.sender;
  return std::move(pp.value);
}

MessageDigest digest_of_batch(const std::vector<Bytes>& requests) {
  std::vector<MessageDigest> ds;
  for (const auto& w : requests) ds.push_back(protocol::request_digest(protocol::parse_envelope(w).value.content));
  return protocol::batch_digest(ds);
}

MessageDigest made_up_digest(std::uint8_t fill) {
  MessageDigest d;
  d.bytes.fill(fill);
  return d;
}

class BadViewChange final : public Behaviour {
 public:
  explicit BadViewChange(std::vector<BadViewChangeVariant> variants) {
    for (auto v : variants) (is_view_change_variant(v) ? vc_variants_ : nv_variants_).push_back(v);
  }

  void on_send(const OutMessage& msg, ByzantineContext& ctx, std::vector<OutMessage>& out) override {
    stats_.seen++;
    auto env = protocol::parse_envelope(msg.wire);
    bool done = false;
    if (env.ok() && env.value.sender == ctx.self && msg.kind == MessageKind::ViewChange) {
      done = view_change(msg, env.value, ctx, out);
    } else if (env.ok() && env.value.sender == ctx.self && msg.kind == MessageKind::NewView) {
      done = new_view(msg, env.value, ctx, out);
    }
    if (done) {
      stats_.rewritten++;
      return;
    }
    stats_.forwarded++;
    out.push_back(msg);
  }

  // Remembers genuine messages (valid for this replica) to reuse them where they do not
  // belong.
  void on_receive(NodeId, ByteView wire, ByzantineContext& ctx) override {
    auto env = protocol::parse_envelope(wire);
    if (!env.ok() || !ctx.crypto.verify(env.value)) return;
    const Bytes copy(wire.begin(), wire.end());
    switch (env.value.kind) {
      case MessageKind::PrePrepare: remember_pre_prepare(env.value, copy, ctx); break;
      case MessageKind::Prepare: {
        auto v = protocol::decode_vote(env.value.body);
        if (!v.ok()) return;
        prepares_[{v.value.view, v.value.seq, v.value.digest}][env.value.sender] = copy;
        keep_bounded(prepares_);
        break;
      }
      case MessageKind::Checkpoint: {
        auto cp = protocol::decode_checkpoint(env.value.body);
        if (!cp.ok()) return;
        checkpoints_[{cp.value.seq, cp.value.state_digest}][env.value.sender] = copy;
        keep_bounded(checkpoints_);
        break;
      }
      case MessageKind::ViewChange: {
        auto vc = protocol::decode_view_change(env.value.body);
        if (!vc.ok()) return;
        view_changes_[vc.value.new_view][env.value.sender] = copy;
        keep_bounded(view_changes_);
        break;
      }
      case MessageKind::Request: remember_request(copy); break;
      default: break;
    }
  }

 private:
  void remember_pre_prepare(const protocol::Envelope& env, const Bytes& wire, ByzantineContext& ctx) {
    auto pp = protocol::decode_pre_prepare(env.body);
    if (!pp.ok() || env.sender != ctx.config.primary(pp.value.view)) return;
    pre_prepares_[{pp.value.view, pp.value.seq}] = wire;
    keep_bounded(pre_prepares_);
    for (const auto& r : pp.value.batch.requests) remember_request(r);
  }
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

  // ---- VIEW-CHANGE ------------------------------------------------------------------------

  bool view_change(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                   std::vector<OutMessage>& out) {
    auto decoded = protocol::decode_view_change(env.body);
    if (!decoded.ok() || decoded.value.new_view == 0) return false;
    protocol::ViewChange vc;
    const bool applied = rotate(vc_variants_, next_vc_, ctx, [&](BadViewChangeVariant v) {
      vc = decoded.value;
      switch (v) {
        case BadViewChangeVariant::PaddedCertificate: return padded_certificate(vc, ctx);
        case BadViewChangeVariant::RebindCertificate: return rebind_certificate(vc, ctx);
        case BadViewChangeVariant::CheckpointProof: return checkpoint_proof(vc, ctx);
        default: return false;
      }
    });
    if (!applied) return false;
    out.push_back(OutMessage{msg.to, msg.kind,
                             ctx.crypto.seal(protocol::encode_view_change(ctx.self, vc), all_replicas(ctx.config))});
    return true;
  }

  static bool in_p(const protocol::ViewChange& vc, SequenceNumber seq) {
    for (const auto& proof : vc.prepared) {
      auto pp = open_pre_prepare(proof.pre_prepare);
      if (pp && pp->seq == seq) return true;
    }
    return false;
  }
  static void replace_in_p(protocol::ViewChange& vc, SequenceNumber seq, protocol::PreparedProof&& proof) {
    auto& p = vc.prepared;
    p.erase(std::remove_if(p.begin(), p.end(), [&](const protocol::PreparedProof& x) {
              auto pp = open_pre_prepare(x.pre_prepare);
              return pp && pp->seq == seq;
            }), p.end());
    p.insert(p.begin(), std::move(proof));
  }

  // A genuine PRE-PREPARE that could sit in this VIEW-CHANGE's P (a view below the new one,
  // a seq in the window above its checkpoint), preferring one that did not prepare here.
  // Failing that, one of its own if it was the primary of an earlier view.
  std::optional<Bytes> certificate_base(const protocol::ViewChange& vc, ByzantineContext& ctx) {
    const SequenceNumber low = vc.stable_seq;
    const SequenceNumber high = low + ctx.config.log_window;
    std::optional<Bytes> prepared_here;
    for (auto it = pre_prepares_.rbegin(); it != pre_prepares_.rend(); ++it) {
      const auto [view, seq] = it->first;
      if (view >= vc.new_view || seq <= low || seq > high) continue;
      if (!in_p(vc, seq)) return it->second;
      if (!prepared_here) prepared_here = it->second;
    }
    if (prepared_here) return prepared_here;
    for (ViewNumber v = vc.new_view; v-- > 0 && vc.new_view - v <= ctx.config.n;) {
      if (ctx.config.primary(v) != ctx.self) continue;
      PrePrepare pp{v, low + 1, {}, {}};
      if (!requests_.empty()) pp.batch.requests.push_back(requests_.back());
      pp.digest = digest_of_batch(pp.batch.requests);
      return ctx.crypto.seal(protocol::encode_pre_prepare(ctx.self, pp), all_replicas(ctx.config));
    }
    return std::nullopt;
  }

  // P: a certificate for a seq that did not prepare: the coalition's own PREPAREs and
  // genuine ones, never more than quorum - 2 distinct senders (so it is never a real
  // certificate), padded to quorum - 1 entries with duplicates.
  bool padded_certificate(protocol::ViewChange& vc, ByzantineContext& ctx) {
    auto base = certificate_base(vc, ctx);
    if (!base) return false;
    auto pp = open_pre_prepare(*base);
    assert(pp);
    const ReplicaId primary = ctx.config.primary(pp->view);
    const std::size_t distinct_max = ctx.config.quorum() >= 2 ? ctx.config.quorum() - 2 : 0;
    std::map<ReplicaId, Bytes> votes;
    if (ctx.self != primary) {
      Bytes own = ctx.crypto.seal(protocol::encode_vote(MessageKind::Prepare, ctx.self,
                                                        protocol::Vote{pp->view, pp->seq, pp->digest}),
                                  all_replicas(ctx.config));
      if (ctx.coalition != nullptr && ctx.coalition->prepares.size() < kCoalitionEntriesMax) {
        ctx.coalition->prepares[{pp->view, pp->seq, pp->digest}].push_back(own);
      }
      votes[ctx.self] = std::move(own);
    }
    auto add = [&](ReplicaId sender, const Bytes& wire) {
      if (sender != primary && votes.size() < distinct_max && votes.count(sender) == 0) votes[sender] = wire;
    };
    if (ctx.coalition != nullptr) {
      auto shared = ctx.coalition->prepares.find({pp->view, pp->seq, pp->digest});
      if (shared != ctx.coalition->prepares.end()) {
        for (const auto& w : shared->second) add(protocol::parse_envelope(w).value.sender, w);
      }
    }
    auto genuine = prepares_.find({pp->view, pp->seq, pp->digest});
    if (genuine != prepares_.end()) {
      for (const auto& [sender, w] : genuine->second) add(sender, w);
    }
    protocol::PreparedProof proof{*base, {}};
    for (const auto& [sender, w] : votes) proof.prepares.push_back(w);
    while (!proof.prepares.empty() && proof.prepares.size() + 1 < ctx.config.quorum()) {
      proof.prepares.push_back(proof.prepares.front());
    }
    replace_in_p(vc, pp->seq, std::move(proof));
    return true;
  }

  // P: a genuine PRE-PREPARE with genuine PREPAREs that belong to another (view, seq, digest).
  bool rebind_certificate(protocol::ViewChange& vc, ByzantineContext& ctx) {
    auto base = certificate_base(vc, ctx);
    if (!base) return false;
    auto pp = open_pre_prepare(*base);
    assert(pp);
    const ReplicaId primary = ctx.config.primary(pp->view);
    const std::map<ReplicaId, Bytes>* best = nullptr;
    for (const auto& [key, senders] : prepares_) {
      const auto& [view, seq, digest] = key;
      if (view == pp->view && seq == pp->seq && digest == pp->digest) continue;
      if (best == nullptr || senders.size() > best->size()) best = &senders;
    }
    if (best == nullptr) return false;
    protocol::PreparedProof proof{*base, {}};
    for (const auto& [sender, w] : *best) {
      if (sender != primary && proof.prepares.size() + 1 < ctx.config.quorum()) proof.prepares.push_back(w);
    }
    while (!proof.prepares.empty() && proof.prepares.size() + 1 < ctx.config.quorum()) {
      proof.prepares.push_back(proof.prepares.front());
    }
    replace_in_p(vc, pp->seq, std::move(proof));
    return true;
  }

  // C: a later checkpoint than the real one, "proved" by its own CHECKPOINT plus genuine
  // ones capped below a quorum and padded with duplicates, or, when it saw no later
  // checkpoint, by genuine CHECKPOINTs of another seq and digest.
  bool checkpoint_proof(protocol::ViewChange& vc, ByzantineContext& ctx) {
    SequenceNumber seq = vc.stable_seq + ctx.config.checkpoint_interval;
    MessageDigest digest = made_up_digest(0xcd);
    std::vector<Bytes> proof;
    for (auto it = checkpoints_.rbegin(); it != checkpoints_.rend(); ++it) {
      if (it->first.first <= vc.stable_seq) continue;
      seq = it->first.first;
      digest = it->first.second;
      for (const auto& [sender, w] : it->second) {
        if (sender != ctx.self && proof.size() + 2 < ctx.config.quorum()) proof.push_back(w);
      }
      break;
    }
    proof.push_back(ctx.crypto.seal(protocol::encode_checkpoint(ctx.self, protocol::Checkpoint{seq, digest}),
                                    all_replicas(ctx.config)));
    for (const auto& w : vc.checkpoint_proof) proof.push_back(w);  // genuine, for another seq
    while (proof.size() < ctx.config.quorum()) proof.push_back(proof.front());
    vc.stable_seq = seq;
    vc.stable_digest = digest;
    vc.checkpoint_proof = std::move(proof);
    auto& p = vc.prepared;
    p.erase(std::remove_if(p.begin(), p.end(), [&](const protocol::PreparedProof& x) {
              auto pp = open_pre_prepare(x.pre_prepare);
              return !pp || pp->seq <= seq;
            }), p.end());
    return true;
  }

  // ---- NEW-VIEW ---------------------------------------------------------------------------

  bool new_view(const OutMessage& msg, const protocol::Envelope& env, ByzantineContext& ctx,
                std::vector<OutMessage>& out) {
    auto decoded = protocol::decode_new_view(env.body);
    if (!decoded.ok()) return false;
    protocol::NewView nv;
    const bool applied = rotate(nv_variants_, next_nv_, ctx, [&](BadViewChangeVariant v) {
      nv = decoded.value;
      switch (v) {
        case BadViewChangeVariant::SwapBatch: return swap_batch(nv, ctx);
        case BadViewChangeVariant::WrongDigest: return wrong_digest(nv, ctx);
        case BadViewChangeVariant::DropEntry: return drop_entry(nv, ctx);
        case BadViewChangeVariant::ShortV: return short_v(nv, ctx);
        case BadViewChangeVariant::DuplicateV: return duplicate_v(nv);
        default: return false;
      }
    });
    if (!applied) return false;
    const Bytes wire = ctx.crypto.seal(protocol::encode_new_view(ctx.self, nv), all_replicas(ctx.config));
    if (last_used_ != BadViewChangeVariant::SwapBatch) {
      out.push_back(OutMessage{msg.to, msg.kind, wire});
      return true;
    }
    // Equivocation on O: the first half of the other replicas gets the swapped batch, the
    // rest the genuine NEW-VIEW, so that (unless the backups check batches against digests)
    // correct replicas execute different requests at one seq.
    std::vector<ReplicaId> others;
    for (ReplicaId r = 0; r < ctx.config.n; ++r) {
      if (r != ctx.self) others.push_back(r);
    }
    const std::size_t victims = std::max<std::size_t>(1, others.size() / 2);
    for (std::size_t i = 0; i < others.size(); ++i) {
      out.push_back(OutMessage{others[i], msg.kind, i < victims ? wire : msg.wire});
    }
    return true;
  }

  Bytes seal_entry(const PrePrepare& pp, ByzantineContext& ctx) {
    return ctx.crypto.seal(protocol::encode_pre_prepare(ctx.self, pp), all_replicas(ctx.config));
  }

  // O: the right digest with another batch: a real batch emptied, or a null entry filled
  // with a genuine request it saw. The latest such entry (the likeliest not executed yet).
  bool swap_batch(protocol::NewView& nv, ByzantineContext& ctx) {
    for (std::size_t i = nv.pre_prepares.size(); i-- > 0;) {
      auto pp = open_pre_prepare(nv.pre_prepares[i]);
      if (!pp || pp->batch.requests.empty()) continue;
      pp->batch.requests.clear();
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

  // O: an entry whose digest is not the one V dictates (with a batch that matches it).
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

  // O: one entry left out, or (O being empty) one made up just above min-s.
  bool drop_entry(protocol::NewView& nv, ByzantineContext& ctx) {
    if (!nv.pre_prepares.empty()) {
      nv.pre_prepares.pop_back();
      return true;
    }
    SequenceNumber min_s = 0;
    for (const auto& w : nv.view_changes) {
      auto env = protocol::parse_envelope(w);
      if (!env.ok()) continue;
      auto vc = protocol::decode_view_change(env.value.body);
      if (vc.ok()) min_s = std::max(min_s, vc.value.stable_seq);
    }
    nv.pre_prepares.push_back(seal_entry(PrePrepare{nv.view, min_s + 1, protocol::null_batch_digest(), {}}, ctx));
    return true;
  }

  // V: one VIEW-CHANGE too few.
  bool short_v(protocol::NewView& nv, ByzantineContext& ctx) {
    if (nv.view_changes.empty()) return false;
    const std::size_t keep = ctx.config.quorum() - 1;
    nv.view_changes.resize(std::min(nv.view_changes.size() - 1, keep));
    return true;
  }

  // V: one VIEW-CHANGE replaced by a genuine one for another view from a sender not in V,
  // or else by a copy of another VIEW-CHANGE in V (two from one sender).
  bool duplicate_v(protocol::NewView& nv) {
    if (nv.view_changes.size() < 2) return false;
    std::set<NodeId> in_v;
    for (const auto& w : nv.view_changes) in_v.insert(protocol::parse_envelope(w).value.sender);
    for (const auto& [view, senders] : view_changes_) {
      if (view == nv.view) continue;
      for (const auto& [sender, w] : senders) {
        if (in_v.count(sender) != 0) continue;
        nv.view_changes.back() = w;
        return true;
      }
    }
    nv.view_changes.back() = nv.view_changes.front();
    return true;
  }

  std::vector<BadViewChangeVariant> vc_variants_;
  std::vector<BadViewChangeVariant> nv_variants_;
  std::optional<std::size_t> next_vc_, next_nv_;
  BadViewChangeVariant last_used_ = BadViewChangeVariant::PaddedCertificate;
  std::map<std::pair<ViewNumber, SequenceNumber>, Bytes> pre_prepares_;
  std::map<std::tuple<ViewNumber, SequenceNumber, MessageDigest>, std::map<ReplicaId, Bytes>> prepares_;
  std::map<std::pair<SequenceNumber, MessageDigest>, std::map<ReplicaId, Bytes>> checkpoints_;
  std::map<ViewNumber, std::map<ReplicaId, Bytes>> view_changes_;
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
  }
  return "?";
}

std::unique_ptr<Behaviour> make_bad_view_change(std::vector<BadViewChangeVariant> variants) {
  if (variants.empty()) {
    for (std::uint8_t v = 0; v <= static_cast<std::uint8_t>(BadViewChangeVariant::DuplicateV); ++v) {
      variants.push_back(static_cast<BadViewChangeVariant>(v));
    }
  }
  return std::make_unique<BadViewChange>(std::move(variants));
}

}  // namespace faults
