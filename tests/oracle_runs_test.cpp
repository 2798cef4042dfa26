// The oracles on whole simulated runs: each fires on runs that really violate it (f+1
// colluders, an outage after a permanent crash) and stays silent on correct runs across many
// seeds. tests/oracles_test.cpp checks them on hand-built logs, tests/defects_test.cpp on
// runs with a planted protocol defect (a defects build).
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "harness/scenario.h"
#include "harness/run_scenario.h"
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

harness::RunReport run(const Scenario& s, std::uint64_t seed = 1) { return test_runs::run_report(s, seed); }

std::size_t count(const harness::RunReport& r, const std::string& invariant) {
  std::size_t n = 0;
  for (const auto& v : r.violations) n += v.invariant == invariant;
  return n;
}

std::uint64_t rejected(const harness::RunReport& r, const std::string& why) {
  auto it = r.stats.rejected_by_reason.find(why);
  return it == r.stats.rejected_by_reason.end() ? 0 : it->second;
}

}  // namespace

TEST_CASE("equivocate with \"primary\" and a colluder: f+1 faulty break agreement on every seed") {
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

TEST_CASE("liveness: a crash without restart starts the bound when it happens") {
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

TEST_CASE("auth none: the network vouches for senders, so forge cannot impersonate") {
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

// A NEW-VIEW installed in two steps (the view's buffered PRE-PREPAREs first, then O over
// them): an equivocating primary's early PRE-PREPAREs get PREPAREd, then O's. The replicas
// are correct, so each such second PREPARE is a double vote, whatever the run's outcome.
namespace {
std::string view_install_scenario(double timeout_ms, const std::string& faults) {
  return R"({"name":"view-install","cluster":{"n":7,"checkpoint_interval":2,"log_window":4,)"
         R"("view_change_timeout_ms":)" + std::to_string(timeout_ms) + R"(,"client_timeout_ms":)" +
         std::to_string(timeout_ms) +
         R"(},"network":{"latency_ms":{"dist":"uniform","min":1,"max":20},"drop":0.15},)"
         R"("workload":{"clients":4,"requests_per_client":15},"faults":[)" + faults +
         R"(],"duration_ms":200000,"liveness_bound_ms":150000})";
}

Scenario parsed(const std::string& json) {
  auto r = parse_scenario(json, "view-install.json");
  REQUIRE(std::holds_alternative<Scenario>(r));
  return std::get<Scenario>(r);
}

const char* kSilentThenEquivocating =
    R"({"kind":"silence","replicas":[0],"from_ms":150},{"kind":"equivocate","replicas":[1],"split":[[0,2],[3,4,5,6]]})";
const char* kPartitionThenColluding =
    R"({"kind":"partition","groups":[[0]],"from_ms":100,"until_ms":1500},)"
    R"({"kind":"equivocate","replicas":[1],"colluders":[4],"split":[[0,2],[3,4,5,6]]})";
}  // namespace

TEST_CASE("view installation: the runs that once voted twice or counted a vote twice pass at their seeds") {
  // An equivocating primary of the new view whose PRE-PREPAREs race its NEW-VIEW, with loss:
  // once O lay over the replayed early PRE-PREPAREs, replicas sent two PREPAREs for one
  // (view, seq) (seeds 10, 25, 37, 39, 45) or committed one COMMIT short (seed 28), and
  // seeds 4, 14, 51 tripped assertions.
  const Scenario twice = parsed(view_install_scenario(300, kSilentThenEquivocating));
  for (std::uint64_t seed : {10, 25, 37, 39, 45}) {
    CAPTURE(seed);
    const auto r = run(twice, seed);
    CHECK(r.outcome == "pass");
    CHECK(r.violations.empty());
  }
  const Scenario short_quorum = parsed(view_install_scenario(200, kPartitionThenColluding));
  for (std::uint64_t seed : {4, 14, 28, 51}) {
    CAPTURE(seed);
    const auto r = run(short_quorum, seed);
    CHECK(r.outcome == "pass");
    CHECK(r.violations.empty());
  }
}
