// The run's trace and fingerprint. Every event the host processes (message sent, delivered,
// dropped, rejected; timer fired; execution; fault start/stop) is recorded here. The
// fingerprint is a 64-bit hash chained over the ordered events and their payload hashes; it
// is always computed (cheap mode). A payload is hashed once, when the host pools it
// (sim/payload_pool.h); each event then folds in that 64-bit hash, not the bytes again. When recording is on, events are also kept as lines of
// JSON (one object per event) for `--trace` and for the reports.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/hash.h"
#include "sim/virtual_time.h"

namespace sim {

enum class TraceKind : std::uint8_t {
  Send = 1,
  Deliver,
  Drop,       // lost by the network model or a network fault
  Reject,     // a node refused a delivered message (bad MAC, out of window, ...)
  Timer,
  Execute,
  Fault,      // a fault started or ended
  Note,       // anything else worth a line (view change, stable checkpoint, ...)
};

const char* trace_kind_name(TraceKind kind);

struct TraceEvent {
  TimeNs time_ns = 0;
  TraceKind kind = TraceKind::Note;
  std::uint32_t from = 0;
  std::uint32_t to = 0;
  std::uint32_t tag = 0;           // e.g. message kind, timer kind
  std::uint64_t payload_hash = 0;  // hash of the bytes involved, 0 when none
  std::uint64_t a = 0;             // event-specific numbers (view, seq, ...)
  std::uint64_t b = 0;
};

class Trace {
 public:
  // record_lines: keep a JSON line per event (costly); otherwise only the fingerprint.
  explicit Trace(bool record_lines) : record_lines_(record_lines) {}

  // Folds the event into the fingerprint; if recording, appends a JSON line built from the
  // event and `summary` (a short human text: "PREPARE v=0 n=5", may be empty). A non-zero
  // `line_hash` is shown in the line instead of event.payload_hash without being folded: a
  // rejection names the message it refuses, whose hash its deliver event has folded already
  // (so fingerprints stay what they were before rejections named it).
  void record(const TraceEvent& event, std::string_view summary = {}, std::uint64_t line_hash = 0) {
    // Every field of every event, chained in order: three 128-bit multiplies per event (a
    // run records a few events per simulated message, so this is on the hottest path).
    std::uint64_t s = state_;
    s = hash_chain(s, static_cast<std::uint64_t>(event.time_ns),
                   (std::uint64_t{static_cast<std::uint8_t>(event.kind)} << 32) | event.tag);
    s = hash_chain(s, (std::uint64_t{event.from} << 32) | event.to, event.payload_hash);
    s = hash_chain(s, event.a, event.b);
    state_ = s;
    events_++;
    if (record_lines_) record_line(event, summary, line_hash);
  }

  bool recording() const { return record_lines_; }
  std::uint64_t fingerprint() const { return state_; }
  std::string fingerprint_hex() const;  // 16 lowercase hex digits
  std::uint64_t events() const { return events_; }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  void record_line(const TraceEvent& event, std::string_view summary, std::uint64_t line_hash);
  bool record_lines_;
  std::uint64_t state_ = 0x9e3779b97f4a7c15ULL;
  std::uint64_t events_ = 0;
  std::vector<std::string> lines_;
};

}  // namespace sim
