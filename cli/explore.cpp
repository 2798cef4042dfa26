// `pbftsim explore`: for each n and each number of Byzantine replicas, run S seeds with
// that many replicas given the behaviour, and tabulate how often safety and liveness held.
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

#include "cli/commands.h"
#include "harness/scenario.h"
#include "harness/world.h"
#include "reports/writers.h"

namespace cli {
namespace {

bool parse_range(const std::string& text, std::uint32_t& lo, std::uint32_t& hi) {
  try {
    const auto dots = text.find("..");
    std::size_t used = 0;
    if (dots == std::string::npos) {
      lo = hi = static_cast<std::uint32_t>(std::stoul(text, &used));
      return used == text.size();
    }
    lo = static_cast<std::uint32_t>(std::stoul(text.substr(0, dots), &used));
    if (used != dots) return false;
    const std::string rest = text.substr(dots + 2);
    hi = static_cast<std::uint32_t>(std::stoul(rest, &used));
    return used == rest.size() && lo <= hi;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<harness::FaultKind> parse_kind(const std::string& name) {
  for (int k = 0; k <= static_cast<int>(harness::FaultKind::TimerSkew); ++k) {
    const auto kind = static_cast<harness::FaultKind>(k);
    if (name == harness::fault_kind_name(kind)) return kind;
  }
  return std::nullopt;
}

// The scenario at size n with `byzantine` replicas given `kind`: replica 0 (the first
// primary) and then 1, 2, ...; for equivocation the others collude with the primary.
harness::Scenario variant(const harness::Scenario& base, std::uint32_t n, std::uint32_t byzantine,
                          harness::FaultKind kind) {
  harness::Scenario s = base;
  s.cluster.n = n;
  s.cluster.f = (n - 1) / 3;
  s.faults.clear();
  if (byzantine == 0) return s;
  harness::FaultSpec fault;
  fault.kind = kind;
  fault.json_path = "/faults/0";
  if (kind == harness::FaultKind::Equivocate) {
    fault.replicas = {0};
    for (std::uint32_t r = 1; r < byzantine; ++r) fault.colluders.push_back(r);
  } else {
    for (std::uint32_t r = 0; r < byzantine; ++r) fault.replicas.push_back(r);
  }
  s.faults.push_back(fault);
  return s;
}

}  // namespace

int explore_command(const ExploreArgs& args) {
  auto loaded = harness::load_scenario_file(args.scenario);
  if (auto* err = std::get_if<harness::ScenarioError>(&loaded)) {
    std::cerr << "pbftsim: " << err->to_string() << "\n";
    return kExitBadInput;
  }
  const auto base = std::get<harness::Scenario>(std::move(loaded));
  std::uint32_t lo = 0, hi = 0;
  if (!parse_range(args.byzantine, lo, hi)) {
    std::cerr << "pbftsim: --byzantine: expected K or LO..HI (e.g. 0..2), got \"" << args.byzantine << "\"\n";
    return kExitBadInput;
  }
  std::string behaviour = args.behaviour;
  if (behaviour.empty()) {
    behaviour = "equivocate";
    for (const auto& f : base.faults) {
      if (harness::fault_kind_is_faulty(f.kind)) { behaviour = harness::fault_kind_name(f.kind); break; }
    }
  }
  const auto kind = parse_kind(behaviour);
  if (!kind || !harness::fault_kind_is_faulty(*kind) || *kind == harness::FaultKind::Crash) {
    std::cerr << "pbftsim: --behaviour: expected a Byzantine fault kind (silence, equivocate, withhold, "
                 "corrupt, forge, replay, bad_view_change), got \"" << behaviour << "\"\n";
    return kExitBadInput;
  }
  std::vector<std::uint32_t> sizes = args.n_values.empty() ? std::vector<std::uint32_t>{base.cluster.n} : args.n_values;
  std::vector<reports::ExploreCell> cells;
  std::vector<harness::Scenario> scenarios;
  for (auto n : sizes) {
    if (n < 1 || hi >= n) {
      std::cerr << "pbftsim: --n " << n << ": needs n >= 1 and more replicas than Byzantine ones (" << hi << ")\n";
      return kExitBadInput;
    }
    for (std::uint32_t b = lo; b <= hi; ++b) {
      scenarios.push_back(variant(base, n, b, *kind));
      cells.push_back(reports::ExploreCell{n, (n - 1) / 3, b, 0, 0, 0, 0});
    }
  }
  const std::size_t total = scenarios.size() * args.seeds;
  std::vector<reports::RunReport> results(total);
  std::atomic<std::size_t> next{0}, done{0};
  std::mutex mu;
  const bool tty = isatty(STDERR_FILENO) != 0 && !args.quiet;
  auto worker = [&] {
    for (std::size_t i = next++; i < total; i = next++) {
      const auto& s = scenarios[i / args.seeds];
      results[i] = harness::run_scenario(s, {s.seed + i % args.seeds, false});
      const std::size_t d = ++done;
      std::lock_guard<std::mutex> lock(mu);
      if (tty) std::fprintf(stderr, "\r[%zu/%zu runs]%s", d, total, d == total ? "\n" : "");
    }
  };
  std::vector<std::thread> pool;
  for (std::uint32_t t = 1; t < std::min<std::size_t>(args.jobs, total); ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (std::size_t i = 0; i < total; ++i) {
    auto& cell = cells[i / args.seeds];
    cell.runs++;
    if (results[i].outcome == "error") { cell.errors++; continue; }
    cell.safety_held += results[i].safety_holds;
    cell.liveness_held += results[i].liveness_holds;
  }
  std::cout << "explore " << base.name << ": behaviour " << behaviour << ", " << args.seeds
            << " seeds per cell\n" << reports::explore_table(cells);
  for (std::size_t i = 0; i < total; ++i) {
    if (!results[i].safety_holds) std::cout << "safety violated: n=" << scenarios[i / args.seeds].cluster.n
                                            << " byzantine=" << cells[i / args.seeds].byzantine
                                            << " seed=" << results[i].seed << "\n";
  }
  bool ok = true;
  if (!args.report_path.empty()) {
    const auto err = reports::write_file_atomic(args.report_path, reports::explore_to_json(cells));
    if (!err.empty()) { std::cerr << "pbftsim: " << err << "\n"; ok = false; }
  }
  if (!args.html_path.empty()) {
    const auto err = reports::write_file_atomic(args.html_path, reports::explore_to_html(base.name, cells));
    if (!err.empty()) { std::cerr << "pbftsim: " << err << "\n"; ok = false; }
  }
  return ok ? kExitOk : kExitBadInput;
}

}  // namespace cli
