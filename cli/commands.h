// The pbftsim subcommands. Each returns the process exit code: 0 when every run matched
// its expectation, 1 when one did not, 2 on bad input (nothing is run).
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "harness/scenario.h"
#include "protocol/defects.h"
#include "reports/writers.h"

namespace cli {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitBadInput = 2;

struct RunArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string report_path, trace_path, html_path, perfetto_path;
  bool quiet = false;
  // Replaying a cell of `pbftsim explore`: the scenario as derive_byzantine() makes it.
  std::optional<std::uint32_t> n, byzantine;
  std::string behaviour;
  std::string defect;  // --defect NAME: a planted defect (defects build only); "" for none
};
int run_command(const RunArgs& args);

struct SuiteArgs {
  std::vector<std::string> paths;
  std::uint32_t seeds = 1;
  std::uint32_t jobs = 1;
  std::string junit_path, report_path;
  std::string traces_dir;  // a failed run's Perfetto trace and HTML page go here
  bool quiet = false;
  std::string defect;
};
int suite_command(const SuiteArgs& args);

struct ExploreArgs {
  std::string scenario;
  std::string byzantine = "0..2";  // "0..K" or "K"
  std::vector<std::uint32_t> n_values;  // empty: the scenario's n
  std::uint32_t seeds = 10;
  std::string behaviour;  // empty: the scenario's first Byzantine fault kind, else equivocate
  std::uint32_t jobs = 1;
  std::string html_path, report_path;
  bool quiet = false;
  std::string defect;
};
int explore_command(const ExploreArgs& args);

// Checks files, and every *.json in directories, as suite would load them; runs nothing.
int validate_command(const std::vector<std::string>& paths);

// `pbftsim defects`: one line per planted defect, "name  description"; exit 2 (and says so)
// in a build without them.
int defects_command();

// ---- shared by the commands ----

// The defect `--defect` names: Defect::None for "", else the planted defect of that name.
// nullopt, after saying why on stderr, when this build has no planted defects or none has
// that name (bad input: exit 2).
std::optional<protocol::Defect> defect_or_complain(const std::string& name);

// check_output_path() for each path ("" means no output); says what is wrong on stderr.
bool outputs_writable(std::initializer_list<std::string> paths);

// The scenario explore runs in one cell, and `run --n --byzantine --behaviour` replays:
// `base` at size n (f kept when n is the base's, else floor((n-1)/3)); its faults of kinds
// that make replicas faulty are replaced by one fault of `kind` on replicas 0 .. byzantine-1
// from the start to the end of the run (for equivocate: replica 0 equivocates as the first
// primary and 1 .. byzantine-1 collude); its network faults and timer skews stay. The
// parameters of the new fault (probability, rate, to) come from the base's first fault of
// that kind, when it has one. Expectations become what PBFT promises: safety and liveness
// hold when byzantine <= f, anything goes beyond. Returns why not, when it cannot be built.
std::variant<harness::Scenario, std::string> derive_byzantine(const harness::Scenario& base, std::uint32_t n,
                                                              std::uint32_t byzantine, harness::FaultKind kind);
// A fault kind that makes replicas faulty, by its JSON name; nullopt for others.
std::optional<harness::FaultKind> byzantine_kind_named(const std::string& name);
// "silence, crash, ...": every kind byzantine_kind_named accepts, for error messages.
std::string byzantine_kind_names();
// The behaviour explore uses when none is given: the base's first faulty kind, else equivocate.
std::string default_behaviour(const harness::Scenario& base);

// Runs scenario_of(i) with seed_of(i) for i in 0 .. count-1, each in a child process of its
// own, `jobs` at a time, and shows "[done/total runs]" on stderr when stderr is a terminal
// and not `quiet`. Entry i is run i's report, whatever order they finish in; a run whose
// process died (an assertion, a signal, a sanitizer) is outcome "error" with the cause and
// its replay line (harness::replay_command). Every run has `defect` planted.
// Runs `scenario` with `seed` and its trace recorded, and writes BASE.perfetto.json and
// BASE.html: "ok" or what could not be written. Meant to run in a child (a replay of a run
// that failed may fail again the same way).
std::string write_run_views(const harness::Scenario& scenario, std::uint64_t seed, protocol::Defect defect,
                            const std::string& base);

std::vector<reports::SuiteEntry> isolated_runs(std::size_t count, std::uint32_t jobs, bool quiet,
                                               const std::function<const harness::Scenario&(std::size_t)>& scenario_of,
                                               const std::function<std::uint64_t(std::size_t)>& seed_of,
                                               protocol::Defect defect = protocol::Defect::None);

// `pbftsim fuzz` (cli/fuzz.cpp): random scenarios, one per seed; exit 1 if any run failed.
struct FuzzArgs {
  std::uint64_t runs = 100;
  std::optional<std::uint64_t> seed;  // the first seed; default: drawn and printed
  std::uint32_t jobs = 1;
  std::string out_dir = "fuzz-failures";
  std::uint32_t max_faulty_over_f = 0;
  std::uint32_t n_min = 1;
  std::uint32_t n_max = 13;
  std::uint64_t max_failures = 0;  // stop after this many failures; 0 = run them all
  bool shrink = false;
  double run_timeout_s = 300;
  bool verbose = false;
  bool quiet = false;
  std::string defect;
};
int fuzz_command(const FuzzArgs& args);

}  // namespace cli
