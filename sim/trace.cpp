#include "sim/trace.h"


#include "sim/hash.h"

namespace sim {

const char* trace_kind_name(TraceKind kind) {
  switch (kind) {
    case TraceKind::Send: return "send";
    case TraceKind::Deliver: return "deliver";
    case TraceKind::Drop: return "drop";
    case TraceKind::Reject: return "reject";
    case TraceKind::Timer: return "timer";
    case TraceKind::Execute: return "execute";
    case TraceKind::Fault: return "fault";
    case TraceKind::Note: return "note";
  }
  return "unknown";
}

const char* note_kind_name(NoteKind kind) {
  switch (kind) {
    case NoteKind::None: return "none";
    case NoteKind::ViewChangeStarted: return "view_change_started";
    case NoteKind::ViewEntered: return "view_entered";
    case NoteKind::StateTransferred: return "state_transferred";
    case NoteKind::CheckpointAdopted: return "checkpoint_adopted";
    case NoteKind::FaultStarted: return "fault_started";
    case NoteKind::FaultEnded: return "fault_ended";
    case NoteKind::Restarted: return "restarted";
  }
  return "unknown";
}

std::string Trace::fingerprint_hex() const { return hex16(state_); }

}  // namespace sim
