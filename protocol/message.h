// PBFT messages and their canonical binary encoding.
//
// Wire format of every message (all integers little-endian, fixed width):
//   u8  kind            (MessageKind)
//   u32 sender          (NodeId of the node that authenticates it)
//   u32 body length
//   ... body            (per kind, below)
//   u8  auth scheme     (0 none, 1 MAC authenticator, 2 Ed25519 signature)
//   ... auth trailer    (none: nothing; MAC: u16 count, then count x {u32 receiver, 32-byte
//                        HMAC-SHA256}, receivers strictly ascending; signature: 64 bytes)
// The *content* is everything before the auth scheme byte; authentication covers it.
// Bodies: REQUEST u32 client, u64 t, bytes op | PRE-PREPARE u64 v, u64 n, digest, u32 count,
// count x bytes(REQUEST) | PREPARE/COMMIT u64 v, u64 n, digest | REPLY u64 v, u64 t, u32 client,
// bytes result | CHECKPOINT u64 n, digest | VIEW-CHANGE u64 v+1, u64 h, u32 |C| x {u64 n,
// digest}, u32 |P| x {u64 n, u64 v, digest}, u32 |Q| x {u64 n, u64 v, digest} | VIEW-CHANGE-ACK
// u64 v, u32 replica, digest | NEW-VIEW u64 v, u32 |V| x {u32 replica, digest}, u64 h, digest,
// u32 |O|, bytes(PRE-PREPARE)... | FETCH-STATE u64 n, digest | STATE-REPLY u64 n, digest, bytes
// | STATUS u64 v, u8 flags, u64 stable n, u64 last executed n, bytes slots, bytes view-changes |
// FETCH-BATCH u64 n, digest | BATCH bytes(PRE-PREPARE).
// Variable-length fields are a u32 length followed by the bytes. Nested messages
// (requests in a batch, O's PRE-PREPAREs in NEW-VIEW, ...) are whole wire messages, auth
// trailer included, so a third replica can check them.
//
// Decoding rejects unknown kinds or schemes, lengths that run past the end, counts above
// the named bounds below, and trailing bytes. Decoding never throws.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.h"

namespace protocol {

enum class MessageKind : std::uint8_t {
  Request = 1,
  PrePrepare = 2,
  Prepare = 3,
  Commit = 4,
  Reply = 5,
  Checkpoint = 6,
  ViewChange = 7,
  NewView = 8,
  FetchState = 9,
  StateReply = 10,
  Status = 11,
  ViewChangeAck = 12,
  FetchBatch = 13,
  Batch = 14,
};
constexpr std::uint8_t kMessageKindMax = 14;
const char* message_kind_name(MessageKind kind);  // "PRE-PREPARE", ...

enum class AuthScheme : std::uint8_t { None = 0, Mac = 1, Signature = 2 };

// Named bounds: anything larger is malformed.
constexpr std::uint32_t kOperationBytesMax = 64 * 1024;
constexpr std::uint32_t kResultBytesMax = 64 * 1024;
constexpr std::uint32_t kBatchRequestsMax = 4096;
constexpr std::uint32_t kMacEntriesMax = 4096;
constexpr std::uint32_t kCertificateEntriesMax = 4096;
constexpr std::uint32_t kStateBytesMax = 256 * 1024 * 1024;
constexpr std::size_t kMessageBytesMax = 512 * 1024 * 1024;
constexpr std::size_t kMacBytes = 32;
constexpr std::size_t kSignatureBytes = 64;
constexpr std::uint32_t kStatusSlotsMax = 256;
constexpr std::uint32_t kStatusViewChangeBytesMax = 512;  // 4096 replicas
// Entries of one of a VIEW-CHANGE's sets (C, P, Q) and of NEW-VIEW's V: a correct replica's
// are bounded by its window (P: one per sequence number, Q: a few per sequence number).
constexpr std::uint32_t kViewChangeEntriesMax = 1u << 20;

// Errors are values: `error` is empty on success, else a static description.
template <class T>
struct Decoded {
  T value{};
  std::string_view error;
  bool ok() const { return error.empty(); }
};

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// The framing of one wire message, pointing into the caller's buffer.
struct Envelope {
  MessageKind kind = MessageKind::Request;
  NodeId sender = 0;
  ByteView wire;     // the whole message, trailer included
  ByteView content;  // kind + sender + body: what authentication covers
  ByteView body;     // the kind-specific part
  AuthScheme scheme = AuthScheme::None;
  ByteView auth;     // the trailer after the scheme byte
};

// Splits a wire message into its parts and checks the trailer's shape (not its validity).
Decoded<Envelope> parse_envelope(ByteView wire);

// ---- bodies -------------------------------------------------------------------------------

// REQUEST <o, t, c>: sender is the client.
struct Request {
  ClientId client = 0;
  Timestamp timestamp = 0;
  Bytes operation;
};

// A batch of requests as carried by PRE-PREPARE: each element is a whole REQUEST wire
// message (with the client's authenticator). An empty batch is the null request.
struct ConsensusBatch {
  std::vector<Bytes> requests;
};

// A request as the replica handles it once decoded and checked.
struct ConsensusRequest {
  ClientId client = 0;
  Timestamp timestamp = 0;
  Bytes operation;
  MessageDigest digest;  // request_digest() of it
};

struct PrePrepare {
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest digest;  // batch_digest() of the batch
  ConsensusBatch batch;
};

// PREPARE and COMMIT share a shape; the sender is the replica voting.
struct Vote {
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest digest;
};

struct Reply {
  ViewNumber view = 0;
  Timestamp timestamp = 0;
  ClientId client = 0;
  Bytes result;
};

struct Checkpoint {
  SequenceNumber seq = 0;
  MessageDigest state_digest;
};

// The TOCS '02 view change: summaries, not certificates. With MAC authenticators a replica
// cannot prove to a third what it received, so a VIEW-CHANGE says what its sender holds and
// the decision procedure (replica_decision.cpp) only trusts what enough senders agree on.

// An entry of P or Q: (n, d, v). In P, the request with digest d prepared here at n in view v
// (the highest such view); in Q, a PRE-PREPARE for (n, d) accepted here, v the latest view.
struct SlotClaim {
  SequenceNumber seq = 0;
  ViewNumber view = 0;
  MessageDigest digest;
  bool operator==(const SlotClaim&) const = default;
};

// An entry of C: a checkpoint this replica holds, (n, state digest).
struct CheckpointClaim {
  SequenceNumber seq = 0;
  MessageDigest digest;
  bool operator==(const CheckpointClaim&) const = default;
};

// VIEW-CHANGE <v+1, h, C, P, Q, i>. Well formed (replica_view_change.cpp) iff: C is strictly
// ascending by seq, every entry at or above h and a multiple of the checkpoint interval, and
// names h itself; P is strictly ascending by seq; Q strictly ascending by (seq, digest); every
// P and Q entry has h < n <= h + L and a view below v+1; and every P entry (n, d, v) has a Q
// entry (n, d, v') with v' >= v (what prepared here was pre-prepared here).
struct ViewChange {
  ViewNumber new_view = 0;
  SequenceNumber stable_seq = 0;              // h: the sender's low watermark
  std::vector<CheckpointClaim> checkpoints;   // C
  std::vector<SlotClaim> prepared;            // P
  std::vector<SlotClaim> pre_prepared;        // Q
};

// VIEW-CHANGE-ACK <v, i, j, d>: the sender (i) holds replica j's VIEW-CHANGE for view v, whose
// content has digest d. Sent to the primary of v only.
struct ViewChangeAck {
  ViewNumber view = 0;
  ReplicaId replica = 0;        // j
  MessageDigest digest;         // view_change_digest() of j's VIEW-CHANGE
};

// One VIEW-CHANGE named in a NEW-VIEW.
struct ViewChangeRef {
  ReplicaId replica = 0;
  MessageDigest digest;
  bool operator==(const ViewChangeRef&) const = default;
};

// NEW-VIEW <v, V, X>. V names the VIEW-CHANGEs the decision ran on (strictly ascending by
// replica); X is the chosen checkpoint and, per sequence number in (h, max-s], the chosen
// request, given as O: the primary's PRE-PREPAREs of view v carrying the batches (the null
// request where none was chosen), in sequence order without gaps.
struct NewView {
  ViewNumber view = 0;
  std::vector<ViewChangeRef> view_changes;  // V
  SequenceNumber checkpoint_seq = 0;        // X: h
  MessageDigest checkpoint_digest;          //    and its state digest
  std::vector<Bytes> pre_prepares;          // O
};

// FETCH-BATCH <n, d>: the new primary lacks the batch it chose for n. Answered with BATCH.
struct FetchBatch {
  SequenceNumber seq = 0;
  MessageDigest digest;
};

// BATCH: a PRE-PREPARE (of any view) holding the batch asked for. Its digest binds the batch,
// so the copy needs no authentication beyond the BATCH message itself.
struct Batch {
  Bytes pre_prepare;
};

struct FetchState {
  SequenceNumber seq = 0;        // the stable checkpoint wanted
  MessageDigest state_digest;    // its certified digest
};

struct StateReply {
  SequenceNumber seq = 0;
  MessageDigest state_digest;  // what the sender claims the snapshot hashes to
  Bytes snapshot;              // service state + client reply table (see replica)
};

// STATUS: a replica that is stuck (work pending, no progress for a while) tells the others
// where it is; they re-send what it is missing (TOCS '02: the implementation recovers lost
// messages with receiver-driven retransmission prompted by periodic status messages).
struct Status {
  static constexpr std::uint8_t kInViewChange = 1;  // flags: the sender is changing to `view`
  static constexpr std::uint8_t kReply = 2;         // an answer to a STATUS: do not answer it
  static constexpr std::uint8_t kFlagsAll = kInViewChange | kReply;
  ViewNumber view = 0;
  std::uint8_t flags = 0;
  SequenceNumber stable_seq = 0;
  SequenceNumber last_executed = 0;
  // What the sender holds of `view` for sequence numbers last_executed + 1, + 2, ... (one
  // byte each, kSlot* bits; a sequence number past the end: nothing), so that a peer re-sends
  // exactly the PRE-PREPARE, PREPARE or COMMIT it lacks, and learns what it lacks itself.
  static constexpr std::uint8_t kSlotPrePrepared = 1;  // holds the PRE-PREPARE of `view`
  static constexpr std::uint8_t kSlotPrepared = 2;     // prepared in `view`
  static constexpr std::uint8_t kSlotCommitted = 4;    // committed-local in `view`
  static constexpr std::uint8_t kSlotAll = kSlotPrePrepared | kSlotPrepared | kSlotCommitted;
  std::vector<std::uint8_t> slots;  // at most kStatusSlotsMax
  // In a view change (kInViewChange): bit r (byte r / 8, bit r % 8) set if the sender holds
  // replica r's VIEW-CHANGE for `view`.
  std::vector<std::uint8_t> view_changes;  // at most kStatusViewChangeBytesMax
};

// ---- encoding: returns the content (kind, sender, body); seal it with an Authenticator ----
Bytes encode_request(NodeId sender, const Request& m);
Bytes encode_pre_prepare(NodeId sender, const PrePrepare& m);
Bytes encode_vote(MessageKind kind, NodeId sender, const Vote& m);  // Prepare or Commit
Bytes encode_reply(NodeId sender, const Reply& m);
Bytes encode_checkpoint(NodeId sender, const Checkpoint& m);
Bytes encode_view_change(NodeId sender, const ViewChange& m);
Bytes encode_view_change_ack(NodeId sender, const ViewChangeAck& m);
Bytes encode_new_view(NodeId sender, const NewView& m);
Bytes encode_fetch_batch(NodeId sender, const FetchBatch& m);
Bytes encode_batch(NodeId sender, const Batch& m);
Bytes encode_fetch_state(NodeId sender, const FetchState& m);
Bytes encode_state_reply(NodeId sender, const StateReply& m);
Bytes encode_status(NodeId sender, const Status& m);

// The same encodings written into a caller's buffer (cleared first, capacity kept), so a
// hot path that reuses buffers allocates nothing. The value-returning forms above are
// these plus a fresh buffer.
void encode_request_into(Bytes& out, NodeId sender, ClientId client, Timestamp timestamp,
                         ByteView operation);
void encode_vote_into(Bytes& out, MessageKind kind, NodeId sender, const Vote& m);
void encode_reply_into(Bytes& out, NodeId sender, ViewNumber view, Timestamp timestamp,
                       ClientId client, ByteView result);
void encode_checkpoint_into(Bytes& out, NodeId sender, const Checkpoint& m);
// PRE-PREPARE from request wire messages held elsewhere (no copy into a ConsensusBatch).
void encode_pre_prepare_into(Bytes& out, NodeId sender, ViewNumber view, SequenceNumber seq,
                             const MessageDigest& digest, std::span<const ByteView> requests);

// ---- decoding of bodies (from Envelope::body) ----
Decoded<Request> decode_request(ByteView body);
Decoded<PrePrepare> decode_pre_prepare(ByteView body);
Decoded<Vote> decode_vote(ByteView body);
Decoded<Reply> decode_reply(ByteView body);
Decoded<Checkpoint> decode_checkpoint(ByteView body);
Decoded<ViewChange> decode_view_change(ByteView body);
Decoded<ViewChangeAck> decode_view_change_ack(ByteView body);
Decoded<NewView> decode_new_view(ByteView body);
Decoded<FetchBatch> decode_fetch_batch(ByteView body);
Decoded<Batch> decode_batch(ByteView body);
Decoded<FetchState> decode_fetch_state(ByteView body);
Decoded<StateReply> decode_state_reply(ByteView body);
Decoded<Status> decode_status(ByteView body);

// Decoders that copy nothing: the views point into `body`, which must outlive them, and
// `out`'s vector keeps its capacity from one use to the next. Same checks as the decoders
// above; return "" on success, else the error.
struct RequestView {
  ClientId client = 0;
  Timestamp timestamp = 0;
  ByteView operation;
};
struct PrePrepareView {
  ViewNumber view = 0;
  SequenceNumber seq = 0;
  MessageDigest digest;
  std::vector<ByteView> requests;  // whole REQUEST wire messages
};
struct ReplyView {
  ViewNumber view = 0;
  Timestamp timestamp = 0;
  ClientId client = 0;
  ByteView result;
};
std::string_view decode_request_view(ByteView body, RequestView& out);
std::string_view decode_reply_view(ByteView body, ReplyView& out);
std::string_view decode_pre_prepare_view(ByteView body, PrePrepareView& out);

// ---- digests ----
// SHA-256 over the REQUEST's content (kind, client, timestamp, operation), not its trailer.
MessageDigest request_digest(ByteView request_content);
// SHA-256 over "pbftsim/batch/v1" || u32 count || the request digests in order. The null
// request (empty batch) has its own fixed digest, null_batch_digest().
MessageDigest batch_digest(std::span<const MessageDigest> request_digests);
MessageDigest null_batch_digest();
// What VIEW-CHANGE-ACKs and NEW-VIEW's V name a VIEW-CHANGE by: SHA-256 of its content (kind,
// sender, body; not the authenticator, which differs per copy only in MAC entries).
MessageDigest view_change_digest(ByteView view_change_content);
// The bytes batch_digest() hashes for a batch of `count` requests.
constexpr std::uint64_t batch_digest_input_bytes(std::uint64_t count) { return 16 + 4 + 32 * count; }

// A one-line human summary for traces: "PREPARE v=0 n=12 d=ab12cd34ef56".
std::string summarize(ByteView wire);

}  // namespace protocol
