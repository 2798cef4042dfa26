// The oracles: an independent checker that keeps the canonical history of the run and
// compares every correct replica and every client against it as the run goes (in the
// spirit of TigerBeetle's state checker). It holds only what is still needed: entries
// every correct replica has passed are dropped, so memory does not grow with run length.
//
// Invariants checked (over correct replicas only):
//   agreement           no two correct replicas execute different batches at one seq, and
//                       their checkpoint digests agree at every common checkpoint
//   validity            every executed request was issued by its client, as issued
//   integrity           each replica executes seqs gaplessly (state transfer may jump) and
//                       each request at most once
//   client_consistency  every result a client accepted equals the result of executing the
//                       agreed log, in order, on a reference copy of the service
//   certificate         every certificate a correct replica acts on holds a quorum
// Liveness is judged by the harness at the end of the run (harness/world.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "protocol/config.h"
#include "protocol/io.h"
#include "protocol/service.h"
#include "reports/run_report.h"

namespace oracles {

using protocol::Bytes;
using protocol::ClientId;
using protocol::MessageDigest;
using protocol::ReplicaId;
using protocol::SequenceNumber;
using protocol::Timestamp;
using protocol::ViewNumber;

// What a client really issued: (client, timestamp) -> operation. The workload makes
// operations a pure function of (seed, client, timestamp), so the checker needs no table.
using IssuedOperation = std::function<bool(ClientId, Timestamp, Bytes& operation_out)>;

class Checker {
 public:
  Checker(const protocol::PbftConfig& config, IssuedOperation issued);

  // A replica's fate: faulty replicas are not judged from the moment they become faulty.
  void mark_faulty(ReplicaId replica);
  bool is_faulty(ReplicaId replica) const { return faulty_.count(replica) != 0; }

  void on_execution(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex);
  void on_state_transfer(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq);
  void on_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                     const MessageDigest& digest);
  void on_certificate(std::int64_t time_ns, ReplicaId replica, const protocol::Note& note);
  void on_client_accept(std::int64_t time_ns, ClientId client, Timestamp t, const Bytes& result);
  // Evidence: a protocol message a faulty replica signed (PRE-PREPARE, PREPARE, COMMIT)
  // for (view, seq, digest). Used to name culprits of an agreement violation.
  void on_faulty_vote(ReplicaId replica, ViewNumber view, SequenceNumber seq,
                      const MessageDigest& digest);

  const std::vector<reports::Violation>& violations() const { return violations_; }
  // Entries held (for the memory-bound test).
  std::size_t held() const;

 private:
  struct Canonical {
    MessageDigest digest;
    ReplicaId first = 0;
    std::vector<protocol::ExecutedRequest> requests;
  };
  void violate(reports::Violation v);
  void check_requests(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex);
  void advance_reference();
  void trim();
  std::vector<std::uint32_t> culprits(SequenceNumber seq) const;

  protocol::PbftConfig config_;
  IssuedOperation issued_;
  Bytes issued_scratch_;
  std::set<ReplicaId> faulty_;
  std::map<SequenceNumber, Canonical> canonical_;           // agreed batches not yet trimmed
  std::map<SequenceNumber, std::pair<MessageDigest, ReplicaId>> checkpoints_;
  std::vector<SequenceNumber> last_seq_;                    // per replica
  std::vector<std::map<ClientId, Timestamp>> last_request_; // per replica, per client
  protocol::KvService reference_;
  SequenceNumber reference_seq_ = 0;
  std::map<ClientId, Timestamp> reference_last_;
  std::map<std::pair<ClientId, Timestamp>, Bytes> reference_results_;  // not yet accepted
  std::map<std::pair<ClientId, Timestamp>, Bytes> accepted_;           // not yet computed
  std::map<std::pair<SequenceNumber, ReplicaId>, std::set<std::pair<ViewNumber, MessageDigest>>>
      faulty_votes_;
  std::vector<reports::Violation> violations_;
  std::set<std::string> reported_;  // one violation per (invariant, seq, replica) is enough
};

}  // namespace oracles
