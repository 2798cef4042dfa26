// The planted protocol defects (protocol/defects.h), each caught by an oracle: a mutation
// test of the oracles. Built and run only in a defects build (-Dplanted_defects=true, suite
// "defects"); bench/mutation_table.py runs every defect over the scenario library and the
// fuzzer, and tests/cli/defects_test.sh a fast part of that through the command line.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "oracles/checker.h"
#include "protocol/defects.h"
#include "tests/replica_cluster.h"
#include "tests/run_helpers.h"

using namespace harness;
using protocol::Defect;
using test_runs::fault;
using test_runs::from_library;

namespace {

harness::RunReport run(const Scenario& s, std::uint64_t seed, Defect defect) {
  RunOptions options;
  options.seed = seed;
  options.defect = defect;
  return run_scenario(s, options);
}

std::size_t count(const harness::RunReport& r, const std::string& invariant) {
  std::size_t n = 0;
  for (const auto& v : r.violations) n += v.invariant == invariant;
  return n;
}

}  // namespace

TEST_CASE("the defects build names at least 15 defects, each once, with a description") {
  REQUIRE(protocol::kPlantedDefectsBuilt);
  const auto defects = protocol::planted_defects();
  CHECK(defects.size() >= 15);
  std::set<std::string> names;
  for (const auto& d : defects) {
    CAPTURE(d.name);
    CHECK(d.defect != Defect::None);
    CHECK(names.insert(d.name).second);
    CHECK(std::string(d.description).size() > 10);
    CHECK(std::string(d.description).find('\n') == std::string::npos);
    CHECK(protocol::defect_named(d.name) == d.defect);
    CHECK(std::string(protocol::defect_name(d.defect)) == d.name);
  }
  CHECK_FALSE(protocol::defect_named("none").has_value());
  CHECK_FALSE(protocol::defect_named("").has_value());
  CHECK(std::string(protocol::defect_name(Defect::None)) == "none");
}

TEST_CASE("a planted defect is in the replay line; without one the run is the plain one") {
  Scenario s = from_library("normal-n4");
  s.workload.requests_per_client = 5;
  const auto planted = run(s, 1, Defect::PrepareQuorumShort);
  CHECK(planted.replay_command.find(" --defect prepare_quorum_short") != std::string::npos);
  const auto plain = run(s, 1, Defect::None);
  CHECK(plain.replay_command.find("--defect") == std::string::npos);
  CHECK(plain.violations.empty());
  CHECK(plain.outcome == "pass");
}

TEST_CASE("votes_ignore_digest: votes matched without their digest are caught from the network's evidence") {
  // With an equivocating primary, a backup that got version A counts the others' PREPAREs
  // for B. The replica's own count says quorum; the evidence of what reached it does not.
  const Scenario s = from_library("equivocating-primary");
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    const auto r = run(s, seed, Defect::VotesIgnoreDigest);
    CHECK(r.outcome == "fail");
    REQUIRE(count(r, "certificate") >= 1);
    for (const auto& v : r.violations) {
      if (v.invariant != "certificate") continue;
      CHECK(v.replicas.size() == 1);
      CHECK(v.seq.has_value());
      CHECK(v.value_a != v.value_b);
      CHECK(v.culprits == r.faulty_replicas);  // the equivocating primary signed both
      break;
    }
  }
  for (std::uint64_t seed = 1; seed <= 5; ++seed) CHECK(run(s, seed, Defect::None).violations.empty());
}

TEST_CASE("recover_active: a restarted replica that forgets it voted is caught by the amnesia oracle; a passive one is not") {
  // The primary crashes and comes back empty before anyone suspects it: still the primary of
  // view 0, with no memory of the sequence numbers it already assigned.
  Scenario s;
  s.name = "amnesia";
  s.cluster.n = 4;
  s.cluster.f = 1;
  s.cluster.view_change_timeout_ns = sim::seconds(5);
  s.network.latency = sim::LatencyModel{sim::LatencyModel::Dist::Uniform, 0, 1, 10, 0, 0, 0};
  s.workload.clients = 2;
  s.workload.requests_per_client = 30;
  s.workload.outstanding = 1;
  FaultSpec crash = fault(FaultKind::Crash, {0}, 60);
  crash.restart_ns = sim::ms(70);
  s.faults.push_back(crash);
  std::uint64_t caught = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) caught += count(run(s, seed, Defect::RecoverActive), "amnesia");
  CHECK(caught >= 1);
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    const auto r = run(s, seed, Defect::None);
    CHECK(r.violations.empty());
    CHECK(r.liveness_holds);
  }
}

namespace {

// Replica 2 changes to view 1, gets the new primary's PRE-PREPARE (1, 1, A) before its
// NEW-VIEW, whose O re-proposes (1, 1, B): B prepared in view 0 at replicas 1 and 3. The
// PREPAREs replica 2 sends for (1, 1), in order, with the oracle fed every message it sends.
std::vector<protocol::MessageDigest> prepares_for_view_1(Defect defect, oracles::Checker& checker) {
  using namespace protocol_test;
  Cluster c(4);
  c.restart(2, c.config, false, defect);
  const Bytes req_b = c.request(0, 1, op_incr("b"));
  const Bytes pp_b = c.pre_prepare(0, 0, 1, {req_b});
  const MessageDigest b = decode_pre_prepare(parse_envelope(pp_b).value.body).value.digest;
  const Bytes vc1 = view_change(c, 1, 1, {SlotClaim{1, 0, b}}, {SlotClaim{1, 0, b}});
  const Bytes vc3 = view_change(c, 3, 1, {SlotClaim{1, 0, b}}, {SlotClaim{1, 0, b}});
  std::vector<Bytes> sent;
  auto deliver = [&](NodeId from, const Bytes& wire) {
    c.deliver(from, 2, wire);
    for (const auto& m : c.last[2].messages) {
      checker.on_sent(0, 2, m.wire);
      sent.push_back(m.wire);
    }
  };
  deliver(1, vc1);
  deliver(3, vc3);  // f + 1 ask for view 1: replica 2 joins with its own VIEW-CHANGE
  REQUIRE(c.replicas[2]->in_view_change());
  Bytes vc2;
  for (const auto& w : sent) {
    if (parse_envelope(w).value.kind == MessageKind::ViewChange) vc2 = w;
  }
  REQUIRE_FALSE(vc2.empty());
  deliver(1, c.pre_prepare(1, 1, 1, {c.request(1, 1, op_incr("a"))}));  // early: buffered
  NewView nv{1, {ref_of(vc1), ref_of(vc2), ref_of(vc3)}, 0, c.replicas[0]->stable_digest(), {c.pre_prepare(1, 1, 1, {req_b})}};
  deliver(1, c.seal_from(1, encode_new_view(1, nv)));
  REQUIRE(c.replicas[2]->view() == 1);
  REQUIRE_FALSE(c.replicas[2]->in_view_change());
  std::vector<MessageDigest> prepares;
  for (const auto& w : sent) {
    auto env = parse_envelope(w);
    if (env.value.kind != MessageKind::Prepare) continue;
    auto v = decode_vote(env.value.body).value;
    if (v.view == 1 && v.seq == 1) prepares.push_back(v.digest);
  }
  return prepares;
}

std::size_t count_double_votes(const oracles::Checker& c) {
  std::size_t n = 0;
  for (const auto& v : c.violations()) n += v.invariant == "double_vote";
  return n;
}

}  // namespace

TEST_CASE("replay_before_new_view: installed atomically, one PREPARE; in two steps, two, and the double_vote oracle says so") {
  oracles::Checker correct(protocol_test::Cluster(4).config, [](auto, auto, auto&) { return true; });
  const auto once = prepares_for_view_1(Defect::None, correct);
  REQUIRE(once.size() == 1);  // O's digest only; the early PRE-PREPARE is refused as a conflict
  CHECK(count_double_votes(correct) == 0);

  // The defect replays the early PRE-PREPARE before O and then lays O over it.
  oracles::Checker fooled(protocol_test::Cluster(4).config, [](auto, auto, auto&) { return true; });
  const auto twice = prepares_for_view_1(Defect::ReplayBeforeNewView, fooled);
  REQUIRE(twice.size() == 2);
  CHECK(twice[0] != twice[1]);
  CHECK(twice[1] == once[0]);
  REQUIRE(count_double_votes(fooled) == 1);
  const auto& v = fooled.violations().front();
  CHECK(v.invariant == "double_vote");
  CHECK(v.replicas == std::vector<std::uint32_t>{2});
  CHECK(v.seq == 1u);
  CHECK(v.value_a == twice[0].short_hex());
  CHECK(v.value_b == twice[1].short_hex());
}
