#include "harness/workload.h"

#include <cassert>
#include <charconv>
#include <string_view>

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
  // "k<h % keys>" and "<node>:<t>", formatted without heap strings (once per request).
  char key_buf[24], value_buf[48];
  key_buf[0] = 'k';
  char* key_end = std::to_chars(key_buf + 1, key_buf + sizeof key_buf, h % keys).ptr;
  char* value_end = std::to_chars(value_buf, value_buf + sizeof value_buf, node).ptr;
  *value_end++ = ':';
  value_end = std::to_chars(value_end, value_buf + sizeof value_buf, t).ptr;
  const std::string_view key(key_buf, static_cast<std::size_t>(key_end - key_buf));
  const std::string_view value(value_buf, static_cast<std::size_t>(value_end - value_buf));
  switch ((h >> 32) % 4) {
    case 0: return protocol::encode_kv_operation(protocol::KvOpcode::Put, key, value);
    case 1: return protocol::encode_kv_operation(protocol::KvOpcode::Get, key);
    case 2: return protocol::encode_kv_operation(protocol::KvOpcode::Append, key, value);
    default: return protocol::encode_kv_operation(protocol::KvOpcode::Increment, key);
  }
}

}  // namespace harness
