// pbftsim: deterministic PBFT simulation and fault injection. Parses the command line and
// hands over to cli/commands.cpp. Exit codes: 0 ok, 1 outcome differs from expectation,
// 2 bad input (unknown option, bad scenario, ...).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "pbftsim_version.h"

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
  run_cmd->add_option("--seed", run.seed, "Seed (default: the scenario's)");
  run_cmd->add_option("--report", run.report_path, "Write the JSON report here");
  run_cmd->add_option("--trace", run.trace_path, "Write the event trace (JSON lines) here");
  run_cmd->add_option("--html", run.html_path, "Write a self-contained HTML report here");
  run_cmd->add_flag("--quiet,-q", run.quiet, "Print only the verdict line");
  run_cmd->add_option("--n", run.n, "Replay an explore cell: cluster size")->check(CLI::Range(1u, 1024u));
  run_cmd->add_option("--byzantine", run.byzantine, "Replay an explore cell: number of Byzantine replicas");
  run_cmd->add_option("--behaviour,--behavior", run.behaviour, "Replay an explore cell: their fault kind");

  cli::SuiteArgs suite;
  auto* suite_cmd = app.add_subcommand("suite", "Run every scenario in directories/files for K seeds");
  suite_cmd->add_option("paths", suite.paths, "Directories (every *.json inside) or files")->required();
  suite_cmd->add_option("--seeds", suite.seeds, "Seeds per scenario: its seed, then the next K-1")
      ->check(CLI::Range(1u, 1000000u));
  suite_cmd->add_option("--jobs,-j", suite.jobs, "Runs at a time (threads)")->check(CLI::Range(1u, 256u));
  suite_cmd->add_option("--junit", suite.junit_path, "Write JUnit XML here");
  suite_cmd->add_option("--report", suite.report_path, "Write a JSON summary here");
  suite_cmd->add_flag("--quiet,-q", suite.quiet, "No progress line");

  cli::ExploreArgs explore;
  auto* explore_cmd = app.add_subcommand("explore", "Sweep n and the number of Byzantine replicas");
  explore_cmd->add_option("scenario", explore.scenario, "Base scenario JSON file")->required();
  explore_cmd->add_option("--byzantine", explore.byzantine, "Byzantine counts: 0..K or K")->required();
  explore_cmd->add_option("--n", explore.n_values, "Cluster sizes, e.g. 4,7,10")->delimiter(',');
  explore_cmd->add_option("--seeds", explore.seeds, "Seeds per cell")->check(CLI::Range(1u, 1000000u));
  explore_cmd->add_option("--behaviour,--behavior", explore.behaviour, "Fault kind given to the Byzantine replicas");
  explore_cmd->add_option("--jobs,-j", explore.jobs, "Runs at a time (threads)")->check(CLI::Range(1u, 256u));
  explore_cmd->add_option("--html", explore.html_path, "Write a heatmap page here");
  explore_cmd->add_option("--report", explore.report_path, "Write the table as JSON here");
  explore_cmd->add_flag("--quiet,-q", explore.quiet, "No progress line");

  std::vector<std::string> validate_files;
  auto* validate_cmd = app.add_subcommand("validate", "Check scenario files; run nothing");
  validate_cmd->add_option("files", validate_files, "Scenario JSON files")->required();

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
  std::cerr << "pbftsim: a subcommand is required (run, suite, explore, validate)\n"
               "(see pbftsim --help)\n";
  return cli::kExitBadInput;
}
