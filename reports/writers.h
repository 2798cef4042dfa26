// Report writers: the JSON report (a public contract), the terminal summary, JUnit XML for
// suites, exploration tables, self-contained HTML pages, and whole-or-nothing file writes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/run_report.h"

namespace reports {

// The report is the scenario runner's (harness/run_report.h); the writers render it.
using harness::Completion;
using harness::RunReport;
using harness::RunStats;
using harness::TimelineMark;
using harness::Violation;

std::string to_json(const RunReport& report);
// The report back from to_json()'s text, for a run made in another process: every field
// to_json() writes (not the completions nor the trace lines, which it does not). Throws
// nlohmann::json::exception on text to_json() did not write.
RunReport from_json(const std::string& text);
// The readable summary; its last line is "replay: <command>".
std::string to_text(const RunReport& report);
// One self-contained page: verdicts, a message sequence diagram (SVG), a timeline of views
// and checkpoints, latency and throughput plots. No external resources.
std::string to_html(const RunReport& report);

struct SuiteEntry {
  RunReport report;
  double wall_seconds = 0;
  // Written for a failed run when asked (`suite --traces DIR`): its Perfetto trace and HTML
  // page, printed next to its replay line.
  std::string perfetto_path, html_path;
};
std::string to_junit(const std::string& suite_name, const std::vector<SuiteEntry>& entries);
std::string suite_to_json(const std::vector<SuiteEntry>& entries);
// A fixed-width table, one replay line per failed run, and a totals line.
std::string suite_table(const std::vector<SuiteEntry>& entries);

struct ExploreCell {
  std::uint32_t n = 0, f = 0, byzantine = 0;
  std::uint32_t runs = 0, safety_held = 0, liveness_held = 0, errors = 0;  // errors: harness errors
  std::uint64_t requests_submitted = 0, requests_completed = 0;           // over runs without error
  // Seeds of the runs that broke a promise: safety anywhere, liveness up to f, harness errors.
  std::vector<std::uint64_t> failing_seeds;
  // The same runs: what broke and the command that replays each alone (for the HTML page).
  struct Failure {
    std::uint64_t seed = 0;
    std::string what;    // "safety violated (agreement)"
    std::string replay;  // "pbftsim run ... --seed 7"
  };
  std::vector<Failure> failures;
  std::uint64_t first_seed = 0;  // the cell's seeds: first_seed .. first_seed + runs - 1
  // PBFT promises liveness only while at most f replicas are faulty.
  bool liveness_required() const { return byzantine <= f; }
};
// Rows by n, columns by the number of Byzantine replicas. Each cell: the share of runs where
// safety held / where liveness held; beyond f, liveness is "n/a" (not promised) and the
// share of requests that completed is shown instead.
std::string explore_table(const std::vector<ExploreCell>& cells);
std::string explore_to_json(const std::string& scenario_name, const std::string& behaviour,
                            const std::vector<ExploreCell>& cells);
// A heatmap of the same table (one self-contained page).
std::string explore_to_html(const std::string& scenario_name, const std::string& behaviour,
                            const std::vector<ExploreCell>& cells);

// Writes `content` to `path` whole or not at all. A new path or a regular file: a temporary
// file beside it, renamed over it (readers see the old content or the new, never half). A
// symbolic link, a device or a FIFO is written through, never replaced: `--html /dev/stdout`
// prints, `--report /dev/full` fails. Returns "" or "cannot write <path>: <reason>".
std::string write_output(const std::string& path, const std::string& content);
// Whether write_output(path, ...) can work, checked before a run so that a typo in an
// output path does not cost the run: "" (also for an empty path, which means no output) or
// "cannot write <path>: <reason>" (a missing directory, a directory, no permission).
std::string check_output_path(const std::string& path);

// Escapes text for HTML/XML (also drops characters XML 1.0 does not allow).
std::string xml_escape(const std::string& text);

}  // namespace reports
