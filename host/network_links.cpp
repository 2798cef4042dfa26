#include "host/network_links.h"

namespace host {

NetworkLinks::NetworkLinks(const sim::NetworkConfig& network, const std::vector<faults::FaultSpec>& faults,
                           std::uint32_t replicas, std::uint64_t seed, sim::TimeNs end_ns)
    : network_(network, sim::make_stream(seed, "network")), faults_(faults, seed, end_ns) {
  faults_.set_replica_count(replicas);
  for (const auto& spec : faults) {
    const auto k = spec.kind;
    has_faults_ |= k == faults::FaultKind::Delay || k == faults::FaultKind::Drop || k == faults::FaultKind::Partition;
  }
}

LinkFate NetworkLinks::transmit(protocol::NodeId from, protocol::NodeId to, protocol::ByteView wire,
                                sim::TimeNs now_ns) {
  (void)wire;
  LinkFate fate;
  sim::DurationNs extra_ns = 0;
  if (has_faults_) {
    const auto verdict = faults_.judge(from, to, now_ns);
    if (verdict.drop) {
      fate.copies = 0;
      fate.cause = LossCause::Fault;
      fate.fault_index = verdict.fault_index;
      return fate;
    }
    extra_ns = verdict.extra_delay_ns;
  }
  const sim::LinkOutcome outcome = network_.transmit(from, to);
  fate.copies = outcome.copies;
  for (std::uint32_t i = 0; i < outcome.copies; ++i) fate.delay_ns[i] = outcome.delay_ns[i] + extra_ns;
  return fate;
}

void NetworkLinks::resolve_fault(std::uint32_t fault_index, const std::vector<protocol::ReplicaId>& replicas) {
  faults_.set_replicas(fault_index, replicas);
}

}  // namespace host
