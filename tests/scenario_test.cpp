// Scenario parsing: defaults, and one bad file per rejected case (tests/data/bad_scenarios),
// each checked for the JSON path and a key phrase of the message.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>
#include <variant>

#include "harness/scenario.h"
#include "harness/scenario_writer.h"

using namespace harness;

namespace {

const std::string kRoot = PBFTSIM_SOURCE_ROOT;

ScenarioError error_of(const std::string& file) {
  auto r = load_scenario_file(kRoot + "/tests/data/bad_scenarios/" + file);
  REQUIRE(std::holds_alternative<ScenarioError>(r));
  return std::get<ScenarioError>(r);
}

Scenario parse_ok(const std::string& text) {
  auto r = parse_scenario(text, "t.json");
  if (auto* e = std::get_if<ScenarioError>(&r)) FAIL(e->to_string());
  return std::get<Scenario>(r);
}

}  // namespace

TEST_CASE("each bad scenario is rejected with its JSON path and what was expected") {
  struct Case { const char* file; const char* path; const char* phrase; };
  const Case cases[] = {
      {"bad_auth.json", "/cluster/auth", "expected one of: mac, signature, none"},
      {"unknown_bad_view_change_variant.json", "/faults/0/variants/1", "unknown variant \"swap_digest\""},
      {"bad_expect.json", "/expect/safety", "holds, violated, any"},
      {"censor_client_out_of_range.json", "/faults/0/clients/1", "workload client 3 does not exist"},
      {"censor_without_clients.json", "/faults/0/clients", "missing required field"},
      {"duplicate_replica.json", "/faults/0/replicas/1", "listed twice"},
      {"latency_min_above_max.json", "/network/latency_ms/max", "max >= min"},
      {"log_window_not_multiple.json", "/cluster/log_window", "multiple of checkpoint_interval"},
      {"missing_n.json", "/cluster/n", "missing required field"},
      {"missing_name.json", "/name", "missing required field"},
      {"n_lt_3f_plus_1.json", "/cluster/f", "n >= 3f+1 = 4"},
      {"n_zero.json", "/cluster/n", "between 1 and"},
      {"negative_probability.json", "/faults/0/probability", "between 0 and 1"},
      {"negative_time.json", "/faults/0/from_ms", "between 0 and"},
      {"non_integer_n.json", "/cluster/n", "expected an integer"},
      {"not_an_object.json", "/", "JSON object"},
      {"overlapping_partition.json", "/faults/0/groups/1/0", "more than one group"},
      {"primary_typo.json", "/faults/0/replicas", "\"primary\""},
      {"probability_above_one.json", "/network/drop", "between 0 and 1"},
      {"replica_id_out_of_range.json", "/faults/0/replicas/0", "does not exist"},
      {"unknown_distribution.json", "/network/latency_ms/dist", "constant, uniform, exponential, lognormal"},
      {"unknown_fault_kind.json", "/faults/0/kind", "unknown fault kind"},
      {"unknown_field.json", "/cluster/batchsize", "unknown field"},
      {"unknown_top_level_field.json", "/colour", "unknown field"},
      {"until_before_from.json", "/faults/0/until_ms", ">= from_ms"},
      {"withhold_without_to.json", "/faults/0/to", "missing required field"},
      {"wrong_type_n.json", "/cluster/n", "expected an integer, got \"four\""},
      {"zero_clients.json", "/workload/clients", "between 1 and"},
      {"zero_duration.json", "/duration_ms", "between"},
      {"field_of_another_kind.json", "/faults/0/groups", "unknown field for a silence fault"},
      {"partition_with_replicas.json", "/faults/0/replicas", "unknown field for a partition fault"},
      {"duplicate_key.json", "/faults/0/from_ms", "duplicate key"},
      {"missing_fault_kind.json", "/faults/0/kind", "missing required field"},
      {"missing_replicas.json", "/faults/0/replicas", "missing required field"},
      {"missing_cluster.json", "/cluster", "missing required field"},
      {"faults_not_array.json", "/faults", "expected an array of faults"},
      {"wrong_type_from_ms.json", "/faults/0/from_ms", "expected a number, got \"10\""},
      {"restart_before_crash.json", "/faults/0/restart_ms", ">= from_ms"},
      {"colluder_out_of_range.json", "/faults/0/colluders/0", "does not exist"},
      {"overlapping_split.json", "/faults/0/split/1/0", "more than one group"},
      {"duplicate_probability_above_one.json", "/network/duplicate", "between 0 and 1"},
      {"drop_fault_probability_above_one.json", "/faults/0/probability", "between 0 and 1"},
      {"n_negative.json", "/cluster/n", "expected an integer >= 1"},
      {"delay_without_amount.json", "/faults/0", "exactly one of \"extra_ms\""},
      {"replicas_empty.json", "/faults/0/replicas", "at least one replica id"},
      {"one_way_to_empty.json", "/faults/0/to", "leave \"to\" out for every receiver"},
      {"one_way_to_out_of_range.json", "/faults/0/to/0", "replica id 9 does not exist"},
      {"unknown_bad_state_variant.json", "/faults/0/variants/1", "unknown variant \"zeros\"; expected one of: garbage, stale"},
      {"split_votes_with_to.json", "/faults/0/to", "unknown field for a split_votes fault"},
      {"double_preprepare_victim_twice.json", "/faults/0/to/1", "listed twice"},
      {"bad_reply_with_variants.json", "/faults/0/variants", "unknown field for a bad_reply fault"},
  };
  std::set<std::string> covered{"syntax_error.json", "syntax_error_late.json", "empty_file.json"};
  for (const auto& c : cases) {
    CAPTURE(c.file);
    const ScenarioError e = error_of(c.file);
    CHECK(e.json_path == c.path);
    CHECK(e.message.find(c.phrase) != std::string::npos);
    CHECK(e.to_string().find(c.file) != std::string::npos);  // names the file
    CHECK(e.to_string().find(c.path) != std::string::npos);  // and the JSON path
    covered.insert(c.file);
  }
  // Every file in the folder is checked here (tests/cli checks the exit code of each).
  for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/tests/data/bad_scenarios")) {
    CAPTURE(entry.path().filename().string());
    CHECK(covered.count(entry.path().filename().string()) == 1);
  }
}

TEST_CASE("a number too large for a double is refused as an error, not thrown") {
  // The JSON reader reports this overflow as out_of_range, not as a parse error.
  const auto r = parse_scenario(R"({"name": "x", "cluster": {"n": 4}, "duration_ms": 1e400})", "big.json");
  REQUIRE(std::holds_alternative<ScenarioError>(r));
  const ScenarioError& e = std::get<ScenarioError>(r);
  CHECK(e.file == "big.json");
  CHECK(e.message.find("number overflow") != std::string::npos);
  CHECK(e.message.find("1e400") != std::string::npos);
}

TEST_CASE("a syntax error names the line and column") {
  const ScenarioError e = error_of("syntax_error.json");
  CHECK(e.line == 3);
  CHECK(e.column > 1);
  CHECK(e.message.find("syntax error") != std::string::npos);
  CHECK(e.to_string().find("syntax_error.json:3:") != std::string::npos);
}

TEST_CASE("syntax errors anywhere, and an empty file, name their line and column") {
  const ScenarioError late = error_of("syntax_error_late.json");
  CHECK(late.line == 5);
  CHECK(late.column == 41);
  const ScenarioError empty = error_of("empty_file.json");
  CHECK(empty.line == 1);
  CHECK(empty.message.find("unexpected end of input") != std::string::npos);
}

TEST_CASE("a repeated key is found at any depth, with its JSON pointer") {
  auto err = [](const std::string& text) {
    auto r = parse_scenario(text, "t.json");
    REQUIRE(std::holds_alternative<ScenarioError>(r));
    return std::get<ScenarioError>(r);
  };
  CHECK(err(R"({"name": "a", "name": "b", "cluster": {"n": 4}})").json_path == "/name");
  CHECK(err(R"({"name": "a", "cluster": {"n": 4, "f": 1, "n": 7}})").json_path == "/cluster/n");
  CHECK(err(R"({"name": "a", "cluster": {"n": 4}, "faults": [{"kind": "silence", "replicas": [1]},
              {"kind": "drop", "replicas": [[0], 1], "probability": 0.1, "probability": 0.2}]})")
            .json_path == "/faults/1/probability");
  // Equal keys in different objects are fine.
  CHECK(std::holds_alternative<Scenario>(parse_scenario(
      R"({"name": "a", "cluster": {"n": 4}, "faults": [{"kind": "silence", "replicas": [1]},
         {"kind": "silence", "replicas": [2]}]})", "t.json")));
}

TEST_CASE("unknown keys are named as JSON pointers (~ and / escaped)") {
  auto r = parse_scenario(R"({"name": "a", "cluster": {"n": 4}, "a/b~c": 1})", "t.json");
  REQUIRE(std::holds_alternative<ScenarioError>(r));
  CHECK(std::get<ScenarioError>(r).json_path == "/a~1b~0c");
}

TEST_CASE("log_window defaults to a multiple of checkpoint_interval of at least 128 and 2K") {
  CHECK(parse_ok(R"({"name": "x", "cluster": {"n": 4}})").cluster.log_window == 128);
  CHECK(parse_ok(R"({"name": "x", "cluster": {"n": 4, "checkpoint_interval": 48}})").cluster.log_window == 144);
  CHECK(parse_ok(R"({"name": "x", "cluster": {"n": 4, "checkpoint_interval": 100}})").cluster.log_window == 200);
  CHECK(parse_ok(R"({"name": "x", "cluster": {"n": 4, "checkpoint_interval": 8}})").cluster.log_window == 128);
}

TEST_CASE("a missing file is an error, not a crash") {
  auto r = load_scenario_file("/nonexistent/x.json");
  REQUIRE(std::holds_alternative<ScenarioError>(r));
  CHECK(std::get<ScenarioError>(r).message.find("cannot read file") != std::string::npos);
}

TEST_CASE("defaults: f = floor((n-1)/3), constant 1 ms latency, expectations hold") {
  const Scenario s = parse_ok(R"({"name": "x", "cluster": {"n": 7}})");
  CHECK(s.cluster.f == 2);
  CHECK(s.cluster.auth == protocol::AuthMode::Mac);
  CHECK(s.seed == 1);
  CHECK(s.network.latency.dist == sim::LatencyModel::Dist::Constant);
  CHECK(s.network.latency.value_ms == 1.0);
  CHECK(s.workload.outstanding == 1);
  CHECK(s.duration_ns == sim::seconds(60));
  CHECK(s.expect.safety == Expect::Holds);
  CHECK(s.expect.liveness == Expect::Holds);
  CHECK(parse_ok(R"({"name": "x", "cluster": {"n": 6, "f": 1}})").cluster.quorum() == 4);
}

TEST_CASE("faults: \"primary\", crash restart, network faults, times in ms become ns") {
  const Scenario s = parse_ok(R"({"name": "x", "cluster": {"n": 4}, "faults": [
      {"kind": "silence", "replicas": "primary", "from_ms": 1.5},
      {"kind": "crash", "replicas": [2], "from_ms": 100, "restart_ms": 200},
      {"kind": "partition", "groups": [[0, 1], [2, 3]], "until_ms": 50},
      {"kind": "delay", "replicas": [0], "latency_ms": {"dist": "exponential", "mean": 3}},
      {"kind": "equivocate", "replicas": [0], "colluders": [1], "split": [[2], [3]]}]})");
  REQUIRE(s.faults.size() == 5);
  CHECK(s.faults[0].replicas_is_primary);
  CHECK(s.faults[0].from_ns == 1'500'000);
  CHECK(s.faults[1].restart_ns == sim::ms(200));
  CHECK(s.faults[2].groups.size() == 2);
  CHECK(s.faults[2].until_ns == sim::ms(50));
  CHECK(s.faults[3].extra_latency.has_value());
  CHECK(s.faults[4].colluders == std::vector<ReplicaId>{1});
  CHECK(fault_kind_is_faulty(FaultKind::Equivocate));
  CHECK_FALSE(fault_kind_is_faulty(FaultKind::Partition));
  CHECK(s.faults[4].json_path == "/faults/4");
}

TEST_CASE("every bundled scenario parses") {
  auto files = expand_scenario_paths({kRoot + "/scenarios"});
  REQUIRE(std::holds_alternative<std::vector<std::string>>(files));
  const auto& list = std::get<std::vector<std::string>>(files);
  CHECK(list.size() >= 20);
  for (const auto& f : list) {
    CAPTURE(f);
    CHECK(std::holds_alternative<Scenario>(load_scenario_file(f)));
  }
}

TEST_CASE("bad_view_change variants: parsed, checked, written back") {
  const Scenario s = parse_ok(R"({"name": "v", "cluster": {"n": 4},
      "faults": [{"kind": "bad_view_change", "replicas": [1], "variants": ["swap_batch", "short_v"]},
                 {"kind": "bad_view_change", "replicas": [2]}]})");
  REQUIRE(s.faults.size() == 2);
  CHECK(s.faults[0].variants == std::vector<std::string>{"swap_batch", "short_v"});
  CHECK(s.faults[1].variants.empty());  // every variant
  for (const char* bad : {R"("variants": [])", R"("variants": "short_v")", R"("variants": ["short_v", "short_v"])",
                          R"("variants": [3])"}) {
    CAPTURE(bad);
    auto r = parse_scenario(std::string(R"({"name": "v", "cluster": {"n": 4}, "faults": [{"kind": "bad_view_change", "replicas": [1], )") +
                                bad + "}]}",
                            "t.json");
    REQUIRE(std::holds_alternative<ScenarioError>(r));
    CHECK(std::get<ScenarioError>(r).json_path.rfind("/faults/0/variants", 0) == 0);
  }
  auto r = parse_scenario(R"({"name": "v", "cluster": {"n": 4}, "faults": [{"kind": "silence", "replicas": [1], "variants": ["short_v"]}]})",
                          "t.json");
  CHECK(std::holds_alternative<ScenarioError>(r));  // only bad_view_change takes variants
}

TEST_CASE("the liars with authentic values: kinds, fields, faulty, written back") {
  const Scenario s = parse_ok(R"({"name": "liars", "cluster": {"n": 7}, "faults": [
      {"kind": "bad_checkpoint", "replicas": [5, 6]},
      {"kind": "bad_state", "replicas": [4], "variants": ["stale"]},
      {"kind": "bad_state", "replicas": [4], "from_ms": 10, "until_ms": 20},
      {"kind": "bad_reply", "replicas": "primary"},
      {"kind": "double_preprepare", "replicas": [0], "to": [2, 3]},
      {"kind": "double_preprepare", "replicas": [0]},
      {"kind": "split_votes", "replicas": [5, 6]}]})");
  REQUIRE(s.faults.size() == 7);
  const FaultKind kinds[] = {FaultKind::BadCheckpoint, FaultKind::BadState, FaultKind::BadState, FaultKind::BadReply,
                             FaultKind::DoublePrePrepare, FaultKind::DoublePrePrepare, FaultKind::SplitVotes};
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    CAPTURE(i);
    CHECK(s.faults[i].kind == kinds[i]);
    CHECK(fault_kind_is_faulty(kinds[i]));  // Byzantine: their replicas join the faulty set
  }
  CHECK(s.faults[0].replicas == std::vector<ReplicaId>{5, 6});
  CHECK(s.faults[1].variants == std::vector<std::string>{"stale"});
  CHECK(s.faults[2].variants.empty());  // every variant
  CHECK(s.faults[3].replicas_is_primary);
  CHECK(s.faults[4].to == std::vector<ReplicaId>{2, 3});
  CHECK(s.faults[5].to.empty());  // each backup in turn
  // Written back as read: the JSON the writer makes parses to the same faults.
  const std::string json = scenario_to_json(s);
  const Scenario back = parse_ok(json);
  CHECK(scenario_to_json(back) == json);
  REQUIRE(back.faults.size() == s.faults.size());
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    CAPTURE(i);
    CHECK(back.faults[i].kind == s.faults[i].kind);
    CHECK(back.faults[i].replicas == s.faults[i].replicas);
    CHECK(back.faults[i].variants == s.faults[i].variants);
    CHECK(back.faults[i].to == s.faults[i].to);
    CHECK(back.faults[i].until_ns == s.faults[i].until_ns);
  }
  CHECK(json.find("\"kind\": \"split_votes\"") != std::string::npos);
  // An unknown kind is refused with the list of every kind, the new ones included.
  auto r = parse_scenario(R"({"name": "x", "cluster": {"n": 4}, "faults": [{"kind": "bad_vote", "replicas": [1]}]})", "t.json");
  REQUIRE(std::holds_alternative<ScenarioError>(r));
  const ScenarioError& e = std::get<ScenarioError>(r);
  CHECK(e.json_path == "/faults/0/kind");
  for (const char* name : {"bad_checkpoint", "bad_state", "bad_reply", "double_preprepare", "split_votes", "censor"}) {
    CAPTURE(name);
    CHECK(e.message.find(name) != std::string::npos);
  }
}

TEST_CASE("one-way link faults: \"to\" on delay, drop and partition, optional, written back only when given") {
  const Scenario s = parse_ok(R"({"name": "one-way", "cluster": {"n": 4}, "faults": [
      {"kind": "delay", "replicas": [1], "to": [2], "extra_ms": 5, "until_ms": 100},
      {"kind": "drop", "replicas": [3], "to": [0, 1], "probability": 0.5, "until_ms": 100},
      {"kind": "partition", "groups": [[0]], "to": [0], "until_ms": 100},
      {"kind": "drop", "replicas": [3], "probability": 0.5, "until_ms": 100}]})");
  REQUIRE(s.faults.size() == 4);
  CHECK(s.faults[0].to == std::vector<ReplicaId>{2});
  CHECK(s.faults[1].to == std::vector<ReplicaId>{0, 1});
  CHECK(s.faults[2].to == std::vector<ReplicaId>{0});
  CHECK(s.faults[3].to.empty());
  CHECK_FALSE(fault_kind_is_faulty(s.faults[2].kind));  // a one-way link leaves replicas correct
  const std::string json = scenario_to_json(s);
  const Scenario back = parse_ok(json);
  for (std::size_t i = 0; i < s.faults.size(); ++i) CHECK(back.faults[i].to == s.faults[i].to);
  CHECK(scenario_to_json(back) == json);
  // Absent "to" stays absent: three faults have it, the fourth does not.
  std::size_t written = 0;
  for (auto at = json.find("\"to\""); at != std::string::npos; at = json.find("\"to\"", at + 1)) written++;
  CHECK(written == 3);
  // Other kinds refuse it (withhold requires its own, which may be empty).
  for (const char* kind : {"corrupt", "timer_skew", "bad_checkpoint", "split_votes"}) {
    CAPTURE(kind);
    auto r = parse_scenario(std::string(R"({"name": "x", "cluster": {"n": 4}, "faults": [{"kind": ")") + kind +
                                R"(", "replicas": [1], "to": [2]}]})",
                            "t.json");
    REQUIRE(std::holds_alternative<ScenarioError>(r));
    CHECK(std::get<ScenarioError>(r).json_path == "/faults/0/to");
  }
  CHECK(std::holds_alternative<Scenario>(
      parse_scenario(R"({"name": "x", "cluster": {"n": 4}, "faults": [{"kind": "withhold", "replicas": [1], "to": []}]})", "t.json")));
}
