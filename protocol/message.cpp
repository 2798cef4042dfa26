// The canonical binary encoding of PBFT messages (see message.h for the format).
#include "protocol/message.h"

#include <cstdio>

#include "protocol/crypto.h"
#include "protocol/wire_io.h"

namespace protocol {

namespace {

constexpr std::size_t kHeaderBytes = 1 + 4 + 4;

void put_digest(WireWriter& w, const MessageDigest& d) { w.raw(d.bytes); }

MessageDigest get_digest(WireReader& r) {
  MessageDigest d;
  auto b = r.raw(32);
  if (b.size() == 32) std::copy(b.begin(), b.end(), d.bytes.begin());
  return d;
}

Bytes to_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }

// Writes the header and a body built by `body` into `out` (cleared first), then patches
// the body length in: one buffer, no intermediate copy.
template <class F>
void framed_into(Bytes& out, MessageKind kind, NodeId sender, F&& body) {
  out.clear();
  // Most messages (votes, replies, checkpoints, small requests, with their trailers) fit:
  // a fresh buffer is allocated once instead of growing by doubling.
  constexpr std::size_t kTypicalMessageBytes = 256;
  if (out.capacity() < kTypicalMessageBytes) out.reserve(kTypicalMessageBytes);
  WireWriter w(std::move(out));
  w.u8(static_cast<std::uint8_t>(kind));
  w.u32(sender);
  w.u32(0);  // body length, patched below
  body(w);
  out = w.take();
  const std::size_t length = out.size() - kHeaderBytes;
  for (int i = 0; i < 4; ++i) out[5 + i] = static_cast<std::uint8_t>(length >> (8 * i));
}

template <class F>
Bytes framed(MessageKind kind, NodeId sender, F&& body) {
  Bytes out;
  framed_into(out, kind, sender, std::forward<F>(body));
  return out;
}

// A u32 count no larger than `max` and no larger than what the rest could hold.
std::uint32_t get_count(WireReader& r, std::uint32_t max, std::size_t remaining) {
  const std::uint32_t n = r.u32();
  if (n > max || n > remaining / 4) {
    r.fail();  // checked before anything is reserved
    return 0;
  }
  return n;
}

// A count of fixed-size entries of `entry_bytes` each: no more than the rest could hold.
std::uint32_t get_entry_count(WireReader& r, std::uint32_t max, std::size_t remaining, std::size_t entry_bytes) {
  const std::uint32_t n = r.u32();
  if (n > max || n > remaining / entry_bytes) {
    r.fail();
    return 0;
  }
  return n;
}

constexpr std::size_t kSlotClaimBytes = 8 + 8 + 32;
constexpr std::size_t kCheckpointClaimBytes = 8 + 32;
constexpr std::size_t kViewChangeRefBytes = 4 + 32;

void put_slot_claims(WireWriter& w, const std::vector<SlotClaim>& claims) {
  w.u32(static_cast<std::uint32_t>(claims.size()));
  for (const auto& c : claims) {
    w.u64(c.seq);
    w.u64(c.view);
    put_digest(w, c.digest);
  }
}

std::vector<SlotClaim> get_slot_claims(WireReader& r, std::size_t size) {
  const std::uint32_t n = get_entry_count(r, kViewChangeEntriesMax, size, kSlotClaimBytes);
  std::vector<SlotClaim> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    SlotClaim c;
    c.seq = r.u64();
    c.view = r.u64();
    c.digest = get_digest(r);
    out.push_back(c);
  }
  return out;
}

template <class T>
Decoded<T> finish(WireReader& r, T&& value) {
  if (!r.ok()) return {T{}, "truncated or bad length"};
  if (!r.at_end()) return {T{}, "trailing bytes"};
  return {std::move(value), {}};
}

std::vector<Bytes> get_list(WireReader& r, std::uint32_t max, std::size_t size) {
  const std::uint32_t n = get_count(r, max, size);
  std::vector<Bytes> out;
  out.reserve(n);
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) out.push_back(to_bytes(r.bytes(kStateBytesMax)));
  return out;
}

void put_list(WireWriter& w, const std::vector<Bytes>& list) {
  w.u32(static_cast<std::uint32_t>(list.size()));
  for (const auto& b : list) w.bytes(b);
}

}  // namespace

const char* message_kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::Request: return "REQUEST";
    case MessageKind::PrePrepare: return "PRE-PREPARE";
    case MessageKind::Prepare: return "PREPARE";
    case MessageKind::Commit: return "COMMIT";
    case MessageKind::Reply: return "REPLY";
    case MessageKind::Checkpoint: return "CHECKPOINT";
    case MessageKind::ViewChange: return "VIEW-CHANGE";
    case MessageKind::NewView: return "NEW-VIEW";
    case MessageKind::FetchState: return "FETCH-STATE";
    case MessageKind::StateReply: return "STATE-REPLY";
    case MessageKind::Status: return "STATUS";
    case MessageKind::ViewChangeAck: return "VIEW-CHANGE-ACK";
    case MessageKind::FetchBatch: return "FETCH-BATCH";
    case MessageKind::Batch: return "BATCH";
  }
  return "UNKNOWN";
}

Decoded<Envelope> parse_envelope(ByteView wire) {
  if (wire.size() < kHeaderBytes + 1) return {{}, "too short"};
  if (wire.size() > kMessageBytesMax) return {{}, "too long"};
  WireReader r(wire);
  Envelope e;
  const std::uint8_t kind = r.u8();
  if (kind < 1 || kind > kMessageKindMax) return {{}, "unknown kind"};
  e.kind = static_cast<MessageKind>(kind);
  e.sender = r.u32();
  const std::uint32_t body_length = r.u32();
  e.body = r.raw(body_length);
  if (!r.ok()) return {{}, "bad body length"};
  e.content = wire.subspan(0, kHeaderBytes + body_length);
  const std::uint8_t scheme = r.u8();
  if (!r.ok() || scheme > 2) return {{}, "unknown auth scheme"};
  e.scheme = static_cast<AuthScheme>(scheme);
  e.auth = wire.subspan(kHeaderBytes + body_length + 1);
  e.wire = wire;
  if (e.scheme == AuthScheme::None && !e.auth.empty()) return {{}, "trailing bytes"};
  if (e.scheme == AuthScheme::Signature && e.auth.size() != kSignatureBytes) return {{}, "bad signature length"};
  if (e.scheme == AuthScheme::Mac) {
    WireReader t(e.auth);
    const std::uint32_t count = t.u16();
    if (!t.ok() || count > kMacEntriesMax || e.auth.size() != 2 + count * (4 + kMacBytes)) {
      return {{}, "bad authenticator length"};
    }
    // The length was checked: every entry is there. Receivers strictly ascending (the
    // receiver reads only its own entry, found by binary search).
    const std::uint8_t* entry = e.auth.data() + 2;
    std::int64_t previous = -1;
    for (std::uint32_t i = 0; i < count; ++i, entry += 4 + kMacBytes) {
      const std::uint32_t receiver = load_le32(entry);
      if (static_cast<std::int64_t>(receiver) <= previous) return {{}, "authenticator not sorted"};
      previous = receiver;
    }
  }
  return {e, {}};
}

void encode_request_into(Bytes& out, NodeId sender, ClientId client, Timestamp timestamp,
                         ByteView operation) {
  framed_into(out, MessageKind::Request, sender, [&](WireWriter& w) {
    w.u32(client);
    w.u64(timestamp);
    w.bytes(operation);
  });
}

Bytes encode_request(NodeId sender, const Request& m) {
  Bytes out;
  encode_request_into(out, sender, m.client, m.timestamp, m.operation);
  return out;
}

Bytes encode_pre_prepare(NodeId sender, const PrePrepare& m) {
  return framed(MessageKind::PrePrepare, sender, [&](WireWriter& w) {
    w.u64(m.view);
    w.u64(m.seq);
    put_digest(w, m.digest);
    put_list(w, m.batch.requests);
  });
}

void encode_vote_into(Bytes& out, MessageKind kind, NodeId sender, const Vote& m) {
  framed_into(out, kind, sender, [&](WireWriter& w) {
    w.u64(m.view);
    w.u64(m.seq);
    put_digest(w, m.digest);
  });
}

Bytes encode_vote(MessageKind kind, NodeId sender, const Vote& m) {
  Bytes out;
  encode_vote_into(out, kind, sender, m);
  return out;
}

void encode_reply_into(Bytes& out, NodeId sender, ViewNumber view, Timestamp timestamp,
                       ClientId client, ByteView result) {
  framed_into(out, MessageKind::Reply, sender, [&](WireWriter& w) {
    w.u64(view);
    w.u64(timestamp);
    w.u32(client);
    w.bytes(result);
  });
}

Bytes encode_reply(NodeId sender, const Reply& m) {
  Bytes out;
  encode_reply_into(out, sender, m.view, m.timestamp, m.client, m.result);
  return out;
}

void encode_checkpoint_into(Bytes& out, NodeId sender, const Checkpoint& m) {
  framed_into(out, MessageKind::Checkpoint, sender, [&](WireWriter& w) {
    w.u64(m.seq);
    put_digest(w, m.state_digest);
  });
}

Bytes encode_checkpoint(NodeId sender, const Checkpoint& m) {
  Bytes out;
  encode_checkpoint_into(out, sender, m);
  return out;
}

void encode_pre_prepare_into(Bytes& out, NodeId sender, ViewNumber view, SequenceNumber seq,
                             const MessageDigest& digest, std::span<const ByteView> requests) {
  framed_into(out, MessageKind::PrePrepare, sender, [&](WireWriter& w) {
    w.u64(view);
    w.u64(seq);
    put_digest(w, digest);
    w.u32(static_cast<std::uint32_t>(requests.size()));
    for (const auto& r : requests) w.bytes(r);
  });
}

Bytes encode_view_change(NodeId sender, const ViewChange& m) {
  return framed(MessageKind::ViewChange, sender, [&](WireWriter& w) {
    w.u64(m.new_view);
    w.u64(m.stable_seq);
    w.u32(static_cast<std::uint32_t>(m.checkpoints.size()));
    for (const auto& c : m.checkpoints) {
      w.u64(c.seq);
      put_digest(w, c.digest);
    }
    put_slot_claims(w, m.prepared);
    put_slot_claims(w, m.pre_prepared);
  });
}

Bytes encode_view_change_ack(NodeId sender, const ViewChangeAck& m) {
  return framed(MessageKind::ViewChangeAck, sender, [&](WireWriter& w) {
    w.u64(m.view);
    w.u32(m.replica);
    put_digest(w, m.digest);
  });
}

Bytes encode_new_view(NodeId sender, const NewView& m) {
  return framed(MessageKind::NewView, sender, [&](WireWriter& w) {
    w.u64(m.view);
    w.u32(static_cast<std::uint32_t>(m.view_changes.size()));
    for (const auto& v : m.view_changes) {
      w.u32(v.replica);
      put_digest(w, v.digest);
    }
    w.u64(m.checkpoint_seq);
    put_digest(w, m.checkpoint_digest);
    put_list(w, m.pre_prepares);
  });
}

Bytes encode_fetch_batch(NodeId sender, const FetchBatch& m) {
  return framed(MessageKind::FetchBatch, sender, [&](WireWriter& w) {
    w.u64(m.seq);
    put_digest(w, m.digest);
  });
}

Bytes encode_batch(NodeId sender, const Batch& m) {
  return framed(MessageKind::Batch, sender, [&](WireWriter& w) { w.bytes(m.pre_prepare); });
}

Bytes encode_fetch_state(NodeId sender, const FetchState& m) {
  return framed(MessageKind::FetchState, sender, [&](WireWriter& w) {
    w.u64(m.seq);
    put_digest(w, m.state_digest);
  });
}

Bytes encode_status(NodeId sender, const Status& m) {
  return framed(MessageKind::Status, sender, [&](WireWriter& w) {
    w.u64(m.view);
    w.u8(m.flags);
    w.u64(m.stable_seq);
    w.u64(m.last_executed);
    w.bytes(m.slots);
    w.bytes(m.view_changes);
  });
}

Bytes encode_state_reply(NodeId sender, const StateReply& m) {
  return framed(MessageKind::StateReply, sender, [&](WireWriter& w) {
    w.u64(m.seq);
    put_digest(w, m.state_digest);
    w.bytes(m.snapshot);
  });
}

Decoded<Request> decode_request(ByteView body) {
  WireReader r(body);
  Request m;
  m.client = r.u32();
  m.timestamp = r.u64();
  m.operation = to_bytes(r.bytes(kOperationBytesMax));
  return finish(r, std::move(m));
}

Decoded<PrePrepare> decode_pre_prepare(ByteView body) {
  WireReader r(body);
  PrePrepare m;
  m.view = r.u64();
  m.seq = r.u64();
  m.digest = get_digest(r);
  m.batch.requests = get_list(r, kBatchRequestsMax, body.size());
  return finish(r, std::move(m));
}

std::string_view decode_request_view(ByteView body, RequestView& out) {
  WireReader r(body);
  out.client = r.u32();
  out.timestamp = r.u64();
  out.operation = r.bytes(kOperationBytesMax);
  if (!r.ok()) return "truncated or bad length";
  if (!r.at_end()) return "trailing bytes";
  return {};
}

std::string_view decode_reply_view(ByteView body, ReplyView& out) {
  WireReader r(body);
  out.view = r.u64();
  out.timestamp = r.u64();
  out.client = r.u32();
  out.result = r.bytes(kResultBytesMax);
  if (!r.ok()) return "truncated or bad length";
  if (!r.at_end()) return "trailing bytes";
  return {};
}

std::string_view decode_pre_prepare_view(ByteView body, PrePrepareView& out) {
  WireReader r(body);
  out.view = r.u64();
  out.seq = r.u64();
  out.digest = get_digest(r);
  out.requests.clear();
  const std::uint32_t n = get_count(r, kBatchRequestsMax, body.size());
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) out.requests.push_back(r.bytes(kStateBytesMax));
  if (!r.ok()) return "truncated or bad length";
  if (!r.at_end()) return "trailing bytes";
  return {};
}

Decoded<Vote> decode_vote(ByteView body) {
  WireReader r(body);
  Vote m;
  m.view = r.u64();
  m.seq = r.u64();
  m.digest = get_digest(r);
  return finish(r, std::move(m));
}

Decoded<Reply> decode_reply(ByteView body) {
  WireReader r(body);
  Reply m;
  m.view = r.u64();
  m.timestamp = r.u64();
  m.client = r.u32();
  m.result = to_bytes(r.bytes(kResultBytesMax));
  return finish(r, std::move(m));
}

Decoded<Checkpoint> decode_checkpoint(ByteView body) {
  WireReader r(body);
  Checkpoint m;
  m.seq = r.u64();
  m.state_digest = get_digest(r);
  return finish(r, std::move(m));
}

Decoded<ViewChange> decode_view_change(ByteView body) {
  WireReader r(body);
  ViewChange m;
  m.new_view = r.u64();
  m.stable_seq = r.u64();
  const std::uint32_t n = get_entry_count(r, kViewChangeEntriesMax, body.size(), kCheckpointClaimBytes);
  m.checkpoints.reserve(n);
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    CheckpointClaim c;
    c.seq = r.u64();
    c.digest = get_digest(r);
    m.checkpoints.push_back(c);
  }
  m.prepared = get_slot_claims(r, body.size());
  m.pre_prepared = get_slot_claims(r, body.size());
  return finish(r, std::move(m));
}

Decoded<ViewChangeAck> decode_view_change_ack(ByteView body) {
  WireReader r(body);
  ViewChangeAck m;
  m.view = r.u64();
  m.replica = r.u32();
  m.digest = get_digest(r);
  return finish(r, std::move(m));
}

Decoded<NewView> decode_new_view(ByteView body) {
  WireReader r(body);
  NewView m;
  m.view = r.u64();
  const std::uint32_t n = get_entry_count(r, kViewChangeEntriesMax, body.size(), kViewChangeRefBytes);
  m.view_changes.reserve(n);
  for (std::uint32_t i = 0; i < n && r.ok(); ++i) {
    ViewChangeRef v;
    v.replica = r.u32();
    v.digest = get_digest(r);
    m.view_changes.push_back(v);
  }
  m.checkpoint_seq = r.u64();
  m.checkpoint_digest = get_digest(r);
  m.pre_prepares = get_list(r, kCertificateEntriesMax, body.size());
  return finish(r, std::move(m));
}

Decoded<FetchBatch> decode_fetch_batch(ByteView body) {
  WireReader r(body);
  FetchBatch m;
  m.seq = r.u64();
  m.digest = get_digest(r);
  return finish(r, std::move(m));
}

Decoded<Batch> decode_batch(ByteView body) {
  WireReader r(body);
  Batch m;
  m.pre_prepare = to_bytes(r.bytes(kStateBytesMax));
  return finish(r, std::move(m));
}

Decoded<FetchState> decode_fetch_state(ByteView body) {
  WireReader r(body);
  FetchState m;
  m.seq = r.u64();
  m.state_digest = get_digest(r);
  return finish(r, std::move(m));
}

Decoded<StateReply> decode_state_reply(ByteView body) {
  WireReader r(body);
  StateReply m;
  m.seq = r.u64();
  m.state_digest = get_digest(r);
  m.snapshot = to_bytes(r.bytes(kStateBytesMax));
  return finish(r, std::move(m));
}

Decoded<Status> decode_status(ByteView body) {
  WireReader r(body);
  Status m;
  m.view = r.u64();
  m.flags = r.u8();
  m.stable_seq = r.u64();
  m.last_executed = r.u64();
  m.slots = to_bytes(r.bytes(kStatusSlotsMax));
  m.view_changes = to_bytes(r.bytes(kStatusViewChangeBytesMax));
  if (r.ok() && (m.flags & ~Status::kFlagsAll) != 0) return {{}, "unknown status flags"};
  for (std::uint8_t b : m.slots) {
    if ((b & ~Status::kSlotAll) != 0) return {{}, "unknown status slot bits"};
  }
  return finish(r, std::move(m));
}

MessageDigest request_digest(ByteView request_content) { return sha256(request_content); }

MessageDigest batch_digest(std::span<const MessageDigest> request_digests) {
  Sha256 h;
  return batch_digest_with(h, request_digests);
}

MessageDigest view_change_digest(ByteView view_change_content) { return sha256(view_change_content); }

MessageDigest null_batch_digest() {
  static const MessageDigest kNull = batch_digest({});
  return kNull;
}

std::string summarize(ByteView wire) {
  auto env = parse_envelope(wire);
  if (!env.ok()) return "MALFORMED (" + std::string(env.error) + ")";
  const Envelope& e = env.value;
  char buf[160];
  const char* name = message_kind_name(e.kind);
  auto malformed = [&](std::string_view why) { return "MALFORMED (" + std::string(why) + ")"; };
  switch (e.kind) {
    case MessageKind::Request: {
      auto m = decode_request(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u client=%u t=%llu", name, e.sender, m.value.client,
                    static_cast<unsigned long long>(m.value.timestamp));
      return buf;
    }
    case MessageKind::PrePrepare: {
      auto m = decode_pre_prepare(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu n=%llu d=%s reqs=%zu", name, e.sender,
                    static_cast<unsigned long long>(m.value.view), static_cast<unsigned long long>(m.value.seq),
                    m.value.digest.short_hex().c_str(), m.value.batch.requests.size());
      return buf;
    }
    case MessageKind::Prepare:
    case MessageKind::Commit: {
      auto m = decode_vote(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu n=%llu d=%s", name, e.sender,
                    static_cast<unsigned long long>(m.value.view), static_cast<unsigned long long>(m.value.seq),
                    m.value.digest.short_hex().c_str());
      return buf;
    }
    case MessageKind::Reply: {
      auto m = decode_reply(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u client=%u t=%llu v=%llu", name, e.sender, m.value.client,
                    static_cast<unsigned long long>(m.value.timestamp), static_cast<unsigned long long>(m.value.view));
      return buf;
    }
    case MessageKind::Checkpoint:
    case MessageKind::FetchState: {
      auto m = decode_checkpoint(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u n=%llu d=%s", name, e.sender,
                    static_cast<unsigned long long>(m.value.seq), m.value.state_digest.short_hex().c_str());
      return buf;
    }
    case MessageKind::ViewChange: {
      auto m = decode_view_change(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu h=%llu |C|=%zu |P|=%zu |Q|=%zu", name, e.sender,
                    static_cast<unsigned long long>(m.value.new_view), static_cast<unsigned long long>(m.value.stable_seq),
                    m.value.checkpoints.size(), m.value.prepared.size(), m.value.pre_prepared.size());
      return buf;
    }
    case MessageKind::ViewChangeAck: {
      auto m = decode_view_change_ack(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu of=%u d=%s", name, e.sender,
                    static_cast<unsigned long long>(m.value.view), m.value.replica, m.value.digest.short_hex().c_str());
      return buf;
    }
    case MessageKind::FetchBatch: {
      auto m = decode_fetch_batch(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u n=%llu d=%s", name, e.sender,
                    static_cast<unsigned long long>(m.value.seq), m.value.digest.short_hex().c_str());
      return buf;
    }
    case MessageKind::Batch: {
      auto m = decode_batch(e.body);
      if (!m.ok()) return malformed(m.error);
      // What it carries is summarized only if it is a PRE-PREPARE: a BATCH inside a BATCH
      // inside ... would cost a copy and a stack frame per level.
      auto inner = parse_envelope(m.value.pre_prepare);
      if (!inner.ok() || inner.value.kind != MessageKind::PrePrepare) return malformed("not a PRE-PREPARE");
      std::snprintf(buf, sizeof buf, "%s from=%u (%s)", name, e.sender, summarize(m.value.pre_prepare).c_str());
      return buf;
    }
    case MessageKind::NewView: {
      auto m = decode_new_view(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu |V|=%zu h=%llu |O|=%zu", name, e.sender,
                    static_cast<unsigned long long>(m.value.view), m.value.view_changes.size(),
                    static_cast<unsigned long long>(m.value.checkpoint_seq), m.value.pre_prepares.size());
      return buf;
    }
    case MessageKind::Status: {
      auto m = decode_status(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u v=%llu%s%s stable=%llu executed=%llu", name, e.sender,
                    static_cast<unsigned long long>(m.value.view),
                    (m.value.flags & Status::kInViewChange) ? " (view change)" : "",
                    (m.value.flags & Status::kReply) ? " reply" : "",
                    static_cast<unsigned long long>(m.value.stable_seq),
                    static_cast<unsigned long long>(m.value.last_executed));
      return buf;
    }
    case MessageKind::StateReply: {
      auto m = decode_state_reply(e.body);
      if (!m.ok()) return malformed(m.error);
      std::snprintf(buf, sizeof buf, "%s from=%u n=%llu d=%s bytes=%zu", name, e.sender,
                    static_cast<unsigned long long>(m.value.seq), m.value.state_digest.short_hex().c_str(),
                    m.value.snapshot.size());
      return buf;
    }
  }
  return malformed("unknown kind");
}

}  // namespace protocol
