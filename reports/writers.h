// Report writers: the JSON report (a public contract), the terminal summary, JUnit XML for
// suites, exploration tables, self-contained HTML pages, and whole-or-nothing file writes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "reports/run_report.h"

namespace reports {

std::string to_json(const RunReport& report);
// The readable summary; its last line is "replay: <command>".
std::string to_text(const RunReport& report);
// One self-contained page: verdicts, a message sequence diagram (SVG), a timeline of views
// and checkpoints, latency and throughput plots. No external resources.
std::string to_html(const RunReport& report);

struct SuiteEntry {
  RunReport report;
  double wall_seconds = 0;
};
std::string to_junit(const std::string& suite_name, const std::vector<SuiteEntry>& entries);
std::string suite_to_json(const std::vector<SuiteEntry>& entries);
// A fixed-width table, one replay line per failed run, and a totals line.
std::string suite_table(const std::vector<SuiteEntry>& entries);

struct ExploreCell {
  std::uint32_t n = 0, f = 0, byzantine = 0, runs = 0, safety_held = 0, liveness_held = 0, errors = 0;
};
std::string explore_table(const std::vector<ExploreCell>& cells);
std::string explore_to_json(const std::vector<ExploreCell>& cells);
std::string explore_to_html(const std::string& scenario_name, const std::vector<ExploreCell>& cells);

// Writes to a temporary file beside `path`, then renames it over `path`: readers see the
// whole content or nothing. Returns "" or "cannot write <path>: <reason>".
std::string write_file_atomic(const std::string& path, const std::string& content);

// Escapes text for HTML/XML (also drops characters XML 1.0 does not allow).
std::string xml_escape(const std::string& text);

}  // namespace reports
