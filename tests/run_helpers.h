// Helpers shared by the tests that drive whole simulated runs (runs_test, fault_runs_test,
// oracle_runs_test, report_runs_test): a scenario from the library, a fault spec, one run.
#pragma once
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "reports/trace_writers.h"

namespace test_runs {

// scenarios/NAME.json, which must parse.
inline harness::Scenario from_library(const std::string& name) {
  auto r = harness::load_scenario_file(std::string(PBFTSIM_SOURCE_ROOT) + "/scenarios/" + name + ".json");
  REQUIRE(std::holds_alternative<harness::Scenario>(r));
  return std::get<harness::Scenario>(r);
}

// A fault of `kind` on `replicas` from `from_ms` to the end of the run.
inline harness::FaultSpec fault(harness::FaultKind kind, std::vector<harness::ReplicaId> replicas, double from_ms = 0) {
  harness::FaultSpec f;
  f.kind = kind;
  f.replicas = std::move(replicas);
  f.from_ns = sim::from_ms(from_ms);
  return f;
}

// The scenario in `json`, which must parse (`file` names it in the error).
inline harness::Scenario parse_ok(const std::string& json, const std::string& file = "generated.json") {
  auto parsed = harness::parse_scenario(json, file);
  if (auto* err = std::get_if<harness::ScenarioError>(&parsed)) FAIL_CHECK(err->to_string());
  REQUIRE(std::holds_alternative<harness::Scenario>(parsed));
  return std::get<harness::Scenario>(parsed);
}

// The recorded trace's events as `--trace` writes them, one JSON line each (no header).
inline std::vector<std::string> trace_lines(const harness::RunReport& r) {
  std::vector<std::string> out;
  const std::string text = reports::trace_jsonl(r);
  std::size_t at = text.find('\n') + 1;  // past the header
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// One run with `seed`, no trace kept.
inline harness::RunReport run_report(const harness::Scenario& s, std::uint64_t seed = 1) {
  return harness::run_scenario(s, {.seed = seed, .record_trace = false});
}

}  // namespace test_runs
