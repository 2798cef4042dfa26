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

// The latest point in virtual time: a deadline that would lie beyond it is clamped to it, so
// an event scheduled "never" is one that no run reaches (duration_ms is at most 10^12 ms).
inline constexpr TimeNs kTimeNsMax = INT64_MAX;

// When a timer set at `now_ns` for `delay_ns` fires on a clock that runs `factor` times as
// fast (timer_skew): now + delay / factor truncated to whole ns, at least 1 ns after now,
// and at most kTimeNsMax. A 10^12 ms timeout on a clock 1000 times slow is 10^21 ns: as a
// signed 64-bit count that overflowed (undefined behaviour; on x86 it became a timer firing
// 1 ns later).
// REQUIRES: now_ns >= 0, delay_ns >= 0, factor > 0.
constexpr TimeNs skewed_deadline(TimeNs now_ns, DurationNs delay_ns, double factor) {
  const double delay = static_cast<double>(delay_ns) / factor;
  // The room left before kTimeNsMax, as a double (rounded to within half a unit in the last
  // place); anything not strictly below it saturates, so the cast below stays in range.
  const double room = static_cast<double>(kTimeNsMax - now_ns);
  if (!(delay < room)) return kTimeNsMax;
  const DurationNs whole = static_cast<DurationNs>(delay);
  return now_ns + (whole < 1 ? 1 : whole);
}

}  // namespace sim
