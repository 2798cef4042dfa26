// The Byzantine behaviours as real adversaries: every fabrication of bad_view_change is
// validly authenticated by the faulty replica itself, so only the protocol's checks can
// refuse it; equivocation with "primary" keeps the primary in its coalition. Replicas are
// driven directly through step() (no simulator), with the oracles fed as the host feeds
// them, so the tests also show the oracles silent on these runs, or firing when the
// protocol is fooled.
#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>

#include "faults/behaviour.h"
#include "harness/scenario.h"
#include "oracles/checker.h"
#include "protocol/crypto.h"
#include "protocol/replica.h"
#include "protocol/service.h"

using namespace protocol;
using faults::BadViewChangeVariant;

namespace {

struct Packet {
  NodeId from = 0;
  NodeId to = 0;
  Bytes wire;
};

// n replicas, one client (node n), some replicas faulty with one behaviour each (all of one
// fault, sharing one Coalition), a FIFO network the test can filter, and the oracles.
class Cluster {
 public:
  Cluster(std::uint32_t n, std::vector<ReplicaId> faulty,
          std::function<std::unique_ptr<faults::Behaviour>()> make)
      : config_(make_config(n)),
        ring_(9, AuthMode::Mac, n + 1),
        client_(ring_, n),
        checker_(config_, [n](ClientId c, Timestamp t, Bytes& op) {
          if (c != n || t == 0) return false;
          op = encode_kv_operation(KvOpcode::Increment, std::string("k") += std::to_string(t % 3));
          return true;
        }),
        rejected_(n),
        executed_(n) {
    for (ReplicaId r = 0; r < n; ++r) replicas_.push_back(std::make_unique<Replica>(config_, r, ring_, false));
    coalition_ = faults::make_coalition(faults_spec(faulty), faulty, config_);
    for (auto r : faulty) {
      checker_.mark_faulty(r);
      byzantine_[r] = Byzantine{make(), std::make_unique<NodeCrypto>(ring_, r)};
    }
  }

  const PbftConfig& config() const { return config_; }
  Replica& replica(ReplicaId r) { return *replicas_[r]; }
  const oracles::Checker& checker() const { return checker_; }
  faults::Behaviour& behaviour(ReplicaId r) { return *byzantine_.at(r).behaviour; }
  const faults::Coalition& coalition() const { return coalition_; }
  const std::vector<Execution>& executed(ReplicaId r) const { return executed_[r]; }
  std::function<bool(const Packet&)> drop = [](const Packet&) { return false; };

  // The client's request t, straight to the primary of view 0.
  void submit(Timestamp t) {
    const NodeId c = config_.n;
    const Bytes op = encode_kv_operation(KvOpcode::Increment, std::string("k") += std::to_string(t % 3));
    std::vector<NodeId> all;
    for (NodeId r = 0; r < config_.n; ++r) all.push_back(r);
    queue_.push_back({c, 0, client_.seal(encode_request(c, Request{c, t, op}), all)});
  }
  void fire_view_change_timer(ReplicaId r) { step(r, Input::timer_fired(TimerKind::ViewChange)); }
  void run(std::size_t max_steps = 100000) {
    for (std::size_t i = 0; i < max_steps && !queue_.empty(); ++i) {
      Packet p = std::move(queue_.front());
      queue_.pop_front();
      if (p.to >= config_.n || drop(p)) continue;  // replies to the client are not needed
      deliver(p);
    }
  }
  // Refusals by `receiver` of messages claiming `sender`, for one reason.
  std::uint64_t rejected(ReplicaId receiver, NodeId sender, RejectReason why) const {
    auto it = rejected_[receiver].find({sender, why});
    return it == rejected_[receiver].end() ? 0 : it->second;
  }
  std::uint64_t violations(const std::string& invariant) const {
    std::uint64_t n = 0;
    for (const auto& v : checker_.violations()) n += v.invariant == invariant;
    return n;
  }

 private:
  struct Byzantine {
    std::unique_ptr<faults::Behaviour> behaviour;
    std::unique_ptr<NodeCrypto> crypto;
  };
  static PbftConfig make_config(std::uint32_t n) {
    PbftConfig c;
    c.n = n;
    c.f = (n - 1) / 3;
    c.checkpoint_interval = 2;
    c.log_window = 8;
    return c;
  }
  static harness::FaultSpec faults_spec(const std::vector<ReplicaId>& faulty) {
    harness::FaultSpec spec;
    spec.kind = harness::FaultKind::BadViewChange;
    spec.replicas = faulty;
    return spec;
  }
  faults::ByzantineContext context(ReplicaId r) {
    return faults::ByzantineContext{config_, r, *byzantine_.at(r).crypto, rng_, 0, 1, &coalition_};
  }

  void deliver(const Packet& p) {
    auto byz = byzantine_.find(p.to);
    if (byz != byzantine_.end()) {
      auto ctx = context(p.to);
      byz->second.behaviour->on_receive(p.from, p.wire, ctx);
    }
    checker_.on_delivered(p.to, p.wire);
    step(p.to, Input::message(p.from, p.wire));
  }

  // As harness/world.cpp drains a step: a correct replica's sends are recorded first, then
  // state transfers, executions and notes; a faulty replica's messages pass its behaviour.
  void step(ReplicaId r, const Input& in) {
    Outbox out;
    replicas_[r]->step(in, out);
    const bool faulty = byzantine_.count(r) != 0;
    if (!faulty) {
      for (const auto& m : out.messages) checker_.on_sent(0, r, m.wire);
    }
    for (const auto& rej : out.rejections) rejected_[r][{rej.from, rej.reason}]++;
    for (const auto& note : out.notes) {
      if (note.kind == Note::Kind::StateTransferred) checker_.on_state_transfer(0, r, note.a, note.digest);
    }
    for (const auto& ex : out.executions) {
      executed_[r].push_back(ex);
      checker_.on_execution(0, r, ex);
    }
    for (const auto& note : out.notes) {
      if (note.kind == Note::Kind::CheckpointTaken) checker_.on_checkpoint(0, r, note.a, note.digest);
      if (note.kind == Note::Kind::CheckpointStable) checker_.on_stable_checkpoint(0, r, note.a, note.digest);
      if (note.kind == Note::Kind::CertificateUsed) checker_.on_certificate(0, r, note);
    }
    for (auto& m : out.messages) {
      std::vector<OutMessage> sending;
      if (faulty) {
        auto ctx = context(r);
        byzantine_.at(r).behaviour->on_send(m, ctx, sending);
        for (const auto& s : sending) checker_.on_sent(0, r, s.wire);
      } else {
        sending.push_back(std::move(m));
      }
      for (auto& s : sending) enqueue(r, std::move(s));
    }
  }
  void enqueue(ReplicaId from, OutMessage&& m) {
    if (m.to != kAllReplicas) {
      queue_.push_back({from, m.to, std::move(m.wire)});
      return;
    }
    for (NodeId to = 0; to < config_.n; ++to) {
      if (to != from) queue_.push_back({from, to, m.wire});
    }
  }

  PbftConfig config_;
  KeyRing ring_;
  NodeCrypto client_;
  oracles::Checker checker_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  faults::Coalition coalition_;
  std::map<ReplicaId, Byzantine> byzantine_;
  sim::RngEngine rng_ = sim::make_stream(4, "test/adversary");
  std::deque<Packet> queue_;
  std::vector<std::map<std::pair<NodeId, RejectReason>, std::uint64_t>> rejected_;
  std::vector<std::vector<Execution>> executed_;
};

MessageKind kind_of(const Packet& p) { return static_cast<MessageKind>(p.wire.empty() ? 0 : p.wire[0]); }

SequenceNumber seq_of(const Packet& p) {
  auto env = parse_envelope(p.wire);
  if (!env.ok()) return 0;
  if (env.value.kind == MessageKind::PrePrepare) return decode_pre_prepare(env.value.body).value.seq;
  if (env.value.kind == MessageKind::Prepare || env.value.kind == MessageKind::Commit) {
    return decode_vote(env.value.body).value.seq;
  }
  return 0;
}

// n = 4 (K = 2, L = 8), replica 1 Byzantine and primary of view 1. Requests 1 and 2 execute
// everywhere (checkpoint 2 stable); request 3 prepares everywhere but commits nowhere (seq
// 3); request 4 is pre-prepared but never prepared (seq 4). Then every replica times out in
// view 0, so replica 1 sends a VIEW-CHANGE and, as new primary, the NEW-VIEW.
void to_view_change(Cluster& c) {
  c.submit(1);
  c.submit(2);
  c.run();
  REQUIRE(c.replica(0).last_executed() == 2);
  REQUIRE(c.replica(0).low_watermark() == 2);
  c.drop = [](const Packet& p) {
    return kind_of(p) == MessageKind::Commit || (kind_of(p) == MessageKind::Prepare && seq_of(p) == 4);
  };
  c.submit(3);
  c.submit(4);
  c.run();
  REQUIRE(c.replica(2).last_executed() == 2);
  c.drop = [](const Packet&) { return false; };
  for (ReplicaId r = 0; r < 4; ++r) c.fire_view_change_timer(r);
  c.run();
}

std::unique_ptr<faults::Behaviour> only(BadViewChangeVariant v) { return faults::make_bad_view_change({v}); }

}  // namespace

// ---- bad_view_change ----------------------------------------------------------------------

TEST_CASE("bad_view_change: the scenario format's variant names are the behaviour's, in order") {
  REQUIRE(harness::kBadViewChangeVariantNames.size() == static_cast<std::size_t>(BadViewChangeVariant::DuplicateV) + 1);
  for (std::uint8_t v = 0; v < harness::kBadViewChangeVariantNames.size(); ++v) {
    CHECK(std::string(harness::kBadViewChangeVariantNames[v]) ==
          faults::bad_view_change_variant_name(static_cast<BadViewChangeVariant>(v)));
  }
}

TEST_CASE("bad_view_change VIEW-CHANGE fabrications authenticate and are refused, or weak, by the protocol's checks") {
  for (auto variant : {BadViewChangeVariant::PaddedCertificate, BadViewChangeVariant::RebindCertificate,
                       BadViewChangeVariant::CheckpointProof}) {
    const std::string variant_name = faults::bad_view_change_variant_name(variant);
    CAPTURE(variant_name);
    Cluster c(4, {1}, [&] { return only(variant); });
    to_view_change(c);
    CHECK(c.behaviour(1).stats().rewritten >= 1);
    for (ReplicaId r : {0u, 2u, 3u}) {
      CAPTURE(r);
      // A checker counts the PREPAREs it holds itself too (replica_certificates.cpp): for
      // replicas 2 and 3, their own PREPARE for seq 4 plus the faulty replica's genuine one
      // make quorum - 1, so the padded certificate is a real one to them (PBFT's prepared
      // predicate over messages they hold). The padded and rebound certificates carry a
      // genuine PRE-PREPARE of the (correct) primary and the faulty replica's own PREPARE:
      // f + 1 replicas that pre-prepared what the claim names, a weak claim (a correct one
      // did pre-prepare it), which O may use without harm. Only the made-up checkpoint proof
      // is refused outright.
      if (variant == BadViewChangeVariant::CheckpointProof) CHECK(c.rejected(r, 1, RejectReason::BadCertificate) >= 1);
      CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);  // caught by the protocol, not the MAC
    }
    // The NEW-VIEW (genuine here) installs view 1 and seqs 3 and 4 execute everywhere,
    // the same, with every certificate backed by the network's evidence.
    for (ReplicaId r : {0u, 2u, 3u}) {
      CHECK(c.replica(r).view() == 1);
      CHECK(c.replica(r).last_executed() == 4);
    }
    CHECK(c.checker().violations().empty());
  }
}

TEST_CASE("bad_view_change NEW-VIEW fabrications authenticate and are refused; the next primary takes over") {
  for (auto variant : {BadViewChangeVariant::WrongDigest, BadViewChangeVariant::DropEntry, BadViewChangeVariant::ShortV,
                       BadViewChangeVariant::DuplicateV}) {
    const std::string variant_name = faults::bad_view_change_variant_name(variant);
    CAPTURE(variant_name);
    Cluster c(4, {1}, [&] { return only(variant); });
    to_view_change(c);
    CHECK(c.behaviour(1).stats().rewritten >= 1);
    for (ReplicaId r : {0u, 2u, 3u}) {
      CHECK(c.rejected(r, 1, RejectReason::BadNewView) >= 1);
      CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);
      CHECK(c.replica(r).view() == 2);  // on to view 2, whose primary (2) is correct
      CHECK(c.replica(r).last_executed() == 4);
    }
    CHECK(c.checker().violations().empty());
  }
}

TEST_CASE("bad_view_change: coalition members pad certificates with each other's own PREPAREs") {
  // n = 7, f = 2: replicas 1 and 2 collude. Both pad a certificate for the seq that never
  // prepared; the second one finds the first one's PREPARE in the coalition.
  Cluster c(7, {1, 2}, [] { return only(BadViewChangeVariant::PaddedCertificate); });
  c.submit(1);
  c.run();
  c.drop = [](const Packet& p) { return kind_of(p) == MessageKind::Prepare || kind_of(p) == MessageKind::Commit; };
  c.submit(2);
  c.run();
  c.drop = [](const Packet&) { return false; };
  for (ReplicaId r = 0; r < 7; ++r) c.fire_view_change_timer(r);
  c.run();
  REQUIRE(c.coalition().prepares.size() == 1);
  CHECK(c.coalition().prepares.begin()->second.size() == 2);  // one from each member
  // The padded certificates hold the correct primary's genuine PRE-PREPARE for seq 2 and the
  // two members' PREPAREs: f + 1 = 3 replicas that pre-prepared it, one of them correct (the
  // primary), so it is a weak claim to the others (replica_certificates.cpp), not a verified
  // one, and O may carry the request the primary really proposed there. Nothing else can
  // execute at seq 2, and every correct replica executes the same.
  for (ReplicaId r : {0u, 3u, 4u, 5u, 6u}) {
    CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);
    CHECK(c.rejected(r, 2, RejectReason::BadAuth) == 0);
    CHECK(c.replica(r).last_executed() == 2);
  }
  CHECK(c.checker().violations().empty());
}

TEST_CASE("bad_view_change swap_batch: whenever correct replicas execute different requests, the oracle says so") {
  // The NEW-VIEW's O entry for seq 3 keeps its digest but carries no request, sent to
  // replica 0; replicas 2 and 3 get the genuine NEW-VIEW. A backup that does not check the
  // batch against the digest executes the null request at seq 3.
  Cluster c(4, {1}, [] { return only(BadViewChangeVariant::SwapBatch); });
  to_view_change(c);
  CHECK(c.behaviour(1).stats().rewritten >= 1);
  bool diverged = false;
  for (const auto& a : c.executed(0)) {
    for (const auto& b : c.executed(2)) {
      diverged |= a.seq == b.seq && a.requests.size() != b.requests.size();
    }
  }
  CHECK(diverged == (c.violations("agreement") > 0));
  if (diverged) {
    const reports::Violation* v = nullptr;
    for (const auto& x : c.checker().violations()) {
      if (x.invariant == "agreement" && v == nullptr) v = &x;
    }
    REQUIRE(v != nullptr);
    CHECK(v->seq == 3);
    CHECK(v->replicas == std::vector<std::uint32_t>{0});  // first: what it executed is not its digest
    CHECK(v->culprits == std::vector<std::uint32_t>{1});  // it signed two batches under one digest
  } else {
    CHECK(c.rejected(0, 1, RejectReason::BadNewView) >= 1);
  }
}

// NEW-VIEW O batches must be bound to their digest: check_new_view now checks that
// each O entry's batch hashes to its digest (protocol/replica_view_change.cpp).
TEST_CASE("bad_view_change swap_batch is refused: O's batches must match their digests") {
  Cluster c(4, {1}, [] { return only(BadViewChangeVariant::SwapBatch); });
  to_view_change(c);
  CHECK(c.rejected(0, 1, RejectReason::BadNewView) >= 1);
  CHECK(c.rejected(0, 1, RejectReason::BadAuth) == 0);
  for (ReplicaId r : {2u, 3u}) CHECK(c.replica(r).last_executed() == 4);
  CHECK(c.violations("agreement") == 0);
}

TEST_CASE("bad_view_change with every variant: each VIEW-CHANGE and NEW-VIEW takes the next one that applies") {
  Cluster c(4, {1}, [] { return faults::make_bad_view_change({}); });
  to_view_change(c);
  CHECK(c.behaviour(1).stats().rewritten >= 2);  // its VIEW-CHANGE and its NEW-VIEW
  CHECK(c.behaviour(1).stats().forwarded >= 1);
  for (ReplicaId r : {0u, 2u, 3u}) CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);
}

// ---- equivocate ---------------------------------------------------------------------------

TEST_CASE("equivocate with \"primary\": the resolved primary is in its coalition, not on a side") {
  PbftConfig config;
  config.n = 4;
  config.f = 1;
  harness::FaultSpec spec;
  spec.kind = harness::FaultKind::Equivocate;
  spec.replicas_is_primary = true;  // spec.replicas stays empty
  spec.colluders = {1};
  const std::vector<ReplicaId> resolved{0, 1};  // what the host resolves at the fault's start
  const auto c = faults::make_coalition(spec, resolved, config);
  CHECK(c.members == std::vector<ReplicaId>{0, 1});
  CHECK(c.side_a == std::vector<ReplicaId>{2});
  CHECK(c.side_b == std::vector<ReplicaId>{3});
  // What the spec alone says (no ids): the primary would be split into a side.
  const auto unresolved = faults::make_coalition(spec, config);
  CHECK(std::find(unresolved.side_a.begin(), unresolved.side_a.end(), 0u) != unresolved.side_a.end());
}
