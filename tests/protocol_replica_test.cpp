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

// ---- MAC authenticators and the certificates inside VIEW-CHANGE (TOCS '02) ---------------

namespace {

std::vector<NewView> new_views_in(const Cluster& c) {
  std::vector<NewView> out;
  for (const auto& p : c.queue) {
    auto env = parse_envelope(p.wire);
    if (env.ok() && env.value.kind == MessageKind::NewView && p.to == 0) out.push_back(decode_new_view(env.value.body).value);
  }
  return out;
}

}  // namespace

TEST_CASE("TOCS MAC view change: a claim whose certificate does not verify for the new primary is established by f+1 VIEW-CHANGEs") {
  // Replica 3 is faulty: its PREPARE authenticates for everyone but replica 1; and the
  // PRE-PREPARE's entry for replica 1 is broken too (say replica 0 was faulty then), so only
  // one replica (2) vouches for the claim to replica 1: not even a weak claim.
  Cluster c(4);
  Bytes pp = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  const PreparedProof proof{break_entry(pp, 1), {c.vote(MessageKind::Prepare, 2, 0, 1, d),
                                                 break_entry(c.vote(MessageKind::Prepare, 3, 0, 1, d), 1)}};
  c.step(1, Input::timer_fired(TimerKind::ViewChange));  // replica 1 asks for view 1 (it is its primary)
  c.queue.clear();
  // Replica 2 prepared (0, 1, d) with quorum - 1 = 2 PREPAREs; only one authenticates for 1.
  c.deliver(2, 1, view_change(c, 2, 1, {proof}));
  c.deliver(0, 1, view_change(c, 0, 1, {}));
  CHECK(new_views_in(c).empty());  // 1, 0 and 2, but 2's claim is not established: no quorum
  CHECK(c.rejected(1, RejectReason::BadCertificate) == 1);  // counted, but held back, not dropped
  // Replica 3 makes the same claim: f + 1 = 2 replicas say (0, 1, d) prepared, one is correct.
  // Its VIEW-CHANGE does not authenticate for replica 2, which must still accept the NEW-VIEW.
  c.deliver(3, 1, break_entry(view_change(c, 3, 1, {proof}), 2));
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  CHECK(nvs[0].view_changes.size() == 4);  // every accepted VIEW-CHANGE, not just a quorum
  REQUIRE(nvs[0].pre_prepares.size() == 1);
  const auto o = decode_pre_prepare(parse_envelope(nvs[0].pre_prepares[0]).value.body).value;
  CHECK(o.seq == 1);
  CHECK(o.digest == d);  // the request that may have committed keeps its sequence number
  c.run();
  for (ReplicaId r = 0; r < 4; ++r) {
    CAPTURE(r);
    CHECK(c.replicas[r]->view() == 1);
    CHECK(c.rejected(r, RejectReason::BadNewView) == 0);
    REQUIRE(c.executed[r].size() == 1);
    CHECK(c.executed[r][0].batch_digest == d);
  }
}

TEST_CASE("TOCS MAC view change: a short certificate that f+1 pre-preparers vouch for is a weak claim and enters O") {
  // Replica 3 is faulty: its PREPARE authenticates for everyone but replica 1. Replica 2's
  // certificate is then short for replica 1, but the primary's PRE-PREPARE and 2's PREPARE
  // make f + 1 = 2 replicas that pre-prepared (0, 1, d): a weak claim, enough for O.
  Cluster c(4);
  Bytes pp = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  const PreparedProof proof{pp, {c.vote(MessageKind::Prepare, 2, 0, 1, d),
                                 break_entry(c.vote(MessageKind::Prepare, 3, 0, 1, d), 1)}};
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  c.deliver(2, 1, view_change(c, 2, 1, {proof}));
  c.deliver(0, 1, view_change(c, 0, 1, {}));
  CHECK(c.rejected(1, RejectReason::BadCertificate) == 0);
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  REQUIRE(nvs[0].pre_prepares.size() == 1);
  CHECK(decode_pre_prepare(parse_envelope(nvs[0].pre_prepares[0]).value.body).value.digest == d);
  // Backups that can verify the certificate fully recompute the same O and accept it.
  c.run();
  CHECK(c.replicas[2]->view() == 1);
  CHECK_FALSE(c.replicas[2]->in_view_change());
}

TEST_CASE("TOCS MAC view change: weak claims of two digests at one view leave O undecided; a verified one settles it") {
  // View 0's primary (0) equivocated: d to replica 2, e to replica 3 (faulty, colluding).
  // For the new primary (1), each claim has f + 1 vouchers (0's PRE-PREPARE and one PREPARE)
  // and neither is verified: O cannot be computed, no NEW-VIEW.
  Cluster c(4);
  const Bytes pp_d = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const Bytes pp_e = c.pre_prepare(0, 0, 1, {c.request(1, 1, op_incr("y"))});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp_d).value.body).value.digest;
  const MessageDigest e = decode_pre_prepare(parse_envelope(pp_e).value.body).value.digest;
  REQUIRE(d != e);
  const PreparedProof claim_d{pp_d, {c.vote(MessageKind::Prepare, 2, 0, 1, d), break_entry(c.vote(MessageKind::Prepare, 3, 0, 1, d), 1)}};
  const PreparedProof claim_e{pp_e, {c.vote(MessageKind::Prepare, 3, 0, 1, e), break_entry(c.vote(MessageKind::Prepare, 2, 0, 1, e), 1)}};
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  c.deliver(2, 1, view_change(c, 2, 1, {claim_d}));
  c.deliver(3, 1, view_change(c, 3, 1, {claim_e}));
  CHECK(new_views_in(c).empty());  // a quorum (1, 2, 3), but O is undecided
  // Replica 0's VIEW-CHANGE carries d's certificate with a PREPARE replica 1 can verify: d
  // is verified, beats the weak e, and the NEW-VIEW goes out with d.
  const PreparedProof full_d{pp_d, {c.vote(MessageKind::Prepare, 2, 0, 1, d), c.vote(MessageKind::Prepare, 3, 0, 1, d)}};
  c.deliver(0, 1, view_change(c, 0, 1, {full_d}));
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  REQUIRE(nvs[0].pre_prepares.size() == 1);
  CHECK(decode_pre_prepare(parse_envelope(nvs[0].pre_prepares[0]).value.body).value.digest == d);
}

TEST_CASE("TOCS MAC view change: a certificate that only one replica claims and nobody can verify never enters O") {
  Cluster c(4);  // replica 3 is faulty and makes up a certificate
  Bytes pp_fake = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  // Replica 3 cannot forge replica 0's authenticator either: it seals the PRE-PREPARE itself.
  Bytes content(parse_envelope(pp_fake).value.content.begin(), parse_envelope(pp_fake).value.content.end());
  pp_fake = c.seal_from(3, std::move(content));
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp_fake).value.body).value.digest;
  PreparedProof fake{pp_fake, {}};
  for (NodeId claimed : {1u, 2u}) {
    Bytes vote = encode_vote(MessageKind::Prepare, claimed, Vote{0, 1, d});
    fake.prepares.push_back(c.seal_from(3, std::move(vote)));  // sealed with 3's keys
  }
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  c.deliver(3, 1, view_change(c, 3, 1, {fake}));
  c.deliver(0, 1, view_change(c, 0, 1, {}));
  CHECK(new_views_in(c).empty());
  c.deliver(2, 1, view_change(c, 2, 1, {}));
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  CHECK(nvs[0].view_changes.size() == 3);  // replica 3's stays out
  CHECK(nvs[0].pre_prepares.empty());      // and its made-up request gets no sequence number
}

TEST_CASE("§4.5.2 the new-view timer starts with a quorum of VIEW-CHANGEs, held-back ones included") {
  // Replica 2 (a backup of view 1) cannot establish replica 3's made-up claim, so it holds
  // that VIEW-CHANGE back; it still proves that 3 asked for view 1. With its own and 0's that
  // is a quorum of replicas asking: the timer must run, or if view 1's primary never sends a
  // NEW-VIEW the group waits forever (fuzz seed 41508).
  Cluster c(4);
  Bytes pp_fake = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  Bytes content(parse_envelope(pp_fake).value.content.begin(), parse_envelope(pp_fake).value.content.end());
  pp_fake = c.seal_from(3, std::move(content));
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp_fake).value.body).value.digest;
  PreparedProof fake{pp_fake, {}};
  for (NodeId claimed : {1u, 2u}) fake.prepares.push_back(c.seal_from(3, encode_vote(MessageKind::Prepare, claimed, Vote{0, 1, d})));
  auto timer_set = [&] {
    for (const auto& t : c.last[2].timers) {
      if (t.kind == TimerKind::ViewChange && !t.cancel) return true;
    }
    return false;
  };
  c.step(2, Input::timer_fired(TimerKind::ViewChange));  // 2 asks for view 1
  REQUIRE(c.replicas[2]->in_view_change());
  c.deliver(0, 2, view_change(c, 0, 1, {}));
  CHECK_FALSE(timer_set());  // two of four: not yet (its retransmission timer aside)
  c.deliver(3, 2, view_change(c, 3, 1, {fake}));
  CHECK(c.rejected(2, RejectReason::BadCertificate) == 1);  // held back...
  CHECK(timer_set());                                       // ...but counted for the timer
}

TEST_CASE("TOCS MAC view change: PREPAREs that do not authenticate for the checker are skipped, not fatal") {
  Cluster c(4);
  Bytes pp = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  // Three PREPAREs, one broken for replica 1: two still authenticate (quorum - 1 = 2), and the
  // PRE-PREPARE's own entry for replica 1 is broken too (f + 1 PREPAREs vouch for it).
  const PreparedProof proof{break_entry(pp, 1),
                            {c.vote(MessageKind::Prepare, 2, 0, 1, d), c.vote(MessageKind::Prepare, 3, 0, 1, d),
                             break_entry(c.vote(MessageKind::Prepare, 1, 0, 1, d), 1)}};
  c.step(1, Input::timer_fired(TimerKind::ViewChange));
  c.queue.clear();
  c.deliver(2, 1, view_change(c, 2, 1, {proof}));
  c.deliver(0, 1, view_change(c, 0, 1, {}));
  const auto nvs = new_views_in(c);
  REQUIRE(nvs.size() == 1);
  REQUIRE(nvs[0].pre_prepares.size() == 1);
  CHECK(decode_pre_prepare(parse_envelope(nvs[0].pre_prepares[0]).value.body).value.digest == d);
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
