// The subcommands. Runs are independent, single-threaded and deterministic; suites and
// explorations spread them over threads and print results in a fixed order, so the output
// does not depend on --jobs.
#include "cli/commands.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "harness/scenario.h"
#include "harness/world.h"
#include "reports/writers.h"

namespace cli {
namespace {

std::optional<harness::Scenario> load_or_complain(const std::string& path) {
  auto loaded = harness::load_scenario_file(path);
  if (auto* err = std::get_if<harness::ScenarioError>(&loaded)) {
    std::cerr << "pbftsim: " << err->to_string() << "\n";
    return std::nullopt;
  }
  return std::get<harness::Scenario>(std::move(loaded));
}

bool write_or_complain(const std::string& path, const std::string& content) {
  if (path.empty()) return true;
  const std::string err = reports::write_output(path, content);
  if (!err.empty()) std::cerr << "pbftsim: " << err << "\n";
  return err.empty();
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

// `run --n N --byzantine K --behaviour KIND`: the scenario as explore derives it. Returns
// nullopt (after saying why) when the flags do not make sense.
std::optional<harness::Scenario> derived_or_complain(const harness::Scenario& base, const RunArgs& args,
                                                    std::string& behaviour) {
  if (!args.byzantine) {
    std::cerr << "pbftsim: --n and --behaviour replay a cell of explore and need --byzantine K\n";
    return std::nullopt;
  }
  behaviour = args.behaviour.empty() ? default_behaviour(base) : args.behaviour;
  const auto kind = byzantine_kind_named(behaviour);
  if (!kind) {
    std::cerr << "pbftsim: --behaviour: expected a fault kind that makes replicas faulty (silence, crash, "
                 "equivocate, withhold, corrupt, forge, replay, bad_view_change), got \"" << behaviour << "\"\n";
    return std::nullopt;
  }
  auto derived = derive_byzantine(base, args.n.value_or(base.cluster.n), *args.byzantine, *kind);
  if (auto* why = std::get_if<std::string>(&derived)) {
    std::cerr << "pbftsim: " << *why << "\n";
    return std::nullopt;
  }
  return std::get<harness::Scenario>(std::move(derived));
}

}  // namespace

void parallel_runs(std::size_t count, std::uint32_t jobs, const std::function<void(std::size_t)>& job, bool quiet) {
  const bool show = !quiet && isatty(STDERR_FILENO) != 0;
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::mutex progress_mutex;
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      job(i);
      const std::size_t d = ++done;
      if (!show) continue;
      std::lock_guard<std::mutex> lock(progress_mutex);
      std::fprintf(stderr, "\r[%zu/%zu runs]%s", d, count, d == count ? "\n" : "");
      std::fflush(stderr);
    }
  };
  std::vector<std::thread> pool;
  const std::size_t threads = std::max<std::size_t>(1, std::min<std::size_t>(jobs, count));
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

int run_command(const RunArgs& args) {
  auto scenario = load_or_complain(args.scenario);
  if (!scenario) return kExitBadInput;
  const bool derive = args.n || args.byzantine || !args.behaviour.empty();
  std::string behaviour;
  if (derive) {
    scenario = derived_or_complain(*scenario, args, behaviour);
    if (!scenario) return kExitBadInput;
  }
  harness::RunOptions options;
  options.seed = args.seed.value_or(scenario->seed);
  options.record_trace = !args.trace_path.empty() || !args.html_path.empty();
  reports::RunReport report = harness::run_scenario(*scenario, options);
  if (derive) {
    report.replay_command = "pbftsim run " + args.scenario + " --n " + std::to_string(scenario->cluster.n) +
                            " --byzantine " + std::to_string(*args.byzantine) + " --behaviour " + behaviour +
                            " --seed " + std::to_string(options.seed);
  }
  if (args.quiet) {
    std::cout << report.outcome << " " << report.scenario << " seed=" << report.seed
              << " fingerprint=" << report.fingerprint << "\n";
  } else {
    std::cout << reports::to_text(report);
  }
  bool written = write_or_complain(args.report_path, reports::to_json(report));
  written = write_or_complain(args.trace_path, join_lines(report.trace_lines)) && written;
  written = write_or_complain(args.html_path, reports::to_html(report)) && written;
  if (!written) return kExitBadInput;
  return report.outcome == "pass" ? kExitOk : kExitMismatch;
}

int suite_command(const SuiteArgs& args) {
  auto expanded = harness::expand_scenario_paths(args.paths);
  if (auto* err = std::get_if<harness::ScenarioError>(&expanded)) {
    std::cerr << "pbftsim: " << err->to_string() << "\n";
    return kExitBadInput;
  }
  std::vector<harness::Scenario> scenarios;
  for (const auto& path : std::get<std::vector<std::string>>(expanded)) {
    auto s = load_or_complain(path);
    if (!s) return kExitBadInput;  // nothing runs when any input is bad
    scenarios.push_back(std::move(*s));
  }
  std::vector<reports::SuiteEntry> entries(scenarios.size() * args.seeds);
  parallel_runs(
      entries.size(), args.jobs,
      [&](std::size_t i) {
        const auto& s = scenarios[i / args.seeds];
        // Wall time is for the JUnit file only; it never reaches a run.
        const auto start = std::chrono::steady_clock::now();
        entries[i].report = harness::run_scenario(s, {s.seed + i % args.seeds, false, nullptr});
        entries[i].wall_seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      },
      args.quiet);
  std::cout << reports::suite_table(entries);
  bool written = write_or_complain(args.junit_path, reports::to_junit("pbftsim", entries));
  written = write_or_complain(args.report_path, reports::suite_to_json(entries)) && written;
  if (!written) return kExitBadInput;
  for (const auto& e : entries) {
    if (e.report.outcome != "pass") return kExitMismatch;
  }
  return kExitOk;
}

int validate_command(const std::vector<std::string>& files) {
  int status = kExitOk;
  for (const auto& f : files) {
    auto loaded = harness::load_scenario_file(f);
    if (auto* err = std::get_if<harness::ScenarioError>(&loaded)) {
      std::cerr << "pbftsim: " << err->to_string() << "\n";
      status = kExitBadInput;
    } else {
      std::cout << f << ": ok (" << std::get<harness::Scenario>(loaded).name << ")\n";
    }
  }
  return status;
}

}  // namespace cli
