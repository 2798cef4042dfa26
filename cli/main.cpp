// pbftsim: deterministic PBFT simulation and fault injection. Parses the command line and
// hands over to cli/commands.cpp. Exit codes: 0 ok, 1 outcome differs from expectation,
// 2 bad input (unknown option, bad scenario, ...).
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <system_error>
#include <iostream>

#include "cli/commands.h"
#include "pbftsim_version.h"

namespace {

// Seeds are written in decimal, 0 .. 2^64-1: "-1" would wrap to 2^64-1 and "0x10" would be
// read as 16, and either way the replay line would not show what the user typed.
const CLI::Validator kSeedValidator(
    [](std::string& text) -> std::string {
      std::uint64_t value = 0;
      const char* end = text.data() + text.size();
      const auto [ptr, ec] = std::from_chars(text.data(), end, value);
      if (!text.empty() && ec == std::errc() && ptr == end) return "";
      return "expected a decimal integer from 0 to 18446744073709551615, got \"" + text + "\"";
    },
    "SEED");

// --defect selects one of the deliberate protocol bugs a defects build carries; a release
// build refuses it (exit 2) rather than run without the bug the user asked for.
const char* const kDefectHelp =
    "Plant the named protocol defect in every replica and client, to show an oracle catches it "
    "(only in a build configured with -Dplanted_defects=true; pbftsim defects lists them)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pbftsim " PBFTSIM_VERSION
               " - deterministic simulator and fault-injection harness for PBFT.\n"
               "Same binary + same scenario + same seed = the same run, byte for byte."};
  app.set_version_flag("--version", "pbftsim " PBFTSIM_VERSION);
  // No require_subcommand(): CLI11 would report a missing subcommand before an unknown
  // option, and the user should hear about the option they mistyped.
  app.require_subcommand(0, 1);

  cli::RunArgs run;
  auto* run_cmd = app.add_subcommand("run", "Run one scenario, print a summary and a replay line");
  run_cmd->add_option("scenario", run.scenario, "Scenario JSON file")->required();
  run_cmd->add_option("--seed", run.seed, "Seed, 0 .. 2^64-1 (default: the scenario's)")->check(kSeedValidator);
  run_cmd->add_option("--report", run.report_path, "Write the JSON report here");
  run_cmd->add_option("--trace", run.trace_path, "Write the event trace (JSON lines) here");
  run_cmd->add_option("--html", run.html_path, "Write a self-contained HTML report here");
  run_cmd->add_option("--perfetto", run.perfetto_path,
                      "Write a Perfetto / chrome://tracing trace (JSON trace events) here");
  run_cmd->add_flag("--quiet,-q", run.quiet, "Print only the verdict line");
  run_cmd->add_option("--n", run.n, "Replay an explore cell: cluster size")->check(CLI::Range(1u, 1024u));
  run_cmd->add_option("--byzantine", run.byzantine, "Replay an explore cell: number of Byzantine replicas");
  run_cmd->add_option("--behaviour,--behavior", run.behaviour, "Replay an explore cell: their fault kind");
  run_cmd->add_option("--defect", run.defect, kDefectHelp);

  cli::SuiteArgs suite;
  auto* suite_cmd = app.add_subcommand("suite", "Run every scenario in directories/files for K seeds");
  suite_cmd->add_option("paths", suite.paths, "Directories (every *.json inside) or files")->required();
  suite_cmd->add_option("--seeds", suite.seeds, "Seeds per scenario: its seed, then the next K-1")
      ->check(CLI::Range(1u, 1000000u));
  suite_cmd->add_option("--jobs,-j", suite.jobs, "Runs at a time (child processes)")->check(CLI::Range(1u, 256u));
  suite_cmd->add_option("--junit", suite.junit_path, "Write JUnit XML here");
  suite_cmd->add_option("--report", suite.report_path, "Write a JSON summary here");
  suite_cmd->add_option("--traces", suite.traces_dir,
                        "For each failed run, write its Perfetto trace and HTML page into this directory");
  suite_cmd->add_flag("--quiet,-q", suite.quiet, "No progress line");
  suite_cmd->add_option("--defect", suite.defect, kDefectHelp);

  cli::ExploreArgs explore;
  auto* explore_cmd = app.add_subcommand("explore", "Sweep n and the number of Byzantine replicas");
  explore_cmd->add_option("scenario", explore.scenario, "Base scenario JSON file")->required();
  explore_cmd->add_option("--byzantine", explore.byzantine, "Byzantine counts: 0..K or K")->required();
  explore_cmd->add_option("--n", explore.n_values, "Cluster sizes, e.g. 4,7,10 (each 1 .. 1024)")
      ->delimiter(',')
      ->check(CLI::Range(1u, 1024u));
  explore_cmd->add_option("--seeds", explore.seeds, "Seeds per cell")->check(CLI::Range(1u, 1000000u));
  explore_cmd->add_option("--behaviour,--behavior", explore.behaviour, "Fault kind given to the Byzantine replicas");
  explore_cmd->add_option("--jobs,-j", explore.jobs, "Runs at a time (child processes)")->check(CLI::Range(1u, 256u));
  explore_cmd->add_option("--html", explore.html_path, "Write a heatmap page here");
  explore_cmd->add_option("--report", explore.report_path, "Write the table as JSON here");
  explore_cmd->add_flag("--quiet,-q", explore.quiet, "No progress line");
  explore_cmd->add_option("--defect", explore.defect, kDefectHelp);

  std::vector<std::string> validate_files;
  auto* validate_cmd = app.add_subcommand("validate", "Check scenario files; run nothing");
  validate_cmd->add_option("files", validate_files, "Scenario JSON files, or directories (every *.json inside)")
      ->required();

  cli::FuzzArgs fuzz;
  auto* fuzz_cmd = app.add_subcommand(
      "fuzz", "Run random scenarios (one per seed) and save every failing one as JSON");
  fuzz_cmd->add_option("--runs,-n", fuzz.runs, "How many runs (seeds S, S+1, ...)")->check(CLI::Range(1ull, 1'000'000'000ull));
  fuzz_cmd->add_option("--seed", fuzz.seed, "First seed, 0 .. 2^64-1 (default: a random one, printed)")
      ->check(kSeedValidator);
  fuzz_cmd->add_option("--jobs,-j", fuzz.jobs, "Runs at a time (child processes)")->check(CLI::Range(1u, 256u));
  fuzz_cmd->add_option("--out", fuzz.out_dir, "Directory for failing scenarios (default fuzz-failures)");
  fuzz_cmd->add_option("--max-faulty-over-f", fuzz.max_faulty_over_f,
                       "Allow up to f+K faulty replicas; such runs expect \"any\" (only crashes and errors fail)")
      ->check(CLI::Range(0u, 64u));
  fuzz_cmd->add_option("--n-min", fuzz.n_min, "Smallest cluster size drawn (default 1)")->check(CLI::Range(1u, 64u));
  fuzz_cmd->add_option("--n-max", fuzz.n_max, "Largest cluster size drawn (default 13)")->check(CLI::Range(1u, 64u));
  fuzz_cmd->add_option("--max-failures", fuzz.max_failures, "Stop after this many failures (default: never)");
  fuzz_cmd->add_flag("--shrink", fuzz.shrink, "Simplify each failing scenario; save it as NAME.min.json");
  fuzz_cmd->add_option("--run-timeout", fuzz.run_timeout_s, "Wall-clock seconds before a run counts as hung (0: none)")
      ->check(CLI::Range(0.0, 1e6));
  fuzz_cmd->add_flag("--verbose,-v", fuzz.verbose, "Print a line for every run");
  fuzz_cmd->add_flag("--quiet,-q", fuzz.quiet, "No progress line, no shrink steps");
  fuzz_cmd->add_option("--defect", fuzz.defect, kDefectHelp);

  auto* defects_cmd = app.add_subcommand(
      "defects", "List the planted defects --defect takes (a build with -Dplanted_defects=true)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "pbftsim: " << e.what() << "\n(see pbftsim --help)\n";
    return cli::kExitBadInput;
  }
  if (*run_cmd) return cli::run_command(run);
  if (*suite_cmd) return cli::suite_command(suite);
  if (*explore_cmd) return cli::explore_command(explore);
  if (*validate_cmd) return cli::validate_command(validate_files);
  if (*fuzz_cmd) return cli::fuzz_command(fuzz);
  if (*defects_cmd) return cli::defects_command();
  std::cerr << "pbftsim: a subcommand is required (run, suite, explore, validate, fuzz, defects)\n"
               "(see pbftsim --help)\n";
  return cli::kExitBadInput;
}
