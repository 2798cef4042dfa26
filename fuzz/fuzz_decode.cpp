// libFuzzer target: arbitrary bytes into the envelope parser and every body decoder.
//
// What must hold (protocol/message.h): decoding never crashes, asserts or throws, and the
// encoding is canonical. A decoder accepts only what its encoder writes (fixed widths, exact
// lengths, no trailing bytes, no unknown flags), so re-encoding an accepted value gives back
// the very bytes it came from, and those decode to the same value again. The copy-free
// decoders accept exactly what the copying ones accept, with the same fields, and the
// `_into` encoders write what the value-returning ones do. A broken property aborts, which
// libFuzzer reports as a crash with the input that caused it.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "protocol/message.h"
#include "protocol/wire_io.h"

using namespace protocol;

namespace {

constexpr std::size_t kHeaderBytes = 1 + 4 + 4;  // kind, sender, body length (message.h)

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_decode: property broken: %s\n", what);
  std::abort();
}

bool same(ByteView a, ByteView b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

// `content` (kind, sender, body) as written by an encoder; its body must be `body`, byte for
// byte, and it must carry `kind` and `sender`.
void require_canonical(const Bytes& content, MessageKind kind, NodeId sender, ByteView body, const char* what) {
  require(content.size() == kHeaderBytes + body.size(), what);
  require(content[0] == static_cast<std::uint8_t>(kind), what);
  const NodeId written = load_le32(content.data() + 1);
  require(written == sender, what);
  require(same(ByteView(content).subspan(kHeaderBytes), body), what);
}

ByteView body_of(const Bytes& content) { return ByteView(content).subspan(kHeaderBytes); }

// Decode, re-encode, compare the bytes, decode again and re-encode again: a value that did
// not survive the first trip would show as different bytes on the second.
template <class T, class Decode, class Encode>
void round_trip(ByteView body, NodeId sender, MessageKind kind, Decode decode, Encode encode, const char* what) {
  Decoded<T> first = decode(body);
  if (!first.ok()) {
    require(!first.error.empty(), what);
    return;
  }
  const Bytes content = encode(sender, first.value);
  require_canonical(content, kind, sender, body, what);
  Decoded<T> second = decode(body_of(content));
  require(second.ok(), what);
  require(encode(sender, second.value) == content, what);
}

void check_request(ByteView body, NodeId sender) {
  round_trip<Request>(body, sender, MessageKind::Request, decode_request, encode_request, "REQUEST round trip");
  RequestView view;
  const auto full = decode_request(body);
  require(decode_request_view(body, view).empty() == full.ok(), "REQUEST view decoder agrees");
  if (!full.ok()) return;
  require(view.client == full.value.client && view.timestamp == full.value.timestamp &&
              same(view.operation, full.value.operation),
          "REQUEST view fields");
  Bytes into{0xee};  // not empty: encode_*_into must clear it first
  encode_request_into(into, sender, view.client, view.timestamp, view.operation);
  require(into == encode_request(sender, full.value), "encode_request_into");
}

void check_pre_prepare(ByteView body, NodeId sender) {
  round_trip<PrePrepare>(body, sender, MessageKind::PrePrepare, decode_pre_prepare, encode_pre_prepare,
                         "PRE-PREPARE round trip");
  PrePrepareView view;
  view.requests.push_back(body);  // stale content from an earlier use must go
  const auto full = decode_pre_prepare(body);
  require(decode_pre_prepare_view(body, view).empty() == full.ok(), "PRE-PREPARE view decoder agrees");
  if (!full.ok()) return;
  require(view.view == full.value.view && view.seq == full.value.seq && view.digest == full.value.digest,
          "PRE-PREPARE view fields");
  require(view.requests.size() == full.value.batch.requests.size(), "PRE-PREPARE view batch size");
  for (std::size_t i = 0; i < view.requests.size(); ++i) {
    require(same(view.requests[i], full.value.batch.requests[i]), "PRE-PREPARE view batch entry");
  }
  Bytes into{0xee};
  encode_pre_prepare_into(into, sender, view.view, view.seq, view.digest, view.requests);
  require(into == encode_pre_prepare(sender, full.value), "encode_pre_prepare_into");
}

void check_votes(ByteView body, NodeId sender) {
  for (MessageKind kind : {MessageKind::Prepare, MessageKind::Commit}) {
    auto encode = [kind](NodeId s, const Vote& v) { return encode_vote(kind, s, v); };
    round_trip<Vote>(body, sender, kind, decode_vote, encode, "PREPARE/COMMIT round trip");
    const auto full = decode_vote(body);
    if (!full.ok()) continue;
    Bytes into{0xee};
    encode_vote_into(into, kind, sender, full.value);
    require(into == encode_vote(kind, sender, full.value), "encode_vote_into");
  }
}

void check_reply(ByteView body, NodeId sender) {
  round_trip<Reply>(body, sender, MessageKind::Reply, decode_reply, encode_reply, "REPLY round trip");
  ReplyView view;
  const auto full = decode_reply(body);
  require(decode_reply_view(body, view).empty() == full.ok(), "REPLY view decoder agrees");
  if (!full.ok()) return;
  require(view.view == full.value.view && view.timestamp == full.value.timestamp &&
              view.client == full.value.client && same(view.result, full.value.result),
          "REPLY view fields");
  Bytes into{0xee};
  encode_reply_into(into, sender, view.view, view.timestamp, view.client, view.result);
  require(into == encode_reply(sender, full.value), "encode_reply_into");
}

void check_checkpoint(ByteView body, NodeId sender) {
  round_trip<Checkpoint>(body, sender, MessageKind::Checkpoint, decode_checkpoint, encode_checkpoint,
                         "CHECKPOINT round trip");
  const auto full = decode_checkpoint(body);
  if (!full.ok()) return;
  Bytes into{0xee};
  encode_checkpoint_into(into, sender, full.value);
  require(into == encode_checkpoint(sender, full.value), "encode_checkpoint_into");
}

// BATCH carries a whole PRE-PREPARE wire message, which the new primary parses in turn: the
// copy must survive the trip byte for byte, and whatever it holds goes through the envelope
// parser and the PRE-PREPARE decoder as any wire would (no recursion into further BATCHes:
// the outer input already reaches every decoder).
void check_batch(ByteView body, NodeId sender) {
  round_trip<Batch>(body, sender, MessageKind::Batch, decode_batch, encode_batch, "BATCH round trip");
  const auto full = decode_batch(body);
  if (!full.ok()) return;
  const ByteView inner(full.value.pre_prepare);
  require(body.size() == 4 + inner.size() && same(body.subspan(4), inner), "BATCH copy is the bytes carried");
  const auto env = parse_envelope(inner);
  if (env.ok() && env.value.kind == MessageKind::PrePrepare) check_pre_prepare(env.value.body, env.value.sender);
}

// Every body decoder on the same bytes, whatever kind the header claims: a replica only
// calls the decoder of the claimed kind, but each must stand any input.
void check_bodies(ByteView body, NodeId sender) {
  check_request(body, sender);
  check_pre_prepare(body, sender);
  check_votes(body, sender);
  check_reply(body, sender);
  check_checkpoint(body, sender);
  round_trip<ViewChange>(body, sender, MessageKind::ViewChange, decode_view_change, encode_view_change,
                         "VIEW-CHANGE round trip");
  round_trip<ViewChangeAck>(body, sender, MessageKind::ViewChangeAck, decode_view_change_ack,
                            encode_view_change_ack, "VIEW-CHANGE-ACK round trip");
  round_trip<NewView>(body, sender, MessageKind::NewView, decode_new_view, encode_new_view, "NEW-VIEW round trip");
  round_trip<FetchBatch>(body, sender, MessageKind::FetchBatch, decode_fetch_batch, encode_fetch_batch,
                         "FETCH-BATCH round trip");
  check_batch(body, sender);
  round_trip<FetchState>(body, sender, MessageKind::FetchState, decode_fetch_state, encode_fetch_state,
                         "FETCH-STATE round trip");
  round_trip<StateReply>(body, sender, MessageKind::StateReply, decode_state_reply, encode_state_reply,
                         "STATE-REPLY round trip");
  round_trip<Status>(body, sender, MessageKind::Status, decode_status, encode_status, "STATUS round trip");
}

// An accepted envelope splits the input into content, scheme byte and trailer with nothing
// lost, and its fields are the header's.
void check_envelope(ByteView wire, const Envelope& e) {
  require(same(e.wire, wire), "envelope: wire is the input");
  require(e.content.data() == wire.data() && e.content.size() == kHeaderBytes + e.body.size(),
          "envelope: content is header + body");
  require(e.body.data() == wire.data() + kHeaderBytes, "envelope: body follows the header");
  require(e.content.size() + 1 + e.auth.size() == wire.size(), "envelope: content, scheme byte, trailer");
  require(wire[e.content.size()] == static_cast<std::uint8_t>(e.scheme), "envelope: scheme byte");
  require(static_cast<std::uint8_t>(e.kind) == wire[0] && wire[0] >= 1 && wire[0] <= kMessageKindMax,
          "envelope: kind");
  const NodeId sender = load_le32(wire.data() + 1);
  require(e.sender == sender, "envelope: sender");
  switch (e.scheme) {
    case AuthScheme::None: require(e.auth.empty(), "envelope: no trailer without a scheme"); break;
    case AuthScheme::Signature: require(e.auth.size() == kSignatureBytes, "envelope: signature length"); break;
    case AuthScheme::Mac: {
      require(e.auth.size() >= 2, "envelope: MAC count");
      const std::size_t count = load_le16(e.auth.data());
      require(count <= kMacEntriesMax && e.auth.size() == 2 + count * (4 + kMacBytes), "envelope: MAC length");
      break;
    }
    default: require(false, "envelope: unknown scheme accepted");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteView input(data, size);
  // The whole input as a wire message, the way a replica receives one.
  const auto env = parse_envelope(input);
  const std::string line = summarize(input);  // the trace's one-liner never fails either
  require(!line.empty(), "summarize is never empty");
  if (env.ok()) {
    check_envelope(input, env.value);
    check_bodies(env.value.body, env.value.sender);
  } else {
    require(!env.error.empty(), "a refused envelope says why");
    require(line.rfind("MALFORMED", 0) == 0, "summarize of a refused envelope says MALFORMED");
  }
  // And the whole input as a body, so that decoders see inputs no envelope frames.
  check_bodies(input, 7);
  return 0;
}
