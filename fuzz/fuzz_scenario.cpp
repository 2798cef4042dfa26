// libFuzzer target: arbitrary bytes as a scenario file.
//
// What must hold (harness/scenario.h, harness/scenario_writer.h): parse_scenario never
// crashes, asserts or throws; whatever it refuses comes back as an error with a message; and
// whatever it accepts, scenario_to_json writes back in a form that parses and validates
// again to the same scenario, field for field (every field the run reads, so `pbftsim fuzz`'s
// saved failures replay the run they came from), and that writes to the same text again.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "harness/scenario.h"
#include "harness/scenario_writer.h"

using namespace harness;

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_scenario: property broken: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// The first field that differs, or "" when a and b are equal. Doubles are compared exactly:
// the writer promises the very same values back.
std::string diff_latency(const sim::LatencyModel& a, const sim::LatencyModel& b) {
  if (a.dist != b.dist) return "dist";
  if (a.value_ms != b.value_ms) return "value_ms";
  if (a.min_ms != b.min_ms) return "min_ms";
  if (a.max_ms != b.max_ms) return "max_ms";
  if (a.mean_ms != b.mean_ms) return "mean_ms";
  if (a.median_ms != b.median_ms) return "median_ms";
  if (a.sigma != b.sigma) return "sigma";
  return "";
}

std::string diff_cluster(const protocol::PbftConfig& a, const protocol::PbftConfig& b) {
  if (a.n != b.n) return "n";
  if (a.f != b.f) return "f";
  if (a.auth != b.auth) return "auth";
  if (a.batch_size_max != b.batch_size_max) return "batch_size_max";
  if (a.batch_delay_ns != b.batch_delay_ns) return "batch_delay_ns";
  if (a.checkpoint_interval != b.checkpoint_interval) return "checkpoint_interval";
  if (a.log_window != b.log_window) return "log_window";
  if (a.view_change_timeout_ns != b.view_change_timeout_ns) return "view_change_timeout_ns";
  if (a.client_retry_timeout_ns != b.client_retry_timeout_ns) return "client_retry_timeout_ns";
  if (a.state_fetch_timeout_ns != b.state_fetch_timeout_ns) return "state_fetch_timeout_ns";
  if (a.early_buffer_max != b.early_buffer_max) return "early_buffer_max";
  if (a.request_queue_max != b.request_queue_max) return "request_queue_max";
  return "";
}

std::string diff_fault(const FaultSpec& a, const FaultSpec& b) {
  if (a.kind != b.kind) return "kind";
  if (a.replicas != b.replicas) return "replicas";
  if (a.replicas_is_primary != b.replicas_is_primary) return "replicas_is_primary";
  if (a.from_ns != b.from_ns) return "from_ns";
  if (a.until_ns != b.until_ns) return "until_ns";
  if (a.restart_ns != b.restart_ns) return "restart_ns";
  if (a.split != b.split) return "split";
  if (a.colluders != b.colluders) return "colluders";
  if (a.to != b.to) return "to";
  if (a.probability != b.probability) return "probability";
  if (a.rate_per_s != b.rate_per_s) return "rate_per_s";
  if (a.extra_ms != b.extra_ms) return "extra_ms";
  if (a.extra_latency.has_value() != b.extra_latency.has_value()) return "extra_latency";
  if (a.extra_latency) {
    const std::string d = diff_latency(*a.extra_latency, *b.extra_latency);
    if (!d.empty()) return "extra_latency." + d;
  }
  if (a.groups != b.groups) return "groups";
  if (a.factor != b.factor) return "factor";
  if (a.variants != b.variants) return "variants";
  if (a.json_path != b.json_path) return "json_path";
  return "";
}

std::string diff(const Scenario& a, const Scenario& b) {
  if (a.name != b.name) return "name";
  if (a.description != b.description) return "description";
  if (a.source_path != b.source_path) return "source_path";
  if (a.seed != b.seed) return "seed";
  if (std::string d = diff_cluster(a.cluster, b.cluster); !d.empty()) return "cluster." + d;
  if (std::string d = diff_latency(a.network.latency, b.network.latency); !d.empty()) return "network.latency." + d;
  if (a.network.drop_probability != b.network.drop_probability) return "network.drop_probability";
  if (a.network.duplicate_probability != b.network.duplicate_probability) return "network.duplicate_probability";
  const WorkloadSpec& wa = a.workload;
  const WorkloadSpec& wb = b.workload;
  if (wa.clients != wb.clients) return "workload.clients";
  if (wa.requests_per_client != wb.requests_per_client) return "workload.requests_per_client";
  if (wa.outstanding != wb.outstanding) return "workload.outstanding";
  if (wa.keys != wb.keys) return "workload.keys";
  if (wa.start_ms != wb.start_ms) return "workload.start_ms";
  if (wa.think_ms != wb.think_ms) return "workload.think_ms";
  if (a.faults.size() != b.faults.size()) return "faults (count)";
  for (std::size_t i = 0; i < a.faults.size(); ++i) {
    if (std::string d = diff_fault(a.faults[i], b.faults[i]); !d.empty()) return "faults/" + std::to_string(i) + "." + d;
  }
  if (a.duration_ns != b.duration_ns) return "duration_ns";
  if (a.liveness_bound_ns != b.liveness_bound_ns) return "liveness_bound_ns";
  if (a.max_events != b.max_events) return "max_events";
  if (a.expect.safety != b.expect.safety) return "expect.safety";
  if (a.expect.liveness != b.expect.liveness) return "expect.liveness";
  return "";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // One file name for both parses: source_path is compared with the rest.
  constexpr std::string_view kFile = "fuzz.json";
  const ScenarioResult first = parse_scenario(text, kFile);
  if (const auto* error = std::get_if<ScenarioError>(&first)) {
    if (error->message.empty()) broken("a refused scenario says why", error->to_string());
    if (error->file != kFile) broken("an error names the file", error->to_string());
    return 0;
  }
  const Scenario& scenario = std::get<Scenario>(first);
  const std::string written = scenario_to_json(scenario);
  const ScenarioResult second = parse_scenario(written, kFile);
  if (const auto* error = std::get_if<ScenarioError>(&second)) {
    broken("the writer's output parses and validates", error->to_string() + "\n" + written);
  }
  const Scenario& again = std::get<Scenario>(second);
  if (const std::string d = diff(scenario, again); !d.empty()) {
    broken("the written scenario parses to the same scenario", "first difference: " + d + "\n" + written);
  }
  if (scenario_to_json(again) != written) broken("writing is a fixed point", written);
  return 0;
}
