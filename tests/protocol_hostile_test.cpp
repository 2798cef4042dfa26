// Hostile input against a correct replica, driven through step(): what one faulty replica
// or client can send must be refused and counted, never crash the replica, force it into a
// view change, or crowd correct senders out of its bounded buffers. Each case names the
// attack it guards against and the rule that stops it.
#include <doctest/doctest.h>

#include "tests/replica_cluster.h"

using namespace protocol_test;

namespace {

Bytes junk_new_view(Cluster& c, NodeId sender, ViewNumber v) {
  return c.seal_from(sender, encode_new_view(sender, NewView{v, {}, 0, {}, {}}));
}

}  // namespace

TEST_CASE("a bad NEW-VIEW moves on only a replica waiting for that very view (§4.4)") {
  Cluster c(4);
  c.deliver(c.client(0), 0, c.request(0, 1, op_incr("x")));
  c.run();
  REQUIRE(c.replicas[2]->last_executed() == 1);
  // Replica 1 is the primary of views 1, 5, 9, ...: a junk NEW-VIEW for a view ahead of ours
  // is refused and changes nothing.
  c.deliver(1, 2, junk_new_view(c, 1, 5));
  CHECK(c.rejected(2, RejectReason::BadNewView) == 1);
  CHECK(c.replicas[2]->view() == 0);
  CHECK_FALSE(c.replicas[2]->in_view_change());
  // Nor for the last view numbers, where view + 1 would wrap.
  const ViewNumber last = ~ViewNumber{0};
  c.deliver(1, 2, junk_new_view(c, 1, last - 2));
  CHECK(c.replicas[2]->view() == 0);
  c.deliver(3, 2, junk_new_view(c, 3, last));  // 2^64 - 1 = 3 mod 4
  CHECK(c.rejected(2, RejectReason::Malformed) == 1);
  CHECK(c.replicas[2]->view() == 0);
  // A replica waiting for NEW-VIEW(1) that gets a bad one from view 1's primary moves on to 2.
  c.step(2, Input::timer_fired(TimerKind::ViewChange));
  REQUIRE(c.replicas[2]->in_view_change());
  REQUIRE(c.replicas[2]->view() == 1);
  c.deliver(1, 2, junk_new_view(c, 1, 1));
  CHECK(c.replicas[2]->view() == 2);
  CHECK(c.replicas[2]->in_view_change());
  // ... but not on a bad NEW-VIEW for a view other than the one it waits for.
  c.deliver(0, 2, junk_new_view(c, 0, 4));  // replica 0 is the primary of view 4
  CHECK(c.replicas[2]->view() == 2);
}

TEST_CASE("a VIEW-CHANGE for the last view number is malformed") {
  Cluster c(4);
  ViewChange vc{~ViewNumber{0}, 0, {CheckpointClaim{0, c.replicas[0]->stable_digest()}}, {}, {}};
  c.deliver(1, 2, c.seal_from(1, encode_view_change(1, vc)));
  CHECK(c.rejected(2, RejectReason::Malformed) == 1);
  CHECK(c.replicas[2]->view() == 0);
}

TEST_CASE("one replica cannot fill the early buffer for everyone") {
  Cluster c(4);
  const MessageDigest junk = c.replicas[0]->stable_digest();
  // Far-future views are of no use before we get there: refused, not kept forever.
  for (SequenceNumber seq = 1; seq <= 16; ++seq) {
    c.deliver(3, 2, c.vote(MessageKind::Prepare, 3, 1'000'000'000, seq, junk));
  }
  CHECK(c.replicas[2]->buffered() == 0);
  CHECK(c.rejected(2, RejectReason::WrongView) == 16);
  // The next view, within reach: replica 3 gets its share of the buffer and no more.
  const std::uint32_t share = c.config.early_buffer_max / c.config.n;
  for (std::uint32_t i = 0; i < c.config.early_buffer_max; ++i) {
    c.deliver(3, 2, c.vote(MessageKind::Commit, 3, 1 + i % 2, 1 + i % 16, junk));
  }
  CHECK(c.replicas[2]->buffered() == share);
  CHECK(c.rejected(2, RejectReason::BufferFull) == c.config.early_buffer_max - share);
  // Replica 0's PREPARE and COMMIT for view 1, racing the NEW-VIEW, are still kept.
  c.deliver(0, 2, c.vote(MessageKind::Prepare, 0, 1, 1, junk));
  c.deliver(0, 2, c.vote(MessageKind::Commit, 0, 1, 1, junk));
  CHECK(c.replicas[2]->buffered() == share + 2);
  CHECK(c.rejected(2, RejectReason::BufferFull) == c.config.early_buffer_max - share);
}

TEST_CASE("the early buffer is bounded in bytes, per sender") {
  Cluster c(4);
  // Replica 1 is the primary of view 1: it sends big PRE-PREPAREs for view 1 before any view
  // change. They are kept before their requests are authenticated, so only bytes bound them.
  const Bytes big_op(60 * 1024, 'x');
  std::vector<Bytes> batch;
  for (Timestamp t = 1; t <= 16; ++t) batch.push_back(c.request(0, t, big_op));
  const std::size_t sent_max = 64;
  std::size_t bytes_one = 0;
  for (SequenceNumber seq = 1; seq <= sent_max; ++seq) {
    Bytes pp = c.pre_prepare(1, 1, 1 + seq % 16, batch);
    bytes_one = pp.size();
    c.deliver(1, 2, pp);
  }
  REQUIRE(bytes_one > 16 * 60 * 1024);
  const std::size_t kept = c.replicas[2]->buffered();
  CHECK(kept > 0);
  CHECK(kept < sent_max);  // far below the entry bound (early_buffer_max / n)
  CHECK(c.replicas[2]->buffered_bytes() <= (std::size_t{32} << 20) / c.config.n);
  CHECK(c.rejected(2, RejectReason::BufferFull) == sent_max - kept);
  // Another sender's small message still fits.
  c.deliver(0, 2, c.vote(MessageKind::Prepare, 0, 1, 1, c.replicas[0]->stable_digest()));
  CHECK(c.replicas[2]->buffered() == kept + 1);
}

TEST_CASE("one client cannot fill the request table and lock the others out") {
  Cluster c(4);
  PbftConfig cfg = c.config;
  cfg.request_queue_max = 128;
  c.restart(2, cfg, false);
  // Client 0 floods backup 2 with distinct timestamps (none executes: the relays to the
  // primary are never delivered).
  const Timestamp flood = 160;
  for (Timestamp t = 1; t <= flood; ++t) c.deliver(c.client(0), 2, c.request(0, t, op_incr("x")));
  const auto refused = c.rejected(2, RejectReason::BufferFull);
  CHECK(refused > flood - cfg.request_queue_max);  // its share is less than the whole table
  CHECK(refused < flood);
  // Client 1's request still gets in: backup 2 relays it to the primary.
  c.queue.clear();
  c.deliver(c.client(1), 2, c.request(1, 1, op_incr("y")));
  CHECK(c.rejected(2, RejectReason::BufferFull) == refused);
  REQUIRE(c.last[2].messages.size() == 1);
  CHECK(c.last[2].messages[0].to == 0);
  CHECK(c.last[2].messages[0].kind == MessageKind::Request);
}

TEST_CASE("a PRE-PREPARE of another view does not erase a committed slot") {
  Cluster c(4);
  // Replica 3 suspects the primary (view change to 1), then joins view 2 on f+1 VIEW-CHANGEs:
  // it observes, and takes PRE-PREPAREs of the views it has left.
  c.step(3, Input::timer_fired(TimerKind::ViewChange));
  for (NodeId r : {0u, 1u}) c.deliver(r, 3, view_change(c, r, 2, {}));
  REQUIRE(c.replicas[3]->view() == 2);
  REQUIRE(c.replicas[3]->in_view_change());
  c.queue.clear();
  // Seq 2 commits in view 0 (on a certificate of COMMITs); seq 1 has not arrived yet.
  Bytes pp2 = c.pre_prepare(0, 0, 2, {c.request(0, 2, op_incr("x"))});
  const MessageDigest d2 = decode_pre_prepare(parse_envelope(pp2).value.body).value.digest;
  c.deliver(0, 3, pp2);
  for (NodeId r : {0u, 1u, 2u}) c.deliver(r, 3, c.vote(MessageKind::Commit, r, 0, 2, d2));
  // Replica 1, primary of view 1, sends another batch for seq 2 in view 1.
  c.deliver(1, 3, c.pre_prepare(1, 1, 2, {c.request(1, 1, op_incr("y"))}));
  CHECK(c.rejected(3, RejectReason::Stale) == 1);
  // Seq 1 commits: both execute, seq 2 with the batch that committed.
  Bytes pp1 = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
  const MessageDigest d1 = decode_pre_prepare(parse_envelope(pp1).value.body).value.digest;
  c.deliver(0, 3, pp1);
  for (NodeId r : {0u, 1u, 2u}) c.deliver(r, 3, c.vote(MessageKind::Commit, r, 0, 1, d1));
  CHECK(c.replicas[3]->last_executed() == 2);
  REQUIRE(c.executed[3].size() == 2);
  CHECK(c.executed[3][1].batch_digest == d2);
}

namespace {

// Runs the cluster's queue, keeping every message to `held_for` aside in `held`.
void run_holding(Cluster& c, NodeId held_for, std::vector<Packet>& held) {
  for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
    Packet p = std::move(c.queue.front());
    c.queue.pop_front();
    if (p.to == held_for) {
      held.push_back(std::move(p));
      continue;
    }
    c.deliver(p.from, p.to, p.wire);
  }
}

// Delivers to `to` the held messages of `kind` (CHECKPOINTs: only those for `seq`).
void deliver_held(Cluster& c, std::vector<Packet>& held, NodeId to, MessageKind kind, SequenceNumber seq = 0) {
  for (const Packet& p : held) {
    auto env = parse_envelope(p.wire);
    if (!env.ok() || env.value.kind != kind) continue;
    if (kind == MessageKind::Checkpoint && decode_checkpoint(env.value.body).value.seq != seq) continue;
    c.deliver(p.from, to, p.wire);
  }
}

bool armed(const Outbox& out, TimerKind kind) {
  bool on = false;
  for (const auto& t : out.timers) {
    if (t.kind == kind) on = !t.cancel;
  }
  return on;
}

}  // namespace

TEST_CASE("a checkpoint certified during a state transfer is still fetched after it") {
  Cluster c(4);  // K = 4, L = 16
  std::vector<Packet> held;
  Timestamp t = 1;
  auto execute_up_to = [&](SequenceNumber seq) {
    while (c.replicas[0]->last_executed() < seq) {
      c.deliver(c.client(0), 0, c.request(0, t++, op_incr("x")));
      run_holding(c, 3, held);
    }
  };
  // Replica 3 hears nothing while the others execute 20 batches; then checkpoint 20, beyond
  // its window, makes it fetch the state.
  execute_up_to(20);
  deliver_held(c, held, 3, MessageKind::Checkpoint, 20);
  REQUIRE(c.replicas[3]->stats().state_transfers == 1);
  held.clear();
  run_holding(c, 3, held);  // the FETCH-STATE goes out; its STATE-REPLY is held
  std::vector<Packet> reply;
  for (const Packet& p : held) {
    if (parse_envelope(p.wire).value.kind == MessageKind::StateReply) reply.push_back(p);
  }
  REQUIRE(reply.size() == 1);
  // Meanwhile checkpoint 24 becomes stable in the group; replica 3 learns of it mid-transfer.
  held.clear();
  execute_up_to(24);
  deliver_held(c, held, 3, MessageKind::Checkpoint, 24);
  c.deliver(reply[0].from, 3, reply[0].wire);
  CHECK(c.replicas[3]->last_executed() == 20);
  // Nothing will bring seq 21..24 (the group is idle): the fetch timer must run.
  CHECK(armed(c.last[3], TimerKind::StateFetch));
  c.step(3, Input::timer_fired(TimerKind::StateFetch));
  c.run();
  CHECK(c.replicas[3]->last_executed() == 24);
  CHECK(c.replicas[3]->current_state_digest() == c.replicas[0]->current_state_digest());
}

TEST_CASE("junk STATE-REPLYs do not become a flood of FETCH-STATEs, nor FETCH-STATEs of snapshots") {
  Cluster c(4);  // K = 4, L = 16
  std::vector<Packet> held;
  for (Timestamp t = 1; c.replicas[0]->last_executed() < 20; ++t) {
    c.deliver(c.client(0), 0, c.request(0, t, op_incr("x")));
    run_holding(c, 3, held);
  }
  MessageDigest digest20;
  for (const Packet& p : held) {
    auto env = parse_envelope(p.wire);
    if (env.value.kind != MessageKind::Checkpoint) continue;
    auto cp = decode_checkpoint(env.value.body).value;
    if (cp.seq == 20) digest20 = cp.state_digest;
  }
  deliver_held(c, held, 3, MessageKind::Checkpoint, 20);
  REQUIRE(c.replicas[3]->stats().state_transfers == 1);
  REQUIRE(count_kind(c.last[3], MessageKind::FetchState) == 1);
  const NodeId asked = c.last[3].messages.back().to;
  c.queue.clear();
  // The peer asked answers junk, ten times: replica 3 asks the next peer once, not ten times.
  auto junk_reply = [&](NodeId from) {
    return c.seal_from(from, encode_state_reply(from, StateReply{20, digest20, Bytes{1, 2, 3}}));
  };
  std::size_t fetches = 0;
  NodeId next = asked;
  for (int i = 0; i < 10; ++i) {
    c.deliver(asked, 3, junk_reply(asked));
    const std::size_t sent = count_kind(c.last[3], MessageKind::FetchState);
    if (sent != 0) next = c.last[3].messages.back().to;
    fetches += sent;
  }
  CHECK(fetches == 1);
  CHECK(next != asked);
  CHECK(c.rejected(3, RejectReason::BadState) == 1);
  // A peer never asked: ignored without a look.
  NodeId never = 0;
  while (never == asked || never == next) never++;
  REQUIRE(never < 3);
  c.deliver(never, 3, junk_reply(never));
  CHECK(count_kind(c.last[3], MessageKind::FetchState) == 0);
  CHECK(c.rejected(3, RejectReason::BadState) == 1);
  // A faulty asker gets a bounded number of snapshots per stable checkpoint.
  std::size_t snapshots = 0;
  for (int i = 0; i < 20; ++i) {
    c.deliver(3, 0, c.seal_from(3, encode_fetch_state(3, FetchState{20, digest20})));
    snapshots += count_kind(c.last[0], MessageKind::StateReply);
  }
  CHECK(snapshots >= 1);
  CHECK(snapshots < 20);
  CHECK(c.rejected(0, RejectReason::BufferFull) == 20 - snapshots);
}

TEST_CASE("the client's retry back-off saturates instead of overflowing") {
  // (configured timeout, the most it backs off to): 16 times, or no further than 2^56 ns
  // unless configured above that.
  const std::pair<std::int64_t, std::int64_t> cases[] = {
      {1'000'000'000, 16'000'000'000}, {1'000'000'000'000'000'000, 1'000'000'000'000'000'000}};
  for (const auto& [base_ns, cap_ns] : cases) {
    PbftConfig cfg;
    cfg.client_retry_timeout_ns = base_ns;  // 1e18 ns: what client_timeout_ms = 1e12 gives
    REQUIRE(cfg.validate() == "");
    KeyRing ring(7, AuthMode::Mac, cfg.n + 1);
    Client client(cfg, cfg.n, ring);
    Outbox out;
    client.submit(op_incr("x"), out);
    std::int64_t last_ns = base_ns;
    for (int i = 0; i < 8; ++i) {
      Outbox retry;
      client.step(Input::timer_fired(TimerKind::ClientRetry), retry);
      REQUIRE(retry.timers.size() == 1);
      const std::int64_t delay_ns = retry.timers[0].delay_ns;
      CHECK(delay_ns >= last_ns);  // backs off, never wraps to a negative or smaller delay
      CHECK(delay_ns <= cap_ns);
      last_ns = delay_ns;
    }
    CHECK(last_ns == cap_ns);
  }
}

TEST_CASE("a request whose authenticator is broken for f+1 backups still executes once f+1 replicas vouch") {
  Cluster c(4);
  // A faulty client's "big MAC": its request authenticates for the primary and replica 1
  // only. Replicas 2 and 3 refuse the PRE-PREPARE at first; without them there is no quorum.
  Bytes req = break_entry(break_entry(c.request(0, 1, op_incr("x")), 2), 3);
  c.deliver(c.client(0), 0, req);
  c.run();
  CHECK(c.rejected(2, RejectReason::BadAuth) == 1);
  CHECK(c.rejected(3, RejectReason::BadAuth) == 1);
  for (ReplicaId r = 0; r < 4; ++r) {
    CHECK(c.replicas[r]->last_executed() == 1);
    CHECK(c.replicas[r]->current_state_digest() == c.replicas[0]->current_state_digest());
  }
}

TEST_CASE("a request no correct replica authenticated is never accepted on the primary's word alone") {
  Cluster c(4);
  // Replica 0 (primary, faulty) makes up a request "from" client 0 and seals it itself: only
  // one replica (itself) vouches, and f + 1 = 2 are needed.
  Bytes fake = c.seal_from(0, encode_request(c.client(0), Request{c.client(0), 1, op_incr("x")}));
  Bytes pp = c.pre_prepare(0, 0, 1, {fake});
  const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
  for (ReplicaId r = 1; r < 4; ++r) c.deliver(0, r, pp);
  c.deliver(0, 1, c.vote(MessageKind::Prepare, 0, 0, 1, d));  // primaries never prepare
  c.run();
  for (ReplicaId r = 1; r < 4; ++r) {
    CHECK(c.rejected(r, RejectReason::BadAuth) == 1);
    CHECK(c.replicas[r]->last_executed() == 0);
  }
  CHECK(c.rejected(1, RejectReason::WrongSender) == 1);
  CHECK(c.queue.empty());  // nobody prepared
}

TEST_CASE("a COMMIT for a higher view after executing on a commit certificate is harmless") {
  for (bool recovering : {true, false}) {
    CAPTURE(recovering);
    Cluster c(4);
    if (recovering) {
      c.restart(3, c.config, true);  // passive: takes votes of any view
    } else {
      c.step(3, Input::timer_fired(TimerKind::ViewChange));  // observing, in a view change to 1
      c.queue.clear();
    }
    Bytes pp = c.pre_prepare(0, 0, 1, {c.request(0, 1, op_incr("x"))});
    const MessageDigest d = decode_pre_prepare(parse_envelope(pp).value.body).value.digest;
    c.deliver(0, 3, pp);
    for (NodeId r : {0u, 1u, 2u}) c.deliver(r, 3, c.vote(MessageKind::Commit, r, 0, 1, d));
    REQUIRE(c.replicas[3]->last_executed() == 1);
    // Replica 1's COMMIT for a later view replaces its vote; the slot stays committed (it
    // used to trip an invariant and abort the whole process).
    c.deliver(1, 3, c.vote(MessageKind::Commit, 1, recovering ? 9 : 1, 1, d));
    c.replicas[3]->check_invariants_full();
    CHECK(c.replicas[3]->last_executed() == 1);
    CHECK(c.executed[3].size() == 1);
  }
}
