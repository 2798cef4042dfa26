// The Byzantine behaviours as real adversaries: every fabrication of bad_view_change is
// validly authenticated by the faulty replica itself, so only the protocol's checks can
// refuse it; equivocation with "primary" keeps the primary in its coalition. Replicas run on
// the simulation host (host/cluster.h) over FIFO links the test filters, with the oracles
// the host feeds, so the tests also show the oracles silent on these runs, or firing when
// the protocol is fooled.
#include <doctest/doctest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "faults/behaviour.h"
#include "faults/fault_spec.h"
#include "host/cluster.h"
#include "host/links.h"
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

// The links of these tests: first in, first out (every hop takes the same time), with a
// filter the test sets; every message put on them is kept, in order.
class FifoLinks final : public host::Links {
 public:
  host::LinkFate transmit(NodeId from, NodeId to, ByteView wire, sim::TimeNs now_ns) override {
    (void)now_ns;
    sent.push_back({from, to, Bytes(wire.begin(), wire.end())});
    host::LinkFate fate;
    fate.delay_ns[0] = kHopNs;
    if (to >= replicas || drop(sent.back())) fate.copies = 0;  // replies to the client are not needed
    return fate;
  }
  static constexpr sim::DurationNs kHopNs = 1'000;  // 1 us: traffic settles long before any timer
  std::uint32_t replicas = 0;
  std::vector<Packet> sent;
  std::function<bool(const Packet&)> drop = [](const Packet&) { return false; };
};

// n replicas and one client identity (node n) on the host, some replicas faulty with one
// behaviour each (all of one fault, sharing one Coalition), FIFO links the test can filter,
// and the oracles the host feeds. Timers fire only when the test fires them: run() lets the
// traffic settle and stops.
class Cluster : public host::Observer {
 public:
  Cluster(std::uint32_t n, std::vector<ReplicaId> faulty,
          std::function<std::unique_ptr<faults::Behaviour>()> make)
      : host_(options(n), links_with(n), this), client_(host_.keys(), n), rejected_(n), executed_(n) {
    host_.start();
    fault_ = host_.add_fault(faults::make_coalition(faults_spec(faulty), faulty, host_.config()));
    for (auto r : faulty) host_.add_behaviour(fault_, r, make());
  }

  const PbftConfig& config() const { return host_.config(); }
  Replica& replica(ReplicaId r) { return *host_.replica(r); }
  const oracles::Checker& checker() const { return host_.checker(); }
  faults::Behaviour& behaviour(ReplicaId r) { return *host_.behaviour(fault_, r); }
  const faults::Coalition& coalition() const { return host_.coalition(fault_); }
  const std::vector<Execution>& executed(ReplicaId r) const { return executed_[r]; }
  // Everything that left a node (a faulty replica's after its behaviour), in order, one
  // entry per recipient.
  const std::vector<Packet>& sent() const { return links_.sent; }
  // From now on, messages the filter picks are lost as they are sent.
  void drop(std::function<bool(const Packet&)> filter) { links_.drop = std::move(filter); }

  // The client's request t, straight to the primary of view 0.
  void submit(Timestamp t) {
    const NodeId c = config().n;
    const Bytes op = encode_kv_operation(KvOpcode::Increment, std::string("k") += std::to_string(t % 3));
    std::vector<NodeId> all;
    for (NodeId r = 0; r < config().n; ++r) all.push_back(r);
    host_.send(c, 0, client_.seal(encode_request(c, Request{c, t, op}), all));
  }
  void fire_view_change_timer(ReplicaId r) { host_.fire_timer(r, TimerKind::ViewChange); }
  void run() { host_.run_while_in_flight(); }
  // Refusals by `receiver` of messages claiming `sender`, for one reason.
  std::uint64_t rejected(ReplicaId receiver, NodeId sender, RejectReason why) const {
    auto it = rejected_[receiver].find({sender, why});
    return it == rejected_[receiver].end() ? 0 : it->second;
  }
  std::uint64_t violations(const std::string& invariant) const {
    std::uint64_t n = 0;
    for (const auto& v : host_.checker().violations()) n += v.invariant == invariant;
    return n;
  }

  bool watch_steps() const override { return true; }
  void on_step(NodeId node, const Input& input, const Outbox& out) override {
    (void)input;
    if (node >= config().n) return;
    for (const auto& rej : out.rejections) rejected_[node][{rej.from, rej.reason}]++;
    for (const auto& ex : out.executions) executed_[node].push_back(ex);
  }

 private:
  static host::ClusterOptions options(std::uint32_t n) {
    host::ClusterOptions o;
    o.config.n = n;
    o.config.f = (n - 1) / 3;
    o.config.checkpoint_interval = 2;
    o.config.log_window = 8;
    o.clients = 1;
    o.seed = 9;
    o.issued = [n](ClientId c, Timestamp t, Bytes& op) {
      if (c != n || t == 0) return false;
      op = encode_kv_operation(KvOpcode::Increment, std::string("k") += std::to_string(t % 3));
      return true;
    };
    return o;
  }
  host::Links& links_with(std::uint32_t n) {
    links_.replicas = n;
    return links_;
  }
  static faults::FaultSpec faults_spec(const std::vector<ReplicaId>& faulty) {
    faults::FaultSpec spec;
    spec.kind = faults::FaultKind::BadViewChange;
    spec.replicas = faulty;
    return spec;
  }

  FifoLinks links_;  // before host_, which holds a reference to it
  host::Cluster host_;
  NodeCrypto client_;
  std::uint32_t fault_ = 0;
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
  c.drop([](const Packet& p) {
    return kind_of(p) == MessageKind::Commit || (kind_of(p) == MessageKind::Prepare && seq_of(p) == 4);
  });
  c.submit(3);
  c.submit(4);
  c.run();
  REQUIRE(c.replica(2).last_executed() == 2);
  c.drop([](const Packet&) { return false; });
  for (ReplicaId r = 0; r < 4; ++r) c.fire_view_change_timer(r);
  c.run();
}

std::unique_ptr<faults::Behaviour> only(BadViewChangeVariant v) { return faults::make_bad_view_change({v}); }

// The messages of one kind that left replica `from` (a faulty one's as its behaviour sent
// them), decoded, each distinct content once.
template <class T>
std::vector<T> sent_by(const Cluster& c, ReplicaId from, MessageKind kind, Decoded<T> (*decode)(ByteView)) {
  std::vector<T> out;
  std::vector<Bytes> seen;
  for (const auto& p : c.sent()) {
    if (p.from != from || kind_of(p) != kind) continue;
    auto env = parse_envelope(p.wire);
    if (!env.ok()) continue;
    Bytes content(env.value.content.begin(), env.value.content.end());
    if (std::find(seen.begin(), seen.end(), content) != seen.end()) continue;
    seen.push_back(std::move(content));
    auto m = decode(env.value.body);
    if (m.ok()) out.push_back(std::move(m.value));
  }
  return out;
}

// view_change_digest() of every VIEW-CHANGE any replica sent.
std::set<MessageDigest> view_change_digests_sent(const Cluster& c) {
  std::set<MessageDigest> out;
  for (const auto& p : c.sent()) {
    if (kind_of(p) == MessageKind::ViewChange) out.insert(view_change_digest(parse_envelope(p.wire).value.content));
  }
  return out;
}

// (seq, digest) of every PRE-PREPARE the (correct) primary `primary` sent.
std::set<std::pair<SequenceNumber, MessageDigest>> proposed_by(const Cluster& c, ReplicaId primary) {
  std::set<std::pair<SequenceNumber, MessageDigest>> out;
  for (const auto& pp : sent_by(c, primary, MessageKind::PrePrepare, decode_pre_prepare)) out.insert({pp.seq, pp.digest});
  return out;
}

// The rules a VIEW-CHANGE must keep to be well formed (protocol/message.h), restated, so
// that a test can tell a lie the decision procedure must outvote from one the
// well-formedness check refuses.
bool well_formed(const ViewChange& vc, const PbftConfig& config) {
  const SequenceNumber h = vc.stable_seq;
  bool names_h = false;
  for (std::size_t i = 0; i < vc.checkpoints.size(); ++i) {
    const auto& cp = vc.checkpoints[i];
    if (cp.seq < h || cp.seq % config.checkpoint_interval != 0) return false;
    if (i > 0 && cp.seq <= vc.checkpoints[i - 1].seq) return false;
    names_h |= cp.seq == h;
  }
  if (!names_h) return false;
  auto fits = [&](const SlotClaim& x) { return x.seq > h && x.seq <= h + config.log_window && x.view < vc.new_view; };
  for (std::size_t i = 0; i < vc.pre_prepared.size(); ++i) {
    const auto& q = vc.pre_prepared[i];
    if (!fits(q)) return false;
    if (i > 0 && std::tie(q.seq, q.digest) <= std::tie(vc.pre_prepared[i - 1].seq, vc.pre_prepared[i - 1].digest)) return false;
  }
  for (std::size_t i = 0; i < vc.prepared.size(); ++i) {
    const auto& p = vc.prepared[i];
    if (!fits(p) || (i > 0 && p.seq <= vc.prepared[i - 1].seq)) return false;
    const bool backed = std::any_of(vc.pre_prepared.begin(), vc.pre_prepared.end(), [&](const SlotClaim& q) {
      return q.seq == p.seq && q.digest == p.digest && q.view >= p.view;
    });
    if (!backed) return false;
  }
  return true;
}

// A NEW-VIEW the backups refuse moves them on at once; one they leave pending (a lie that
// stalls their run of the decision, a VIEW-CHANGE they lack) waits for the view-change
// timer, which this host fires only when told. So: fire the timers of the correct replicas
// still in a view change, a bounded number of times, until none is.
void settle(Cluster& c, const std::vector<ReplicaId>& correct, int rounds_max = 6) {
  for (int round = 0; round < rounds_max; ++round) {
    bool changing = false;
    for (auto r : correct) changing |= c.replica(r).in_view_change();
    if (!changing) return;
    for (auto r : correct) {
      if (c.replica(r).in_view_change()) c.fire_view_change_timer(r);
    }
    c.run();
  }
}

// Every correct replica out of the view change, in one view, with one history at least
// `executed_min` long, and the oracles silent.
void check_settled(Cluster& c, const std::vector<ReplicaId>& correct, SequenceNumber executed_min) {
  const ReplicaId first = correct.front();
  for (auto r : correct) {
    CAPTURE(r);
    CHECK_FALSE(c.replica(r).in_view_change());
    CHECK(c.replica(r).view() == c.replica(first).view());
    CHECK(c.replica(r).last_executed() >= executed_min);
    CHECK(c.replica(r).last_executed() == c.replica(first).last_executed());
  }
  CHECK(c.checker().violations().empty());
}

// The batch digest replica r executed at `seq`, if it did.
std::optional<MessageDigest> executed_at(const Cluster& c, ReplicaId r, SequenceNumber seq) {
  for (const auto& e : c.executed(r)) {
    if (e.seq == seq) return e.batch_digest;
  }
  return std::nullopt;
}

bool executed_anywhere(const Cluster& c, const std::vector<ReplicaId>& correct, const MessageDigest& digest) {
  for (auto r : correct) {
    for (const auto& e : c.executed(r)) {
      if (e.batch_digest == digest) return true;
    }
  }
  return false;
}

}  // namespace

// ---- bad_view_change ----------------------------------------------------------------------

TEST_CASE("bad_view_change: the scenario format's variant names are the behaviour's, in order") {
  REQUIRE(faults::kBadViewChangeVariantNames.size() == faults::kBadViewChangeVariants);
  for (std::uint8_t v = 0; v < faults::kBadViewChangeVariantNames.size(); ++v) {
    CHECK(std::string(faults::kBadViewChangeVariantNames[v]) ==
          faults::bad_view_change_variant_name(static_cast<BadViewChangeVariant>(v)));
  }
}

TEST_CASE("bad_view_change VIEW-CHANGE lies authenticate, are well formed, and the decision never chooses them") {
  for (auto variant : {BadViewChangeVariant::PaddedCertificate, BadViewChangeVariant::RebindCertificate,
                       BadViewChangeVariant::CheckpointProof, BadViewChangeVariant::OmitPrepared}) {
    const std::string variant_name = faults::bad_view_change_variant_name(variant);
    CAPTURE(variant_name);
    Cluster c(4, {1}, [&] { return only(variant); });
    to_view_change(c);
    CHECK(c.behaviour(1).stats().rewritten >= 1);
    const auto lies = sent_by(c, 1, MessageKind::ViewChange, decode_view_change);
    REQUIRE(!lies.empty());
    for (const auto& vc : lies) CHECK(well_formed(vc, c.config()));
    const ViewChange& lie = lies.front();
    REQUIRE(lie.new_view == 1);
    const auto truth = sent_by(c, 0, MessageKind::ViewChange, decode_view_change);
    REQUIRE(!truth.empty());
    const auto real = proposed_by(c, 0);
    REQUIRE(real.size() == 4);  // seqs 1 to 4, one request each
    MessageDigest proposed_at_3;
    for (const auto& [seq, digest] : real) {
      if (seq == 3) proposed_at_3 = digest;
    }
    // What the lie says, against what happened: a claim no correct replica can back.
    std::optional<MessageDigest> never;  // a digest that must never execute
    switch (variant) {
      case BadViewChangeVariant::PaddedCertificate: {
        // Seq 4 was pre-prepared, not prepared: the made-up claim outranks nothing there.
        const SlotClaim* made_up = nullptr;
        for (const auto& p : lie.prepared) {
          if (!real.count({p.seq, p.digest})) made_up = &p;
        }
        REQUIRE(made_up != nullptr);
        CHECK(made_up->seq == 4);
        CHECK(made_up->view == 0);  // the latest view below the new one
        CHECK(std::find(lie.pre_prepared.begin(), lie.pre_prepared.end(), *made_up) != lie.pre_prepared.end());
        never = made_up->digest;
        break;
      }
      case BadViewChangeVariant::RebindCertificate: {
        // No later view exists below view 1, so request 4's digest moves to seq 3, where
        // request 3 prepared everywhere.
        const SlotClaim rebound{3, 0, [&] {
                                  for (const auto& [seq, digest] : real) {
                                    if (seq == 4) return digest;
                                  }
                                  return MessageDigest{};
                                }()};
        CHECK(std::find(lie.prepared.begin(), lie.prepared.end(), rebound) != lie.prepared.end());
        CHECK(std::find(truth.front().prepared.begin(), truth.front().prepared.end(), rebound) == truth.front().prepared.end());
        break;
      }
      case BadViewChangeVariant::CheckpointProof: {
        // A checkpoint one interval above the stable one (2), whose digest no replica has.
        REQUIRE(lie.checkpoints.size() == 1);
        CHECK(lie.stable_seq == 4);
        CHECK(lie.checkpoints[0].seq == 4);
        for (ReplicaId r : {0u, 2u, 3u}) {
          for (const auto& cp : sent_by(c, r, MessageKind::Checkpoint, decode_checkpoint)) {
            CHECK(cp.state_digest != lie.checkpoints[0].digest);
          }
        }
        CHECK(lie.prepared.empty());  // seqs 3 and 4 are at or below the claimed watermark
        CHECK(lie.pre_prepared.empty());
        break;
      }
      case BadViewChangeVariant::OmitPrepared:
        CHECK(lie.prepared.empty());
        CHECK_FALSE(lie.pre_prepared.empty());
        CHECK_FALSE(truth.front().prepared.empty());  // seq 3 prepared at replica 0 too
        break;
      default: FAIL("not a VIEW-CHANGE variant");
    }
    for (ReplicaId r : {0u, 2u, 3u}) {
      CAPTURE(r);
      CHECK(c.rejected(r, 1, RejectReason::BadCertificate) == 0);  // well formed: the decision sees it
      CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);          // and it authenticates
    }
    // Whatever view it takes (the liar, primary of view 1, names its lie in V, and the
    // backups' run of the decision on it may disagree with its O), the correct replicas end
    // in one view; request 3, prepared at every correct replica, keeps seq 3.
    settle(c, {0, 2, 3});
    check_settled(c, {0, 2, 3}, 4);
    for (ReplicaId r : {0u, 2u, 3u}) CHECK(executed_at(c, r, 3) == proposed_at_3);
    if (never) CHECK_FALSE(executed_anywhere(c, {0, 2, 3}, *never));
  }
}

TEST_CASE("bad_view_change unbacked_prepared: a P entry without its Q entry is refused as a bad certificate") {
  Cluster c(4, {1}, [] { return only(BadViewChangeVariant::UnbackedPrepared); });
  to_view_change(c);
  CHECK(c.behaviour(1).stats().rewritten >= 1);
  const auto lies = sent_by(c, 1, MessageKind::ViewChange, decode_view_change);
  REQUIRE(!lies.empty());
  for (const auto& vc : lies) CHECK_FALSE(well_formed(vc, c.config()));
  for (ReplicaId r : {0u, 2u, 3u}) {
    CAPTURE(r);
    CHECK(c.rejected(r, 1, RejectReason::BadCertificate) >= 1);
    CHECK(c.rejected(r, 1, RejectReason::BadAuth) == 0);
  }
  settle(c, {0, 2, 3});
  check_settled(c, {0, 2, 3}, 4);
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

TEST_CASE("bad_view_change: coalition members make the same made-up claim, still one short of f+1") {
  // n = 7, f = 2: replicas 1 and 2 collude. Request 2 is pre-prepared, never prepared; both
  // claim that a made-up digest prepared at seq 2, the second taking the first's claim from
  // the coalition. A2 wants f + 1 = 3 VIEW-CHANGEs with it in Q: two liars are not enough.
  Cluster c(7, {1, 2}, [] { return only(BadViewChangeVariant::PaddedCertificate); });
  c.submit(1);
  c.run();
  c.drop([](const Packet& p) { return kind_of(p) == MessageKind::Prepare || kind_of(p) == MessageKind::Commit; });
  c.submit(2);
  c.run();
  c.drop([](const Packet&) { return false; });
  for (ReplicaId r = 0; r < 7; ++r) c.fire_view_change_timer(r);
  c.run();
  REQUIRE_FALSE(c.coalition().prepares.empty());
  // The claim of the first view change (view 1): view 0, seq 2, carried by both members.
  const auto& [claim, carriers] = *c.coalition().prepares.begin();
  const auto& [view, seq, digest] = claim;
  CHECK(view == 0);
  CHECK(seq == 2);
  CHECK_FALSE(proposed_by(c, 0).count({seq, digest}));
  std::set<NodeId> members;
  for (const auto& wire : carriers) {
    auto env = parse_envelope(wire);
    REQUIRE(env.ok());
    members.insert(env.value.sender);
    auto vc = decode_view_change(env.value.body);
    REQUIRE(vc.ok());
    CHECK(well_formed(vc.value, c.config()));
    const SlotClaim told{seq, view, digest};
    CHECK(std::find(vc.value.prepared.begin(), vc.value.prepared.end(), told) != vc.value.prepared.end());
    CHECK(std::find(vc.value.pre_prepared.begin(), vc.value.pre_prepared.end(), told) != vc.value.pre_prepared.end());
  }
  CHECK(members == std::set<NodeId>{1, 2});  // one from each member
  const std::vector<ReplicaId> correct{0, 3, 4, 5, 6};
  for (ReplicaId r : correct) {
    for (ReplicaId liar : {1u, 2u}) {
      CHECK(c.rejected(r, liar, RejectReason::BadAuth) == 0);
      CHECK(c.rejected(r, liar, RejectReason::BadCertificate) == 0);
    }
  }
  // Views 1 and 2 have colluding primaries; the correct replicas get past them.
  settle(c, correct, 8);
  check_settled(c, correct, 2);
  CHECK_FALSE(executed_anywhere(c, correct, digest));
}

TEST_CASE("bad_view_change swap_batch: whenever correct replicas execute different requests, the oracle says so") {
  // The NEW-VIEW's O entry for seq 3 keeps its digest but carries request 4 instead of 3,
  // sent to replica 0; replicas 2 and 3 get the genuine NEW-VIEW. A backup that does not
  // check the batch against the digest executes request 4 at seq 3.
  Cluster c(4, {1}, [] { return only(BadViewChangeVariant::SwapBatch); });
  to_view_change(c);
  CHECK(c.behaviour(1).stats().rewritten >= 1);
  auto requests_of = [](const Execution& e) {
    std::vector<MessageDigest> ds;
    for (const auto& r : e.requests) ds.push_back(r.request_digest);
    return ds;
  };
  bool diverged = false;
  for (const auto& a : c.executed(0)) {
    for (const auto& b : c.executed(2)) {
      diverged |= a.seq == b.seq && requests_of(a) != requests_of(b);
    }
  }
  CHECK(diverged == (c.violations("agreement") > 0));
  if (diverged) {
    const oracles::Violation* v = nullptr;
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

TEST_CASE("bad_view_change false_ack: the new primary counts acks for the content it holds, not for the sender") {
  // Replica 3 acks every VIEW-CHANGE under a digest nobody's VIEW-CHANGE has, and replica
  // 2's acks are lost. Replica 0's VIEW-CHANGE then has no true ack from a third replica
  // (the new primary, 1, wants quorum - 2 = 1), so V must leave it out; replicas 2 and 3
  // are acked by replica 0, and with the primary's own they make the quorum.
  Cluster c(4, {3}, [] { return only(BadViewChangeVariant::FalseAck); });
  c.submit(1);
  c.run();
  REQUIRE(c.replica(0).last_executed() == 1);
  c.drop([](const Packet& p) { return kind_of(p) == MessageKind::ViewChangeAck && p.from == 2; });
  for (ReplicaId r = 0; r < 4; ++r) c.fire_view_change_timer(r);
  c.run();
  CHECK(c.behaviour(3).stats().rewritten >= 1);
  const auto acks = sent_by(c, 3, MessageKind::ViewChangeAck, decode_view_change_ack);
  REQUIRE(!acks.empty());
  const auto genuine = view_change_digests_sent(c);
  for (const auto& ack : acks) CHECK_FALSE(genuine.count(ack.digest));
  const auto new_views = sent_by(c, 1, MessageKind::NewView, decode_new_view);
  REQUIRE(!new_views.empty());
  for (const auto& nv : new_views) {
    std::vector<ReplicaId> named;
    for (const auto& ref : nv.view_changes) named.push_back(ref.replica);
    CHECK(named == std::vector<ReplicaId>{1, 2, 3});
  }
  for (ReplicaId r : {0u, 1u, 2u}) {
    CHECK(c.rejected(r, 3, RejectReason::BadAuth) == 0);
    CHECK(c.replica(r).view() == 1);
  }
  check_settled(c, {0, 1, 2}, 1);
}

// ---- equivocate ---------------------------------------------------------------------------

TEST_CASE("equivocate with \"primary\": the resolved primary is in its coalition, not on a side") {
  PbftConfig config;
  config.n = 4;
  config.f = 1;
  faults::FaultSpec spec;
  spec.kind = faults::FaultKind::Equivocate;
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
