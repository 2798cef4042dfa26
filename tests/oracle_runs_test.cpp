// The oracles on whole simulated runs: each fires on runs that really violate it (a
// compiled-in protocol defect, f+1 colluders, an outage after a permanent crash) and stays
// silent on correct runs across many seeds. tests/oracles_test.cpp checks them on
// hand-built logs.
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "harness/scenario.h"
#include "harness/world.h"
#include "tests/run_helpers.h"

using namespace harness;
using test_runs::from_library;
using test_runs::fault;

namespace {


Scenario small(std::uint32_t clients, std::uint32_t requests) {
  Scenario s;
  s.name = "oracle-run";
  s.cluster.n = 4;
  s.cluster.f = 1;
  s.network.latency = sim::LatencyModel{sim::LatencyModel::Dist::Uniform, 0, 1, 10, 0, 0, 0};
  s.workload.clients = clients;
  s.workload.requests_per_client = requests;
  s.duration_ns = sim::seconds(30);
  return s;
}

reports::RunReport run(const Scenario& s, std::uint64_t seed = 1) { return test_runs::run_report(s, seed); }

std::size_t count(const reports::RunReport& r, const std::string& invariant) {
  std::size_t n = 0;
  for (const auto& v : r.violations) n += v.invariant == invariant;
  return n;
}

std::uint64_t rejected(const reports::RunReport& r, const std::string& why) {
  auto it = r.stats.rejected_by_reason.find(why);
  return it == r.stats.rejected_by_reason.end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("certificate: votes matched without their digest are caught from the network's evidence (review #10)") {
  // The VotesIgnoreDigest defect with an equivocating primary: a backup that got version A
  // counts the others' PREPAREs for B. The replica's own count says quorum; the evidence
  // of what reached it does not.
  Scenario s = from_library("equivocating-primary");
  s.cluster.test_defect = protocol::TestDefect::VotesIgnoreDigest;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    const auto r = run(s, seed);
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
  s.cluster.test_defect = protocol::TestDefect::None;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) CHECK(run(s, seed).violations.empty());
}

TEST_CASE("equivocate with \"primary\" and a colluder: f+1 faulty break agreement on every seed (review #7)") {
  Scenario s = from_library("colluding-equivocation-f-plus-1");
  s.faults[0].replicas.clear();
  s.faults[0].replicas_is_primary = true;  // resolves to replica 0
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CAPTURE(seed);
    const auto r = run(s, seed);
    CHECK(r.faulty_replicas == std::vector<std::uint32_t>{0, 1});
    REQUIRE(count(r, "agreement") >= 1);
    for (const auto& v : r.violations) {
      if (v.invariant == "agreement") {
        CHECK(v.culprits == std::vector<std::uint32_t>{0, 1});
        break;
      }
    }
  }
}

TEST_CASE("liveness: a crash without restart starts the bound when it happens (review #11)") {
  // The primary crashes for good at 300 ms; the view change takes at least the 500 ms
  // timeout, so requests waiting across it take longer than a 200 ms bound.
  Scenario s = small(2, 40);
  s.faults.push_back(fault(FaultKind::Crash, {0}, 300));
  s.liveness_bound_ns = sim::ms(200);
  const auto tight = run(s);
  CHECK(tight.completed == tight.submitted);
  CHECK(tight.stats.final_view >= 1);
  CHECK_FALSE(tight.liveness_holds);
  CHECK(tight.liveness_detail.find("completed late") != std::string::npos);
  s.liveness_bound_ns = sim::seconds(5);
  CHECK(run(s).liveness_holds);
}

TEST_CASE("liveness: requests submitted after the faults are judged from their own submission") {
  // No fault: a long workload whose last request completes well after the bound from time
  // 0, each within it.
  Scenario s = small(2, 300);
  s.liveness_bound_ns = sim::ms(300);
  const auto r = run(s);
  CHECK(r.completed == r.submitted);
  CHECK(r.stats.virtual_time_ns > sim::ms(600));
  CHECK(r.liveness_holds);
}

TEST_CASE("auth none: the network vouches for senders, so forge cannot impersonate (review #21)") {
  Scenario s = from_library("forge");
  s.cluster.auth = protocol::AuthMode::None;
  const auto forged = run(s);
  CHECK(forged.safety_holds);
  CHECK(forged.liveness_holds);
  CHECK(rejected(forged, "bad_auth") > 0);  // every forged copy, refused
  Scenario control = from_library("normal-n4");
  control.cluster.auth = protocol::AuthMode::None;
  CHECK(rejected(run(control), "bad_auth") == 0);
}

TEST_CASE("the oracles, the certificate oracle included, stay silent on correct runs across seeds" * doctest::test_suite("sweeps")) {
  for (const char* name : {"normal-n7", "partition-heal", "silent-primaries-v0-v1", "crash-restart-backup",
                           "equivocating-primary", "bad-view-change", "colluding-equivocation-f", "replay",
                           "corrupt", "long-run-checkpoints", "spurious-view-changes", "partition-plus-silent-primary"}) {
    const Scenario s = from_library(name);
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      CAPTURE(name);
      CAPTURE(seed);
      const auto r = run(s, seed);
      CHECK(r.violations.empty());
      if (!r.violations.empty()) MESSAGE(r.violations.front().invariant << ": " << r.violations.front().detail);
    }
  }
}
