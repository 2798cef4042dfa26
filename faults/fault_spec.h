// A fault as a scenario states it: its kind and the fields each kind reads. The scenario
// parser (harness/scenario.cpp) builds these from JSON; the behaviours and network faults
// of this folder act on them. Owned here so that faults/ depends on nothing above it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocol/config.h"
#include "sim/network.h"
#include "sim/virtual_time.h"

namespace faults {

using protocol::ReplicaId;

enum class FaultKind : std::uint8_t {
  Silence, Crash, Equivocate, Withhold, Corrupt, Forge, Replay, BadViewChange,
  Delay, Drop, Partition, TimerSkew, Censor,
  BadCheckpoint, BadState, BadReply, DoublePrePrepare, SplitVotes,
};
// The last kind: kinds go from 0 to this (new kinds are added at the end).
inline constexpr FaultKind kFaultKindLast = FaultKind::SplitVotes;
const char* fault_kind_name(FaultKind kind);  // the JSON spelling: "bad_view_change", ...
// The names a bad_view_change fault's "variants" may list, in the order of
// faults::BadViewChangeVariant (faults/behaviour.h; a test keeps the two in step).
inline constexpr std::array<const char*, 12> kBadViewChangeVariantNames = {
    "padded_certificate", "rebind_certificate", "checkpoint_proof", "swap_batch",
    "wrong_digest", "drop_entry", "short_v", "duplicate_v", "omit_prepared",
    "unbacked_prepared", "false_ack", "early_pre_prepare"};
// The names a bad_state fault's "variants" may list, in the order of
// faults::BadStateVariant (faults/behaviour.h; a test keeps the two in step).
inline constexpr std::array<const char*, 2> kBadStateVariantNames = {"garbage", "stale"};
// True for kinds whose replicas are Byzantine or crashed (the run's faulty set); false for
// network faults and timer skew, which model asynchrony and leave replicas correct.
bool fault_kind_is_faulty(FaultKind kind);

struct FaultSpec {
  FaultKind kind = FaultKind::Silence;
  std::vector<ReplicaId> replicas;  // resolved ids; empty when replicas_is_primary
  bool replicas_is_primary = false; // "replicas": "primary", resolved when the fault starts
  sim::TimeNs from_ns = 0;
  std::optional<sim::TimeNs> until_ns;    // default: end of run
  std::optional<sim::TimeNs> restart_ns;  // crash: come back empty at this time
  std::vector<std::vector<ReplicaId>> split;  // equivocate: recipient groups (default halves)
  std::vector<ReplicaId> colluders;           // equivocate: faulty voters for each side
  std::vector<ReplicaId> to;                  // withhold: the only recipients; delay, drop,
                                              // partition: the only receivers affected (empty:
                                              // all); double_preprepare: the backups sent two
                                              // PRE-PREPAREs (empty: each backup in turn)
  double probability = 1.0;                   // corrupt, drop
  double rate_per_s = 10.0;                   // replay
  double extra_ms = 0.0;                      // delay: constant extra latency
  std::optional<sim::LatencyModel> extra_latency;  // delay: or a distribution
  std::vector<std::vector<ReplicaId>> groups; // partition
  double factor = 1.0;                        // timer_skew: timers run this much faster
  std::vector<std::string> variants;          // bad_view_change, bad_state: fabrications (empty: all)
  std::vector<std::uint32_t> clients;         // censor: workload client numbers never ordered
  std::string json_path;                      // "/faults/2", for messages
};

}  // namespace faults
