// What a protocol node (replica or client) consumes and emits. The protocol core is
// sans-I/O: a node never reads a clock or touches a network. The host feeds it one Input at
// a time through step() and then drains the Outbox: messages to send, timers to set or
// cancel, and what happened (executions, completions, rejections, notes) for the harness.
#pragma once
#include <cstdint>
#include <variant>
#include <vector>

#include "protocol/message.h"
#include "protocol/types.h"

namespace protocol {

// Timers a node can ask for. One of each kind per node at a time: setting a kind that is
// already set re-arms it.
enum class TimerKind : std::uint8_t {
  ViewChange = 0,  // replica: request timer in normal operation, new-view timer in a view change
  Batch = 1,       // replica (primary): flush a partial batch
  StateFetch = 2,  // replica: retry a state fetch with another replica
  ClientRetry = 3, // client: retransmit the outstanding request to every replica
  Status = 4,      // replica: if stuck since the last tick, multicast STATUS
};
constexpr std::uint32_t kTimerKinds = 5;
const char* timer_kind_name(TimerKind kind);

struct Input {
  enum class Kind : std::uint8_t { Message, Timer };
  Kind kind = Kind::Message;
  NodeId from = 0;        // transport source; untrusted (authentication decides the sender)
  ByteView wire;          // Message: the bytes received
  TimerKind timer = TimerKind::ViewChange;  // Timer: which one fired

  static Input message(NodeId from, ByteView wire) { return {Kind::Message, from, wire, {}}; }
  static Input timer_fired(TimerKind t) { return {Kind::Timer, 0, {}, t}; }
};

// Where a message goes. kAllReplicas: every replica but the sender (a multicast: the host
// shares one payload among the recipients).
constexpr NodeId kAllReplicas = 0xFFFFFFFFu;

struct OutMessage {
  NodeId to = kAllReplicas;
  MessageKind kind = MessageKind::Request;
  Bytes wire;
};

struct TimerCommand {
  TimerKind kind = TimerKind::ViewChange;
  bool cancel = false;
  std::int64_t delay_ns = 0;  // when setting: fire after this much virtual time
};

// Why an input was refused. Every refusal is counted; none is an error of the node.
enum class RejectReason : std::uint8_t {
  Malformed = 0,    // does not decode
  BadAuth,          // MAC or signature wrong, or wrong scheme
  WrongSender,      // e.g. PRE-PREPARE not from the primary, a client posing as a replica
  WrongView,        // for a view this replica is not in (and not buffered)
  OutOfWindow,      // sequence number outside (h, H]
  Conflict,         // another digest already accepted for (view, seq)
  BadDigest,        // digest does not match the batch
  Stale,            // request older than the client's last executed one, old checkpoint...
  BufferFull,       // an early message that did not fit the bounded buffer
  BadCertificate,   // a VIEW-CHANGE whose C, P, Q break the rules (view_change_well_formed)
  BadNewView,       // NEW-VIEW whose V or O does not check out
  BadState,         // state-transfer reply that does not match the certified digest
  Count,
};
constexpr std::uint32_t kRejectReasons = static_cast<std::uint32_t>(RejectReason::Count);
const char* reject_reason_name(RejectReason reason);  // "bad_auth", ...

struct Rejection {
  RejectReason reason = RejectReason::Malformed;
  NodeId from = 0;
  MessageKind kind = MessageKind::Request;
};

// One request as executed, for the oracles.
struct ExecutedRequest {
  ClientId client = 0;
  Timestamp timestamp = 0;
  MessageDigest request_digest;
  Bytes operation;
  Bytes result;
  bool duplicate = false;  // already executed before: skipped, not applied again
};

struct Execution {
  SequenceNumber seq = 0;
  ViewNumber view = 0;
  MessageDigest batch_digest;
  std::vector<ExecutedRequest> requests;  // empty for the null request
};

// Things worth telling the host (trace, timeline, oracles), one type per event: a reader
// takes the fields by name and cannot mistake a checkpoint for a prepared certificate.
namespace note {
struct ViewChangeStarted { ViewNumber view = 0; };  // moved to view-change for `view`
struct ViewEntered { ViewNumber view = 0; };
struct CheckpointTaken {  // this replica's own state digest at seq
  SequenceNumber seq = 0;
  MessageDigest digest;
};
struct CheckpointStable {  // seq became the stable checkpoint (a quorum vouched for digest)
  SequenceNumber seq = 0;
  MessageDigest digest;
};
struct StateTransferred {  // fetched the state of checkpoint seq and installed it
  SequenceNumber seq = 0;
  MessageDigest digest;
};
struct PreparedCertificate {  // prepared on a quorum: (view, seq, digest), for the oracle
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest digest;
  std::uint32_t senders = 0;  // distinct senders counted
};
struct CheckpointCertificate {  // a quorum of CHECKPOINTs for (seq, digest) acted on
  SequenceNumber seq = 0;
  MessageDigest digest;
  std::uint32_t senders = 0;
};
struct CheckpointAdopted {  // chosen by a NEW-VIEW from f+1 VIEW-CHANGEs
  SequenceNumber seq = 0;
  MessageDigest digest;
};
struct Completed {  // client: the request with `timestamp` completed with `result`
  Timestamp timestamp = 0;
  Bytes result;
  std::uint32_t matching = 0;  // matching replies it accepted
};
}  // namespace note

using Note = std::variant<note::ViewChangeStarted, note::ViewEntered, note::CheckpointTaken, note::CheckpointStable,
                          note::StateTransferred, note::PreparedCertificate, note::CheckpointCertificate,
                          note::CheckpointAdopted, note::Completed>;

struct Outbox {
  std::vector<OutMessage> messages;
  std::vector<TimerCommand> timers;
  std::vector<Execution> executions;
  std::vector<Rejection> rejections;
  std::vector<Note> notes;
  // Empty buffers that still hold capacity, which the host hands back once it has taken
  // a message's bytes: a node encodes its next message into one, so steady-state sending
  // allocates nothing. Purely an allocation cache: what is in it never changes a run.
  static constexpr std::size_t kSpareBuffersMax = 64;
  std::vector<Bytes> spare_buffers;
  Bytes take_buffer() {
    if (spare_buffers.empty()) return {};
    Bytes b = std::move(spare_buffers.back());
    spare_buffers.pop_back();
    b.clear();
    return b;
  }
  void give_buffer(Bytes&& b) {
    if (b.capacity() != 0 && spare_buffers.size() < kSpareBuffersMax) spare_buffers.push_back(std::move(b));
  }
  // Executions are recycled the same way: clear() keeps them, with the vectors and bytes
  // inside, and add_execution() hands one back (its fields hold stale values: the caller
  // sets every one). Executing then allocates nothing in the steady state.
  static constexpr std::size_t kSpareExecutionsMax = 16;
  std::vector<Execution> spare_executions;
  Execution& add_execution() {
    if (spare_executions.empty()) return executions.emplace_back();
    executions.push_back(std::move(spare_executions.back()));
    spare_executions.pop_back();
    return executions.back();
  }
  // Clears what a step emitted; spare buffers and executions stay.
  void clear() {
    for (auto& e : executions) {
      if (spare_executions.size() < kSpareExecutionsMax) spare_executions.push_back(std::move(e));
    }
    messages.clear();
    timers.clear();
    executions.clear();
    rejections.clear();
    notes.clear();
  }
};

}  // namespace protocol
