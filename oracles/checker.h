// The safety oracles: an independent checker that keeps the canonical history of the run
// and compares every correct replica and every client against it as the run goes (in the
// spirit of TigerBeetle's state checker). It holds only what is still needed: entries every
// correct replica has passed are dropped, so memory does not grow with run length (unless a
// correct replica stays behind: then what it may still need is kept).
//
// Invariants checked (over correct replicas only; a replica is judged until it becomes faulty):
//   agreement           no two correct replicas execute different batches at one seq: the
//                       batch digest and the requests really executed (client, timestamp,
//                       request digest, operation, result) must match; the first execution
//                       of each seq is checked against its own digest (requests re-hashed);
//                       state digests agree at every checkpoint any two correct replicas
//                       took, installed by state transfer, or adopted from a NEW-VIEW
//   validity            every executed request was issued by its client, as issued
//   integrity           each replica executes seqs gaplessly (state transfer may jump) and
//                       each request at most once
//   client_consistency  every result a client accepted equals the result of executing the
//                       agreed log, in order, on a reference copy of the service; at the end
//                       of the run, a result no correct replica produced is reported too
//   certificate         every certificate a correct replica acts on (prepared, committed,
//                       stable checkpoint, the VIEW-CHANGEs behind a NEW-VIEW it installs) is
//                       backed by a quorum of matching messages from distinct replicas that
//                       really sent them and that reached it: judged from the evidence trail
//                       of the network (oracles/evidence.h), not from the count the replica
//                       reports. A checkpoint adopted from a NEW-VIEW needs no certificate
//                       (f+1 VIEW-CHANGEs vouch for it); its digest is judged by agreement
//   double_vote         a correct replica never sends two different digests for one (kind,
//                       view, seq) of PRE-PREPARE, PREPARE or COMMIT, nor two CHECKPOINT digests
//                       for one seq; judged from what it really put on the network, O entries
//                       of its NEW-VIEWs included; what it relays (a BATCH's PRE-PREPARE,
//                       another replica's message re-sent) is not its vote
//   amnesia             a replica faulty only by crash-restart never sends two digests for
//                       one (kind, view, seq): the same rule for a replica that lost its memory
// Liveness is judged separately (oracles/liveness.h).
//
// A violation names the invariant, the virtual time, the replicas, the seq, the two
// conflicting values, and the faulty replicas that signed conflicting messages for that seq
// (from the evidence trail).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "oracles/evidence.h"
#include "protocol/config.h"
#include "protocol/crypto.h"
#include "protocol/io.h"
#include "protocol/service.h"
#include "oracles/violation.h"

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

  // A replica's fate: faulty replicas are not judged from the moment they become faulty
  // (what they did before stays judged).
  void mark_faulty(ReplicaId replica);
  bool is_faulty(ReplicaId replica) const { return faulty_[replica]; }

  // ---- the evidence trail (the host's view of the network) ----
  // Replica `sender` put `wire` on the network: for a correct replica, what its step
  // emitted; for a faulty one, what its behaviours let out. REQUIRES: called before any
  // delivery of it, and before the notes and executions of the same step are reported.
  // A correct sender contradicting what it sent before is a double_vote violation.
  void on_sent(std::int64_t time_ns, ReplicaId sender, protocol::ByteView wire);
  // `wire` is handed to replica `receiver` (before its step). Cheap for faulty receivers.
  void on_delivered(ReplicaId receiver, protocol::ByteView wire) {
    if (!faulty_[receiver]) evidence_.on_delivered(receiver, wire);
  }

  // ---- what the replicas did ----
  void on_execution(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex);
  // A state transfer installed the checkpoint at `seq` whose state digest is `digest`.
  void on_state_transfer(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                         const MessageDigest& digest);
  // CheckpointTaken: the replica's own state digest after executing `seq`.
  void on_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                     const MessageDigest& digest);
  // CheckpointStable: the replica holds a checkpoint certificate for (seq, digest).
  void on_stable_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                            const MessageDigest& digest);
  // CheckpointAdopted: the replica took (seq, digest) as its stable checkpoint because the
  // NEW-VIEW it installs chose it (X), which f+1 VIEW-CHANGEs vouch for, not a quorum of
  // CHECKPOINTs: no certificate is checked, but the digest must be the one every correct
  // replica has there. REQUIRES: the replica's stable checkpoint only moves up, so it
  // reports no CheckpointStable at or below `seq` afterwards (that evidence may be gone).
  void on_checkpoint_adopted(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                             const MessageDigest& digest);
  // ViewEntered: the replica installed a NEW-VIEW for `view`. V names a quorum of
  // VIEW-CHANGEs for it, and the replica must hold each one itself (V carries only digests).
  void on_view_entered(std::int64_t time_ns, ReplicaId replica, ViewNumber view);
  // PreparedCertificate: the replica prepared (view, seq, digest) on the PREPAREs it got.
  void on_prepared_certificate(std::int64_t time_ns, ReplicaId replica, ViewNumber view, SequenceNumber seq,
                               const MessageDigest& digest);
  // CheckpointCertificate: the replica acted on a quorum of CHECKPOINTs for (seq, digest).
  void on_checkpoint_certificate(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                                 const MessageDigest& digest);
  void on_client_accept(std::int64_t time_ns, ClientId client, Timestamp t, const Bytes& result);
  // Every PRE-PREPARE, PREPARE and COMMIT sent by a replica that a crash fault restarts with
  // no state (and no Byzantine fault touches): such a replica never sends two different
  // digests for one (kind, view, seq). One that forgot what it voted and votes again
  // differently is an "amnesia" violation, although it counts as faulty for the rest.
  void on_vote_sent(std::int64_t time_ns, ReplicaId replica, protocol::MessageKind kind, ViewNumber view,
                    SequenceNumber seq, const MessageDigest& digest);
  // End of run: results clients accepted that no correct replica produced are reported.
  void finish(std::int64_t time_ns);

  const std::vector<Violation>& violations() const { return violations_; }
  // Entries held (for the memory-bound test).
  std::size_t held() const;
  const Evidence& evidence() const { return evidence_; }

 private:
  struct Canonical {
    MessageDigest digest;
    ReplicaId first = 0;
    std::vector<protocol::ExecutedRequest> requests;
  };
  void violate(Violation v);
  void check_requests(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex);
  void check_own_digest(std::int64_t time_ns, ReplicaId replica, const protocol::Execution& ex);
  void check_same_execution(std::int64_t time_ns, ReplicaId replica, const Canonical& canonical,
                            const protocol::Execution& ex);
  void check_prepared(std::int64_t time_ns, ReplicaId replica, ViewNumber view, SequenceNumber seq,
                      const MessageDigest& digest);
  void check_quorum(std::int64_t time_ns, ReplicaId replica, Claim kind, ViewNumber view,
                    SequenceNumber seq, const MessageDigest& digest, const char* what);
  void compare_checkpoint(std::int64_t time_ns, ReplicaId replica, SequenceNumber seq,
                          const MessageDigest& digest, const char* how);
  void advance_reference(std::int64_t time_ns);  // time_ns: of the execution that moved it
  void trim();
  std::vector<std::uint32_t> culprits(SequenceNumber seq) const;
  // Client consistency: the faulty replicas that sent the REPLY a client wrongly accepted.
  std::vector<std::uint32_t> reply_culprits(ClientId client, Timestamp t, const Bytes& result) const;
  void record_faulty_reply(ReplicaId sender, protocol::ByteView wire);
  // (client, t) -> (faulty sender, digest of its result), for the REPLYs faulty replicas sent.
  std::map<std::pair<ClientId, Timestamp>, std::vector<std::pair<ReplicaId, MessageDigest>>> faulty_replies_;
  static constexpr std::size_t kFaultyRepliesMax = 65536;
  std::string holdings_text(ReplicaId at, Claim kind, ViewNumber view, SequenceNumber seq,
                            const MessageDigest& except) const;

  protocol::PbftConfig config_;
  IssuedOperation issued_;
  Bytes issued_scratch_;
  protocol::Sha256 hasher_;  // check_own_digest's, with the two scratch buffers below
  Bytes content_scratch_;
  std::vector<MessageDigest> digests_scratch_;  // reused by check_requests: it runs for every request at every replica
  std::vector<bool> faulty_;
  Evidence evidence_;
  std::map<SequenceNumber, Canonical> canonical_;            // agreed batches not yet trimmed
  std::map<SequenceNumber, std::pair<MessageDigest, ReplicaId>> checkpoints_;
  std::vector<SequenceNumber> last_seq_;                     // per replica: executed
  std::vector<SequenceNumber> checkpoint_passed_;            // per replica: checkpoints reported
  std::vector<SequenceNumber> stable_;                       // per replica: stable checkpoint
  std::vector<ViewNumber> view_;                             // per replica: last view entered
  std::vector<std::map<ClientId, Timestamp>> last_request_;  // per replica, per client
  // (seq, replica, kind, view) -> the digest it sent (amnesia); trimmed two windows behind.
  std::map<std::tuple<SequenceNumber, ReplicaId, std::uint8_t, ViewNumber>, MessageDigest> sent_votes_;
  protocol::KvService reference_;
  SequenceNumber reference_seq_ = 0;
  std::map<ClientId, Timestamp> reference_last_;
  std::map<std::pair<ClientId, Timestamp>, Bytes> reference_results_;  // not yet accepted
  std::map<std::pair<ClientId, Timestamp>, std::pair<Bytes, std::int64_t>> accepted_;  // not yet computed
  std::vector<Violation> violations_;
  std::set<std::string> reported_;  // one violation per (invariant, seq, replica) is enough
};

}  // namespace oracles
