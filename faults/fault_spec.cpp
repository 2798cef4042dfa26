#include "faults/fault_spec.h"

namespace faults {

const char* fault_kind_name(FaultKind kind) {
  switch (kind) {
    case FaultKind::Silence: return "silence";
    case FaultKind::Crash: return "crash";
    case FaultKind::Equivocate: return "equivocate";
    case FaultKind::Withhold: return "withhold";
    case FaultKind::Corrupt: return "corrupt";
    case FaultKind::Forge: return "forge";
    case FaultKind::Replay: return "replay";
    case FaultKind::BadViewChange: return "bad_view_change";
    case FaultKind::Delay: return "delay";
    case FaultKind::Drop: return "drop";
    case FaultKind::Partition: return "partition";
    case FaultKind::TimerSkew: return "timer_skew";
    case FaultKind::Censor: return "censor";
    case FaultKind::BadCheckpoint: return "bad_checkpoint";
    case FaultKind::BadState: return "bad_state";
    case FaultKind::BadReply: return "bad_reply";
    case FaultKind::DoublePrePrepare: return "double_preprepare";
    case FaultKind::SplitVotes: return "split_votes";
  }
  return "unknown";
}

bool fault_kind_is_faulty(FaultKind kind) {
  switch (kind) {
    case FaultKind::Delay:
    case FaultKind::Drop:
    case FaultKind::Partition:
    case FaultKind::TimerSkew: return false;
    default: return true;
  }
}

}  // namespace faults
