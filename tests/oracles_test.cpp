// The oracles fire on logs that really violate them, and stay silent on logs that do not.
#include <doctest/doctest.h>

#include "oracles/checker.h"
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

// Client 10 issued t = 1..3: INCREMENT "x".
bool issued(ClientId c, Timestamp t, Bytes& op) {
  if (c != 10 || t < 1 || t > 3) return false;
  op = encode_kv_operation(KvOpcode::Increment, "x");
  return true;
}

MessageDigest digest_of(const char* s) {
  return sha256(ByteView(reinterpret_cast<const std::uint8_t*>(s), std::char_traits<char>::length(s)));
}

Execution batch(SequenceNumber seq, const char* tag, std::vector<Timestamp> ts, ClientId client = 10) {
  Execution ex{seq, 0, digest_of(tag), {}};
  for (auto t : ts) {
    ExecutedRequest r{client, t, {}, encode_kv_operation(KvOpcode::Increment, "x"), {}, false};
    ex.requests.push_back(r);
  }
  return ex;
}

std::size_t count(const oracles::Checker& c, const std::string& invariant) {
  std::size_t n = 0;
  for (const auto& v : c.violations()) n += v.invariant == invariant;
  return n;
}

}  // namespace

TEST_CASE("agreement: same batches everywhere is silent; a different batch at one seq fires") {
  oracles::Checker ok(config4(), issued);
  for (ReplicaId r = 0; r < 4; ++r) {
    ok.on_execution(1, r, batch(1, "a", {1}));
    ok.on_execution(2, r, batch(2, "b", {2}));
  }
  CHECK(ok.violations().empty());

  oracles::Checker bad(config4(), issued);
  bad.on_execution(1, 1, batch(1, "a", {1}));
  bad.on_execution(2, 2, batch(1, "other", {1}));
  REQUIRE(count(bad, "agreement") == 1);
  const auto& v = bad.violations().front();
  CHECK(v.seq == 1);
  CHECK(v.replicas == std::vector<std::uint32_t>{1, 2});
  CHECK(v.value_a != v.value_b);
  CHECK(v.time_ns == 2);
}

TEST_CASE("agreement: culprits are the faulty replicas that signed two digests for the seq") {
  oracles::Checker c(config4(), issued);
  c.mark_faulty(0);
  c.mark_faulty(3);
  c.on_faulty_vote(0, 0, 1, digest_of("a"));
  c.on_faulty_vote(0, 0, 1, digest_of("other"));
  c.on_faulty_vote(3, 0, 1, digest_of("a"));  // consistent: not a culprit
  c.on_execution(1, 1, batch(1, "a", {1}));
  c.on_execution(2, 2, batch(1, "other", {1}));
  REQUIRE(count(c, "agreement") == 1);
  CHECK(c.violations().front().culprits == std::vector<std::uint32_t>{0});
}

TEST_CASE("agreement: faulty replicas are not judged") {
  oracles::Checker c(config4(), issued);
  c.mark_faulty(3);
  c.on_execution(1, 1, batch(1, "a", {1}));
  c.on_execution(2, 3, batch(1, "evil", {1}));
  CHECK(c.violations().empty());
}

TEST_CASE("agreement: different state digests at a common checkpoint fire") {
  oracles::Checker c(config4(), issued);
  c.on_checkpoint(1, 0, 64, digest_of("s"));
  c.on_checkpoint(2, 1, 64, digest_of("s"));
  CHECK(c.violations().empty());
  c.on_checkpoint(3, 2, 64, digest_of("t"));
  CHECK(count(c, "agreement") == 1);
}

TEST_CASE("validity: a request the client never issued, or issued differently, fires") {
  oracles::Checker c(config4(), issued);
  c.on_execution(1, 0, batch(1, "a", {1}));
  CHECK(c.violations().empty());
  c.on_execution(2, 0, batch(2, "b", {7}));  // t=7 was never issued
  CHECK(count(c, "validity") == 1);
  Execution forged = batch(3, "c", {});
  forged.requests.push_back(ExecutedRequest{10, 2, {}, encode_kv_operation(KvOpcode::Put, "x", "9"), {}, false});
  c.on_execution(3, 0, forged);  // issued t=2 was an INCREMENT, not this PUT
  CHECK(count(c, "validity") == 2);
  c.on_execution(4, 0, batch(4, "null", {}));  // null requests are fine
  CHECK(count(c, "validity") == 2);
}

TEST_CASE("integrity: a gap, and a request executed twice, fire") {
  oracles::Checker gap(config4(), issued);
  gap.on_execution(1, 0, batch(1, "a", {1}));
  gap.on_execution(2, 0, batch(3, "c", {2}));
  CHECK(count(gap, "integrity") == 1);

  oracles::Checker twice(config4(), issued);
  twice.on_execution(1, 0, batch(1, "a", {1}));
  twice.on_execution(2, 0, batch(2, "b", {1}));
  CHECK(count(twice, "integrity") == 1);

  oracles::Checker skipped(config4(), issued);  // a duplicate the replica skipped is fine
  skipped.on_execution(1, 0, batch(1, "a", {1}));
  Execution dup = batch(2, "b", {1});
  dup.requests[0].duplicate = true;
  skipped.on_execution(2, 0, dup);
  CHECK(skipped.violations().empty());

  oracles::Checker transferred(config4(), issued);  // state transfer may jump
  transferred.on_execution(1, 0, batch(1, "a", {1}));
  transferred.on_state_transfer(2, 0, 64);
  transferred.on_execution(3, 0, batch(65, "z", {2}));
  CHECK(transferred.violations().empty());
}

TEST_CASE("client consistency: a client that accepts a result the agreed log does not give fires") {
  oracles::Checker c(config4(), issued);
  c.on_execution(1, 0, batch(1, "a", {1}));
  c.on_client_accept(2, 10, 1, Bytes{'1'});  // INCREMENT x -> 1
  CHECK(c.violations().empty());
  c.on_client_accept(3, 10, 2, Bytes{'5'});  // accepted before the log has it
  c.on_execution(4, 0, batch(2, "b", {2}));  // the agreed log says 2
  CHECK(count(c, "client_consistency") == 1);
}

TEST_CASE("certificate: acting on fewer than a quorum of messages fires") {
  oracles::Checker c(config4(), issued);
  Note good{Note::Kind::CertificateUsed, 0, 1, {}, {}, 3};
  c.on_certificate(1, 0, good);
  CHECK(c.violations().empty());
  Note bad{Note::Kind::CertificateUsed, 0, 2, {}, {}, 2};
  c.on_certificate(2, 0, bad);
  CHECK(count(c, "certificate") == 1);
}

TEST_CASE("the checker forgets what every correct replica has passed") {
  oracles::Checker c(config4(), issued);
  Bytes op;
  for (SequenceNumber s = 1; s <= 3; ++s) {
    for (ReplicaId r = 0; r < 4; ++r) c.on_execution(s, r, batch(s, "x", {s}));
    c.on_client_accept(s, 10, s, Bytes{static_cast<std::uint8_t>('0' + s)});
  }
  CHECK(c.violations().empty());
  CHECK(c.held() == 0);
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
