#include "faults/network_faults.h"

#include <algorithm>
#include <cassert>

namespace faults {

NetworkFaults::NetworkFaults(const std::vector<FaultSpec>& specs, std::uint64_t seed,
                             sim::TimeNs end_ns) {
  for (std::uint32_t i = 0; i < specs.size(); ++i) {
    const auto& s = specs[i];
    if (s.kind != FaultKind::Delay && s.kind != FaultKind::Drop &&
        s.kind != FaultKind::Partition) {
      continue;
    }
    Active a{s, i, s.until_ns.value_or(end_ns), sim::make_stream(seed, "netfault/" + std::to_string(i)), {}};
    if (s.kind == FaultKind::Partition) {
      // Replicas named in no group form one more, implicit group.
      std::uint32_t n = 0;
      for (const auto& g : s.groups) for (auto r : g) n = std::max(n, r + 1);
      a.group_of.assign(n, -1);
      for (std::size_t g = 0; g < s.groups.size(); ++g) {
        for (auto r : s.groups[g]) a.group_of[r] = static_cast<std::int32_t>(g);
      }
    }
    faults_.push_back(std::move(a));
  }
}

void NetworkFaults::set_replicas(std::uint32_t fault_index, const std::vector<std::uint32_t>& replicas) {
  for (auto& a : faults_) {
    if (a.index == fault_index) a.spec.replicas = replicas;
  }
}

NetworkVerdict NetworkFaults::judge(std::uint32_t from, std::uint32_t to, sim::TimeNs now_ns) {
  NetworkVerdict v;
  for (auto& a : faults_) {
    if (now_ns < a.spec.from_ns || now_ns >= a.until_ns) continue;
    const auto& spec = a.spec;
    const bool from_listed = std::find(spec.replicas.begin(), spec.replicas.end(), from) != spec.replicas.end();
    // "to" makes the fault one-way: only these receivers lose (or wait for) what reaches them.
    const bool to_listed = spec.to.empty() || std::find(spec.to.begin(), spec.to.end(), to) != spec.to.end();
    switch (spec.kind) {
      case FaultKind::Partition: {
        const auto group = [&](std::uint32_t node) -> std::int32_t {
          return node < a.group_of.size() ? a.group_of[node] : -1;
        };
        // Clients reach everyone: a partition separates replicas.
        if (is_replica(from) && is_replica(to) && group(from) != group(to) && to_listed) {
          v.drop = true;
          v.fault_index = a.index;
          dropped_++;
          return v;
        }
        break;
      }
      case FaultKind::Drop:
        if (from_listed && to_listed && sim::bernoulli(a.rng, spec.probability)) {
          v.drop = true;
          v.fault_index = a.index;
          dropped_++;
          return v;
        }
        break;
      case FaultKind::Delay:
        if (from_listed && to_listed) {
          v.extra_delay_ns += spec.extra_latency ? spec.extra_latency->sample(a.rng) : sim::from_ms(spec.extra_ms);
          delayed_++;
        }
        break;
      default: break;
    }
  }
  return v;
}

}  // namespace faults
