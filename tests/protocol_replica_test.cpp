// The replica tested directly through step(), with a small synchronous fake network (in
// the style of etcd/raft's paper tests). Each case cites the PBFT paper section it checks
// (Castro & Liskov, OSDI '99).
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <set>
#include <tuple>

#include "protocol/client.h"
#include "protocol/replica.h"
#include "protocol/service.h"
#include "sim/rng.h"
#include "tests/replica_cluster.h"

using namespace protocol_test;

TEST_CASE("§4.2 normal case: a request is pre-prepared, prepared, committed and executed everywhere") {
  Cluster c(4);
  c.deliver(c.client(0), 0, c.request(0, 1, op_incr("x")));
  c.run();
  for (ReplicaId r = 0; r < 4; ++r) {
    REQUIRE(c.executed[r].size() == 1);
    CHECK(c.executed[r][0].seq == 1);
    CHECK(c.executed[r][0].requests.at(0).result == Bytes{'1'});
    CHECK(c.replicas[r]->last_executed() == 1);
  }
  CHECK(c.client_inbox[0].size() == 4);  // one REPLY per replica
  CHECK(c.replicas[1]->current_state_digest() == c.replicas[3]->current_state_digest());
}

TEST_CASE("§4.2 a PRE-PREPARE from a replica that is not the primary is rejected") {
  Cluster c(4);
  c.deliver(1, 2, c.pre_prepare(1, 0, 1, {c.request(0, 1, op_incr("x"))}));
  CHECK(c.rejected(2, RejectReason::WrongSender) == 1);
  CHECK(c.queue.empty());  // no PREPARE was sent
}

TEST_CASE("§4.2 a second PRE-PREPARE for a used (view, seq) with another digest is rejected") {
  Cluster c(4);
  c.deliver(0, 1, c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))}));
  CHECK(c.queue.size() == 3);  // replica 1 multicast its PREPARE
  c.deliver(0, 1, c.pre_prepare(0, 0, 1, {c.request(1, 1, op_incr("y"))}));
  CHECK(c.rejected(1, RejectReason::Conflict) == 1);
  CHECK(c.queue.size() == 3);  // and sent nothing for the conflicting one
}

TEST_CASE("§4.2 PRE-PREPAREs outside the watermarks (h, H] are not acted on") {
  Cluster c(4, 1, 2, /*window=*/16, /*k=*/4);
  c.deliver(0, 1, c.pre_prepare(0, 0, 33, {c.request(0, 1, op_incr("x"))}));  // beyond H + L
  CHECK(c.rejected(1, RejectReason::OutOfWindow) == 1);
  c.deliver(0, 1, c.pre_prepare(0, 0, 17, {c.request(0, 1, op_incr("x"))}));  // just above H
  CHECK(c.rejected(1, RejectReason::OutOfWindow) == 1);  // kept for later, not rejected...
  CHECK(c.replicas[1]->buffered() == 1);
  CHECK(c.queue.empty());                                 // ...and not acted on: no PREPARE
  c.deliver(0, 1, c.pre_prepare(0, 0, 16, {c.request(0, 1, op_incr("x"))}));  // 16 = H is inside
  CHECK(c.queue.size() == 3);
}

TEST_CASE("§4.3 a primary never assigns sequence numbers beyond H") {
  Cluster c(4, 1, 1, /*window=*/8, /*k=*/4);
  c.isolated[1] = c.isolated[2] = c.isolated[3] = true;  // no checkpoint can become stable
  for (Timestamp t = 1; t <= 20; ++t) c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
  std::size_t pre_prepares = 0;
  for (const auto& p : c.queue) {
    if (parse_envelope(p.wire).value.kind != MessageKind::PrePrepare) continue;
    pre_prepares++;
    CHECK(decode_pre_prepare(parse_envelope(p.wire).value.body).value.seq <= 8);
  }
  CHECK(pre_prepares == 8 * 3);  // seqs 1..8 to three backups, nothing above H = 8
}

TEST_CASE("a message with a wrong MAC is dropped and counted") {
  Cluster c(4);
  Bytes wire = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  // The authenticator ends the message: u16 count, then {u32 receiver, 32-byte MAC} for
  // receivers 0..3. Flip a bit of replica 1's own entry.
  const std::size_t auth_start = wire.size() - (2 + 4 * 36);
  wire[auth_start + 2 + 36 + 4 + 5] ^= 0x40;
  c.deliver(0, 1, wire);
  wire = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  wire[12] ^= 0x01;  // inside the authenticated content
  c.deliver(0, 2, wire);
  CHECK(c.rejected(1, RejectReason::BadAuth) + c.rejected(1, RejectReason::Malformed) == 1);
  CHECK(c.rejected(2, RejectReason::BadAuth) + c.rejected(2, RejectReason::Malformed) == 1);
  CHECK(c.queue.empty());
}

TEST_CASE("a message with a wrong Ed25519 signature is dropped and counted") {
  Cluster c(4, 1, 2, 16, 4, AuthMode::Signature);
  // The signature (64 bytes) ends the message. Flip a bit of it, then one of the content.
  Bytes wire = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  wire[wire.size() - 10] ^= 0x08;
  c.deliver(0, 1, wire);
  CHECK(c.rejected(1, RejectReason::BadAuth) == 1);
  wire = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  wire[12] ^= 0x01;
  c.deliver(0, 2, wire);
  CHECK(c.rejected(2, RejectReason::BadAuth) + c.rejected(2, RejectReason::Malformed) == 1);
  // A PREPARE signed by replica 3 but claiming replica 2 as its sender.
  c.deliver(3, 1, c.seal_from(3, encode_vote(MessageKind::Prepare, 2, Vote{0, 1, null_batch_digest()})));
  CHECK(c.rejected(1, RejectReason::BadAuth) == 2);
  CHECK(c.queue.empty());
  // And the untouched message is accepted: replica 1 prepares.
  c.deliver(0, 1, c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))}));
  CHECK(c.queue.size() == 3);
}

TEST_CASE("a PRE-PREPARE whose digest does not match its batch is rejected") {
  Cluster c(4);
  std::vector<Bytes> reqs{c.request(0, 1, op_incr("x"))};
  PrePrepare pp{0, 1, null_batch_digest(), ConsensusBatch{reqs}};
  c.deliver(0, 1, c.seal_from(0, encode_pre_prepare(0, pp)));
  CHECK(c.rejected(1, RejectReason::BadDigest) == 1);
}

TEST_CASE("a request body its client did not authenticate cannot be ordered") {
  Cluster c(4);
  // Replica 0 (primary) makes up a request "from" client 0 and seals it itself.
  Bytes fake = c.seal_from(0, encode_request(c.client(0), Request{c.client(0), 1, op_incr("x")}));
  c.deliver(0, 1, c.pre_prepare(0, 0, 1, {fake}));
  CHECK(c.rejected(1, RejectReason::BadAuth) == 1);
  CHECK(c.queue.empty());
}

TEST_CASE("§4.2 prepared needs quorum-1 distinct backups: the primary's PREPARE and repeats do not count") {
  Cluster c(7, 2);  // quorum 5: the pre-prepare plus 4 distinct backups
  Bytes pp = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  c.deliver(0, 1, pp);
  c.queue.clear();  // replica 1's own PREPARE went out; it counts as one backup
  c.deliver(0, 1, c.vote(MessageKind::Prepare, 0, 0, 1, d));  // the primary never prepares
  CHECK(c.rejected(1, RejectReason::WrongSender) == 1);
  c.deliver(2, 1, c.vote(MessageKind::Prepare, 2, 0, 1, d));
  c.deliver(2, 1, c.vote(MessageKind::Prepare, 2, 0, 1, d));  // a repeat
  c.deliver(3, 1, c.vote(MessageKind::Prepare, 3, 0, 1, d));
  CHECK(c.replicas[1]->stats().duplicates >= 1);
  CHECK(c.queue.empty());  // 3 distinct backups: not prepared, no COMMIT
  c.deliver(4, 1, c.vote(MessageKind::Prepare, 4, 0, 1, d));
  CHECK(c.queue.size() == 6);  // prepared: COMMIT to the 6 others
  CHECK(parse_envelope(c.queue.front().wire).value.kind == MessageKind::Commit);
}

TEST_CASE("§4.2 a PREPARE that arrives before its PRE-PREPARE is kept, not lost") {
  Cluster c(4);
  Bytes req = c.request(0, 1, op_incr("x"));
  Bytes pp = c.pre_prepare(0, 0, 1, {req});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  c.deliver(2, 1, c.vote(MessageKind::Prepare, 2, 0, 1, d));
  c.deliver(3, 1, c.vote(MessageKind::Prepare, 3, 0, 1, d));
  CHECK(c.queue.empty());
  c.deliver(0, 1, pp);
  // PREPARE and then COMMIT: the two early PREPAREs completed the certificate.
  std::size_t commits = 0;
  for (const auto& p : c.queue) commits += parse_envelope(p.wire).value.kind == MessageKind::Commit;
  CHECK(commits == 3);
}

TEST_CASE("exactly once: a retransmitted request executes once and gets the cached reply") {
  Cluster c(4);
  Bytes req = c.request(0, 1, op_incr("x"));
  c.deliver(c.client(0), 0, req);
  c.run();
  const auto replies = c.client_inbox[0].size();
  for (ReplicaId r = 0; r < 4; ++r) c.deliver(c.client(0), r, req);  // client timed out
  c.run();
  for (ReplicaId r = 0; r < 4; ++r) CHECK(c.executed[r].size() == 1);
  CHECK(c.client_inbox[0].size() == replies + 4);  // cached replies
  Outbox out;
  c.replicas[1]->step(Input::message(c.client(0), c.request(0, 2, op_incr("x"))), out);
  CHECK(c.replicas[1]->service().size() == 1);
}

TEST_CASE("§4.3 checkpoints become stable and the log is garbage collected") {
  Cluster c(4, 1, 1, /*window=*/8, /*k=*/4);
  for (Timestamp t = 1; t <= 10; ++t) {
    c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
    c.run();
  }
  for (ReplicaId r = 0; r < 4; ++r) {
    CHECK(c.replicas[r]->last_executed() == 10);
    CHECK(c.replicas[r]->low_watermark() == 8);
    CHECK(c.replicas[r]->log_entries() <= 2);
    CHECK(c.replicas[r]->stable_digest() == c.replicas[0]->stable_digest());
  }
}

TEST_CASE("state transfer: a reply with the wrong state is refused and the next replica is asked") {
  Cluster c(4, 1, 1, /*window=*/8, /*k=*/4);
  c.isolated[3] = true;  // misses seqs 1..20: the others' stable checkpoint moves past its window
  for (Timestamp t = 1; t <= 20; ++t) {
    c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
    c.run();
  }
  REQUIRE(c.replicas[0]->low_watermark() == 20);
  REQUIRE(c.replicas[3]->last_executed() == 0);
  c.isolated[3] = false;
  // Seqs 21..24: replica 3 receives the CHECKPOINTs for 24, a quorum it can verify, and asks
  // a replica of that certificate for the state. Hold its FETCH-STATEs back.
  for (Timestamp t = 21; t <= 24; ++t) c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
  std::vector<Packet> fetches;
  for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
    Packet p = std::move(c.queue.front());
    c.queue.pop_front();
    if (p.from == 3 && parse_envelope(p.wire).value.kind == MessageKind::FetchState) {
      fetches.push_back(std::move(p));
      continue;
    }
    c.deliver(p.from, p.to, p.wire);
  }
  REQUIRE(fetches.size() == 1);
  const NodeId asked = fetches[0].to;
  REQUIRE(asked < 3);
  const auto fetch = decode_fetch_state(parse_envelope(fetches[0].wire).value.body);
  REQUIRE(fetch.ok());
  CHECK(fetch.value.seq == 24);
  CHECK(fetch.value.state_digest == c.replicas[0]->stable_digest());
  // The asked replica (faulty here) answers with a made-up state: first claiming the certified
  // digest over bytes that do not hash to it, then a state with its own (another) digest.
  c.deliver(asked, 3, c.seal_from(asked, encode_state_reply(asked, StateReply{24, fetch.value.state_digest, Bytes{1, 2, 3}})));
  CHECK(c.rejected(3, RejectReason::BadState) == 1);
  CHECK(c.replicas[3]->last_executed() == 0);
  // It asked another replica at once.
  std::vector<NodeId> asked_next;
  for (const auto& p : c.queue) {
    if (p.from == 3 && parse_envelope(p.wire).value.kind == MessageKind::FetchState) asked_next.push_back(p.to);
  }
  REQUIRE(asked_next.size() == 1);
  CHECK(asked_next[0] != asked);
  CHECK(asked_next[0] < 3);
  const Bytes other_state = encode_kv_operation(KvOpcode::Increment, "y");  // any other bytes
  // The first replica has had its answer: more from it are not looked at.
  const auto duplicates = c.replicas[3]->stats().duplicates;
  c.deliver(asked, 3, c.seal_from(asked, encode_state_reply(asked, StateReply{24, sha256(other_state), other_state})));
  CHECK(c.rejected(3, RejectReason::BadState) == 1);
  CHECK(c.replicas[3]->stats().duplicates == duplicates + 1);
  // The second one asked (faulty too, say) answers with a state under its own digest.
  const NodeId second = asked_next[0];
  c.deliver(second, 3, c.seal_from(second, encode_state_reply(second, StateReply{24, sha256(other_state), other_state})));
  CHECK(c.rejected(3, RejectReason::BadState) == 2);
  CHECK(c.replicas[3]->last_executed() == 0);
  // The correct replica's answer is installed: replica 3 is at 24, in the others' state.
  c.run();
  CHECK(c.replicas[3]->last_executed() == 24);
  CHECK(c.replicas[3]->current_state_digest() == c.replicas[0]->current_state_digest());
  CHECK(c.replicas[3]->low_watermark() == 24);
}

TEST_CASE("§4.4 a silent primary is replaced through VIEW-CHANGE and NEW-VIEW") {
  Cluster c(4);
  c.isolated[0] = true;
  Bytes req = c.request(0, 1, op_incr("x"));
  for (ReplicaId r = 1; r < 4; ++r) c.deliver(c.client(0), r, req);  // client broadcast
  c.run();
  for (ReplicaId r = 1; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::ViewChange));
  c.run();
  for (ReplicaId r = 1; r < 4; ++r) {
    CHECK(c.replicas[r]->view() == 1);
    CHECK_FALSE(c.replicas[r]->in_view_change());
    CHECK(c.replicas[r]->last_executed() == 1);
  }
}

// ---- the TOCS '02 view change: summaries, acks, the decision, fetching what is missing -----

namespace {

std::vector<NewView> new_views_in(const Cluster& c, NodeId to = 0) {
  std::vector<NewView> out;
  for (const auto& p : c.queue) {
    auto env = parse_envelope(p.wire);
    if (env.ok() && env.value.kind == MessageKind::NewView && p.to == to) out.push_back(decode_new_view(env.value.body).value);
  }
  return out;
}

// An ack from `acker` to the primary of view v for the VIEW-CHANGE `vc`.
Bytes ack(Cluster& c, NodeId acker, ViewNumber v, const Bytes& vc) {
  const ViewChangeRef r = ref_of(vc);
  return c.seal_from(acker, encode_view_change_ack(acker, ViewChangeAck{v, r.replica, r.digest}));
}

}  // namespace

TEST_CASE("TOCS view change: the new primary decides only on VIEW-CHANGEs a quorum holds (acks)") {
  Cluster c(4);
  c.step(1, Input::timer_fired(TimerKind::ViewChange));  // replica 1 asks for view 1 (it is its primary)
  c.queue.clear();
  const Bytes vc0 = view_change(c, 0, 1);
  const Bytes vc2 = view_change(c, 2, 1);
  c.deliver(0, 1, vc0);
  c.deliver(2, 1, vc2);
  CHECK(new_views_in(c).empty());  // three VIEW-CHANGEs, none of the others' acked yet
  c.deliver(3, 1, ack(c, 3, 1, vc0));  // quorum - 2 = 1 ack: 0's is accepted
  CHECK(new_views_in(c).empty());      // 1 and 0: not a quorum
  // An ack naming another digest for 2's VIEW-CHANGE does not count.
  const Bytes other2 = view_change(c, 2, 1, {}, {SlotClaim{1, 0, digest_of_pre_prepare(c.pre_prepare(0, 0, 1, {}))}});
  c.deliver(3, 1, ack(c, 3, 1, other2));
  CHECK(new_views_in(c).empty());
  c.deliver(0, 1, ack(c, 0, 1, vc2));
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  CHECK(nvs[0].view_changes == std::vector<ViewChangeRef>{ref_of(vc0), ViewChangeRef{1, nvs[0].view_changes[1].digest}, ref_of(vc2)});
  CHECK(nvs[0].pre_prepares.empty());
  // An ack to a replica that is not the view's primary is refused.
  c.deliver(3, 2, ack(c, 3, 1, vc0));
  CHECK(c.rejected(2, RejectReason::WrongSender) == 1);
}

TEST_CASE("TOCS view change: a prepared request keeps its sequence number; a liar's claim delays but never wins") {
  Cluster c(4);
  const Bytes req = c.request(0, 1, op_incr("x"));
  const Bytes pp0 = c.pre_prepare(0, 0, 1, {req});
  const MessageDigest d = digest_of_pre_prepare(pp0);
  const MessageDigest x = digest_of_pre_prepare(c.pre_prepare(0, 0, 1, {c.request(1, 1, op_incr("y"))}));
  auto packets = [&](NodeId from, NodeId to, MessageKind kind) {
    std::vector<Bytes> out;
    for (const auto& p : c.queue) {
      if (p.from == from && p.to == to && parse_envelope(p.wire).value.kind == kind) out.push_back(p.wire);
    }
    return out;
  };
  // Replica 2 pre-prepared d (Q) but did not prepare; replica 1 (view 1's primary) saw
  // nothing of seq 1; replica 3 is faulty and claims x prepared in view 0.
  c.deliver(0, 2, pp0);
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  const auto vc2 = packets(2, 1, MessageKind::ViewChange);
  const auto vc1 = packets(1, 2, MessageKind::ViewChange);
  REQUIRE(vc2.size() == 1);
  REQUIRE(vc1.size() == 1);
  c.queue.clear();
  const Bytes vc3 = view_change(c, 3, 1, {SlotClaim{1, 0, x}}, {SlotClaim{1, 0, x}});
  c.deliver(2, 1, vc2[0]);
  c.deliver(3, 1, vc3);
  c.deliver(0, 1, ack(c, 0, 1, vc2[0]));
  c.deliver(0, 1, ack(c, 0, 1, vc3));
  // {1, 2, 3}: x has A1 but only the liar's Q entry (A2 needs f + 1); B needs a quorum
  // without P entries and 3 has one. Nothing is chosen, nothing guessed.
  CHECK(new_views_in(c).empty());
  // Replica 0, view 0's primary, prepared d: with it A1 and A2 hold for d.
  const Bytes vc0 = view_change(c, 0, 1, {SlotClaim{1, 0, d}}, {SlotClaim{1, 0, d}});
  c.deliver(0, 1, vc0);
  c.deliver(0, 2, vc0);  // replica 2 acks it to the primary
  const auto acks = packets(2, 1, MessageKind::ViewChangeAck);
  REQUIRE(acks.size() == 1);
  c.queue.clear();
  c.deliver(2, 1, acks[0]);
  // The new primary lacks d's batch: it asks the replicas whose Q has it.
  REQUIRE(new_views_in(c, 2).empty());
  const auto asked0 = packets(1, 0, MessageKind::FetchBatch);
  const auto asked2 = packets(1, 2, MessageKind::FetchBatch);
  REQUIRE(asked0.size() == 1);
  REQUIRE(asked2.size() == 1);
  CHECK(decode_fetch_batch(parse_envelope(asked2[0]).value.body).value.digest == d);
  // Replica 2 answers with the PRE-PREPARE it holds.
  c.deliver(1, 2, asked2[0]);
  const auto batch = packets(2, 1, MessageKind::Batch);
  REQUIRE(batch.size() == 1);
  c.deliver(2, 1, batch[0]);
  const auto nvs = new_views_in(c, 2);
  REQUIRE(nvs.size() == 1);
  REQUIRE(nvs[0].pre_prepares.size() == 1);
  CHECK(digest_of_pre_prepare(nvs[0].pre_prepares[0]) == d);
  // Replica 2 holds every named VIEW-CHANGE once it has 1's and 3's: it checks and installs.
  c.deliver(1, 2, vc1[0]);
  c.deliver(3, 2, vc3);
  for (const auto& w : packets(1, 2, MessageKind::NewView)) c.deliver(1, 2, w);
  CHECK(c.rejected(2, RejectReason::BadNewView) == 0);
  CHECK(c.replicas[2]->view() == 1);
  CHECK_FALSE(c.replicas[2]->in_view_change());
}

TEST_CASE("TOCS view change: a backup missing a named VIEW-CHANGE keeps the NEW-VIEW pending, then installs it") {
  Cluster c(4);
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  Bytes vc1;
  for (const auto& p : c.queue) {
    if (p.to == 2 && parse_envelope(p.wire).value.kind == MessageKind::ViewChange) vc1 = p.wire;
  }
  REQUIRE_FALSE(vc1.empty());
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  const Bytes vc0 = view_change(c, 0, 1);
  const Bytes vc3 = view_change(c, 3, 1);
  c.deliver(0, 1, vc0);
  c.deliver(3, 1, vc3);
  c.deliver(2, 1, ack(c, 2, 1, vc0));
  c.deliver(2, 1, ack(c, 2, 1, vc3));
  // Replica 1's NEW-VIEW names 0, 1 and 3: replica 2 holds only 1's (it is changing view too).
  Bytes nv_wire;
  for (const auto& p : c.queue) {
    if (p.to == 2 && parse_envelope(p.wire).value.kind == MessageKind::NewView) nv_wire = p.wire;
  }
  REQUIRE_FALSE(nv_wire.empty());
  c.deliver(1, 2, vc1);
  c.deliver(1, 2, nv_wire);
  CHECK(c.replicas[2]->in_view_change());  // pending: it cannot check the decision yet
  CHECK(c.rejected(2, RejectReason::BadNewView) == 0);
  c.deliver(0, 2, vc0);
  CHECK(c.replicas[2]->in_view_change());
  c.deliver(3, 2, vc3);  // the last one named: checked and installed
  CHECK(c.replicas[2]->view() == 1);
  CHECK_FALSE(c.replicas[2]->in_view_change());
}

TEST_CASE("TOCS view change: a NEW-VIEW whose O disagrees with the decision is refused and the backup moves on") {
  Cluster c(4);
  const Bytes req = c.request(0, 1, op_incr("x"));
  const Bytes pp0 = c.pre_prepare(0, 0, 1, {req});
  const MessageDigest d = digest_of_pre_prepare(pp0);
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  const Bytes vc0 = view_change(c, 0, 1, {SlotClaim{1, 0, d}}, {SlotClaim{1, 0, d}});
  const Bytes vc1 = view_change(c, 1, 1);
  const Bytes vc3 = view_change(c, 3, 1, {SlotClaim{1, 0, d}}, {SlotClaim{1, 0, d}});
  for (const Bytes* vc : {&vc0, &vc1, &vc3}) c.deliver(parse_envelope(*vc).value.sender, 2, *vc);
  REQUIRE(c.replicas[2]->in_view_change());
  // The faulty primary 1 names 0, 1 and 3 but proposes the null request at seq 1.
  const Bytes null_pp = c.pre_prepare(1, 1, 1, {});
  NewView bad{1, {ref_of(vc0), ref_of(vc1), ref_of(vc3)}, 0, c.replicas[0]->stable_digest(), {null_pp}};
  c.deliver(1, 2, c.seal_from(1, encode_new_view(1, bad)));
  CHECK(c.rejected(2, RejectReason::BadNewView) == 1);
  CHECK(c.replicas[2]->view() == 2);  // §4.4: on to v + 1
  // The same with d at seq 1 would have been accepted: the check is the decision, not the shape.
  Cluster c2(4);
  c2.step(2, Input::timer_fired(TimerKind::ViewChange));
  for (const Bytes* vc : {&vc0, &vc1, &vc3}) c2.deliver(parse_envelope(*vc).value.sender, 2, *vc);
  NewView good{1, {ref_of(vc0), ref_of(vc1), ref_of(vc3)}, 0, c2.replicas[0]->stable_digest(), {c2.pre_prepare(1, 1, 1, {req})}};
  c2.deliver(1, 2, c2.seal_from(1, encode_new_view(1, good)));
  CHECK(c2.rejected(2, RejectReason::BadNewView) == 0);
  CHECK(c2.replicas[2]->view() == 1);
  CHECK_FALSE(c2.replicas[2]->in_view_change());
}

TEST_CASE("TOCS view change: a VIEW-CHANGE whose sets break the rules is refused") {
  Cluster c(4);
  const MessageDigest d = digest_of_pre_prepare(c.pre_prepare(0, 0, 1, {}));
  const MessageDigest genesis = c.replicas[0]->stable_digest();
  const std::vector<ViewChange> bad = {
      ViewChange{1, 0, {}, {}, {}},                                                  // C does not name h
      ViewChange{1, 0, {CheckpointClaim{0, genesis}}, {SlotClaim{1, 0, d}}, {}},    // P outside Q
      ViewChange{1, 0, {CheckpointClaim{0, genesis}}, {}, {SlotClaim{17, 0, d}}},   // beyond h + L
      ViewChange{1, 0, {CheckpointClaim{0, genesis}}, {}, {SlotClaim{1, 1, d}}},    // view not below v+1
      ViewChange{1, 0, {CheckpointClaim{0, genesis}}, {}, {SlotClaim{2, 0, d}, SlotClaim{1, 0, d}}},  // unordered
      ViewChange{1, 3, {CheckpointClaim{3, genesis}}, {}, {}},                       // h not a checkpoint
  };
  for (const auto& vc : bad) c.deliver(3, 2, c.seal_from(3, encode_view_change(3, vc)));
  CHECK(c.rejected(2, RejectReason::BadCertificate) == bad.size());
}

TEST_CASE("§4.5.2 the new-view timer starts with a quorum of VIEW-CHANGEs, acked or not") {
  Cluster c(4);
  auto timer_set = [&] {
    for (const auto& t : c.last[2].timers) {
      if (t.kind == TimerKind::ViewChange && !t.cancel) return true;
    }
    return false;
  };
  c.step(2, Input::timer_fired(TimerKind::ViewChange));  // 2 asks for view 1
  REQUIRE(c.replicas[2]->in_view_change());
  c.deliver(0, 2, view_change(c, 0, 1));
  CHECK_FALSE(timer_set());  // two of four: not yet (its retransmission timer aside)
  c.deliver(3, 2, view_change(c, 3, 1));
  CHECK(timer_set());
}

TEST_CASE("no input crashes a correct replica: every kind of message, mutated, re-sealed by its sender") {
  // A corpus of real traffic (normal case, checkpoints, a view change, state transfer), then
  // mutations of it, most of them re-sealed with the claimed sender's own keys so that they
  // pass authentication and reach the deep checks (certificates in VIEW-CHANGE and NEW-VIEW,
  // batches, snapshots). The replicas' invariants run after every step; ASan/UBSan watch.
  Cluster c(4, 1, 2, /*window=*/8, /*k=*/4);
  std::vector<Packet> corpus;
  auto drain = [&] {
    for (std::size_t i = 0; i < 20000 && !c.queue.empty(); ++i) {
      Packet p = std::move(c.queue.front());
      c.queue.pop_front();
      corpus.push_back(p);
      c.deliver(p.from, p.to, p.wire);
    }
  };
  for (Timestamp t = 1; t <= 6; ++t) {
    c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
    drain();
  }
  c.isolated[0] = true;
  Bytes req = c.request(1, 1, op_incr("y"));
  for (ReplicaId r = 1; r < 4; ++r) c.deliver(c.client(1), r, req);
  for (ReplicaId r = 1; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::ViewChange));
  drain();
  c.isolated[0] = false;
  for (ReplicaId r = 0; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::Status));
  drain();
  REQUIRE(corpus.size() > 100);
  sim::RngEngine rng = sim::make_stream(5, "replica-mutation");
  std::set<MessageKind> kinds;
  for (int i = 0; i < 20000; ++i) {
    const Packet& p = corpus[sim::uniform_int(rng, 0, corpus.size() - 1)];
    auto env = parse_envelope(p.wire);
    if (!env.ok()) continue;
    kinds.insert(env.value.kind);
    Bytes content(env.value.content.begin(), env.value.content.end());
    const auto flips = sim::uniform_int(rng, 1, 4);
    for (std::uint64_t f = 0; f < flips && content.size() > 9; ++f) {
      const auto at = sim::uniform_int(rng, 9, content.size() - 1);  // the body, not kind/sender/length
      content[at] ^= static_cast<std::uint8_t>(1u << sim::uniform_int(rng, 0, 7));
    }
    if (sim::bernoulli(rng, 0.1)) content.resize(sim::uniform_int(rng, 0, content.size()));
    const NodeId sender = env.value.sender < c.crypto.size() ? env.value.sender : 0;
    Bytes wire = sim::bernoulli(rng, 0.8) ? c.crypto[sender]->seal(std::move(content), c.all_replicas()) : content;
    const auto to = static_cast<ReplicaId>(sim::uniform_int(rng, 0, 3));
    Outbox out;
    c.replicas[to]->step(Input::message(sender, wire), out);  // asserts invariants inside
    if (sim::bernoulli(rng, 0.05)) {
      c.replicas[to]->step(Input::timer_fired(static_cast<TimerKind>(sim::uniform_int(rng, 0, kTimerKinds - 1))), out);
    }
  }
  CHECK(kinds.count(MessageKind::ViewChange) == 1);
  CHECK(kinds.count(MessageKind::NewView) == 1);
  CHECK(kinds.count(MessageKind::Checkpoint) == 1);
  CHECK(kinds.count(MessageKind::PrePrepare) == 1);
  std::uint64_t refused = 0;
  for (ReplicaId r = 0; r < 4; ++r) refused += c.replicas[r]->stats().rejected_total();
  CHECK(refused > 0);
}

// ---- retransmission: lost messages are recovered (OSDI '99 §4.5 assumes eventual delivery) --

TEST_CASE("§4.5.2 the new-view timer starts only with a quorum of VIEW-CHANGEs; before that the timer re-sends ours") {
  Cluster c(4);
  c.step(2, Input::timer_fired(TimerKind::ViewChange));  // replica 2 alone suspects the primary
  REQUIRE(c.replicas[2]->in_view_change());
  REQUIRE(c.replicas[2]->view() == 1);
  for (int i = 0; i < 3; ++i) {
    c.step(2, Input::timer_fired(TimerKind::ViewChange));
    CHECK(c.replicas[2]->view() == 1);  // no quorum: it does not run ahead into view 2 alone
    CHECK(count_kind(c.last[2], MessageKind::ViewChange) == 1);  // it re-sends its VIEW-CHANGE
  }
  c.queue.clear();
  // With a quorum for view 1 (replicas 0 and 3 join) and no NEW-VIEW from replica 1: one more
  // re-send, asking for the NEW-VIEW, then on to view 2.
  for (ReplicaId r : {0u, 3u}) {
    c.step(r, Input::timer_fired(TimerKind::ViewChange));
    c.deliver(r, 2, c.last[r].messages.front().wire);
  }
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  CHECK(c.replicas[2]->view() == 1);
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  CHECK(c.replicas[2]->view() == 2);
}

namespace {

// Replica 0 is silent; the others change to view 1 for a client's request, and every copy of
// the NEW-VIEW to replica 3 is lost: it stays in the view change, the others install view 1.
void view_1_without_new_view_at_3(Cluster& c) {
  c.isolated[0] = true;
  Bytes req = c.request(0, 1, op_incr("x"));
  for (ReplicaId r = 1; r < 4; ++r) c.deliver(c.client(0), r, req);
  c.run();
  for (ReplicaId r = 1; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::ViewChange));
  for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
    Packet p = std::move(c.queue.front());
    c.queue.pop_front();
    if (p.to == 3 && parse_envelope(p.wire).value.kind == MessageKind::NewView) continue;
    c.deliver(p.from, p.to, p.wire);
  }
}

}  // namespace

TEST_CASE("§4.4 a replica that missed the NEW-VIEW gets it again when it re-sends its VIEW-CHANGE") {
  Cluster c(4);
  view_1_without_new_view_at_3(c);
  REQUIRE(c.replicas[1]->view() == 1);
  REQUIRE_FALSE(c.replicas[1]->in_view_change());
  REQUIRE(c.replicas[3]->in_view_change());
  // Its timer re-sends its VIEW-CHANGE; the primary of view 1 answers with its NEW-VIEW (the
  // other backups wait for a second copy: the first may just have crossed the NEW-VIEW).
  c.step(3, Input::timer_fired(TimerKind::ViewChange));
  CHECK(count_kind(c.last[3], MessageKind::ViewChange) == 1);
  c.run();
  CHECK_FALSE(c.replicas[3]->in_view_change());
  CHECK(c.replicas[3]->view() == 1);
  CHECK(c.replicas[3]->last_executed() == 1);
}

TEST_CASE("STATUS: a backup that lost a PRE-PREPARE and the COMMITs recovers them without a view change") {
  Cluster c(4);
  Bytes req = c.request(0, 1, op_incr("x"));
  c.deliver(c.client(0), 3, req);  // replica 3 knows the request (the client broadcast it)
  c.deliver(c.client(0), 0, req);
  for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
    Packet p = std::move(c.queue.front());
    c.queue.pop_front();
    const auto kind = parse_envelope(p.wire).value.kind;
    if (p.to == 3 && (kind == MessageKind::PrePrepare || kind == MessageKind::Commit)) continue;
    c.deliver(p.from, p.to, p.wire);
  }
  REQUIRE(c.replicas[0]->last_executed() == 1);
  REQUIRE(c.replicas[3]->last_executed() == 0);
  // Two status ticks without progress: the second sends STATUS, the others re-send.
  c.step(3, Input::timer_fired(TimerKind::Status));
  CHECK(count_kind(c.last[3], MessageKind::Status) == 0);  // first tick: just marks where it is
  c.step(3, Input::timer_fired(TimerKind::Status));
  CHECK(count_kind(c.last[3], MessageKind::Status) == 1);
  c.run();
  CHECK(c.replicas[3]->last_executed() == 1);
  CHECK(c.replicas[3]->view() == 0);
  CHECK_FALSE(c.replicas[3]->in_view_change());
  CHECK(c.replicas[3]->current_state_digest() == c.replicas[0]->current_state_digest());
}

TEST_CASE("STATUS: backups that lost a PRE-PREPARE they never knew of are repaired through the primary's STATUS") {
  // Only the primary knows the request; its PRE-PREPARE is lost to replicas 2 and 3, so they
  // know of no pending request and would never ask. The primary is stuck: its STATUS shows
  // it holds the PRE-PREPARE of seq 1, they answer with theirs (they lack it), and the
  // primary re-sends it.
  Cluster c(4);
  c.deliver(c.client(0), 0, c.request(0, 1, op_incr("x")));
  std::size_t dropped = 0;
  for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
    Packet p = std::move(c.queue.front());
    c.queue.pop_front();
    if ((p.to == 2 || p.to == 3) && parse_envelope(p.wire).value.kind == MessageKind::PrePrepare) {
      dropped++;
      continue;
    }
    c.deliver(p.from, p.to, p.wire);
  }
  REQUIRE(dropped == 2);
  REQUIRE(c.replicas[0]->last_executed() == 0);
  c.step(0, Input::timer_fired(TimerKind::Status));  // marks where it is
  c.step(0, Input::timer_fired(TimerKind::Status));
  REQUIRE(count_kind(c.last[0], MessageKind::Status) == 1);
  c.run();
  for (ReplicaId r = 0; r < 4; ++r) {
    CAPTURE(r);
    CHECK(c.replicas[r]->last_executed() == 1);
    CHECK(c.replicas[r]->view() == 0);
  }
}

TEST_CASE("STATUS: a replica changing view asks with STATUS; a peer that installed the view sends the NEW-VIEW at once") {
  Cluster c(4);
  view_1_without_new_view_at_3(c);
  REQUIRE(c.replicas[3]->in_view_change());
  // Backup 2 installed view 1; replica 3's STATUS says it is still changing to view 1, so
  // backup 2 answers with the NEW-VIEW without waiting for a second ask.
  c.step(3, Input::timer_fired(TimerKind::Status));
  c.step(3, Input::timer_fired(TimerKind::Status));
  REQUIRE(count_kind(c.last[3], MessageKind::Status) == 1);
  Bytes status;
  for (const auto& m : c.last[3].messages) {
    if (m.kind == MessageKind::Status) status = m.wire;
  }
  const auto st = decode_status(parse_envelope(status).value.body).value;
  CHECK((st.flags & Status::kInViewChange) != 0);
  CHECK(st.view == 1);
  c.queue.clear();
  c.deliver(3, 2, status);
  CHECK(count_kind(c.last[2], MessageKind::NewView) == 1);
  c.run();
  CHECK_FALSE(c.replicas[3]->in_view_change());
  CHECK(c.replicas[3]->last_executed() == 1);
}

TEST_CASE("TOCS view change: a replica that missed a whole view change catches up from its STATUS, with or without authentication") {
  for (AuthMode auth : {AuthMode::Mac, AuthMode::None}) {
    const std::string mode = auth_mode_name(auth);
    CAPTURE(mode);
    Cluster c(4, 1, 2, 16, 4, auth);
    c.isolated[3] = true;
    c.step(1, Input::timer_fired(TimerKind::ViewChange));
    c.step(2, Input::timer_fired(TimerKind::ViewChange));
    c.run();
    for (ReplicaId r = 0; r < 3; ++r) {
      CAPTURE(r);
      REQUIRE(c.replicas[r]->view() == 1);
      REQUIRE_FALSE(c.replicas[r]->in_view_change());
    }
    c.isolated[3] = false;
    // Replica 3, still in view 0, has a request waiting: it is stuck and asks (the first
    // tick only marks where it stands).
    c.deliver(c.client(0), 3, c.request(0, 1, op_incr("x")));
    c.queue.clear();  // the relay to view 0's primary goes nowhere useful
    c.step(3, Input::timer_fired(TimerKind::Status));
    c.step(3, Input::timer_fired(TimerKind::Status));
    REQUIRE(count_kind(c.last[3], MessageKind::Status) == 1);
    c.run();
    // The others answered with their own VIEW-CHANGEs (and, with MACs, relays of the named
    // ones) before the NEW-VIEW: it joins view 1 and installs it.
    CHECK(c.replicas[3]->view() == 1);
    CHECK_FALSE(c.replicas[3]->in_view_change());
    CHECK(c.rejected(3, RejectReason::BadNewView) == 0);
  }
}
