// `pbftsim fuzz`: runs random scenarios (harness/random_scenario.h), one seed each, and
// reports every run whose outcome differs from what PBFT guarantees, in the spirit of
// TigerBeetle's VOPR.
//
// Each run happens in a child process (harness/child_pool.h): an assertion that fires in a
// replica, a crash or a hang is a finding like any other, and must not take the fuzzer down
// with it. The child hands back one result line; the parent classifies it, saves the failing scenario as
// JSON in the documented format (so `pbftsim run FILE` replays it exactly) and, with
// --shrink, greedily simplifies it to a smaller scenario that still fails the same way.
//
// Seeds: run i uses seed S+i, both to generate the scenario and to run it. The output (which
// seeds failed, how) depends only on S, the options and the binary, never on --jobs or on
// timing, except for --run-timeout, which is a wall-clock guard against hangs.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "harness/child_pool.h"
#include "harness/random_scenario.h"
#include "harness/scenario_writer.h"
#include "harness/shrink.h"
#include "harness/run_scenario.h"
#include "reports/writers.h"

namespace cli {
namespace {

constexpr std::uint32_t kShrinkRunsMax = 300;  // runs one shrink may spend

// How a run went, from the fuzzer's point of view.
enum class Verdict { Pass, Safety, Liveness, Error, Crash, Timeout };

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Safety: return "safety";
    case Verdict::Liveness: return "liveness";
    case Verdict::Error: return "error";
    case Verdict::Crash: return "crash";
    case Verdict::Timeout: return "timeout";
  }
  return "unknown";
}

struct RunResult {
  Verdict verdict = Verdict::Pass;
  std::string detail;       // the first violation, the liveness detail, the signal...
  std::string fingerprint;  // of a run that finished
};

// ---- the child side ---------------------------------------------------------------------

// The child sends its whole report back, in the format every other command reads it in.
std::string child_run(const harness::Scenario& scenario, protocol::Defect defect) {
  return reports::to_json(harness::run_scenario(scenario, {.seed = scenario.seed, .record_trace = false, .defect = defect}));
}

RunResult classify(const harness::Scenario& s, const harness::ChildOutcome& child) {
  RunResult res;
  if (child.timed_out) {
    res.verdict = Verdict::Timeout;
    res.detail = "killed after the wall-clock limit (--run-timeout)";
    return res;
  }
  if (!child.has_result) {
    res.verdict = Verdict::Crash;
    res.detail = child.death();  // the signal and the tail of what it printed
    return res;
  }
  harness::RunReport r;
  try {
    r = reports::from_json(child.result);
  } catch (const std::exception&) {
    res.verdict = Verdict::Crash;
    res.detail = "unreadable result";
    return res;
  }
  res.fingerprint = r.fingerprint;
  if (r.outcome == "error") {
    res.verdict = Verdict::Error;
    res.detail = r.harness_error;
  } else if (!r.safety_holds && s.expect.safety == harness::Expect::Holds) {
    res.verdict = Verdict::Safety;
    if (!r.violations.empty()) res.detail = r.violations.front().invariant + ": " + r.violations.front().detail;
  } else if (!r.liveness_holds && s.expect.liveness == harness::Expect::Holds) {
    res.verdict = Verdict::Liveness;
    res.detail = r.liveness_detail + " (stopped: " + r.stop_reason + ")";
  }
  return res;
}

RunResult run_isolated(const harness::Scenario& s, double timeout_s, protocol::Defect defect) {
  const auto outcomes = harness::run_each_in_child(
      1, 1, timeout_s, [&s, defect](std::size_t) { return child_run(s, defect); }, nullptr);
  return classify(s, outcomes.front());
}

// Greedy shrinking: take the first candidate that fails with the same verdict, repeat.
harness::Scenario shrink(harness::Scenario s, Verdict verdict, double timeout_s, bool quiet,
                         protocol::Defect defect, std::uint32_t& runs_used) {
  runs_used = 0;
  bool progress = true;
  while (progress && runs_used < kShrinkRunsMax) {
    progress = false;
    for (auto& candidate : harness::shrink_candidates(s)) {
      if (runs_used >= kShrinkRunsMax) break;
      runs_used++;
      if (run_isolated(candidate.scenario, timeout_s, defect).verdict != verdict) continue;
      if (!quiet) std::cout << "    shrink: " << candidate.what << "\n" << std::flush;
      s = std::move(candidate.scenario);
      progress = true;
      break;
    }
  }
  return s;
}

std::string save(const std::string& dir, const std::string& file, const harness::Scenario& s) {
  const std::string path = (std::filesystem::path(dir) / file).string();
  const std::string err = reports::write_output(path, harness::scenario_to_json(s));
  if (!err.empty()) {
    std::cerr << "pbftsim: " << err << "\n";
    return "";
  }
  return path;
}

// Replays a failed run with its trace recorded (in a child, as every run) and writes its
// Perfetto trace and HTML page beside its scenario file: "" or what went wrong.
std::string write_views(const std::string& scenario_path, const harness::Scenario& s, double timeout_s,
                        protocol::Defect defect) {
  const std::string base = scenario_path.substr(0, scenario_path.size() - std::string(".json").size());
  const auto outcome = harness::run_each_in_child(
      1, 1, timeout_s,
      [&](std::size_t) { return write_run_views(s, s.seed, defect, base); },
      nullptr);
  if (outcome.front().has_result) return outcome.front().result == "ok" ? "" : outcome.front().result;
  return outcome.front().death();
}

std::uint64_t default_seed() {
  // The one place randomness from outside enters: which seeds to explore when the user did
  // not say. It is printed first, so the whole session can be repeated with --seed.
  std::random_device rd;
  return (std::uint64_t{rd()} << 32 | rd()) % 1'000'000'000'000ULL;
}

// Every option that decides which runs happen, how they are judged or where the findings go,
// so that the line repeats the session exactly (--jobs and -v/-q change neither).
std::string repeat_command(std::uint64_t first, const FuzzArgs& args, const harness::RandomScenarioOptions& options) {
  const FuzzArgs defaults;
  std::ostringstream o;
  o << "pbftsim fuzz --seed " << first << " --runs " << args.runs;
  if (args.max_faulty_over_f != defaults.max_faulty_over_f) o << " --max-faulty-over-f " << args.max_faulty_over_f;
  if (options.n_min != defaults.n_min) o << " --n-min " << options.n_min;
  if (options.n_max != defaults.n_max) o << " --n-max " << options.n_max;
  if (args.max_failures != defaults.max_failures) o << " --max-failures " << args.max_failures;
  if (args.shrink) o << " --shrink";
  if (args.run_timeout_s != defaults.run_timeout_s) o << " --run-timeout " << args.run_timeout_s;
  if (args.out_dir != defaults.out_dir) o << " --out " << args.out_dir;
  if (!args.defect.empty()) o << " --defect " << args.defect;
  return o.str();
}

}  // namespace

int fuzz_command(const FuzzArgs& args) {
  const auto defect_found = defect_or_complain(args.defect);
  if (!defect_found) return kExitBadInput;
  const protocol::Defect defect = *defect_found;
  const std::string defect_flag = args.defect.empty() ? "" : " --defect " + args.defect;
  const std::uint64_t first = args.seed.value_or(default_seed());
  std::error_code ec;
  std::filesystem::create_directories(args.out_dir, ec);
  if (ec) {
    std::cerr << "pbftsim: " << args.out_dir << ": cannot create the output directory: " << ec.message() << "\n";
    return kExitBadInput;
  }
  harness::RandomScenarioOptions options;
  options.faulty_over_f_max = args.max_faulty_over_f;
  options.n_max = args.n_max;
  options.n_min = std::min(args.n_min, args.n_max);
  std::cout << "pbftsim fuzz: seeds " << first << ".." << first + args.runs - 1 << " (" << args.runs
            << " runs, --max-faulty-over-f " << args.max_faulty_over_f << ", n " << options.n_min << ".."
            << options.n_max << ", " << args.jobs << " jobs" << (args.defect.empty() ? "" : ", defect " + args.defect)
            << ")\n"
            << "  repeat: " << repeat_command(first, args, options) << "\n" << std::flush;

  const bool tty = isatty(STDERR_FILENO) != 0 && !args.quiet;
  const std::uint64_t progress_every = std::max<std::uint64_t>(1, args.runs / 20);
  std::map<Verdict, std::uint64_t> tally;
  std::vector<std::uint64_t> failed_seeds;
  std::uint64_t next = 0, finished = 0;
  harness::ChildPool pool(args.jobs, args.run_timeout_s);
  pool.run(
      [&](std::size_t& job, harness::ChildPool::Work& work) {
        if (next >= args.runs) return false;
        job = next++;
        // Generated in the child: the parent regenerates only the failing ones.
        work = [seed = first + job, &options, defect] { return child_run(harness::random_scenario(seed, options), defect); };
        return true;
      },
      [&](std::size_t job, harness::ChildOutcome&& child) {
        const std::uint64_t seed = first + job;
        const harness::Scenario s = harness::random_scenario(seed, options);
        const RunResult r = classify(s, child);
        finished++;
        tally[r.verdict]++;
        if (args.verbose) {
          std::cout << verdict_name(r.verdict) << " seed=" << seed << " n=" << s.cluster.n
                    << " faults=" << s.faults.size() << " fingerprint=" << r.fingerprint << "\n";
        }
        if (r.verdict != Verdict::Pass) {
          failed_seeds.push_back(seed);
          if (tty) std::fprintf(stderr, "\r\033[K");
          const std::string path = save(args.out_dir, s.name + ".json", s);
          std::cout << "FAIL seed=" << seed << " " << verdict_name(r.verdict) << ": " << r.detail << "\n"
                    << "  scenario: " << path << "\n"
                    << "  replay:   pbftsim run " << path << " --seed " << seed << defect_flag << "\n";
          // A run that finished can be replayed with its trace: the views a user opens first.
          if (!path.empty() && r.verdict != Verdict::Crash && r.verdict != Verdict::Timeout) {
            const std::string why = write_views(path, s, args.run_timeout_s, defect);
            const std::string base = path.substr(0, path.size() - 5);
            if (why.empty()) {
              std::cout << "  perfetto: " << base << ".perfetto.json\n  html:     " << base << ".html\n";
            } else {
              std::cerr << "pbftsim: the trace of seed " << seed << " was not written: " << why << "\n";
            }
          }
          std::cout << std::flush;
          if (args.shrink) {
            std::uint32_t used = 0;
            const harness::Scenario small = shrink(s, r.verdict, args.run_timeout_s, args.quiet, defect, used);
            const std::string small_path = save(args.out_dir, s.name + ".min.json", small);
            std::cout << "  shrunk:   " << small_path << " (" << small.faults.size() << " faults, n="
                      << small.cluster.n << ", " << small.workload.clients << "x"
                      << small.workload.requests_per_client << " requests; " << used << " runs)\n"
                      << std::flush;
          }
        }
        if (tty) {
          std::fprintf(stderr, "\r[%llu/%llu runs, %zu failed]", static_cast<unsigned long long>(finished),
                       static_cast<unsigned long long>(args.runs), failed_seeds.size());
        } else if (!args.quiet && !args.verbose && finished % progress_every == 0) {
          // Not a terminal (a CI log): a progress line every 5 % instead of a live counter.
          std::fprintf(stderr, "[%llu/%llu runs, %zu failed]\n", static_cast<unsigned long long>(finished),
                       static_cast<unsigned long long>(args.runs), failed_seeds.size());
        }
        return args.max_failures == 0 || failed_seeds.size() < args.max_failures;
      });
  if (tty) std::fprintf(stderr, "\n");
  std::sort(failed_seeds.begin(), failed_seeds.end());
  std::cout << finished << " runs: " << tally[Verdict::Pass] << " passed, " << failed_seeds.size() << " failed";
  if (!failed_seeds.empty()) {
    std::cout << " (";
    bool comma = false;
    for (const auto& [v, count] : tally) {
      if (v == Verdict::Pass) continue;
      std::cout << (comma ? ", " : "") << verdict_name(v) << " " << count;
      comma = true;
    }
    std::cout << "); failing seeds:";
    for (auto s : failed_seeds) std::cout << " " << s;
  }
  std::cout << "\n";
  return failed_seeds.empty() ? kExitOk : kExitMismatch;
}

}  // namespace cli
