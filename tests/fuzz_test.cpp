// The fuzzer's building blocks: the random scenario generator (pure, valid, within its
// contract), the JSON writer (round-trips through the parser, and the run it describes is
// the same run) and the shrinker (every candidate valid and smaller).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <variant>

#include "harness/random_scenario.h"
#include "harness/scenario.h"
#include "harness/scenario_writer.h"
#include "harness/shrink.h"
#include "harness/run_scenario.h"
#include "tests/run_helpers.h"
#include "sim/network.h"
#include "sim/rng.h"

using namespace harness;

TEST_CASE("random scenarios are a pure function of the seed") {
  const RandomScenarioOptions options;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    CHECK(scenario_to_json(random_scenario(seed, options)) == scenario_to_json(random_scenario(seed, options)));
  }
  CHECK(scenario_to_json(random_scenario(1, options)) != scenario_to_json(random_scenario(2, options)));
}

TEST_CASE("generated JSON round-trips through the parser, field for field") {
  RandomScenarioOptions options;
  for (std::uint64_t seed = 1; seed <= 400; ++seed) {
    options.faulty_over_f_max = seed % 3 == 0 ? 2 : 0;
    const Scenario s = random_scenario(seed, options);
    const std::string json = scenario_to_json(s);
    CAPTURE(json);
    const Scenario back = test_runs::parse_ok(json);
    CHECK(scenario_to_json(back) == json);
    CHECK(back.seed == s.seed);
    CHECK(back.cluster.n == s.cluster.n);
    CHECK(back.cluster.f == s.cluster.f);
    CHECK(back.cluster.auth == s.cluster.auth);
    CHECK(back.cluster.view_change_timeout_ns == s.cluster.view_change_timeout_ns);
    CHECK(back.cluster.batch_delay_ns == s.cluster.batch_delay_ns);
    CHECK(back.duration_ns == s.duration_ns);
    CHECK(back.liveness_bound_ns == s.liveness_bound_ns);
    CHECK(back.network.drop_probability == s.network.drop_probability);
    CHECK(back.workload.think_ms == s.workload.think_ms);
    REQUIRE(back.faults.size() == s.faults.size());
    for (std::size_t i = 0; i < s.faults.size(); ++i) {
      CHECK(back.faults[i].kind == s.faults[i].kind);
      CHECK(back.faults[i].replicas == s.faults[i].replicas);
      CHECK(back.faults[i].replicas_is_primary == s.faults[i].replicas_is_primary);
      CHECK(back.faults[i].from_ns == s.faults[i].from_ns);
      CHECK(back.faults[i].until_ns == s.faults[i].until_ns);
      CHECK(back.faults[i].restart_ns == s.faults[i].restart_ns);
      CHECK(back.faults[i].colluders == s.faults[i].colluders);
      CHECK(back.faults[i].split == s.faults[i].split);
      CHECK(back.faults[i].groups == s.faults[i].groups);
      CHECK(back.faults[i].to == s.faults[i].to);
    }
  }
}

TEST_CASE("fractional times survive the round trip to the nanosecond") {
  Scenario s = random_scenario(7, {});
  s.cluster.view_change_timeout_ns = 1'234'567;  // 1.234567 ms
  s.duration_ns = 98'765'432'101;
  const Scenario back = test_runs::parse_ok(scenario_to_json(s));
  CHECK(back.cluster.view_change_timeout_ns == 1'234'567);
  CHECK(back.duration_ns == 98'765'432'101);
}

TEST_CASE("fractional times beyond 2^52 ns survive the round trip to the nanosecond") {
  // ns / 1e6 would come back one or two ns off for these (the writer picks a neighbour).
  Scenario s = random_scenario(7, {});
  for (const sim::DurationNs ns : {sim::DurationNs{8'766'825'514'399'484}, sim::DurationNs{4'449'506'096'846'068},
                                   sim::DurationNs{8'902'974'975'943'500}, sim::DurationNs{999'999'999'999'999'872}}) {
    CAPTURE(ns);
    s.duration_ns = ns;
    CHECK(test_runs::parse_ok(scenario_to_json(s)).duration_ns == ns);
  }
}

TEST_CASE("a replayed JSON file is the same run: same fingerprint") {
  for (std::uint64_t seed : {3u, 11u, 20u}) {
    const Scenario s = random_scenario(seed, {});
    const Scenario back = test_runs::parse_ok(scenario_to_json(s));
    const auto a = run_scenario(s, {.seed = s.seed, .record_trace = false});
    const auto b = run_scenario(back, {.seed = back.seed, .record_trace = false});
    CAPTURE(seed);
    CHECK(a.fingerprint == b.fingerprint);
    CHECK(a.outcome == b.outcome);
  }
}

TEST_CASE("the generator keeps its contract: at most f faulty, network faults heal, room to finish") {
  std::set<FaultKind> kinds;
  std::set<std::uint32_t> sizes;
  std::set<protocol::AuthMode> auths;
  bool primary_fault = false, restart = false, open_ended = false, colluders = false, short_timeout = false;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const Scenario s = random_scenario(seed, {});
    CAPTURE(seed);
    CHECK(faulty_replicas_max(s) <= s.cluster.f);
    CHECK((s.expect.safety == Expect::Holds) == guarantees_apply(s));
    CHECK((s.expect.liveness == Expect::Holds) == guarantees_apply(s));
    CHECK(s.cluster.validate().empty());
    sizes.insert(s.cluster.n);
    auths.insert(s.cluster.auth);
    short_timeout |= s.cluster.view_change_timeout_ns <= sim::ms(5);
    for (const auto& f : s.faults) {
      kinds.insert(f.kind);
      primary_fault |= f.replicas_is_primary;
      restart |= f.restart_ns.has_value();
      colluders |= !f.colluders.empty();
      if (!fault_kind_is_faulty(f.kind)) {
        REQUIRE(f.until_ns.has_value());
        CHECK(*f.until_ns + s.liveness_bound_ns <= s.duration_ns);
      } else {
        open_ended |= !f.until_ns && f.kind != FaultKind::Crash;
      }
    }
  }
  // The generator reaches the whole space users write.
  CHECK(kinds.size() == 17);  // every kind but censor
  CHECK(sizes.count(4) == 1);
  CHECK(sizes.count(5) == 1);
  CHECK(sizes.count(6) == 1);
  CHECK(sizes.count(13) == 1);
  CHECK(auths.size() == 3);
  CHECK(primary_fault);
  CHECK(restart);
  CHECK(open_ended);
  CHECK(colluders);
  CHECK(short_timeout);
}

TEST_CASE("beyond f the expectation is \"any\"") {
  RandomScenarioOptions options;
  options.faulty_over_f_max = 3;
  int over = 0;
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    const Scenario s = random_scenario(seed, options);
    const bool judged = guarantees_apply(s);
    over += judged ? 0 : 1;
    CHECK((s.expect.safety == Expect::Holds) == judged);
    CHECK((s.expect.liveness == Expect::Holds) == judged);
  }
  CHECK(over > 0);
}

TEST_CASE("shrink candidates are valid scenarios and each is smaller") {
  for (std::uint64_t seed = 1; seed <= 60; ++seed) {
    const Scenario s = random_scenario(seed, {});
    for (const auto& c : shrink_candidates(s)) {
      CAPTURE(c.what);
      const Scenario back = test_runs::parse_ok(scenario_to_json(c.scenario));
      CHECK(back.cluster.n <= s.cluster.n);
      CHECK(back.faults.size() <= s.faults.size());
      CHECK(back.workload.requests_per_client <= s.workload.requests_per_client);
      CHECK(scenario_to_json(c.scenario) != scenario_to_json(s));
    }
  }
}

TEST_CASE("fuzz regressions: every shrunk failing case passes, with its seed and two more" * doctest::test_suite("sweeps")) {
  // tests/data/fuzz_regressions/*.json: scenarios `pbftsim fuzz --shrink` produced for bugs
  // it found (each file's description says which). Their seed is the failing run's.
  const std::string dir = std::string(PBFTSIM_SOURCE_ROOT) + "/tests/data/fuzz_regressions";
  auto paths = expand_scenario_paths({dir});
  REQUIRE(std::holds_alternative<std::vector<std::string>>(paths));
  const auto& files = std::get<std::vector<std::string>>(paths);
  CHECK(files.size() >= 5);
  for (const auto& file : files) {
    auto loaded = load_scenario_file(file);
    REQUIRE(std::holds_alternative<Scenario>(loaded));
    const Scenario& s = std::get<Scenario>(loaded);
    CHECK(s.expect.safety == Expect::Holds);
    CHECK(s.expect.liveness == Expect::Holds);
    for (std::uint64_t seed = s.seed; seed < s.seed + 3; ++seed) {
      const auto r = run_scenario(s, {.seed = seed, .record_trace = false});
      CAPTURE(file);
      CAPTURE(seed);
      CHECK(r.outcome == "pass");
      CHECK(r.violations.empty());
    }
  }
}

TEST_CASE("a degenerate uniform latency (min == max) is a constant, not a Boost assertion") {
  // Found by `pbftsim fuzz`: {"dist": "uniform", "min": 0, "max": 0} aborted the process.
  sim::LatencyModel m{sim::LatencyModel::Dist::Uniform, 0, 5, 5, 0, 0, 0};
  sim::RngEngine rng = sim::make_stream(1, "latency");
  for (int i = 0; i < 10; ++i) CHECK(m.sample(rng) == sim::ms(5));
}

TEST_CASE("the generator draws the liars with authentic values, colluding faults and one-way links, within the memory limit") {
  std::set<FaultKind> liars;
  bool colluding = false, one_way = false, victims = false, bad_state_variant = false;
  for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
    const Scenario s = random_scenario(seed, {});
    CAPTURE(seed);
    CHECK(memory_problem(s).second.empty());
    for (const auto& f : s.faults) {
      switch (f.kind) {
        case FaultKind::BadCheckpoint:
        case FaultKind::BadReply:
        case FaultKind::SplitVotes:
          liars.insert(f.kind);
          colluding |= f.replicas.size() >= 2;
          break;
        case FaultKind::BadState: liars.insert(f.kind); bad_state_variant |= !f.variants.empty(); break;
        case FaultKind::DoublePrePrepare: liars.insert(f.kind); victims |= !f.to.empty(); break;
        case FaultKind::Delay:
        case FaultKind::Drop:
        case FaultKind::Partition: one_way |= !f.to.empty(); break;
        default: break;
      }
    }
  }
  CHECK(liars.size() == 5);
  CHECK(colluding);
  CHECK(one_way);
  CHECK(victims);
  CHECK(bad_state_variant);
}
