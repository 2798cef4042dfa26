// Virtual time. A run's clock is a signed 64-bit count of nanoseconds since the start of
// the run; nothing in a run ever reads a wall clock.
#pragma once
#include <cstdint>

namespace sim {

using TimeNs = std::int64_t;      // a point in virtual time, ns since the run started
using DurationNs = std::int64_t;  // a span of virtual time, ns

constexpr DurationNs ns(std::int64_t v) { return v; }
constexpr DurationNs us(std::int64_t v) { return v * 1'000; }
constexpr DurationNs ms(std::int64_t v) { return v * 1'000'000; }
constexpr DurationNs seconds(std::int64_t v) { return v * 1'000'000'000; }

// Converts a (possibly fractional) millisecond figure from a scenario into ns, rounding to
// the nearest ns. REQUIRES: 0 <= v_ms < 9.2e12.
constexpr DurationNs from_ms(double v_ms) {
  return static_cast<DurationNs>(v_ms * 1e6 + 0.5);
}

}  // namespace sim
