// The pbftsim subcommands. Each returns the process exit code: 0 when every run matched
// its expectation, 1 when one did not, 2 on bad input (nothing is run).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cli {

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitBadInput = 2;

struct RunArgs {
  std::string scenario;
  std::optional<std::uint64_t> seed;
  std::string report_path, trace_path, html_path;
  bool quiet = false;
};
int run_command(const RunArgs& args);

struct SuiteArgs {
  std::vector<std::string> paths;
  std::uint32_t seeds = 1;
  std::uint32_t jobs = 1;
  std::string junit_path, report_path;
  bool quiet = false;
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
};
int explore_command(const ExploreArgs& args);

int validate_command(const std::vector<std::string>& files);

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
};
int fuzz_command(const FuzzArgs& args);

}  // namespace cli
