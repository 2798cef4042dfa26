// Reports of real runs: the trace and the JSON report are the same bytes for the same seed;
// a violation by f+1 colluding equivocators is reported with everything the contract asks
// (invariant, virtual time, replicas, sequence number, both values, the faulty replicas
// that signed conflicting messages), in JSON, text and HTML alike.
#include <doctest/doctest.h>

#include <string>
#include <variant>

#include <nlohmann/json.hpp>

#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "tests/run_helpers.h"
#include "reports/writers.h"

using namespace harness;
using test_runs::from_library;

TEST_CASE("the same seed gives the same trace and report, byte for byte; another seed does not") {
  const Scenario s = from_library("lossy-network");
  const auto a = run_scenario(s, {.seed = 3, .record_trace = true});
  const auto b = run_scenario(s, {.seed = 3, .record_trace = true});
  const auto c = run_scenario(s, {.seed = 4, .record_trace = true});
  REQUIRE(a.trace.size() > 1000);
  CHECK(reports::trace_jsonl(a) == reports::trace_jsonl(b));
  CHECK(reports::to_json(a) == reports::to_json(b));
  CHECK(reports::to_html(a) == reports::to_html(b));
  CHECK(reports::trace_jsonl(a) != reports::trace_jsonl(c));
  CHECK(reports::perfetto_json(a) == reports::perfetto_json(b));
  CHECK(a.fingerprint != c.fingerprint);
  // Recording the trace does not change the run.
  CHECK(run_scenario(s, {.seed = 3, .record_trace = false}).fingerprint == a.fingerprint);
}

TEST_CASE("every trace line is one JSON object with time, kind, from, to and a message summary") {
  const auto r = run_scenario(from_library("normal-n4"), {.seed = 1, .record_trace = true});
  std::int64_t last_t = 0;
  std::size_t with_summary = 0;
  const auto lines = test_runs::trace_lines(r);
  for (const auto& line : lines) {
    const auto j = nlohmann::json::parse(line);
    REQUIRE(j.is_object());
    CHECK(j.at("t").get<std::int64_t>() >= last_t);  // in virtual-time order
    last_t = j.at("t").get<std::int64_t>();
    CHECK(j.contains("kind"));
    CHECK(j.contains("from"));
    CHECK(j.contains("to"));
    with_summary += j.contains("msg");
    CHECK(!j.at("summary").get<std::string>().empty());  // every event says what it is
  }
  CHECK(with_summary > lines.size() / 2);
  CHECK(lines.size() == r.stats.events);
}

TEST_CASE("an f+1 equivocation is reported with invariant, time, replicas, seq, values and culprits") {
  const auto r = run_scenario(from_library("colluding-equivocation-f-plus-1"), {.seed = 1, .record_trace = true});
  REQUIRE_FALSE(r.safety_holds);
  const auto j = nlohmann::json::parse(reports::to_json(r));
  const auto& v = j["safety"]["violations"][0];
  CHECK(v["invariant"] == "agreement");
  CHECK(v["time_ns"].get<std::int64_t>() > 0);
  CHECK(v["time_ns"].get<std::int64_t>() <= j["stats"]["virtual_time_ns"].get<std::int64_t>());
  CHECK(v["replicas"].size() == 2);
  for (const auto& id : v["replicas"]) CHECK(id.get<int>() >= 2);  // correct replicas only
  CHECK(v["seq"].get<std::uint64_t>() >= 1);
  REQUIRE(v["values"].size() == 2);
  CHECK(v["values"][0] != v["values"][1]);
  CHECK(v["culprits"] == nlohmann::json::array({0, 1}));
  CHECK(j["faulty_replicas"] == nlohmann::json::array({0, 1}));
  CHECK(j["outcome"] == "pass");  // the scenario expects the violation
  const std::string text = reports::to_text(r);
  CHECK(text.find("signed by faulty replicas 0,1") != std::string::npos);
  CHECK(reports::to_html(r).find("signed by faulty replicas 0,1") != std::string::npos);
  CHECK(text.find("replay: ") != std::string::npos);
}

TEST_CASE("a run that exceeds its event budget is a harness error, not a verdict") {
  Scenario s = from_library("normal-n4");
  s.max_events = 500;
  const auto r = run_scenario(s, {.seed = 1, .record_trace = false});
  CHECK(r.outcome == "error");
  CHECK(r.stop_reason == "event_budget");
  CHECK(r.harness_error.find("event budget of 500") != std::string::npos);
  CHECK(r.stats.events >= 500);  // the budget is checked between host events, each of
  CHECK(r.stats.events < 520);   // which records a few trace events
}
