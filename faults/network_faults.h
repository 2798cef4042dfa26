// Network faults: delay, drop and partition act on messages in flight and leave every
// replica correct (they model asynchrony). The host asks, for each message, whether an
// active network fault drops it or adds latency.
#pragma once
#include <cstdint>
#include <vector>

#include "faults/fault_spec.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/virtual_time.h"

namespace faults {

struct NetworkVerdict {
  bool drop = false;
  sim::DurationNs extra_delay_ns = 0;
  std::uint32_t fault_index = 0;  // which fault dropped it (when drop)
};

class NetworkFaults {
 public:
  // `specs`: all faults of the scenario (non-network kinds are ignored). Each fault draws
  // from its own stream, derived from `seed` as "netfault/<index>".
  NetworkFaults(const std::vector<FaultSpec>& specs, std::uint64_t seed,
                sim::TimeNs end_ns);
  // Node ids below `replicas` are replicas; the rest are clients.
  void set_replica_count(std::uint32_t replicas) { replicas_ = replicas; }

  // The fate of one message from `from` to `to` sent at `now_ns`. Node ids >= n (clients)
  // are never partitioned away from anyone, but delay/drop faults on replicas apply to all
  // their outgoing messages. A fault with a "to" list (FaultSpec::to) is one-way: it acts
  // only on messages whose receiver is listed (a partition: only on messages into a listed
  // replica from another group), so a link can fail in one direction alone.
  NetworkVerdict judge(std::uint32_t from, std::uint32_t to, sim::TimeNs now_ns);

  // For faults whose "replicas" is "primary": the host resolves the ids when the fault
  // starts and hands them over here. REQUIRES: fault_index names a network fault.
  void set_replicas(std::uint32_t fault_index, const std::vector<std::uint32_t>& replicas);

  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t delayed() const { return delayed_; }

 private:
  struct Active {
    FaultSpec spec;
    std::uint32_t index = 0;
    sim::TimeNs until_ns = 0;
    sim::RngEngine rng;
    std::vector<std::int32_t> group_of;  // partition: replica -> group, -1 = none
  };
  bool is_replica(std::uint32_t node) const { return node < replicas_; }
  std::uint32_t replicas_ = 0;
  std::vector<Active> faults_;
  std::uint64_t dropped_ = 0;
  std::uint64_t delayed_ = 0;
};

}  // namespace faults
