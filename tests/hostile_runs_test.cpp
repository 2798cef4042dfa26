// Scenarios at the edges of what the format allows, run whole: the largest timeouts on a
// clock skewed as slow as allowed, and the harness's resource limits (docs/scenario-format.md,
// "Resource limits").
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "harness/scenario.h"
#include "harness/world.h"

using namespace harness;

namespace {

Scenario parse_ok(const std::string& json) {
  auto parsed = parse_scenario(json, "hostile.json");
  if (auto* err = std::get_if<ScenarioError>(&parsed)) FAIL(err->to_string());
  return std::get<Scenario>(parsed);
}

}  // namespace

TEST_CASE("the largest timeouts on the slowest skewed clock: timers that never fire, not an overflow") {
  // 10^12 ms timeouts on clocks 1000 times slow are 10^21 ns away: past any run. Computed in
  // 64-bit signed ns they overflowed (undefined; on x86 the timer fired 1 ns later, so view
  // changes and state fetches ran back to back). Under UBSan this run is also checked for
  // the signed overflow of now + delay.
  const Scenario s = parse_ok(R"({
    "name": "saturating-timers",
    "cluster": {"n": 4, "view_change_timeout_ms": 1e12, "client_timeout_ms": 1e12, "state_fetch_timeout_ms": 1e12},
    "workload": {"clients": 2, "requests_per_client": 20},
    "faults": [{"kind": "timer_skew", "replicas": [0, 1, 2, 3], "factor": 0.001}],
    "duration_ms": 1e12
  })");
  const auto r = run_scenario(s, {1, false, nullptr});
  CHECK(r.outcome == "pass");
  CHECK(r.completed == 40);
  CHECK(r.stats.view_changes == 0);
  CHECK(r.stats.virtual_time_ns < sim::from_ms(1000));  // done long before any timer
}

TEST_CASE("a reject event in the trace names the rejected message: its hash and summary, as delivered") {
  const Scenario s = parse_ok(R"({
    "name": "corrupting-backup",
    "cluster": {"n": 4},
    "workload": {"clients": 2, "requests_per_client": 10},
    "faults": [{"kind": "corrupt", "replicas": [3], "probability": 0.5}]
  })");
  const auto a = run_scenario(s, {3, true, nullptr});
  const auto b = run_scenario(s, {3, true, nullptr});
  CHECK(a.trace_lines == b.trace_lines);  // the same bytes for the same run
  // Recording changes nothing in the run: the fingerprint is the one of a run without it.
  CHECK(run_scenario(s, {3, false, nullptr}).fingerprint == a.fingerprint);
  std::size_t rejects = 0;
  for (std::size_t i = 0; i < a.trace_lines.size(); ++i) {
    const auto reject = nlohmann::json::parse(a.trace_lines[i]);
    if (reject["kind"] != "reject") continue;
    rejects++;
    // The step that rejected it began with its delivery, to the same replica.
    std::size_t d = i;
    while (d > 0 && nlohmann::json::parse(a.trace_lines[d])["kind"] != "deliver") --d;
    const auto deliver = nlohmann::json::parse(a.trace_lines[d]);
    CHECK(deliver["to"] == reject["to"]);
    CHECK(reject["hash"] == deliver["hash"]);
    CHECK(reject["hash"] != "0000000000000000");
    CHECK(reject["msg"] == deliver["msg"]);
  }
  CHECK(rejects > 0);
  CHECK(rejects == a.stats.messages_rejected);
}
