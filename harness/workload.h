// The clients' workload. Each workload client keeps `outstanding` requests in flight; a
// PBFT client has one request outstanding at a time, so each in-flight slot is its own
// protocol client (its own id, timestamps and reply table entry).
//
// Operations are a pure function of (seed, client node, timestamp): the oracles can check
// that an executed request was issued, as issued, without keeping a table of them. Keys are
// shared by all clients, so the order of execution changes results (INCREMENT, APPEND) and
// the client-consistency oracle can see a wrong order.
#pragma once
#include <cstdint>

#include "harness/scenario.h"
#include "protocol/message.h"

namespace harness {

struct WorkloadLayout {
  std::uint32_t first_node = 0;        // = n: client nodes come after the replicas
  std::uint32_t protocol_clients = 0;  // clients * outstanding
  std::uint32_t outstanding = 1;
  std::uint32_t requests_per_client = 0;
  // Requests the protocol client at `node` issues in total.
  std::uint64_t quota(std::uint32_t node) const;
  std::uint64_t total() const;
};

WorkloadLayout layout_workload(const Scenario& scenario);

// The operation the client at `node` issues with timestamp `t` (t >= 1).
protocol::Bytes workload_operation(std::uint64_t seed, std::uint32_t node, std::uint64_t t,
                                   std::uint32_t keys);

}  // namespace harness
