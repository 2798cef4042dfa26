// The oracles fire on logs that really violate them, and stay silent on logs that do not.
// The logs are built by hand here, fed the way the host feeds them (host/cluster.cpp):
// sends, then deliveries, then executions, then notes. tests/oracle_runs_test.cpp checks
// the same oracles on whole runs.
#include <doctest/doctest.h>

#include <memory>

#include "oracles/checker.h"
#include "oracles/liveness.h"
#include "protocol/crypto.h"
#include "protocol/service.h"

using namespace protocol;

namespace {

PbftConfig config4() {
  PbftConfig c;
  c.n = 4;
  c.f = 1;
  return c;
}

constexpr ClientId kClient = 10;

// Client 10 issued t = 1..3: INCREMENT "x".
bool issued(ClientId c, Timestamp t, Bytes& op) {
  if (c != kClient || t < 1 || t > 3) return false;
  op = encode_kv_operation(KvOpcode::Increment, "x");
  return true;
}

MessageDigest digest_of(const char* s) {
  return sha256(ByteView(reinterpret_cast<const std::uint8_t*>(s), std::char_traits<char>::length(s)));
}

ExecutedRequest request(Timestamp t, const char* result, ClientId client = kClient) {
  const Bytes op = encode_kv_operation(KvOpcode::Increment, "x");
  const Bytes content = encode_request(client, Request{client, t, op});
  return ExecutedRequest{client, t, request_digest(content), op, Bytes(result, result + std::char_traits<char>::length(result)), false};
}

MessageDigest digest_of_requests(const std::vector<ExecutedRequest>& requests) {
  std::vector<MessageDigest> ds;
  for (const auto& r : requests) ds.push_back(r.request_digest);
  return batch_digest(ds);
}

// An execution whose batch digest really is the digest of its requests.
Execution batch(SequenceNumber seq, std::vector<ExecutedRequest> requests, ViewNumber view = 0) {
  Execution ex{seq, view, {}, std::move(requests)};
  ex.batch_digest = digest_of_requests(ex.requests);
  return ex;
}

// INCREMENT x executed in order: t-th request returns "t".
Execution counting(SequenceNumber seq, Timestamp t) {
  return batch(seq, {request(t, std::to_string(t).c_str())});
}

std::size_t count(const oracles::Checker& c, const std::string& invariant) {
  std::size_t n = 0;
  for (const auto& v : c.violations()) n += v.invariant == invariant;
  return n;
}

// Violations of everything but certificates: the logs of the agreement, validity, integrity
// and client tests carry no network traffic, so no execution in them is certified.
std::size_t besides_certificates(const oracles::Checker& c) {
  return c.violations().size() - count(c, "certificate");
}

const oracles::Violation* first(const oracles::Checker& c, const std::string& invariant) {
  for (const auto& v : c.violations()) {
    if (v.invariant == invariant) return &v;
  }
  return nullptr;
}

// Real wire messages, sealed by each replica's own identity, and the traffic the host would
// report for them.
struct Traffic {
  PbftConfig config = config4();
  KeyRing ring{5, AuthMode::Mac, 4};
  std::vector<std::unique_ptr<NodeCrypto>> crypto;
  oracles::Checker& checker;

  explicit Traffic(oracles::Checker& c) : checker(c) {
    for (NodeId r = 0; r < config.n; ++r) crypto.push_back(std::make_unique<NodeCrypto>(ring, r));
  }
  Bytes seal(NodeId by, Bytes content) {
    std::vector<NodeId> all{0, 1, 2, 3};
    return crypto[by]->seal(std::move(content), all);
  }
  Bytes pre_prepare(NodeId by, ViewNumber v, SequenceNumber n, const MessageDigest& d) {
    return seal(by, encode_pre_prepare(by, PrePrepare{v, n, d, {}}));
  }
  Bytes vote(MessageKind kind, NodeId by, ViewNumber v, SequenceNumber n, const MessageDigest& d) {
    return seal(by, encode_vote(kind, by, Vote{v, n, d}));
  }
  Bytes checkpoint(NodeId by, SequenceNumber n, const MessageDigest& d) {
    return seal(by, encode_checkpoint(by, Checkpoint{n, d}));
  }
  // A VIEW-CHANGE for view v claiming `claimed`, sealed by `by` (a forgery if they differ).
  Bytes view_change(NodeId by, NodeId claimed, ViewNumber v, ViewChange vc = {}) {
    vc.new_view = v;
    return seal(by, encode_view_change(claimed, vc));
  }
  // A NEW-VIEW for view v from its primary, naming `vcs` in V by the digest of their content.
  Bytes new_view(ViewNumber v, const std::vector<Bytes>& vcs, std::vector<Bytes> o = {}) {
    NewView nv;
    nv.view = v;
    nv.pre_prepares = std::move(o);
    for (const Bytes& w : vcs) {
      const auto env = parse_envelope(w);
      REQUIRE(env.ok());
      nv.view_changes.push_back(ViewChangeRef{env.value.sender, view_change_digest(env.value.content)});
    }
    const NodeId primary = config.primary(v);
    return seal(primary, encode_new_view(primary, nv));
  }
  // `by` sends it, and it reaches every replica in `to`.
  void send(NodeId by, const Bytes& wire, std::vector<ReplicaId> to) {
    checker.on_sent(0, by, wire);
    for (auto r : to) checker.on_delivered(r, wire);
  }
  void multicast(NodeId by, const Bytes& wire) {
    std::vector<ReplicaId> to;
    for (ReplicaId r = 0; r < config.n; ++r) {
      if (r != by) to.push_back(r);
    }
    send(by, wire, to);
  }
  // The normal case for (v, n, d): PRE-PREPARE from the primary, PREPAREs from the backups,
  // COMMITs from all, everything delivered everywhere.
  void normal_case(ViewNumber v, SequenceNumber n, const MessageDigest& d) {
    const ReplicaId primary = config.primary(v);
    multicast(primary, pre_prepare(primary, v, n, d));
    for (ReplicaId r = 0; r < config.n; ++r) {
      if (r != primary) multicast(r, vote(MessageKind::Prepare, r, v, n, d));
    }
    for (ReplicaId r = 0; r < config.n; ++r) multicast(r, vote(MessageKind::Commit, r, v, n, d));
  }
};

}  // namespace

// ---- agreement ---------------------------------------------------------------------------

TEST_CASE("agreement: same batches everywhere is silent; a different batch at one seq fires") {
  oracles::Checker ok(config4(), issued);
  for (ReplicaId r = 0; r < 4; ++r) {
    ok.on_execution(1, r, counting(1, 1));
    ok.on_execution(2, r, counting(2, 2));
  }
  CHECK(besides_certificates(ok) == 0);

  oracles::Checker bad(config4(), issued);
  bad.on_execution(1, 1, counting(1, 1));
  bad.on_execution(2, 2, batch(1, {}));  // the null request instead
  REQUIRE(count(bad, "agreement") == 1);
  const auto& v = *first(bad, "agreement");
  CHECK(v.seq == 1);
  CHECK(v.replicas == std::vector<std::uint32_t>{1, 2});
  CHECK(v.value_a != v.value_b);
  CHECK(v.time_ns == 2);
}

TEST_CASE("agreement: different requests executed under the same batch digest fire") {
  // What a NEW-VIEW whose O entry carries the right digest and another batch does (#1):
  // replica 2 executes the null request under the digest of batch [t=1].
  oracles::Checker c(config4(), issued);
  const Execution real = counting(1, 1);
  Execution swapped = real;
  swapped.requests.clear();
  c.on_execution(1, 0, real);
  c.on_execution(2, 2, swapped);
  REQUIRE(count(c, "agreement") == 1);
  const auto* v = first(c, "agreement");
  CHECK(v->detail.find("same batch digest") != std::string::npos);
  CHECK(v->replicas == std::vector<std::uint32_t>{0, 2});
  CHECK(v->value_a.find("1 request") != std::string::npos);
  CHECK(v->value_b.find("0 requests") != std::string::npos);
}

TEST_CASE("agreement: the first execution of a seq must hash to its own digest") {
  oracles::Checker c(config4(), issued);
  Execution lie = counting(1, 1);
  lie.batch_digest = digest_of_requests({});  // executes [t=1] under the null digest
  c.on_execution(1, 3, lie);
  REQUIRE(count(c, "agreement") == 1);
  CHECK(first(c, "agreement")->replicas == std::vector<std::uint32_t>{3});
  // The same digest and requests everywhere is not enough: the others match it, and the
  // violation stays the one above.
  c.on_execution(2, 0, lie);
  CHECK(count(c, "agreement") == 1);
}

TEST_CASE("agreement: a result that differs between replicas, or from the reference service, fires") {
  oracles::Checker between(config4(), issued);
  between.on_execution(1, 0, counting(1, 1));
  between.on_execution(2, 1, batch(1, {request(1, "7")}));
  CHECK(count(between, "agreement") == 1);

  oracles::Checker reference(config4(), issued);  // everyone agrees on a wrong result
  for (ReplicaId r = 0; r < 4; ++r) reference.on_execution(1, r, batch(1, {request(1, "5")}));
  REQUIRE(count(reference, "agreement") == 1);
  CHECK(first(reference, "agreement")->value_a == "5");
  CHECK(first(reference, "agreement")->value_b == "1");
  CHECK(first(reference, "agreement")->time_ns == 1);
}

TEST_CASE("agreement: culprits are the faulty replicas that signed conflicting messages for the seq") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  c.mark_faulty(0);
  c.mark_faulty(3);
  const MessageDigest a = digest_of("a"), b = digest_of("b");
  net.send(0, net.pre_prepare(0, 0, 1, a), {1, 3});  // the primary equivocates
  net.send(0, net.pre_prepare(0, 0, 1, b), {2});
  net.multicast(3, net.vote(MessageKind::Prepare, 3, 0, 1, a));  // consistent: not a culprit
  net.multicast(2, net.vote(MessageKind::Prepare, 2, 0, 1, b));  // correct: never a culprit
  c.on_execution(1, 1, counting(1, 1));
  c.on_execution(2, 2, batch(1, {}));
  REQUIRE(count(c, "agreement") == 1);
  CHECK(first(c, "agreement")->culprits == std::vector<std::uint32_t>{0});
}

TEST_CASE("agreement: a faulty primary that signed two batches under one digest is named") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  c.mark_faulty(1);
  const Bytes op = encode_kv_operation(KvOpcode::Increment, "x");
  const Bytes req = [&] {
    KeyRing client_ring(5, AuthMode::Mac, 11);
    NodeCrypto client(client_ring, kClient);
    std::vector<NodeId> all{0, 1, 2, 3};
    return client.seal(encode_request(kClient, Request{kClient, 1, op}), all);
  }();
  const MessageDigest d = batch_digest(std::vector<MessageDigest>{request_digest(parse_envelope(req).value.content)});
  // As new primary of view 1: the genuine O entry to replica 0, the same digest with an
  // empty batch to replica 2, each inside a NEW-VIEW.
  auto new_view = [&](std::vector<Bytes> batch) {
    NewView nv;
    nv.view = 1;
    nv.pre_prepares = {net.seal(1, encode_pre_prepare(1, PrePrepare{1, 1, d, ConsensusBatch{std::move(batch)}}))};
    return net.seal(1, encode_new_view(1, nv));
  };
  net.send(1, new_view({req}), {0});
  net.send(1, new_view({}), {2});
  c.on_execution(3, 0, batch(1, {request(1, "1")}, 1));
  Execution swapped = batch(1, {request(1, "1")}, 1);
  swapped.requests.clear();
  c.on_execution(4, 2, swapped);
  REQUIRE(count(c, "agreement") == 1);
  CHECK(first(c, "agreement")->culprits == std::vector<std::uint32_t>{1});
}

TEST_CASE("agreement: faulty replicas are not judged") {
  oracles::Checker c(config4(), issued);
  c.mark_faulty(3);
  c.on_execution(1, 1, counting(1, 1));
  c.on_execution(2, 3, batch(1, {}));
  CHECK(besides_certificates(c) == 0);
}

TEST_CASE("agreement: different state digests at a common checkpoint fire") {
  oracles::Checker c(config4(), issued);
  c.on_checkpoint(1, 0, 64, digest_of("s"));
  c.on_checkpoint(2, 1, 64, digest_of("s"));
  CHECK(c.violations().empty());
  c.on_checkpoint(3, 2, 64, digest_of("t"));
  CHECK(count(c, "agreement") == 1);
}

TEST_CASE("agreement: the last correct replica to reach a checkpoint is compared too") {
  // Fed exactly as the host does: a step's executions, then its CheckpointTaken note. The
  // last replica executes the checkpoint seq (every correct replica is then past it) and
  // its own digest differs.
  oracles::Checker c(config4(), issued);
  for (ReplicaId r = 0; r < 4; ++r) {
    c.on_execution(1, r, counting(1, 1));
    c.on_checkpoint(1, r, 1, digest_of(r == 3 ? "diverged" : "state"));
  }
  REQUIRE(count(c, "agreement") == 1);
  const auto* v = first(c, "agreement");
  CHECK(v->seq == 1);
  CHECK(v->replicas == std::vector<std::uint32_t>{0, 3});
  CHECK(v->value_a == digest_of("state").short_hex());
  CHECK(v->value_b == digest_of("diverged").short_hex());

  // Two executions in one step before the note: still compared.
  oracles::Checker two(config4(), issued);
  for (ReplicaId r = 0; r < 4; ++r) {
    two.on_execution(1, r, counting(1, 1));
    two.on_execution(1, r, counting(2, 2));
    two.on_checkpoint(1, r, 1, digest_of(r == 3 ? "diverged" : "state"));
  }
  CHECK(count(two, "agreement") == 1);
}

TEST_CASE("agreement: a state transfer installs a digest the others do not have") {
  oracles::Checker c(config4(), issued);
  c.on_checkpoint(1, 0, 64, digest_of("s"));
  c.on_state_transfer(2, 1, 64, digest_of("s"));
  CHECK(c.violations().empty());
  c.on_state_transfer(3, 2, 64, digest_of("forged"));
  REQUIRE(count(c, "agreement") == 1);
  CHECK(first(c, "agreement")->detail.find("state transfer") != std::string::npos);
}

TEST_CASE("agreement: a checkpoint adopted from a NEW-VIEW needs no CHECKPOINTs but must match the others'") {
  oracles::Checker c(config4(), issued);
  c.on_checkpoint(1, 0, 64, digest_of("s"));
  c.on_checkpoint_adopted(2, 1, 64, digest_of("s"));  // no CHECKPOINT anywhere: no certificate asked
  CHECK(c.violations().empty());
  c.on_checkpoint_adopted(3, 2, 64, digest_of("chosen by faulty replicas"));
  REQUIRE(count(c, "agreement") == 1);
  const auto* v = first(c, "agreement");
  CHECK(v->detail.find("adopted it from a NEW-VIEW") != std::string::npos);
  CHECK(v->replicas == std::vector<std::uint32_t>{0, 2});
  CHECK(v->value_b == digest_of("chosen by faulty replicas").short_hex());
  // The first to reach a checkpoint may be the one adopting it: the others are compared
  // with what it adopted.
  oracles::Checker first_adopted(config4(), issued);
  first_adopted.on_checkpoint_adopted(1, 3, 128, digest_of("s"));
  first_adopted.on_checkpoint(2, 0, 128, digest_of("t"));
  CHECK(count(first_adopted, "agreement") == 1);
  // A faulty replica's adoption is not judged.
  oracles::Checker faulty(config4(), issued);
  faulty.mark_faulty(2);
  faulty.on_checkpoint(1, 0, 64, digest_of("s"));
  faulty.on_checkpoint_adopted(2, 2, 64, digest_of("t"));
  CHECK(faulty.violations().empty());
}

// ---- validity, integrity -----------------------------------------------------------------

TEST_CASE("validity: a request the client never issued, or issued differently, fires") {
  oracles::Checker c(config4(), issued);
  c.on_execution(1, 0, counting(1, 1));
  CHECK(besides_certificates(c) == 0);
  c.on_execution(2, 0, batch(2, {request(7, "2")}));  // t=7 was never issued
  CHECK(count(c, "validity") == 1);
  ExecutedRequest put{kClient, 2, {}, encode_kv_operation(KvOpcode::Put, "x", "9"), {}, false};
  put.request_digest = request_digest(encode_request(kClient, Request{kClient, 2, put.operation}));
  c.on_execution(3, 0, batch(3, {put}));  // issued t=2 was an INCREMENT, not this PUT
  CHECK(count(c, "validity") == 2);
  c.on_execution(4, 0, batch(4, {}));  // null requests are fine
  CHECK(count(c, "validity") == 2);
}

TEST_CASE("integrity: a gap, and a request executed twice, fire") {
  oracles::Checker gap(config4(), issued);
  gap.on_execution(1, 0, counting(1, 1));
  gap.on_execution(2, 0, counting(3, 2));
  CHECK(count(gap, "integrity") == 1);

  oracles::Checker twice(config4(), issued);
  twice.on_execution(1, 0, counting(1, 1));
  twice.on_execution(2, 0, batch(2, {request(1, "2")}));
  CHECK(count(twice, "integrity") == 1);

  oracles::Checker skipped(config4(), issued);  // a duplicate the replica skipped is fine
  skipped.on_execution(1, 0, counting(1, 1));
  ExecutedRequest dup = request(1, "");
  dup.duplicate = true;
  skipped.on_execution(2, 0, batch(2, {dup}));
  CHECK(besides_certificates(skipped) == 0);

  oracles::Checker transferred(config4(), issued);  // state transfer may jump
  transferred.on_execution(1, 0, counting(1, 1));
  transferred.on_state_transfer(2, 0, 64, digest_of("s"));
  transferred.on_execution(3, 0, batch(65, {request(2, "2")}));
  CHECK(count(transferred, "integrity") == 0);
}

// ---- client consistency ------------------------------------------------------------------

TEST_CASE("client consistency: a client that accepts a result the agreed log does not give fires") {
  oracles::Checker c(config4(), issued);
  c.on_execution(1, 0, counting(1, 1));
  c.on_client_accept(2, kClient, 1, Bytes{'1'});  // INCREMENT x -> 1
  CHECK(besides_certificates(c) == 0);
  c.on_client_accept(3, kClient, 2, Bytes{'5'});  // accepted before the log has it
  c.on_execution(4, 0, counting(2, 2));            // the agreed log says 2
  REQUIRE(count(c, "client_consistency") == 1);
  CHECK(first(c, "client_consistency")->time_ns == 3);  // when the client accepted it
}

TEST_CASE("client consistency: a result no correct replica executed is reported at the end") {
  oracles::Checker c(config4(), issued);
  c.mark_faulty(2);
  c.mark_faulty(3);
  c.on_execution(1, 0, counting(1, 1));
  c.on_client_accept(2, kClient, 1, Bytes{'1'});
  c.on_client_accept(3, kClient, 2, Bytes{'9'});  // only the two faulty replicas replied this
  CHECK(besides_certificates(c) == 0);  // it could still come
  c.finish(50'000'000);
  REQUIRE(count(c, "client_consistency") == 1);
  const auto* v = first(c, "client_consistency");
  CHECK(v->detail.find("no correct replica executed") != std::string::npos);
  CHECK(v->value_b == "9");
  CHECK(v->time_ns == 3);

  // Held up behind a seq no correct replica executed, but matching what one executed: not
  // a violation.
  oracles::Checker gap(config4(), issued);
  gap.on_execution(1, 0, counting(1, 1));
  gap.on_state_transfer(2, 0, 2, digest_of("s"));
  gap.on_execution(3, 0, counting(3, 2));  // seq 2 was never executed by a correct replica
  gap.on_client_accept(4, kClient, 2, Bytes{'2'});
  gap.finish(5);
  CHECK(count(gap, "client_consistency") == 0);
  gap.on_client_accept(6, kClient, 3, Bytes{'3'});  // t=3 executed nowhere
  gap.finish(7);
  CHECK(count(gap, "client_consistency") == 1);
}

// ---- certificates ------------------------------------------------------------------------

TEST_CASE("certificate: a prepared certificate backed by the network's evidence is silent") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  const MessageDigest d = digest_of("a");
  net.normal_case(0, 1, d);
  for (ReplicaId r = 0; r < 4; ++r) c.on_prepared_certificate(1, r, 0, 1, d);
  CHECK(c.violations().empty());
}

TEST_CASE("certificate: matching on (view, seq) without the digest fires, with both values") {
  // The planted defect votes_ignore_digest: replica 1 got version a from an equivocating primary, the
  // others b; it counts their PREPAREs for b toward a.
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  c.mark_faulty(0);
  const MessageDigest a = digest_of("a"), b = digest_of("b");
  net.send(0, net.pre_prepare(0, 0, 1, a), {1});
  net.send(0, net.pre_prepare(0, 0, 1, b), {2, 3});
  net.multicast(1, net.vote(MessageKind::Prepare, 1, 0, 1, a));
  net.multicast(2, net.vote(MessageKind::Prepare, 2, 0, 1, b));
  net.multicast(3, net.vote(MessageKind::Prepare, 3, 0, 1, b));
  c.on_prepared_certificate(1, 2, 0, 1, b);  // legitimate
  CHECK(c.violations().empty());
  c.on_prepared_certificate(2, 1, 0, 1, a);  // what the defect lets replica 1 do
  REQUIRE(count(c, "certificate") == 1);
  const auto* v = first(c, "certificate");
  CHECK(v->replicas == std::vector<std::uint32_t>{1});
  CHECK(v->seq == 1);
  CHECK(v->time_ns == 2);
  CHECK(v->value_a.find(a.short_hex()) != std::string::npos);
  CHECK(v->value_b.find(b.short_hex() + " from [2,3]") != std::string::npos);
  CHECK(v->culprits == std::vector<std::uint32_t>{0});
}

TEST_CASE("certificate: forged, duplicated, undelivered or primary PREPAREs do not count") {
  const MessageDigest d = digest_of("a");
  SUBCASE("a PREPARE claiming replica 3, put on the network by replica 2") {
    oracles::Checker c(config4(), issued);
    Traffic net(c);
    net.multicast(0, net.pre_prepare(0, 0, 1, d));
    net.multicast(2, net.vote(MessageKind::Prepare, 2, 0, 1, d));
    Bytes forged = net.seal(2, encode_vote(MessageKind::Prepare, 3, Vote{0, 1, d}));
    net.send(2, forged, {1});
    c.on_prepared_certificate(1, 1, 0, 1, d);
    CHECK(count(c, "certificate") == 1);
  }
  SUBCASE("the same PREPARE delivered twice") {
    oracles::Checker c(config4(), issued);
    Traffic net(c);
    net.multicast(0, net.pre_prepare(0, 0, 1, d));
    const Bytes p2 = net.vote(MessageKind::Prepare, 2, 0, 1, d);
    net.send(2, p2, {1});
    c.on_delivered(1, p2);
    c.on_prepared_certificate(1, 1, 0, 1, d);
    CHECK(count(c, "certificate") == 1);
  }
  SUBCASE("PREPAREs that were sent but never reached the replica") {
    oracles::Checker c(config4(), issued);
    Traffic net(c);
    net.multicast(0, net.pre_prepare(0, 0, 1, d));
    net.send(2, net.vote(MessageKind::Prepare, 2, 0, 1, d), {3});
    net.send(3, net.vote(MessageKind::Prepare, 3, 0, 1, d), {2});
    c.on_prepared_certificate(1, 1, 0, 1, d);
    CHECK(count(c, "certificate") == 1);
    // Replica 2 holds replica 3's PREPARE and its own (sent, to nobody in particular).
    net.send(2, net.vote(MessageKind::Prepare, 2, 0, 1, d), {});
    c.on_prepared_certificate(2, 2, 0, 1, d);
    CHECK(count(c, "certificate") == 1);
  }
  SUBCASE("the primary's own PREPARE, or no PRE-PREPARE at all") {
    oracles::Checker c(config4(), issued);
    Traffic net(c);
    c.mark_faulty(0);
    net.multicast(0, net.vote(MessageKind::Prepare, 0, 0, 1, d));
    net.multicast(2, net.vote(MessageKind::Prepare, 2, 0, 1, d));
    c.on_prepared_certificate(1, 1, 0, 1, d);
    REQUIRE(count(c, "certificate") == 1);
    CHECK(first(c, "certificate")->detail.find("no such PRE-PREPARE") != std::string::npos);
  }
}

TEST_CASE("certificate: executing on fewer than a quorum of matching COMMITs fires") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  const Execution ex = counting(1, 1);
  net.multicast(0, net.pre_prepare(0, 0, 1, ex.batch_digest));
  for (ReplicaId r : {1u, 2u}) net.multicast(r, net.vote(MessageKind::Commit, r, 0, 1, ex.batch_digest));
  net.multicast(3, net.vote(MessageKind::Commit, 3, 0, 1, digest_of("other")));
  c.on_execution(1, 1, ex);  // holds COMMITs from 1 (own) and 2: two of three
  REQUIRE(count(c, "certificate") == 1);
  CHECK(first(c, "certificate")->detail.find("commit certificate") != std::string::npos);
  net.multicast(0, net.vote(MessageKind::Commit, 0, 0, 1, ex.batch_digest));
  c.on_execution(2, 2, ex);
  CHECK(count(c, "certificate") == 1);  // replica 2 holds 0, 1, 2
}

TEST_CASE("certificate: stable checkpoints need a quorum of CHECKPOINTs; a VIEW-CHANGE's C entries are none") {
  const MessageDigest s = digest_of("state");
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  net.multicast(0, net.checkpoint(0, 64, s));
  net.multicast(1, net.checkpoint(1, 64, s));
  c.on_stable_checkpoint(1, 2, 64, s);  // holds 0 and 1 only
  REQUIRE(count(c, "certificate") == 1);
  net.multicast(2, net.checkpoint(2, 64, s));
  c.on_stable_checkpoint(2, 3, 64, s);  // holds 0, 1, 2
  c.on_checkpoint_certificate(2, 3, 64, s);
  CHECK(count(c, "certificate") == 1);

  // Replica 3 never got replica 0's CHECKPOINT. VIEW-CHANGEs from 0 and 1 that list
  // (64, s) in C reach it: a summary of what they hold, not a CHECKPOINT, so it still holds
  // two. Replica 1 then relays replica 0's CHECKPOINT unchanged: that is 0's message.
  oracles::Checker relayed(config4(), issued);
  Traffic net2(relayed);
  const Bytes c0 = net2.checkpoint(0, 64, s);
  net2.send(0, c0, {1, 2});
  net2.send(1, net2.checkpoint(1, 64, s), {0, 2, 3});
  net2.send(2, net2.checkpoint(2, 64, s), {0, 1, 3});
  const ViewChange claims{1, 64, {CheckpointClaim{64, s}}, {}, {}};
  net2.send(0, net2.view_change(0, 0, 1, claims), {3});
  net2.send(1, net2.view_change(1, 1, 1, claims), {3});
  CHECK(relayed.evidence().support(3, oracles::Claim::Checkpoint, 0, 64, s) == std::vector<ReplicaId>{1, 2});
  relayed.on_stable_checkpoint(1, 3, 64, s);
  REQUIRE(count(relayed, "certificate") == 1);
  CHECK(first(relayed, "certificate")->value_a.find("from [1,2]") != std::string::npos);
  net2.send(1, c0, {3});  // a relay: its header names replica 0, which sent those bytes
  CHECK(relayed.evidence().support(3, oracles::Claim::Checkpoint, 0, 64, s) == std::vector<ReplicaId>{0, 1, 2});
  // A CHECKPOINT claiming replica 0 that replica 1 made up is not 0's.
  oracles::Checker forged(config4(), issued);
  Traffic net3(forged);
  net3.send(0, net3.checkpoint(0, 64, s), {1});
  net3.send(1, net3.seal(1, encode_checkpoint(0, Checkpoint{64, digest_of("other")})), {3});
  CHECK(forged.evidence().support(3, oracles::Claim::Checkpoint, 0, 64, digest_of("other")).empty());
}

TEST_CASE("certificate: entering a view needs a quorum of VIEW-CHANGEs delivered; V's digests are not them") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  const Bytes vc0 = net.view_change(0, 0, 1), vc2 = net.view_change(2, 2, 1), vc3 = net.view_change(3, 3, 1);
  net.send(0, vc0, {1});
  net.send(2, vc2, {1, 3});
  net.send(3, vc3, {1});
  c.on_view_entered(1, 1, 1);  // the new primary: 0, 2, 3 reached it
  CHECK(c.violations().empty());
  c.on_view_entered(2, 3, 1);  // replica 3: its own and replica 2's only
  REQUIRE(count(c, "certificate") == 1);
  CHECK(first(c, "certificate")->replicas == std::vector<std::uint32_t>{3});
  // Replica 0 gets the NEW-VIEW, whose V names 0, 2 and 3: names are not VIEW-CHANGEs, it
  // holds its own only. The new primary relays 2's VIEW-CHANGE unchanged, and one claiming
  // 3 that it made up (3 never sent those bytes): 0 holds its own and 2's.
  net.send(1, net.new_view(1, {vc0, vc2, vc3}), {0});
  CHECK(c.evidence().view_change_support(0, 1) == std::vector<ReplicaId>{0});
  net.send(1, vc2, {0});
  net.send(1, net.view_change(1, 3, 1, ViewChange{1, 64, {}, {}, {}}), {0});
  CHECK(c.evidence().view_change_support(0, 1) == std::vector<ReplicaId>{0, 2});
  c.on_view_entered(3, 0, 1);
  CHECK(count(c, "certificate") == 2);
  // Replica 2 gets the NEW-VIEW and the genuine VIEW-CHANGEs of 0 and 3, relayed: a quorum.
  net.send(1, net.new_view(1, {vc0, vc2, vc3}), {2});
  net.send(1, vc0, {2});
  net.send(1, vc3, {2});
  CHECK(c.evidence().view_change_support(2, 1) == std::vector<ReplicaId>{0, 2, 3});
  c.on_view_entered(4, 2, 1);
  CHECK(count(c, "certificate") == 2);
}

TEST_CASE("certificate: a faulty replica flooding one view with VIEW-CHANGEs crowds out nobody's (fuzz seed 40862)") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  // Replica 0 sends 100 different VIEW-CHANGEs for view 1 (corrupted bytes, say), and
  // copies that claim replica 2 but were never sent by it reach replica 1.
  for (SequenceNumber stable = 1; stable <= 100; ++stable) {
    net.send(0, net.seal(0, encode_view_change(0, ViewChange{1, stable, {}, {}, {}})), {1});
    c.on_delivered(1, net.seal(0, encode_view_change(2, ViewChange{1, stable, {}, {}, {}})));
  }
  // The correct replicas' own VIEW-CHANGEs still count.
  const Bytes vc2 = net.seal(2, encode_view_change(2, ViewChange{1, 0, {}, {}, {}}));
  const Bytes vc3 = net.seal(3, encode_view_change(3, ViewChange{1, 0, {}, {}, {}}));
  net.send(2, vc2, {1});
  net.send(3, vc3, {1});
  CHECK(c.evidence().view_change_support(1, 1) == std::vector<ReplicaId>{0, 2, 3});
  c.on_view_entered(1, 1, 1);
  CHECK(c.violations().empty());
}

// ---- memory ------------------------------------------------------------------------------

TEST_CASE("the checker forgets what every correct replica has passed") {
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  for (SequenceNumber s = 1; s <= 3; ++s) {
    const Execution ex = counting(s, s);
    net.normal_case(0, s, ex.batch_digest);
    for (ReplicaId r = 0; r < 4; ++r) {
      c.on_execution(s, r, ex);
      c.on_checkpoint(s, r, s, digest_of("state"));
    }
    c.on_client_accept(s, kClient, s, Bytes{static_cast<std::uint8_t>('0' + s)});
  }
  CHECK(c.held() == 3);  // the evidence of seqs 1..3: no checkpoint is stable yet
  for (ReplicaId r = 0; r < 4; ++r) net.multicast(r, net.checkpoint(r, 3, digest_of("state")));
  for (ReplicaId r = 0; r < 4; ++r) c.on_stable_checkpoint(4, r, 3, digest_of("state"));
  CHECK(c.violations().empty());
  CHECK(c.held() == 0);
}

TEST_CASE("a checkpoint adopted from a NEW-VIEW lets the checker forget what lies below it") {
  // Replicas 0..2 make checkpoint 3 stable on CHECKPOINTs; replica 3 adopts it from a
  // NEW-VIEW. Until then the evidence of seqs 1..3 stays for replica 3.
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  for (SequenceNumber s = 1; s <= 3; ++s) {
    const Execution ex = counting(s, s);
    net.normal_case(0, s, ex.batch_digest);
    for (ReplicaId r = 0; r < 4; ++r) c.on_execution(s, r, ex);
  }
  for (ReplicaId r = 0; r < 3; ++r) {
    c.on_checkpoint(4, r, 3, digest_of("state"));
    net.multicast(r, net.checkpoint(r, 3, digest_of("state")));
  }
  for (ReplicaId r = 0; r < 3; ++r) c.on_stable_checkpoint(5, r, 3, digest_of("state"));
  CHECK(c.evidence().held() == 3);
  c.on_checkpoint_adopted(6, 3, 3, digest_of("state"));
  CHECK(c.evidence().held() == 0);
  CHECK(c.violations().empty());
}

TEST_CASE("the evidence ignores sequence numbers far beyond any stable checkpoint") {
  PbftConfig config = config4();
  config.log_window = 16;
  config.checkpoint_interval = 8;
  oracles::Checker c(config, issued);
  Traffic net(c);
  c.mark_faulty(3);
  for (SequenceNumber s = 1; s <= 1000; ++s) net.multicast(3, net.vote(MessageKind::Prepare, 3, 0, s, digest_of("junk")));
  CHECK(c.held() == 4 * 16);  // seqs 1..64: four windows above stable checkpoint 0
}

// ---- liveness ----------------------------------------------------------------------------

TEST_CASE("liveness: the bound runs from the last fault change inside the run") {
  using oracles::FaultTiming;
  const std::int64_t end = 60'000'000'000;
  // A crash with no restart changes once, when it starts.
  CHECK(oracles::last_fault_change_ns(std::vector<FaultTiming>{{1'000'000'000, std::nullopt}}, end) == 1'000'000'000);
  // A fault that ends inside the run: its end; one that ends after the run: its start.
  CHECK(oracles::last_fault_change_ns(std::vector<FaultTiming>{{1'000'000'000, 5'000'000'000}}, end) == 5'000'000'000);
  CHECK(oracles::last_fault_change_ns(std::vector<FaultTiming>{{2'000'000'000, 90'000'000'000}}, end) == 2'000'000'000);
  CHECK(oracles::last_fault_change_ns(std::vector<FaultTiming>{}, end) == 0);
  CHECK(oracles::last_fault_change_ns(std::vector<FaultTiming>{{1, 3}, {2, std::nullopt}}, end) == 3);
}

TEST_CASE("liveness: each request completes within the bound of its submission or the last change") {
  oracles::LivenessJudge judge(1'000, 500);
  judge.on_completion(0, 1'400);      // deadline 1500
  judge.on_completion(5'000, 5'400);  // submitted long after the faults: deadline 5500
  CHECK(judge.verdict(2).holds);
  CHECK_FALSE(judge.verdict(3).holds);  // one never completed
  judge.on_completion(100, 1'600);      // deadline 1500: late
  const auto v = judge.verdict(3);
  CHECK_FALSE(v.holds);
  CHECK(judge.late() == 1);
  CHECK(v.detail.find("1 completed late") != std::string::npos);
}

TEST_CASE("amnesia: a replica that sends two digests for one (kind, view, seq) fires; repeats do not") {
  oracles::Checker c(config4(), issued);
  c.on_vote_sent(1, 2, MessageKind::Prepare, 0, 5, digest_of("a"));
  c.on_vote_sent(2, 2, MessageKind::Prepare, 0, 5, digest_of("a"));  // a retransmission
  c.on_vote_sent(3, 2, MessageKind::Prepare, 1, 5, digest_of("b"));  // another view: fine
  c.on_vote_sent(4, 2, MessageKind::Commit, 0, 5, digest_of("a"));
  c.on_vote_sent(5, 3, MessageKind::Prepare, 0, 5, digest_of("b"));  // another replica: fine
  CHECK(count(c, "amnesia") == 0);
  c.on_vote_sent(6, 2, MessageKind::Prepare, 0, 5, digest_of("c"));
  CHECK(count(c, "amnesia") == 1);
  CHECK(c.violations().back().replicas == std::vector<std::uint32_t>{2});
}

TEST_CASE("double_vote: a correct replica that sends two digests for one (kind, view, seq) fires") {
  oracles::Checker c(config4(), issued);
  Traffic t(c);
  t.multicast(2, t.vote(MessageKind::Prepare, 2, 1, 5, digest_of("a")));
  t.multicast(2, t.vote(MessageKind::Prepare, 2, 1, 5, digest_of("a")));  // a retransmission
  t.multicast(2, t.vote(MessageKind::Prepare, 2, 2, 5, digest_of("b")));  // another view: fine
  t.multicast(2, t.vote(MessageKind::Commit, 2, 1, 5, digest_of("a")));   // another kind
  t.multicast(3, t.vote(MessageKind::Prepare, 3, 1, 5, digest_of("b")));  // another replica
  t.multicast(2, t.checkpoint(2, 4, digest_of("s")));
  CHECK(count(c, "double_vote") == 0);
  t.multicast(2, t.vote(MessageKind::Prepare, 2, 1, 5, digest_of("c")));
  REQUIRE(count(c, "double_vote") == 1);
  const auto* v = first(c, "double_vote");
  CHECK(v->replicas == std::vector<std::uint32_t>{2});
  CHECK(v->seq == 5u);
  CHECK(v->value_a == digest_of("a").short_hex());
  CHECK(v->value_b == digest_of("c").short_hex());
  CHECK(v->detail.find("PREPARE v=1 n=5") != std::string::npos);
  t.multicast(2, t.checkpoint(2, 4, digest_of("t")));  // two state digests for one checkpoint
  CHECK(count(c, "double_vote") == 2);
}

TEST_CASE("double_vote: a faulty replica's two digests are not a correct replica's double vote") {
  oracles::Checker c(config4(), issued);
  Traffic t(c);
  c.mark_faulty(1);
  t.multicast(1, t.pre_prepare(1, 1, 3, digest_of("a")));
  t.multicast(1, t.pre_prepare(1, 1, 3, digest_of("b")));
  CHECK(count(c, "double_vote") == 0);
}

TEST_CASE("double_vote: a NEW-VIEW's O entry that contradicts a PRE-PREPARE its primary sent fires") {
  oracles::Checker c(config4(), issued);
  Traffic t(c);
  const Bytes pp = t.pre_prepare(1, 1, 3, digest_of("a"));
  t.multicast(1, pp);
  t.multicast(1, t.new_view(1, {}, {t.pre_prepare(1, 1, 3, digest_of("b"))}));
  REQUIRE(count(c, "double_vote") == 1);
  CHECK(first(c, "double_vote")->detail.find("PRE-PREPARE v=1 n=3") != std::string::npos);
}

TEST_CASE("double_vote: a BATCH relaying another replica's PRE-PREPARE is no vote of the relayer") {
  // The faulty primary of view 0 equivocates at seq 3; correct replica 2, holding both copies,
  // relays each in a BATCH to the new primary, and so does replica 1 with its own old
  // PRE-PREPARE of view 1. Were the copies the relayer's votes, replica 2 would have sent two
  // digests for PRE-PREPARE v=0 n=3.
  oracles::Checker c(config4(), issued);
  Traffic t(c);
  c.mark_faulty(0);
  const MessageDigest a = digest_of("a"), b = digest_of("b");
  const Bytes pa = t.pre_prepare(0, 0, 3, a), pb = t.pre_prepare(0, 0, 3, b);
  t.send(0, pa, {2});
  t.send(0, pb, {3});
  c.on_delivered(2, pb);  // a replay by replica 3, say
  t.send(2, t.seal(2, encode_batch(2, Batch{pa})), {1});
  t.send(2, t.seal(2, encode_batch(2, Batch{pb})), {1});
  CHECK(count(c, "double_vote") == 0);
  CHECK(c.evidence().support(2, oracles::Claim::PrePrepare, 0, 3, a) == std::vector<ReplicaId>{0});
  CHECK(c.evidence().support(2, oracles::Claim::PrePrepare, 0, 3, b) == std::vector<ReplicaId>{0});
  // The copies reach the new primary as the old primary's messages.
  CHECK(c.evidence().holds_from(1, 0, oracles::Claim::PrePrepare, 0, 3, a));
  CHECK(c.evidence().holds_from(1, 0, oracles::Claim::PrePrepare, 0, 3, b));

  // Replica 1, primary of view 1, sent PRE-PREPARE v=1 n=4 with digest a. A BATCH of its own
  // carrying a PRE-PREPARE v=1 n=4 in its name with digest b (bytes never sent on their own)
  // is no second vote either: a BATCH re-sends, it does not vote, so the copy counts for
  // nobody.
  t.multicast(1, t.pre_prepare(1, 1, 4, a));
  t.send(1, t.seal(1, encode_batch(1, Batch{t.pre_prepare(1, 1, 4, b)})), {2});
  CHECK(count(c, "double_vote") == 0);
  CHECK_FALSE(c.evidence().anyone_sent(oracles::Claim::PrePrepare, 1, 4, b));
  CHECK_FALSE(c.evidence().holds_from(2, 1, oracles::Claim::PrePrepare, 1, 4, b));
}

TEST_CASE("certificate: a checkpoint certificate and a view-0 prepared one are told apart by their kind, not guessed") {
  // The same (0, seq 64, digest) reported as each kind: as a checkpoint certificate it needs
  // a quorum of CHECKPOINTs, as a prepared one a PRE-PREPARE and PREPAREs; with only
  // PREPARE traffic sent, only the checkpoint reading fires, and says so.
  oracles::Checker c(config4(), issued);
  Traffic net(c);
  const MessageDigest d = digest_of("a");
  net.multicast(0, net.pre_prepare(0, 0, 64, d));
  for (ReplicaId r = 1; r < 4; ++r) net.multicast(r, net.vote(MessageKind::Prepare, r, 0, 64, d));
  c.on_prepared_certificate(1, 1, 0, 64, d);
  CHECK(c.violations().empty());
  c.on_checkpoint_certificate(2, 1, 64, d);
  REQUIRE(count(c, "certificate") == 1);
  CHECK(first(c, "certificate")->detail.find("checkpoint") != std::string::npos);
}
