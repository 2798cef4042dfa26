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

// What a recorded event is about beyond its kind: the host's own subdivision of notes (what
// the simulator below it cannot name). Not folded into the fingerprint.
enum class NoteKind : std::uint8_t {
  None = 0,
  ViewChangeStarted,  // a = the view it moves to
  ViewEntered,        // a = the view
  StateTransferred,   // a = the checkpoint's seq
  CheckpointAdopted,  // a = the checkpoint's seq
  FaultStarted,       // a = the fault's index
  FaultEnded,         // a = the fault's index
  Restarted,          // the replica came back with no state
};
const char* note_kind_name(NoteKind kind);  // "view_change_started", ...

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

// One recorded event, as the reports read it.
struct TraceRecord {
  TraceEvent event;
  std::uint64_t shown_hash = 0;  // the hash to show: event.payload_hash, or a rejection's message
  NoteKind note = NoteKind::None;
  std::string summary;           // the message's ("PREPARE from=3 v=0 n=5 ..."), or the note's text
};

class Trace {
 public:
  // record: keep every event as a TraceRecord (costly); otherwise only the fingerprint.
  explicit Trace(bool record) : record_(record) {}

  // Folds the event into the fingerprint; if recording, keeps it with `summary` (a short
  // human text: "PREPARE v=0 n=5", may be empty). A non-zero `shown_hash` is shown instead
  // of event.payload_hash without being folded: a rejection names the message it refuses,
  // whose hash its deliver event has folded already (so fingerprints stay what they were
  // before rejections named it).
  void record(const TraceEvent& event, std::string_view summary = {}, std::uint64_t shown_hash = 0,
              NoteKind note = NoteKind::None) {
    // Every field of every event, chained in order: three 128-bit multiplies per event (a
    // run records a few events per simulated message, so this is on the hottest path).
    std::uint64_t s = state_;
    s = hash_chain(s, static_cast<std::uint64_t>(event.time_ns),
                   (std::uint64_t{static_cast<std::uint8_t>(event.kind)} << 32) | event.tag);
    s = hash_chain(s, (std::uint64_t{event.from} << 32) | event.to, event.payload_hash);
    s = hash_chain(s, event.a, event.b);
    state_ = s;
    events_++;
    if (record_) records_.push_back({event, shown_hash != 0 ? shown_hash : event.payload_hash, note, std::string(summary)});
  }

  bool recording() const { return record_; }
  std::uint64_t fingerprint() const { return state_; }
  std::string fingerprint_hex() const;  // 16 lowercase hex digits
  std::uint64_t events() const { return events_; }
  const std::vector<TraceRecord>& records() const { return records_; }
  std::vector<TraceRecord> take_records() { return std::move(records_); }

 private:
  bool record_;
  std::uint64_t state_ = 0x9e3779b97f4a7c15ULL;
  std::uint64_t events_ = 0;
  std::vector<TraceRecord> records_;
};

}  // namespace sim
