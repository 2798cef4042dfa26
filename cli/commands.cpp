// The subcommands. Runs are independent, single-threaded and deterministic; suites and
// explorations run each in a child process of its own (harness/child_pool.h), --jobs at a
// time, and print results in a fixed order, so the output does not depend on --jobs, and a
// run that dies (an assertion, a signal) is a harness error of that run alone.
#include "cli/commands.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <variant>

#include "harness/child_pool.h"
#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "reports/trace_writers.h"
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

}  // namespace

bool outputs_writable(std::initializer_list<std::string> paths) {
  bool ok = true;
  for (const auto& path : paths) {
    const std::string err = reports::check_output_path(path);
    if (err.empty()) continue;
    std::cerr << "pbftsim: " << err << "\n";
    ok = false;
  }
  return ok;
}

namespace {


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
    std::cerr << "pbftsim: --behaviour: expected a fault kind that makes replicas faulty (" << byzantine_kind_names()
              << "), got \"" << behaviour << "\"\n";
    return std::nullopt;
  }
  auto derived = derive_byzantine(base, args.n.value_or(base.cluster.n), *args.byzantine, *kind);
  if (auto* why = std::get_if<std::string>(&derived)) {
    std::cerr << "pbftsim: " << *why << "\n";
    return std::nullopt;
  }
  return std::get<harness::Scenario>(std::move(derived));
}

// What the table, the reports and JUnit say of a run whose process died before it could
// report: a harness error carrying the replay line, judged on nothing.
harness::RunReport died_report(const harness::Scenario& s, std::uint64_t seed, std::string why,
                               protocol::Defect defect) {
  for (char& c : why) {
    if (c == '\n' || c == '\r') c = ' ';  // one line in the table
  }
  harness::RunReport r;
  r.scenario = s.name;
  r.scenario_path = s.source_path;
  r.seed = seed;
  r.outcome = "error";
  r.harness_error = "the run died: " + why;
  r.stop_reason = "died";
  r.n = s.cluster.n;
  r.f = s.cluster.f;
  r.clients = s.workload.clients;
  r.expect_safety = harness::expect_name(s.expect.safety);
  r.expect_liveness = harness::expect_name(s.expect.liveness);
  r.liveness_detail = "not judged: the run died";
  r.replay_command = harness::replay_command(s, seed, defect);
  return r;
}

}  // namespace

std::optional<protocol::Defect> defect_or_complain(const std::string& name) {
  if (name.empty()) return protocol::Defect::None;
  if (!protocol::kPlantedDefectsBuilt) {
    std::cerr << "pbftsim: --defect: this build has no planted defects (configure one with "
                 "meson setup DIR -Dplanted_defects=true)\n";
    return std::nullopt;
  }
  const auto defect = protocol::defect_named(name);
  if (!defect) std::cerr << "pbftsim: --defect: no planted defect is called \"" << name << "\" (pbftsim defects lists them)\n";
  return defect;
}

int defects_command() {
  const auto defects = protocol::planted_defects();
  if (defects.empty()) {
    std::cerr << "pbftsim: this build has no planted defects (configure one with meson setup DIR "
                 "-Dplanted_defects=true)\n";
    return kExitBadInput;
  }
  std::size_t width = 0;
  for (const auto& d : defects) width = std::max(width, std::string(d.name).size());
  for (const auto& d : defects) {
    std::cout << d.name << std::string(width - std::string(d.name).size() + 2, ' ') << d.description << "\n";
  }
  return kExitOk;
}

std::vector<reports::SuiteEntry> isolated_runs(std::size_t count, std::uint32_t jobs, bool quiet,
                                               const std::function<const harness::Scenario&(std::size_t)>& scenario_of,
                                               const std::function<std::uint64_t(std::size_t)>& seed_of,
                                               protocol::Defect defect) {
  const bool show = !quiet && isatty(STDERR_FILENO) != 0;
  auto outcomes = harness::run_each_in_child(
      count, jobs, /*timeout_s=*/0,
      [&](std::size_t i) {
        return reports::to_json(harness::run_scenario(scenario_of(i), {.seed = seed_of(i), .record_trace = false, .defect = defect}));
      },
      [&](std::size_t finished) {
        if (!show) return;
        std::fprintf(stderr, "\r[%zu/%zu runs]%s", finished, count, finished == count ? "\n" : "");
        std::fflush(stderr);
      });
  std::vector<reports::SuiteEntry> entries(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& child = outcomes[i];
    entries[i].wall_seconds = child.wall_seconds;  // for the JUnit file only; it never reaches a run
    std::string why = child.death();
    if (why.empty()) {
      try {
        entries[i].report = reports::from_json(child.result);
        continue;
      } catch (const std::exception& e) {
        why = std::string("unreadable result: ") + e.what();
      }
    }
    entries[i].report = died_report(scenario_of(i), seed_of(i), why, defect);
  }
  return entries;
}

int run_command(const RunArgs& args) {
  const auto defect = defect_or_complain(args.defect);
  if (!defect) return kExitBadInput;
  auto scenario = load_or_complain(args.scenario);
  if (!scenario) return kExitBadInput;
  const bool derive = args.n || args.byzantine || !args.behaviour.empty();
  std::string behaviour;
  if (derive) {
    scenario = derived_or_complain(*scenario, args, behaviour);
    if (!scenario) return kExitBadInput;
  }
  // Before the run: a typo in an output path must not cost a long run.
  if (!outputs_writable({args.report_path, args.trace_path, args.html_path, args.perfetto_path})) return kExitBadInput;
  harness::RunOptions options;
  options.seed = args.seed.value_or(scenario->seed);
  options.record_trace = !args.trace_path.empty() || !args.html_path.empty() || !args.perfetto_path.empty();
  options.defect = *defect;
  // On a terminal, a progress line (wall-clock rates are the command line's business; the
  // run itself only reports where it is).
  const bool show_progress = !args.quiet && isatty(STDERR_FILENO);
  const auto started = std::chrono::steady_clock::now();
  auto last_shown = started;
  if (show_progress) {
    options.progress = [&](const harness::RunProgress& p) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_shown < std::chrono::milliseconds(200)) return;
      last_shown = now;
      const double wall_s = std::chrono::duration<double>(now - started).count();
      std::fprintf(stderr, "\r\033[K[virtual %.2f s, %llu/%llu requests, %.2f M events/s]",
                   static_cast<double>(p.virtual_time_ns) / 1e9, static_cast<unsigned long long>(p.completed),
                   static_cast<unsigned long long>(p.submitted_total), static_cast<double>(p.events) / 1e6 / wall_s);
    };
  }
  harness::RunReport report = harness::run_scenario(*scenario, options);
  if (show_progress && last_shown != started) std::fprintf(stderr, "\r\033[K");
  if (derive) {
    report.replay_command = "pbftsim run " + args.scenario + " --n " + std::to_string(scenario->cluster.n) +
                            " --byzantine " + std::to_string(*args.byzantine) + " --behaviour " + behaviour +
                            " --seed " + std::to_string(options.seed);
    if (!args.defect.empty()) report.replay_command += " --defect " + args.defect;
  }
  if (args.quiet) {
    std::cout << report.outcome << " " << report.scenario << " seed=" << report.seed
              << " fingerprint=" << report.fingerprint << "\n";
  } else {
    std::cout << reports::to_text(report);
  }
  bool written = write_or_complain(args.report_path, reports::to_json(report));
  written = write_or_complain(args.trace_path, reports::trace_jsonl(report)) && written;
  written = write_or_complain(args.html_path, reports::to_html(report)) && written;
  written = write_or_complain(args.perfetto_path, reports::perfetto_json(report)) && written;
  if (!written) return kExitBadInput;
  return report.outcome == "pass" ? kExitOk : kExitMismatch;
}

std::string write_run_views(const harness::Scenario& scenario, std::uint64_t seed, protocol::Defect defect,
                            const std::string& base) {
  const harness::RunReport r = harness::run_scenario(scenario, {.seed = seed, .record_trace = true, .defect = defect});
  std::string why = reports::write_output(base + ".perfetto.json", reports::perfetto_json(r));
  if (why.empty()) why = reports::write_output(base + ".html", reports::to_html(r));
  return why.empty() ? "ok" : why;
}

namespace {

// "DIR/NAME-seedN": a file name from the scenario's name (anything but letters, digits, '-'
// and '_' becomes '_').
std::string trace_base(const std::string& dir, const std::string& name, std::uint64_t seed) {
  std::string safe;
  for (char c : name) safe.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
  return (std::filesystem::path(dir) / (safe + "-seed" + std::to_string(seed))).string();
}

// Replays each failed run with its trace recorded (the same run: same scenario, same seed)
// and writes its Perfetto trace and HTML page; each replay in a child process, like the run.
void write_failed_traces(std::vector<reports::SuiteEntry>& entries, const std::vector<harness::Scenario>& scenarios,
                         std::uint32_t seeds, std::uint32_t jobs, const std::string& dir, protocol::Defect defect) {
  std::vector<std::size_t> failed;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].report.outcome != "pass") failed.push_back(i);
  }
  if (failed.empty()) return;
  const auto outcomes = harness::run_each_in_child(
      failed.size(), jobs, 0,
      [&](std::size_t k) -> std::string {
        const std::size_t i = failed[k];
        const harness::Scenario& s = scenarios[i / seeds];
        return write_run_views(s, entries[i].report.seed, defect, trace_base(dir, s.name, entries[i].report.seed));
      },
      nullptr);
  for (std::size_t k = 0; k < failed.size(); ++k) {
    auto& e = entries[failed[k]];
    if (outcomes[k].has_result && outcomes[k].result == "ok") {
      const std::string base = trace_base(dir, e.report.scenario, e.report.seed);
      e.perfetto_path = base + ".perfetto.json";
      e.html_path = base + ".html";
    } else {
      std::cerr << "pbftsim: --traces: " << e.report.scenario << " seed " << e.report.seed << ": "
                << (outcomes[k].has_result ? outcomes[k].result : outcomes[k].death()) << "\n";
    }
  }
}

}  // namespace

int suite_command(const SuiteArgs& args) {
  const auto defect = defect_or_complain(args.defect);
  if (!defect) return kExitBadInput;
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
  if (!outputs_writable({args.junit_path, args.report_path})) return kExitBadInput;
  if (!args.traces_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.traces_dir, ec);
    if (ec || access(args.traces_dir.c_str(), W_OK) != 0) {
      std::cerr << "pbftsim: --traces: cannot write into " << args.traces_dir << (ec ? ": " + ec.message() : "") << "\n";
      return kExitBadInput;
    }
  }
  std::vector<reports::SuiteEntry> entries = isolated_runs(
      scenarios.size() * args.seeds, args.jobs, args.quiet,
      [&](std::size_t i) -> const harness::Scenario& { return scenarios[i / args.seeds]; },
      [&](std::size_t i) { return scenarios[i / args.seeds].seed + i % args.seeds; }, *defect);
  if (!args.traces_dir.empty()) write_failed_traces(entries, scenarios, args.seeds, args.jobs, args.traces_dir, *defect);
  std::cout << reports::suite_table(entries);
  bool written = write_or_complain(args.junit_path, reports::to_junit("pbftsim", entries));
  written = write_or_complain(args.report_path, reports::suite_to_json(entries)) && written;
  if (!written) return kExitBadInput;
  for (const auto& e : entries) {
    if (e.report.outcome != "pass") return kExitMismatch;
  }
  return kExitOk;
}

int validate_command(const std::vector<std::string>& paths) {
  auto expanded = harness::expand_scenario_paths(paths);
  if (auto* err = std::get_if<harness::ScenarioError>(&expanded)) {
    std::cerr << "pbftsim: " << err->to_string() << "\n";
    return kExitBadInput;
  }
  int status = kExitOk;
  for (const auto& f : std::get<std::vector<std::string>>(expanded)) {
    auto loaded = harness::load_scenario_file(f);
    if (auto* err = std::get_if<harness::ScenarioError>(&loaded)) {
      std::cerr << "pbftsim: " << err->to_string() << "\n";
      status = kExitBadInput;
    } else {
      const auto& s = std::get<harness::Scenario>(loaded);
      const double mib = harness::estimate_run_memory(s).total_bytes / double(1 << 20);
      std::cout << f << ": ok (" << s.name << "; estimated peak memory " << static_cast<long long>(mib + 0.5)
                << " MiB)\n";
    }
  }
  return status;
}

}  // namespace cli
