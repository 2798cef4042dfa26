// What one run found: the input of every report writer (JSON, text, JUnit, HTML).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oracles/violation.h"
#include "sim/trace.h"

namespace harness {

// Violations are the oracles' (oracles/violation.h); the report carries them as they are.
using Violation = oracles::Violation;

struct LatencyPercentiles {
  std::int64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
};

struct RunStats {
  std::uint64_t events = 0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_delivered = 0;
  std::uint64_t messages_dropped = 0;
  std::uint64_t messages_rejected = 0;
  std::uint64_t view_changes = 0;
  std::uint64_t final_view = 0;
  std::uint64_t executed_seq = 0;        // highest seq executed by every correct replica
  std::uint64_t stable_checkpoint = 0;   // highest stable checkpoint among correct replicas
  std::int64_t virtual_time_ns = 0;
  LatencyPercentiles latency;
  std::map<std::string, std::uint64_t> sent_by_kind;        // "PREPARE" -> count
  std::map<std::string, std::uint64_t> sent_bytes_by_kind;  // "PREPARE" -> bytes (each copy counted)
  std::map<std::string, std::uint64_t> rejected_by_reason;  // "bad_auth" -> count
  std::uint64_t max_log_entries = 0;     // largest log any replica held after any step
  std::uint64_t state_transfers = 0;     // completed by correct replicas
};

// A point in a replica's life for the timeline: entered a view, a checkpoint became stable.
struct TimelineMark {
  std::int64_t time_ns = 0;
  std::uint32_t replica = 0;
  std::string kind;  // "view", "stable_checkpoint", "state_transfer", "crash", "restart"
  std::uint64_t value = 0;
};

struct FaultWindow {
  std::string kind;                  // "crash", "partition", ... (faults::fault_kind_name)
  std::string replicas;              // "1,2" or "primary"
  std::int64_t from_ns = 0;
  std::int64_t until_ns = 0;         // the end of the run when it does not end before
};

struct Completion {
  std::int64_t time_ns = 0;     // when the client accepted the result
  std::int64_t latency_ns = 0;  // since it first sent the request
};

struct RunReport {
  std::string scenario;         // name
  std::string scenario_path;    // file
  std::uint64_t seed = 0;
  std::string fingerprint;      // 16 hex digits
  std::string outcome;          // "pass" | "fail" | "error"
  std::string harness_error;    // non-empty when the run threw or blew its event budget
  std::string stop_reason;      // "completed", "time_limit", "event_budget"
  std::uint32_t n = 0, f = 0, clients = 0;
  std::vector<std::uint32_t> faulty_replicas;
  std::string expect_safety, expect_liveness;  // "holds" | "violated" | "any"
  bool safety_holds = true;
  std::vector<Violation> violations;            // safety violations
  bool liveness_holds = true;
  std::uint64_t submitted = 0, completed = 0;
  std::string liveness_detail;
  RunStats stats;
  std::vector<TimelineMark> timeline;
  std::vector<Completion> completions;
  // Every event, when the trace was recorded (--trace, --perfetto, --html); the writers in
  // reports/ serialise it.
  std::vector<sim::TraceRecord> trace;
  // The scenario's faults as they ran: for the fault windows of the HTML page and the
  // Perfetto trace (not in the JSON report: the scenario file has them).
  std::vector<FaultWindow> faults;
  // Final state digest (12 hex digits) and last executed seq of each correct, running replica.
  std::map<std::uint32_t, std::string> replica_digests;
  std::map<std::uint32_t, std::uint64_t> replica_executed;
  std::string replay_command;            // "pbftsim run FILE --seed N"
};

}  // namespace harness
