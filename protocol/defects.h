// Planted defects: deliberate protocol bugs that show the oracles catch real mistakes (a
// mutation test of the oracles). They exist only in a build configured with
// -Dplanted_defects=true, which defines PBFTSIM_PLANTED_DEFECTS; `pbftsim --defect NAME`
// selects one for a run, and nothing in a scenario file can.
//
// Each defect is a hook of a line or two at the site of the bug, `if (planted(defect_,
// Defect::X))` or a condition that uses it; an assertion next to it that the bug would trip
// allows for it, so that the run goes on and an oracle, not an abort, catches the bug.
// Without the macro planted() is constexpr false, so the hooks and the code under them
// compile away: a release binary has no defect code path, and planted_defects() is empty
// there.
//
// The active defect reaches a Replica or a Client through its constructor (and the decision
// procedure through a parameter), never through PbftConfig or a global: a run plants it in
// every correct node, a faulty replica's behaviours sit around a node that has it too.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace protocol {

enum class Defect : std::uint8_t {
  None,
  // Quorums one short.
  PrepareQuorumShort,     // prepared on quorum - 2 matching PREPAREs
  CommitQuorumShort,      // committed-local on quorum - 1 matching COMMITs
  CheckpointQuorumShort,  // a checkpoint stable on f + 1 matching CHECKPOINTs
  // Votes matched on less than their value.
  VotesIgnoreDigest,        // PREPARE / COMMIT matched on (view, seq) only: a known public-implementation bug
  CheckpointIgnoresDigest,  // CHECKPOINTs counted whatever state digest they carry
  StateUnchecked,           // a STATE-REPLY installed without hashing it against the certified digest
  // Guards of the normal case.
  EquivocationAccepted,  // a backup accepts and prepares a second digest for one (view, seq)
  BadMacAccepted,        // a message whose authenticator does not verify is handled anyway
  ClientOneReply,        // a client accepts the first REPLY, not f + 1 matching ones
  ReexecuteRetransmission,  // a retransmitted request that already executed is ordered and executed again
  ExecuteOutOfOrder,     // a committed seq executes before its predecessors
  AssignBeyondWindow,    // the primary assigns sequence numbers beyond the high watermark H
  CheckpointOnAssigned,  // the primary checkpoints a seq when it assigns it, not when it executes it
  // Restart and view change.
  RecoverActive,         // a replica restarted with no state votes at once (forgets it may have voted)
  // Installing a NEW-VIEW replays the view's buffered messages before O and then lays O over
  // what they left, forgetting the PREPARE it just sent: the non-atomic installation that
  // made correct replicas vote twice and count their own vote twice.
  ReplayBeforeNewView,
  NewViewUnchecked,      // a backup installs a NEW-VIEW without comparing O with its own decision
  DecisionLowestView,    // the decision takes a seq's lowest-view P entry, without A1
  DecisionSkipsA2,       // the decision chooses a P entry that f + 1 Q entries do not back (A2)
};

struct DefectInfo {
  Defect defect = Defect::None;
  const char* name = "";         // what --defect takes: "prepare_quorum_short"
  const char* description = "";  // one line, for `pbftsim defects`
};

// Whether this build has planted defects (configured with -Dplanted_defects=true).
#ifdef PBFTSIM_PLANTED_DEFECTS
inline constexpr bool kPlantedDefectsBuilt = true;
#else
inline constexpr bool kPlantedDefectsBuilt = false;
#endif

// Whether `defect` is the one selected for this node. constexpr false in a release build.
constexpr bool planted(Defect active, Defect defect) {
#ifdef PBFTSIM_PLANTED_DEFECTS
  return active == defect;
#else
  (void)active;
  (void)defect;
  return false;
#endif
}

// Every defect this build can plant, in declaration order (None excluded); empty in a
// release build.
std::span<const DefectInfo> planted_defects();
// The defect called `name` in this build; nullopt for an unknown name (any name, in a
// release build).
std::optional<Defect> defect_named(std::string_view name);
// Its name; "none" for Defect::None.
const char* defect_name(Defect defect);

}  // namespace protocol
