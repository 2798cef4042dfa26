// `pbftsim explore`: for each n and each number of Byzantine replicas, run S seeds with
// that many replicas given the behaviour, and tabulate how often safety and liveness held.
// Every cell is a scenario of its own (derive_byzantine), which `pbftsim run` rebuilds from
// the same flags, so any run of the table can be replayed on its own.
#include <unistd.h>

#include <algorithm>
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
                        const std::string& behaviour, std::uint64_t seed) {
  const std::string file = base.source_path.empty() ? "SCENARIO.json" : base.source_path;
  return "pbftsim run " + file + " --n " + std::to_string(n) + " --byzantine " + std::to_string(byzantine) +
         " --behaviour " + behaviour + " --seed " + std::to_string(seed);
}

}  // namespace

std::optional<harness::FaultKind> byzantine_kind_named(const std::string& name) {
  for (int k = 0; k <= static_cast<int>(harness::FaultKind::TimerSkew); ++k) {
    const auto kind = static_cast<harness::FaultKind>(k);
    if (name == harness::fault_kind_name(kind) && harness::fault_kind_is_faulty(kind)) return kind;
  }
  return std::nullopt;
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
  const std::string behaviour = args.behaviour.empty() ? default_behaviour(base) : args.behaviour;
  const auto kind = byzantine_kind_named(behaviour);
  if (!kind) {
    std::cerr << "pbftsim: --behaviour: expected a fault kind that makes replicas faulty (silence, crash, "
                 "equivocate, withhold, corrupt, forge, replay, bad_view_change), got \"" << behaviour << "\"\n";
    return kExitBadInput;
  }
  const std::vector<std::uint32_t> sizes =
      args.n_values.empty() ? std::vector<std::uint32_t>{base.cluster.n} : args.n_values;
  std::vector<reports::ExploreCell> cells;
  std::vector<harness::Scenario> scenarios;
  for (auto n : sizes) {
    for (std::uint32_t b = lo; b <= hi; ++b) {
      auto derived = derive_byzantine(base, n, b, *kind);
      if (auto* why = std::get_if<std::string>(&derived)) {
        std::cerr << "pbftsim: --n " << n << " --byzantine " << b << ": " << *why << "\n";
        return kExitBadInput;
      }
      scenarios.push_back(std::get<harness::Scenario>(std::move(derived)));
      reports::ExploreCell cell;
      cell.n = n;
      cell.f = scenarios.back().cluster.f;
      cell.byzantine = b;
      cells.push_back(cell);
    }
  }
  const std::size_t total = scenarios.size() * args.seeds;
  std::vector<reports::RunReport> results(total);
  parallel_runs(
      total, args.jobs,
      [&](std::size_t i) {
        const auto& s = scenarios[i / args.seeds];
        results[i] = harness::run_scenario(s, {base.seed + i % args.seeds, false, nullptr});
      },
      args.quiet);
  for (std::size_t i = 0; i < total; ++i) {
    auto& cell = cells[i / args.seeds];
    const auto& r = results[i];
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
  std::cout << "explore " << base.name << ": behaviour " << behaviour << ", " << args.seeds << " seeds per cell (seeds "
            << base.seed << ".." << base.seed + args.seeds - 1 << ")\n"
            << reports::explore_table(cells);
  // Failures worth a look: any safety violation, liveness lost where PBFT promises it, and
  // harness errors. Each with the command that replays it alone.
  bool promise_broken = false;
  for (std::size_t c = 0; c < cells.size(); ++c) {
    std::size_t shown = 0, more = 0;
    for (std::size_t i = c * args.seeds; i < (c + 1) * args.seeds; ++i) {
      const auto& r = results[i];
      const bool promised = cells[c].liveness_required();
      std::string what;
      if (r.outcome == "error") what = "harness error (" + r.harness_error + ")";
      else if (!r.safety_holds) what = "safety violated (" + r.violations.front().invariant + ")";
      else if (promised && !r.liveness_holds) what = "liveness violated";
      if (what.empty()) continue;
      cells[c].failing_seeds.push_back(r.seed);
      promise_broken |= promised || r.outcome == "error";
      if (shown++ >= kFailuresShownPerCell) { more++; continue; }
      std::cout << what << ": n=" << cells[c].n << " byzantine=" << cells[c].byzantine << " seed=" << r.seed
                << "\n  replay: " << replay_line(base, cells[c].n, cells[c].byzantine, behaviour, r.seed) << "\n";
    }
    if (more > 0) {
      std::cout << "  ... and " << more << " more at n=" << cells[c].n << " byzantine=" << cells[c].byzantine
                << " (--report lists every failing seed)\n";
    }
  }
  if (promise_broken) {
    std::cout << "PBFT's guarantees failed in some run with at most f Byzantine replicas (or a run failed to "
                 "complete): exit 1\n";
  }
  bool ok = true;
  if (!args.report_path.empty()) {
    const auto err = reports::write_file_atomic(args.report_path, reports::explore_to_json(base.name, behaviour, cells));
    if (!err.empty()) { std::cerr << "pbftsim: " << err << "\n"; ok = false; }
  }
  if (!args.html_path.empty()) {
    const auto err = reports::write_file_atomic(args.html_path, reports::explore_to_html(base.name, behaviour, cells));
    if (!err.empty()) { std::cerr << "pbftsim: " << err << "\n"; ok = false; }
  }
  if (!ok) return kExitBadInput;
  return promise_broken ? kExitMismatch : kExitOk;
}

}  // namespace cli
