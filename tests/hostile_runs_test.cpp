// Scenarios at the edges of what the format allows, run whole: the largest timeouts on a
// clock skewed as slow as allowed, and the harness's resource limits (docs/scenario-format.md,
// "Resource limits").
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "tests/run_helpers.h"

using namespace harness;

TEST_CASE("the largest timeouts on the slowest skewed clock: timers that never fire, not an overflow") {
  // 10^12 ms timeouts on clocks 1000 times slow are 10^21 ns away: past any run. Computed in
  // 64-bit signed ns they overflowed (undefined; on x86 the timer fired 1 ns later, so view
  // changes and state fetches ran back to back). Under UBSan this run is also checked for
  // the signed overflow of now + delay.
  const Scenario s = test_runs::parse_ok(R"({
    "name": "saturating-timers",
    "cluster": {"n": 4, "view_change_timeout_ms": 1e12, "client_timeout_ms": 1e12, "state_fetch_timeout_ms": 1e12},
    "workload": {"clients": 2, "requests_per_client": 20},
    "faults": [{"kind": "timer_skew", "replicas": [0, 1, 2, 3], "factor": 0.001}],
    "duration_ms": 1e12
  })");
  const auto r = run_scenario(s, {.seed = 1, .record_trace = false});
  CHECK(r.outcome == "pass");
  CHECK(r.completed == 40);
  CHECK(r.stats.view_changes == 0);
  CHECK(r.stats.virtual_time_ns < sim::from_ms(1000));  // done long before any timer
}

TEST_CASE("a reject event in the trace names the rejected message: its hash and summary, as delivered") {
  const Scenario s = test_runs::parse_ok(R"({
    "name": "corrupting-backup",
    "cluster": {"n": 4},
    "workload": {"clients": 2, "requests_per_client": 10},
    "faults": [{"kind": "corrupt", "replicas": [3], "probability": 0.5}]
  })");
  const auto a = run_scenario(s, {.seed = 3, .record_trace = true});
  const auto b = run_scenario(s, {.seed = 3, .record_trace = true});
  const auto lines = test_runs::trace_lines(a);
  CHECK(lines == test_runs::trace_lines(b));  // the same bytes for the same run
  // Recording changes nothing in the run: the fingerprint is the one of a run without it.
  CHECK(run_scenario(s, {.seed = 3, .record_trace = false}).fingerprint == a.fingerprint);
  std::size_t rejects = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto reject = nlohmann::json::parse(lines[i]);
    if (reject["kind"] != "reject") continue;
    rejects++;
    // The step that rejected it began with its delivery, to the same replica.
    std::size_t d = i;
    while (d > 0 && nlohmann::json::parse(lines[d])["kind"] != "deliver") --d;
    const auto deliver = nlohmann::json::parse(lines[d]);
    CHECK(deliver["to"] == reject["to"]);
    CHECK(reject["hash"] == deliver["hash"]);
    CHECK(reject["hash"] != "0000000000000000");
    CHECK(reject["msg"] == deliver["msg"]);
    CHECK(!reject["reason"].get<std::string>().empty());  // the reason by name
    CHECK(reject["what"] != "");                          // and the kind of what it refused
  }
  CHECK(rejects > 0);
  CHECK(rejects == a.stats.messages_rejected);
}

TEST_CASE("resource limits: a scenario estimated beyond the memory limit is refused, naming the field") {
  auto refused = [](const std::string& json) {
    auto parsed = parse_scenario(json, "big.json");
    REQUIRE(std::holds_alternative<ScenarioError>(parsed));
    return std::get<ScenarioError>(parsed);
  };
  const auto big = refused(R"({"name": "big", "cluster": {"n": 1024}})");
  CHECK(big.json_path == "/cluster/n");
  CHECK(big.message.find("memory limit of 4.0 GiB, estimated") != std::string::npos);
  const auto crowd = refused(R"({"name": "crowd", "cluster": {"n": 4}, "workload": {"clients": 100000, "outstanding": 10}})");
  CHECK(crowd.json_path == "/workload/clients");
  CHECK(crowd.message.find("workload.outstanding") != std::string::npos);
  // The same cluster fits with a small window and no MACs: the estimate follows the fields.
  const Scenario small = test_runs::parse_ok(R"({"name": "wide", "cluster": {"n": 100, "auth": "none", "checkpoint_interval": 4, "log_window": 8}})");
  CHECK(estimate_run_memory(small).total_bytes <= kRunMemoryBytesMax);
  // The library's scenarios are far below it.
  const Scenario normal = test_runs::parse_ok(R"({"name": "normal", "cluster": {"n": 4}})");
  CHECK(estimate_run_memory(normal).total_bytes < 64.0 * (1 << 20));
  // Each term grows with what it models.
  Scenario more = normal;
  more.cluster.n = 40;
  more.cluster.f = 13;
  CHECK(estimate_run_memory(more).log_bytes > 100 * estimate_run_memory(normal).log_bytes);
  more = normal;
  more.workload.outstanding = 100;
  CHECK(estimate_run_memory(more).key_bytes > 1000 * estimate_run_memory(normal).key_bytes);
}

TEST_CASE("resource limits: a scenario file above 16 MiB, or a directory, is an error, not a read") {
  const auto dir = std::string(PBFTSIM_SOURCE_ROOT) + "/scenarios";
  auto loaded = load_scenario_file(dir);
  REQUIRE(std::holds_alternative<ScenarioError>(loaded));
  CHECK(std::get<ScenarioError>(loaded).message.find("is a directory") == 0);
  loaded = load_scenario_file("/dev/zero");
  REQUIRE(std::holds_alternative<ScenarioError>(loaded));
  CHECK(std::get<ScenarioError>(loaded).message == "file larger than the limit of 16 MiB for a scenario");
}
