// A scenario: what one run does (cluster, network, workload, faults, limits, expectations).
// The JSON format is a public contract documented in docs/scenario-format.md.
#pragma once
#include <cstdint>
#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "faults/fault_spec.h"
#include "protocol/config.h"
#include "sim/network.h"
#include "sim/virtual_time.h"

namespace harness {

using protocol::ReplicaId;

// Fault specs live with the faults (faults/fault_spec.h); the harness names them as its own.
using faults::FaultKind;
using faults::FaultSpec;
using faults::fault_kind_is_faulty;
using faults::fault_kind_name;
using faults::kBadStateVariantNames;
using faults::kBadViewChangeVariantNames;
using faults::kFaultKindLast;

struct WorkloadSpec {
  std::uint32_t clients = 4;
  std::uint32_t requests_per_client = 100;
  std::uint32_t outstanding = 1;      // requests each client keeps in flight
  std::uint32_t keys = 16;            // key space per client
  double start_ms = 0.0;              // when clients begin
  double think_ms = 0.0;              // pause between a completion and the next request
};

enum class Expect : std::uint8_t { Holds, Violated, Any };
const char* expect_name(Expect e);

struct Expectation {
  Expect safety = Expect::Holds;
  Expect liveness = Expect::Holds;
};

struct Scenario {
  std::string name;
  std::string description;
  std::string source_path;  // the file it came from ("" when parsed from a string)
  std::uint64_t seed = 1;
  protocol::PbftConfig cluster;
  sim::NetworkConfig network;
  WorkloadSpec workload;
  std::vector<FaultSpec> faults;
  sim::TimeNs duration_ns = sim::seconds(60);
  // Liveness: every request must complete within this much virtual time after the last
  // fault ends (or after the start when there is no fault that ends).
  sim::DurationNs liveness_bound_ns = sim::seconds(30);
  std::uint64_t max_events = 50'000'000;  // event budget
  Expectation expect;
};

// What a run of the scenario holds in memory at its peak, estimated from its size (the model
// and its measured accuracy are in docs/scenario-format.md, "Resource limits"). Three terms
// dominate: every node's per-peer key state, (n + protocol clients)^2 entries; the
// PREPAREs and COMMITs every replica keeps for the sequence numbers in its window, whose
// authenticators grow with n under MACs (n^3 x window); the certificates inside the
// VIEW-CHANGEs and NEW-VIEWs of a view change (n^2 x window x quorum messages); and messages
// in flight.
struct MemoryEstimate {
  double key_bytes = 0;
  double log_bytes = 0;
  double in_flight_bytes = 0;
  double view_change_bytes = 0;  // the VIEW-CHANGEs and NEW-VIEWs of one view change
  double total_bytes = 0;  // the above and a fixed base
};
MemoryEstimate estimate_run_memory(const Scenario& scenario);
// Runs estimated above this are refused before they start (exit 2): the harness runs
// --jobs of them at a time on machines shared with other work, and such a run would take
// the machine's memory long before it printed anything.
inline constexpr double kRunMemoryBytesMax = 4.0 * (1ull << 30);
// "" when the scenario's estimate is within kRunMemoryBytesMax; else the JSON path of the
// field that weighs most and the message saying the estimate, the limit and which fields
// to lower. Checked by parse_scenario, and by explore for the sizes it derives.
std::pair<std::string, std::string> memory_problem(const Scenario& scenario);

// A problem with user input: where it is and what was expected.
struct ScenarioError {
  std::string file;       // path as given, or "<string>"
  std::string json_path;  // JSON pointer, e.g. "/faults/2/until_ms"; "" for syntax errors
  std::string message;    // "expected a number >= 0, got \"abc\""
  int line = 0;           // syntax errors: 1-based line and column, else 0
  int column = 0;
  std::string to_string() const;  // "file: /faults/2/until_ms: message"
};

using ScenarioResult = std::variant<Scenario, ScenarioError>;

// Parses and validates a scenario. Never throws; every problem is a ScenarioError.
ScenarioResult parse_scenario(std::string_view text, std::string_view file_name);
// The largest scenario file read: a bound so that "/dev/zero" or a runaway generator is an
// error, not an exhausted memory. The library's largest scenario is a few kilobytes.
inline constexpr std::size_t kScenarioFileBytesMax = std::size_t{16} << 20;
// Reads and parses a file: a directory, an unreadable file or one above the limit is an
// error too.
ScenarioResult load_scenario_file(const std::string& path);

// Expands a list of files and directories (directories: every *.json directly inside, in
// byte order of the name) into scenario file paths. Missing paths are errors, and so is a
// directory without any *.json in it: a run over nothing must not pass.
std::variant<std::vector<std::string>, ScenarioError> expand_scenario_paths(
    const std::vector<std::string>& paths);

}  // namespace harness
