// The simulated network as the host's Links: the scenario's network faults first (delay,
// drop, partition: faults/network_faults.h), then the latency, loss and duplication model
// (sim/network.h). Each draws from its own named stream of the run's seed.
#pragma once
#include <vector>

#include "faults/fault_spec.h"
#include "faults/network_faults.h"
#include "host/links.h"
#include "sim/network.h"

namespace host {

class NetworkLinks final : public Links {
 public:
  NetworkLinks(const sim::NetworkConfig& network, const std::vector<faults::FaultSpec>& faults, std::uint32_t replicas,
               std::uint64_t seed, sim::TimeNs end_ns);

  LinkFate transmit(protocol::NodeId from, protocol::NodeId to, protocol::ByteView wire,
                    sim::TimeNs now_ns) override;
  void resolve_fault(std::uint32_t fault_index, const std::vector<protocol::ReplicaId>& replicas) override;

 private:
  sim::Network network_;
  faults::NetworkFaults faults_;
  bool has_faults_ = false;  // no network fault at all: skip asking (the common case)
};

}  // namespace host
