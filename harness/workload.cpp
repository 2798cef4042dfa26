#include "harness/workload.h"

#include <cassert>
#include <string>

#include "protocol/service.h"
#include "sim/hash.h"

namespace harness {

std::uint64_t WorkloadLayout::quota(std::uint32_t node) const {
  assert(node >= first_node && node < first_node + protocol_clients);
  const std::uint32_t slot = (node - first_node) % outstanding;
  return requests_per_client / outstanding + (slot < requests_per_client % outstanding ? 1 : 0);
}

std::uint64_t WorkloadLayout::total() const {
  return std::uint64_t{requests_per_client} * (protocol_clients / outstanding);
}

WorkloadLayout layout_workload(const Scenario& scenario) {
  WorkloadLayout w;
  w.first_node = scenario.cluster.n;
  w.outstanding = scenario.workload.outstanding;
  w.protocol_clients = scenario.workload.clients * scenario.workload.outstanding;
  w.requests_per_client = scenario.workload.requests_per_client;
  return w;
}

protocol::Bytes workload_operation(std::uint64_t seed, std::uint32_t node, std::uint64_t t,
                                   std::uint32_t keys) {
  assert(t >= 1 && keys >= 1);
  const std::uint64_t h = sim::hash_mix(sim::hash_mix(sim::hash_mix(seed, node), t), 0x6f70);
  const std::string key = "k" + std::to_string(h % keys);
  const std::string value = std::to_string(node) + ":" + std::to_string(t);
  switch ((h >> 32) % 4) {
    case 0: return protocol::encode_kv_operation(protocol::KvOpcode::Put, key, value);
    case 1: return protocol::encode_kv_operation(protocol::KvOpcode::Get, key);
    case 2: return protocol::encode_kv_operation(protocol::KvOpcode::Append, key, value);
    default: return protocol::encode_kv_operation(protocol::KvOpcode::Increment, key);
  }
}

}  // namespace harness
