// The table of planted defects (see defects.h): compiled only into a defects build.
#include "protocol/defects.h"

#include <array>

namespace protocol {
namespace {

#ifdef PBFTSIM_PLANTED_DEFECTS
constexpr std::array kDefects = {
    DefectInfo{Defect::PrepareQuorumShort, "prepare_quorum_short",
               "prepared on quorum-2 matching PREPAREs (one short of a certificate)"},
    DefectInfo{Defect::CommitQuorumShort, "commit_quorum_short",
               "committed-local on quorum-1 matching COMMITs (one short of a certificate)"},
    DefectInfo{Defect::CheckpointQuorumShort, "checkpoint_quorum_short",
               "a checkpoint becomes stable on f+1 matching CHECKPOINTs, not a quorum"},
    DefectInfo{Defect::VotesIgnoreDigest, "votes_ignore_digest",
               "PREPAREs and COMMITs matched on (view, seq) without their digest"},
    DefectInfo{Defect::CheckpointIgnoresDigest, "checkpoint_ignores_digest",
               "CHECKPOINTs counted toward a checkpoint whatever state digest they carry"},
    DefectInfo{Defect::StateUnchecked, "state_unchecked",
               "a STATE-REPLY snapshot is installed without comparing its hash with the certified digest"},
    DefectInfo{Defect::EquivocationAccepted, "equivocation_accepted",
               "a backup accepts and prepares a second PRE-PREPARE with another digest for one (view, seq)"},
    DefectInfo{Defect::BadMacAccepted, "bad_mac_accepted",
               "a message whose authenticator does not verify is handled anyway"},
    DefectInfo{Defect::ClientOneReply, "client_one_reply",
               "a client accepts the first REPLY instead of f+1 matching ones"},
    DefectInfo{Defect::ReexecuteRetransmission, "reexecute_retransmission",
               "a retransmitted request that already executed is ordered and executed again"},
    DefectInfo{Defect::ExecuteOutOfOrder, "execute_out_of_order",
               "a committed seq executes before its predecessors have"},
    DefectInfo{Defect::AssignBeyondWindow, "assign_beyond_window",
               "the primary assigns sequence numbers beyond the high watermark H"},
    DefectInfo{Defect::CheckpointOnAssigned, "checkpoint_on_assigned",
               "the primary checkpoints a seq when it assigns it, not when it executes it"},
    DefectInfo{Defect::RecoverActive, "recover_active",
               "a replica restarted with no state votes at once (forgets it may have voted)"},
    DefectInfo{Defect::ReplayBeforeNewView, "replay_before_new_view",
               "installing a NEW-VIEW replays the view's buffered messages before laying O over them"},
    DefectInfo{Defect::NewViewUnchecked, "new_view_unchecked",
               "a backup installs a NEW-VIEW without comparing O with its own run of the decision"},
    DefectInfo{Defect::DecisionLowestView, "decision_lowest_view",
               "the view-change decision takes a seq's lowest-view prepared entry, without A1"},
    DefectInfo{Defect::DecisionSkipsA2, "decision_skips_a2",
               "the view-change decision chooses a prepared entry without f+1 pre-prepared entries behind it (A2)"},
};
#else
constexpr std::array<DefectInfo, 0> kDefects = {};
#endif

}  // namespace

std::span<const DefectInfo> planted_defects() { return kDefects; }

std::optional<Defect> defect_named(std::string_view name) {
  for (const DefectInfo& d : kDefects) {
    if (name == d.name) return d.defect;
  }
  return std::nullopt;
}

const char* defect_name(Defect defect) {
  for (const DefectInfo& d : kDefects) {
    if (d.defect == defect) return d.name;
  }
  return "none";
}

}  // namespace protocol
