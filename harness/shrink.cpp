// The shrinking moves (see shrink.h). Ordered from the biggest simplification to the
// smallest, so the greedy descent removes whole faults before it trims numbers.
#include "harness/shrink.h"

#include <algorithm>
#include <cmath>

#include "harness/random_scenario.h"

namespace harness {
namespace {

void recompute_expectation(Scenario& s) {
  const bool judged = guarantees_apply(s);
  s.expect.safety = judged ? Expect::Holds : Expect::Any;
  s.expect.liveness = judged ? Expect::Holds : Expect::Any;
}

void renumber_paths(Scenario& s) {
  for (std::size_t i = 0; i < s.faults.size(); ++i) s.faults[i].json_path = "/faults/" + std::to_string(i);
}

bool mentions_as_faulty(const FaultSpec& f, ReplicaId r) {
  auto has = [r](const std::vector<ReplicaId>& v) { return std::find(v.begin(), v.end(), r) != v.end(); };
  return has(f.replicas) || has(f.colluders);
}

void erase_id(std::vector<ReplicaId>& v, ReplicaId r) { v.erase(std::remove(v.begin(), v.end(), r), v.end()); }

void erase_id(std::vector<std::vector<ReplicaId>>& groups, ReplicaId r) {
  for (auto& g : groups) erase_id(g, r);
  groups.erase(std::remove_if(groups.begin(), groups.end(), [](const auto& g) { return g.empty(); }), groups.end());
}

// The cluster without its highest replica, when no fault needs that replica to be faulty.
bool smaller_cluster(const Scenario& s, Scenario& out) {
  if (s.cluster.n <= 1) return false;
  const ReplicaId last = s.cluster.n - 1;
  for (const auto& f : s.faults) {
    if (mentions_as_faulty(f, last)) return false;
  }
  out = s;
  out.cluster.n--;
  out.cluster.f = std::min(out.cluster.f, (out.cluster.n - 1) / 3);
  for (auto& f : out.faults) {
    erase_id(f.split, last);
    erase_id(f.groups, last);
    erase_id(f.to, last);
    if (f.kind == FaultKind::Partition && f.groups.empty()) return false;
    if (!f.replicas_is_primary && f.replicas.empty() && f.kind != FaultKind::Partition) return false;
  }
  return true;
}

std::vector<std::uint32_t> smaller_counts(std::uint32_t v, std::uint32_t floor) {
  std::vector<std::uint32_t> out;
  if (v <= floor) return out;
  out.push_back(floor);
  if (v / 2 > floor) out.push_back(v / 2);
  if (v - 1 > floor && v - 1 != v / 2) out.push_back(v - 1);
  return out;
}

}  // namespace

std::vector<ShrinkCandidate> shrink_candidates(const Scenario& s) {
  std::vector<ShrinkCandidate> out;
  auto add = [&](std::string what, Scenario c) {
    renumber_paths(c);
    recompute_expectation(c);
    out.push_back({std::move(what), std::move(c)});
  };
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    Scenario c = s;
    c.faults.erase(c.faults.begin() + static_cast<std::ptrdiff_t>(i));
    add("remove fault " + std::to_string(i) + " (" + fault_kind_name(s.faults[i].kind) + ")", std::move(c));
  }
  for (auto v : smaller_counts(s.workload.clients, 1)) {
    Scenario c = s;
    c.workload.clients = v;
    add("clients " + std::to_string(s.workload.clients) + " -> " + std::to_string(v), std::move(c));
  }
  for (auto v : smaller_counts(s.workload.requests_per_client, 1)) {
    Scenario c = s;
    c.workload.requests_per_client = v;
    add("requests_per_client " + std::to_string(s.workload.requests_per_client) + " -> " + std::to_string(v),
        std::move(c));
  }
  Scenario smaller;
  if (smaller_cluster(s, smaller)) add("n " + std::to_string(s.cluster.n) + " -> " + std::to_string(smaller.cluster.n), smaller);
  for (auto v : smaller_counts(s.workload.outstanding, 1)) {
    Scenario c = s;
    c.workload.outstanding = v;
    add("outstanding -> " + std::to_string(v), std::move(c));
  }
  auto tweak = [&](bool applies, const char* what, auto&& change) {
    if (!applies) return;
    Scenario c = s;
    change(c);
    add(what, std::move(c));
  };
  tweak(s.network.drop_probability > 0, "network drop -> 0", [](Scenario& c) { c.network.drop_probability = 0; });
  tweak(s.network.duplicate_probability > 0, "network duplicate -> 0",
        [](Scenario& c) { c.network.duplicate_probability = 0; });
  tweak(s.network.latency.dist != sim::LatencyModel::Dist::Constant, "latency -> constant 5 ms", [](Scenario& c) {
    c.network.latency = sim::LatencyModel{sim::LatencyModel::Dist::Constant, 5.0, 0, 0, 0, 0, 0};
  });
  tweak(s.workload.think_ms > 0, "think_ms -> 0", [](Scenario& c) { c.workload.think_ms = 0; });
  tweak(s.workload.start_ms > 0, "start_ms -> 0", [](Scenario& c) { c.workload.start_ms = 0; });
  tweak(s.cluster.batch_size_max > 1, "batch_size -> 1", [](Scenario& c) { c.cluster.batch_size_max = 1; });
  tweak(s.cluster.batch_delay_ns > 0, "batch_delay -> 0", [](Scenario& c) { c.cluster.batch_delay_ns = 0; });
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const FaultSpec& f = s.faults[i];
    const std::string at = "fault " + std::to_string(i) + ": ";
    tweak(!f.colluders.empty(), (at + "one colluder fewer").c_str(), [i](Scenario& c) { c.faults[i].colluders.pop_back(); });
    tweak(!f.split.empty(), (at + "default split").c_str(), [i](Scenario& c) { c.faults[i].split.clear(); });
    tweak(f.replicas.size() > 1, (at + "one replica fewer").c_str(), [i](Scenario& c) { c.faults[i].replicas.pop_back(); });
    // withhold's `to` are the only receivers; elsewhere (one-way network faults,
    // double_preprepare) they are the ones affected, and none listed means all of them.
    if (f.kind == FaultKind::Withhold) {
      tweak(!f.to.empty(), (at + "withhold from one more").c_str(), [i](Scenario& c) { c.faults[i].to.pop_back(); });
    } else {
      tweak(f.to.size() > 1, (at + "affect one receiver fewer").c_str(), [i](Scenario& c) { c.faults[i].to.pop_back(); });
    }
    tweak(f.from_ns > 0, (at + "from_ms -> 0").c_str(), [i](Scenario& c) {
      auto& g = c.faults[i];
      const auto length = g.until_ns ? *g.until_ns - g.from_ns : 0;
      if (g.restart_ns) g.restart_ns = *g.restart_ns - g.from_ns;
      if (g.until_ns) g.until_ns = length;
      g.from_ns = 0;
    });
  }
  return out;
}

}  // namespace harness
