// `pbftsim explore`: for each n and each number of Byzantine replicas, run S seeds with
// that many replicas given the behaviour, and tabulate how often safety and liveness held.
// Every cell is a scenario of its own (derive_byzantine), which `pbftsim run` rebuilds from
// the same flags, so any run of the table can be replayed on its own.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <ostream>
#include <variant>

#include "cli/commands.h"
#include "harness/scenario.h"
#include "harness/run_scenario.h"
#include "reports/writers.h"

namespace cli {
namespace {

// The failing runs listed under the table, per cell; the JSON report has the counts.
constexpr std::size_t kFailuresShownPerCell = 3;

bool parse_range(const std::string& text, std::uint32_t& lo, std::uint32_t& hi) {
  try {
    const auto dots = text.find("..");
    std::size_t used = 0;
    if (dots == std::string::npos) {
      lo = hi = static_cast<std::uint32_t>(std::stoul(text, &used));
      return used == text.size() && text.find('-') == std::string::npos;
    }
    lo = static_cast<std::uint32_t>(std::stoul(text.substr(0, dots), &used));
    if (used != dots) return false;
    const std::string rest = text.substr(dots + 2);
    hi = static_cast<std::uint32_t>(std::stoul(rest, &used));
    return used == rest.size() && lo <= hi && text.find('-') == std::string::npos;
  } catch (const std::exception&) {
    return false;
  }
}

bool names_missing_replica(const harness::FaultSpec& f, std::uint32_t n) {
  auto any_beyond = [n](const std::vector<harness::ReplicaId>& ids) {
    return std::any_of(ids.begin(), ids.end(), [n](harness::ReplicaId r) { return r >= n; });
  };
  if (any_beyond(f.replicas)) return true;
  return std::any_of(f.groups.begin(), f.groups.end(), any_beyond);
}

// The parameters of the base scenario's first fault of `kind` (probability, rate, "to",
// "split"), so that exploring a corrupt-at-30% scenario keeps its 30%.
harness::FaultSpec template_for(const harness::Scenario& base, harness::FaultKind kind) {
  for (const auto& f : base.faults) {
    if (f.kind == kind) return f;
  }
  harness::FaultSpec f;
  f.kind = kind;
  return f;
}

std::vector<harness::ReplicaId> below(const std::vector<harness::ReplicaId>& ids, std::uint32_t n) {
  std::vector<harness::ReplicaId> out;
  for (auto r : ids) {
    if (r < n) out.push_back(r);
  }
  return out;
}

std::string replay_line(const harness::Scenario& base, std::uint32_t n, std::uint32_t byzantine,
                        const std::string& behaviour, std::uint64_t seed, const std::string& defect) {
  const std::string file = base.source_path.empty() ? "SCENARIO.json" : base.source_path;
  return "pbftsim run " + file + " --n " + std::to_string(n) + " --byzantine " + std::to_string(byzantine) +
         " --behaviour " + behaviour + " --seed " + std::to_string(seed) + (defect.empty() ? "" : " --defect " + defect);
}

}  // namespace

std::optional<harness::FaultKind> byzantine_kind_named(const std::string& name) {
  for (int k = 0; k <= static_cast<int>(harness::kFaultKindLast); ++k) {
    const auto kind = static_cast<harness::FaultKind>(k);
    if (name == harness::fault_kind_name(kind) && harness::fault_kind_is_faulty(kind)) return kind;
  }
  return std::nullopt;
}

std::string byzantine_kind_names() {
  std::string kinds;
  for (int k = 0; k <= static_cast<int>(harness::kFaultKindLast); ++k) {
    const auto kind = static_cast<harness::FaultKind>(k);
    if (!harness::fault_kind_is_faulty(kind)) continue;
    kinds += kinds.empty() ? "" : ", ";
    kinds += harness::fault_kind_name(kind);
  }
  return kinds;
}

std::string default_behaviour(const harness::Scenario& base) {
  for (const auto& f : base.faults) {
    if (harness::fault_kind_is_faulty(f.kind)) return harness::fault_kind_name(f.kind);
  }
  return "equivocate";
}

std::variant<harness::Scenario, std::string> derive_byzantine(const harness::Scenario& base, std::uint32_t n,
                                                              std::uint32_t byzantine, harness::FaultKind kind) {
  if (n < 1 || byzantine >= n) {
    return "n = " + std::to_string(n) + " with " + std::to_string(byzantine) +
           " Byzantine replicas: at least one replica must stay correct";
  }
  harness::Scenario s = base;
  s.cluster.n = n;
  s.cluster.f = n == base.cluster.n ? base.cluster.f : (n - 1) / 3;
  const std::string err = s.cluster.validate();
  if (!err.empty()) return err;
  if (const auto [path, why] = harness::memory_problem(s); !why.empty()) return path + ": " + why;
  s.faults.clear();
  for (const auto& f : base.faults) {
    if (harness::fault_kind_is_faulty(f.kind)) continue;  // replaced below
    if (names_missing_replica(f, n)) {
      return "the scenario's fault " + f.json_path + " names a replica that does not exist at n = " + std::to_string(n);
    }
    s.faults.push_back(f);
  }
  if (byzantine > 0) {
    harness::FaultSpec fault = template_for(base, kind);
    fault.replicas_is_primary = false;
    fault.from_ns = 0;
    fault.until_ns.reset();
    fault.restart_ns.reset();
    fault.json_path = "/faults/" + std::to_string(s.faults.size());
    fault.to = below(fault.to, n);
    fault.split.clear();  // default halves: a split written for another n would not fit
    fault.colluders.clear();
    fault.replicas.clear();
    if (kind == harness::FaultKind::Equivocate) {
      fault.replicas = {0};  // the primary of view 0 equivocates, the others vote both ways
      for (harness::ReplicaId r = 1; r < byzantine; ++r) fault.colluders.push_back(r);
    } else {
      for (harness::ReplicaId r = 0; r < byzantine; ++r) fault.replicas.push_back(r);
    }
    s.faults.push_back(fault);
  }
  // PBFT promises safety and liveness with at most f faulty replicas and nothing beyond.
  const bool promised = byzantine <= s.cluster.f;
  s.expect.safety = promised ? harness::Expect::Holds : harness::Expect::Any;
  s.expect.liveness = promised ? harness::Expect::Holds : harness::Expect::Any;
  s.name = base.name + " (n=" + std::to_string(n) + ", " + std::to_string(byzantine) + " x " +
           harness::fault_kind_name(kind) + ")";
  return s;
}

namespace {

// One exploration: the cells in table order and, for cell c, its scenario and its runs
// results[c * seeds .. (c + 1) * seeds).
struct Exploration {
  harness::Scenario base;
  std::string behaviour;
  std::string defect;  // --defect as given ("" for none)
  std::uint32_t seeds = 1;
  std::vector<harness::Scenario> scenarios;
  std::vector<reports::ExploreCell> cells;
  std::vector<harness::RunReport> results;
};

// Builds every cell's scenario; returns "" or why the arguments do not fit the scenario.
std::string plan(Exploration& e, const std::vector<std::uint32_t>& sizes, std::uint32_t lo, std::uint32_t hi,
                 harness::FaultKind kind) {
  for (auto n : sizes) {
    for (std::uint32_t b = lo; b <= hi; ++b) {
      auto derived = derive_byzantine(e.base, n, b, kind);
      if (auto* why = std::get_if<std::string>(&derived)) {
        return "--n " + std::to_string(n) + " --byzantine " + std::to_string(b) + ": " + *why;
      }
      e.scenarios.push_back(std::get<harness::Scenario>(std::move(derived)));
      reports::ExploreCell cell;
      cell.n = n;
      cell.f = e.scenarios.back().cluster.f;
      cell.byzantine = b;
      e.cells.push_back(cell);
    }
  }
  return "";
}

void tally(Exploration& e) {
  for (std::size_t i = 0; i < e.results.size(); ++i) {
    auto& cell = e.cells[i / e.seeds];
    const auto& r = e.results[i];
    if (cell.runs == 0) cell.first_seed = r.seed;
    cell.runs++;
    if (r.outcome == "error") {
      cell.errors++;
      continue;
    }
    cell.safety_held += r.safety_holds;
    cell.liveness_held += r.liveness_holds;
    cell.requests_submitted += r.submitted;
    cell.requests_completed += r.completed;
  }
}

// Lists the failures worth a look, each with the command that replays it alone: any safety
// violation, liveness lost where PBFT promises it, harness errors. Records their seeds in the
// cells. Returns true when a promise was broken (a failure at most f, or a harness error).
bool list_failures(Exploration& e, std::ostream& out) {
  bool promise_broken = false;
  for (std::size_t c = 0; c < e.cells.size(); ++c) {
    auto& cell = e.cells[c];
    std::size_t shown = 0;
    for (std::size_t i = c * e.seeds; i < (c + 1) * e.seeds; ++i) {
      const auto& r = e.results[i];
      std::string what;
      if (r.outcome == "error") what = "harness error (" + r.harness_error + ")";
      else if (!r.safety_holds) what = "safety violated (" + r.violations.front().invariant + ")";
      else if (cell.liveness_required() && !r.liveness_holds) what = "liveness violated";
      if (what.empty()) continue;
      cell.failing_seeds.push_back(r.seed);
      cell.failures.push_back({r.seed, what, replay_line(e.base, cell.n, cell.byzantine, e.behaviour, r.seed, e.defect)});
      promise_broken |= cell.liveness_required() || r.outcome == "error";
      if (shown++ >= kFailuresShownPerCell) continue;
      out << what << ": n=" << cell.n << " byzantine=" << cell.byzantine << " seed=" << r.seed
          << "\n  replay: " << replay_line(e.base, cell.n, cell.byzantine, e.behaviour, r.seed, e.defect) << "\n";
    }
    if (shown > kFailuresShownPerCell) {
      out << "  ... and " << shown - kFailuresShownPerCell << " more at n=" << cell.n << " byzantine=" << cell.byzantine
          << " (--report lists every failing seed)\n";
    }
  }
  if (promise_broken) {
    out << "PBFT's guarantees failed in some run with at most f Byzantine replicas (or a run failed to "
           "complete): exit 1\n";
  }
  return promise_broken;
}

bool write_or_say(const std::string& path, const std::string& content) {
  if (path.empty()) return true;
  const auto err = reports::write_output(path, content);
  if (!err.empty()) std::cerr << "pbftsim: " << err << "\n";
  return err.empty();
}

}  // namespace

int explore_command(const ExploreArgs& args) {
  const auto defect = defect_or_complain(args.defect);
  if (!defect) return kExitBadInput;
  auto loaded = harness::load_scenario_file(args.scenario);
  if (auto* err = std::get_if<harness::ScenarioError>(&loaded)) {
    std::cerr << "pbftsim: " << err->to_string() << "\n";
    return kExitBadInput;
  }
  Exploration e;
  e.base = std::get<harness::Scenario>(std::move(loaded));
  e.seeds = args.seeds;
  e.defect = args.defect;
  std::uint32_t lo = 0, hi = 0;
  if (!parse_range(args.byzantine, lo, hi)) {
    std::cerr << "pbftsim: --byzantine: expected K or LO..HI (e.g. 0..2), got \"" << args.byzantine << "\"\n";
    return kExitBadInput;
  }
  e.behaviour = args.behaviour.empty() ? default_behaviour(e.base) : args.behaviour;
  const auto kind = byzantine_kind_named(e.behaviour);
  if (!kind) {
    std::cerr << "pbftsim: --behaviour: expected a fault kind that makes replicas faulty (" << byzantine_kind_names()
              << "), got \"" << e.behaviour << "\"\n";
    return kExitBadInput;
  }
  const auto sizes = args.n_values.empty() ? std::vector<std::uint32_t>{e.base.cluster.n} : args.n_values;
  if (const std::string why = plan(e, sizes, lo, hi, *kind); !why.empty()) {
    std::cerr << "pbftsim: " << why << "\n";
    return kExitBadInput;
  }
  if (!outputs_writable({args.report_path, args.html_path})) return kExitBadInput;
  for (auto& entry : isolated_runs(
           e.scenarios.size() * e.seeds, args.jobs, args.quiet,
           [&](std::size_t i) -> const harness::Scenario& { return e.scenarios[i / e.seeds]; },
           [&](std::size_t i) { return e.base.seed + i % e.seeds; }, *defect)) {
    e.results.push_back(std::move(entry.report));
  }
  tally(e);
  std::cout << "explore " << e.base.name << ": behaviour " << e.behaviour << ", " << e.seeds << " seeds per cell (seeds "
            << e.base.seed << ".." << e.base.seed + e.seeds - 1 << ")\n"
            << reports::explore_table(e.cells);
  const bool promise_broken = list_failures(e, std::cout);
  bool written = write_or_say(args.report_path, reports::explore_to_json(e.base.name, e.behaviour, e.cells));
  written = write_or_say(args.html_path, reports::explore_to_html(e.base.name, e.behaviour, e.cells)) && written;
  if (!written) return kExitBadInput;
  return promise_broken ? kExitMismatch : kExitOk;
}

}  // namespace cli
