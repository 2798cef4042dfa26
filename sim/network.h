// The simulated network's model: how long a message takes from one node to another and
// whether it is lost or duplicated. It draws only from its own random stream ("network"),
// so the same seed gives the same fates in the same order. Reordering follows from latency.
// Fault injection (faults/) sits in front of this model in the host; the model itself has no
// notion of faults.
#pragma once
#include <cstdint>
#include <string>

#include "sim/rng.h"
#include "sim/virtual_time.h"

namespace sim {

using NodeId = std::uint32_t;

// A latency distribution, parameters in ms as in the scenario format.
struct LatencyModel {
  enum class Dist : std::uint8_t { Constant, Uniform, Exponential, Lognormal };
  Dist dist = Dist::Constant;
  double value_ms = 1.0;   // Constant
  double min_ms = 0.0;     // Uniform
  double max_ms = 0.0;     // Uniform
  double mean_ms = 0.0;    // Exponential
  double median_ms = 0.0;  // Lognormal: exp(mu) = median
  double sigma = 0.0;      // Lognormal: sigma of the underlying normal

  // Draws one latency, >= 0 ns (a sample above 1 hour of virtual time is clamped there, so
  // heavy tails cannot overflow the clock). Uses Boost distributions only.
  DurationNs sample(RngEngine& rng) const;

  // Checks the parameters; returns "" when valid, else what is wrong ("max < min", ...).
  std::string validate() const;
};

struct NetworkConfig {
  LatencyModel latency;
  double drop_probability = 0.0;       // each copy of a message is lost with this probability
  double duplicate_probability = 0.0;  // a message is sent twice with this probability
};

// The fate of one message: 0, 1 or 2 copies, each with its own delay.
struct LinkOutcome {
  std::uint32_t copies = 0;
  DurationNs delay_ns[2] = {0, 0};
  bool dropped = false;     // true when a copy was lost to drop_probability
  bool duplicated = false;  // true when duplicate_probability fired
};

class Network {
 public:
  Network(NetworkConfig config, RngEngine rng) : config_(config), rng_(rng) {}

  // Decides the fate of one message from `from` to `to`. Draw order is fixed: duplicate?,
  // then for each copy: dropped?, latency.
  LinkOutcome transmit(NodeId from, NodeId to);

  const NetworkConfig& config() const { return config_; }

 private:
  NetworkConfig config_;
  RngEngine rng_;
};

}  // namespace sim
