#include "sim/network.h"

#include <boost/random/exponential_distribution.hpp>
#include <boost/random/lognormal_distribution.hpp>
#include <boost/random/uniform_real_distribution.hpp>
#include <cmath>

namespace sim {

DurationNs LatencyModel::sample(RngEngine& rng) const {
  double value_ms_drawn = 0.0;
  switch (dist) {
    case Dist::Constant: value_ms_drawn = value_ms; break;
    case Dist::Uniform: {
      // Boost asserts min < max: a degenerate range ({"min": 5, "max": 5}) is a constant
      // and must not construct the distribution (found by `pbftsim fuzz`).
      if (!(min_ms < max_ms)) {
        value_ms_drawn = min_ms;
        break;
      }
      boost::random::uniform_real_distribution<double> d(min_ms, max_ms);
      value_ms_drawn = d(rng);
      break;
    }
    case Dist::Exponential: {
      boost::random::exponential_distribution<double> d(1.0 / mean_ms);
      value_ms_drawn = d(rng);
      break;
    }
    case Dist::Lognormal: {
      // Boost's lognormal_distribution(m, s) is exp(normal(m, s)): m = ln(median).
      if (sigma == 0.0) {
        value_ms_drawn = median_ms;
      } else {
        boost::random::lognormal_distribution<double> d(std::log(median_ms), sigma);
        value_ms_drawn = d(rng);
      }
      break;
    }
  }
  constexpr double kClampMs = 3'600'000.0;  // an hour: heavy tails cannot overflow the clock
  if (!(value_ms_drawn >= 0.0)) value_ms_drawn = 0.0;
  return from_ms(std::min(value_ms_drawn, kClampMs));
}

std::string LatencyModel::validate() const {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  switch (dist) {
    case Dist::Constant: return bad(value_ms) ? "value must be a finite number >= 0" : "";
    case Dist::Uniform:
      if (bad(min_ms) || bad(max_ms)) return "min and max must be finite numbers >= 0";
      return max_ms < min_ms ? "max must be >= min" : "";
    case Dist::Exponential: return bad(mean_ms) || mean_ms == 0 ? "mean must be a finite number > 0" : "";
    case Dist::Lognormal:
      if (bad(median_ms) || median_ms == 0) return "median must be a finite number > 0";
      return bad(sigma) ? "sigma must be a finite number >= 0" : "";
  }
  return "unknown distribution";
}

LinkOutcome Network::transmit(NodeId from, NodeId to) {
  (void)from;
  (void)to;
  LinkOutcome out;
  const std::uint32_t copies = bernoulli(rng_, config_.duplicate_probability) ? 2 : 1;
  out.duplicated = copies == 2;
  for (std::uint32_t i = 0; i < copies; ++i) {
    if (bernoulli(rng_, config_.drop_probability)) {
      out.dropped = true;
      continue;
    }
    out.delay_ns[out.copies++] = config_.latency.sample(rng_);
  }
  return out;
}

}  // namespace sim
