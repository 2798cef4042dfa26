// What the host counts as a run goes: traffic by kind, refusals by reason, the replicas'
// view changes and state transfers, and the timeline of their lives. Plain values: the
// scenario runner turns them into the report (harness/run_report.h).
#pragma once
#include <array>
#include <cstdint>
#include <set>
#include <vector>

#include "protocol/io.h"
#include "protocol/message.h"
#include "sim/virtual_time.h"

namespace host {

// A point in a replica's life.
enum class TimelineKind : std::uint8_t { View, StableCheckpoint, StateTransfer, Crash, Restart };
// "view", "stable_checkpoint", "state_transfer", "crash", "restart" (the report's spelling).
const char* timeline_kind_name(TimelineKind kind);

struct TimelineMark {
  sim::TimeNs time_ns = 0;
  protocol::ReplicaId replica = 0;
  TimelineKind kind = TimelineKind::View;
  std::uint64_t value = 0;  // the view, or the checkpoint's sequence number
};

struct Counters {
  std::uint64_t sent = 0;       // copies put on the links (a multicast counts one per recipient)
  std::uint64_t delivered = 0;  // handed to a node
  std::uint64_t dropped = 0;    // lost on a link, or to a crashed receiver
  std::uint64_t rejected = 0;   // refused by a node (or by the transport under auth "none")
  std::array<std::uint64_t, protocol::kMessageKindMax + 1> sent_by_kind{};
  std::array<std::uint64_t, protocol::kMessageKindMax + 1> sent_bytes_by_kind{};  // one copy per recipient
  std::array<std::uint64_t, protocol::kRejectReasons> rejected_by_reason{};
  std::uint64_t max_log_entries = 0;  // the largest log any replica held after any step
  std::uint64_t state_transfers = 0;  // completed by correct replicas
  std::set<protocol::ViewNumber> views_entered;  // by correct replicas
  // Views entered, state transfers, crashes and restarts always; stable checkpoints only
  // when the trace is recorded (they are many).
  std::vector<TimelineMark> timeline;
};

}  // namespace host
