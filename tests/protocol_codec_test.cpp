// The canonical encoding: round trips, and rejection of everything malformed.
#include <doctest/doctest.h>

#include "protocol/crypto.h"
#include "protocol/message.h"

using namespace protocol;

namespace {

MessageDigest d(std::uint8_t v) {
  MessageDigest m;
  m.bytes.fill(v);
  return m;
}

Bytes with_trailer(Bytes content) {
  content.push_back(0);  // scheme none
  return content;
}

Envelope env_of(const Bytes& wire) {
  auto e = parse_envelope(wire);
  REQUIRE(e.ok());
  return e.value;
}

Bytes body_of(const Bytes& content) { return Bytes(content.begin() + 9, content.end()); }  // after kind, sender, length

void put_u32(Bytes& b, std::size_t at, std::uint32_t v) {
  REQUIRE(at + 4 <= b.size());
  for (int i = 0; i < 4; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

// A VIEW-CHANGE with every set non-empty, and a NEW-VIEW with V, X and O.
ViewChange sample_view_change() {
  return ViewChange{5, 64, {CheckpointClaim{64, d(1)}, CheckpointClaim{72, d(2)}},
                    {SlotClaim{65, 3, d(4)}},
                    {SlotClaim{65, 3, d(4)}, SlotClaim{66, 2, d(5)}, SlotClaim{66, 4, d(6)}}};
}

NewView sample_new_view(const Bytes& pre_prepare) {
  return NewView{5, {ViewChangeRef{0, d(7)}, ViewChangeRef{2, d(8)}, ViewChangeRef{3, d(9)}}, 64, d(1),
                 {pre_prepare, pre_prepare}};
}

}  // namespace

TEST_CASE("every message kind round-trips") {
  Request rq{9, 42, {1, 2, 3}};
  auto r = decode_request(env_of(with_trailer(encode_request(9, rq))).body);
  REQUIRE(r.ok());
  CHECK(r.value.client == 9);
  CHECK(r.value.timestamp == 42);
  CHECK(r.value.operation == Bytes{1, 2, 3});

  PrePrepare pp{3, 17, d(7), ConsensusBatch{{with_trailer(encode_request(9, rq)), Bytes{5}}}};
  const Bytes ppw = with_trailer(encode_pre_prepare(1, pp));
  CHECK(env_of(ppw).kind == MessageKind::PrePrepare);
  CHECK(env_of(ppw).sender == 1);
  auto p = decode_pre_prepare(env_of(ppw).body);
  REQUIRE(p.ok());
  CHECK(p.value.view == 3);
  CHECK(p.value.seq == 17);
  CHECK(p.value.digest == d(7));
  CHECK(p.value.batch.requests == pp.batch.requests);

  auto v = decode_vote(env_of(with_trailer(encode_vote(MessageKind::Commit, 2, Vote{1, 2, d(3)}))).body);
  REQUIRE(v.ok());
  CHECK(v.value.digest == d(3));

  auto rp = decode_reply(env_of(with_trailer(encode_reply(2, Reply{4, 5, 9, {7}}))).body);
  REQUIRE(rp.ok());
  CHECK(rp.value.result == Bytes{7});

  const ViewChange vc = sample_view_change();
  const Bytes vcw = with_trailer(encode_view_change(3, vc));
  CHECK(env_of(vcw).kind == MessageKind::ViewChange);
  auto vd = decode_view_change(env_of(vcw).body);
  REQUIRE(vd.ok());
  CHECK(vd.value.new_view == 5);
  CHECK(vd.value.stable_seq == 64);
  CHECK(vd.value.checkpoints == vc.checkpoints);
  CHECK(vd.value.prepared == vc.prepared);
  CHECK(vd.value.pre_prepared == vc.pre_prepared);
  auto empty_vc = decode_view_change(env_of(with_trailer(encode_view_change(3, ViewChange{1, 0, {}, {}, {}}))).body);
  REQUIRE(empty_vc.ok());
  CHECK(empty_vc.value.checkpoints.empty());
  CHECK(empty_vc.value.pre_prepared.empty());

  const Bytes ackw = with_trailer(encode_view_change_ack(2, ViewChangeAck{5, 3, d(6)}));
  CHECK(env_of(ackw).kind == MessageKind::ViewChangeAck);
  auto ack = decode_view_change_ack(env_of(ackw).body);
  REQUIRE(ack.ok());
  CHECK(ack.value.view == 5);
  CHECK(ack.value.replica == 3);
  CHECK(ack.value.digest == d(6));

  const NewView nv = sample_new_view(ppw);
  const Bytes nvw = with_trailer(encode_new_view(1, nv));
  CHECK(env_of(nvw).kind == MessageKind::NewView);
  auto nd = decode_new_view(env_of(nvw).body);
  REQUIRE(nd.ok());
  CHECK(nd.value.view == 5);
  CHECK(nd.value.view_changes == nv.view_changes);
  CHECK(nd.value.checkpoint_seq == 64);
  CHECK(nd.value.checkpoint_digest == d(1));
  CHECK(nd.value.pre_prepares == nv.pre_prepares);

  const Bytes fbw = with_trailer(encode_fetch_batch(1, FetchBatch{65, d(4)}));
  CHECK(env_of(fbw).kind == MessageKind::FetchBatch);
  auto fb = decode_fetch_batch(env_of(fbw).body);
  REQUIRE(fb.ok());
  CHECK(fb.value.seq == 65);
  CHECK(fb.value.digest == d(4));

  const Bytes bw = with_trailer(encode_batch(2, Batch{ppw}));
  CHECK(env_of(bw).kind == MessageKind::Batch);
  CHECK(env_of(bw).sender == 2);
  auto bd = decode_batch(env_of(bw).body);
  REQUIRE(bd.ok());
  CHECK(bd.value.pre_prepare == ppw);  // the whole wire, trailer included
  CHECK(env_of(bd.value.pre_prepare).sender == 1);

  auto cp = decode_checkpoint(env_of(with_trailer(encode_checkpoint(0, Checkpoint{128, d(9)}))).body);
  REQUIRE(cp.ok());
  CHECK(cp.value.seq == 128);
  auto sr = decode_state_reply(env_of(with_trailer(encode_state_reply(0, StateReply{64, d(2), {1, 2}}))).body);
  REQUIRE(sr.ok());
  CHECK(sr.value.snapshot == Bytes{1, 2});
  auto fs = decode_fetch_state(env_of(with_trailer(encode_fetch_state(0, FetchState{64, d(2)}))).body);
  REQUIRE(fs.ok());
  CHECK(fs.value.state_digest == d(2));

  auto st = decode_status(env_of(with_trailer(encode_status(2, Status{6, Status::kInViewChange, 64, 70, {}, {}}))).body);
  REQUIRE(st.ok());
  CHECK(st.value.view == 6);
  CHECK(st.value.flags == Status::kInViewChange);
  CHECK(st.value.stable_seq == 64);
  CHECK(st.value.last_executed == 70);
}

TEST_CASE("a MAC trailer's entry count is little-endian: low byte first") {
  Bytes wire = encode_vote(MessageKind::Prepare, 1, Vote{1, 1, d(1)});
  wire.push_back(1);                                   // scheme: MAC
  for (std::uint8_t b : {1, 0}) wire.push_back(b);     // one entry
  for (std::uint8_t b : {3, 0, 0, 0}) wire.push_back(b);  // receiver 3
  wire.resize(wire.size() + kMacBytes, 0x5a);
  auto e = parse_envelope(wire);
  REQUIRE(e.ok());
  CHECK(e.value.auth.size() == 2 + 4 + kMacBytes);
  const std::size_t count_at = wire.size() - kMacBytes - 4 - 2;
  std::swap(wire[count_at], wire[count_at + 1]);  // now 256 entries claimed, one present
  CHECK(parse_envelope(wire).error == "bad authenticator length");
}

TEST_CASE("STATUS with a flag bit nobody defined is refused") {
  const Bytes wire = with_trailer(encode_status(2, Status{6, Status::kReply, 64, 70, {}, {}}));
  Bytes body(env_of(wire).body.begin(), env_of(wire).body.end());
  body[8] = 0x04;  // flags follow the u64 view
  CHECK(decode_status(body).error == "unknown status flags");
  body[8] = Status::kFlagsAll;
  CHECK(decode_status(body).ok());
}

TEST_CASE("no proper prefix of a message parses and decodes; a trailing byte is rejected") {
  const Bytes ppw = with_trailer(encode_pre_prepare(1, PrePrepare{3, 17, d(7), {}}));
  struct Case {
    const char* name;
    Bytes content;
    bool (*decodes)(ByteView body);
  };
  const Case cases[] = {
      {"VIEW-CHANGE", encode_view_change(3, sample_view_change()),
       [](ByteView b) { return decode_view_change(b).ok(); }},
      {"VIEW-CHANGE-ACK", encode_view_change_ack(2, ViewChangeAck{5, 3, d(6)}),
       [](ByteView b) { return decode_view_change_ack(b).ok(); }},
      {"NEW-VIEW", encode_new_view(1, sample_new_view(ppw)), [](ByteView b) { return decode_new_view(b).ok(); }},
      {"FETCH-BATCH", encode_fetch_batch(1, FetchBatch{65, d(4)}),
       [](ByteView b) { return decode_fetch_batch(b).ok(); }},
      {"BATCH", encode_batch(2, Batch{ppw}), [](ByteView b) { return decode_batch(b).ok(); }},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const Bytes wire = with_trailer(c.content);
    REQUIRE(c.decodes(env_of(wire).body));
    for (std::size_t len = 0; len < wire.size(); ++len) {
      auto e = parse_envelope(ByteView(wire.data(), len));
      CHECK_FALSE((e.ok() && c.decodes(e.value.body)));
    }
    Bytes longer = wire;
    longer.push_back(0);
    CHECK_FALSE(parse_envelope(longer).ok());
    // The body alone: every proper prefix is truncated, one byte more is trailing.
    const Bytes body = body_of(c.content);
    for (std::size_t len = 0; len < body.size(); ++len) CHECK_FALSE(c.decodes(ByteView(body.data(), len)));
    Bytes fat = body;
    fat.push_back(0);
    CHECK_FALSE(c.decodes(fat));
  }
  Bytes fat_vc = body_of(encode_view_change(3, sample_view_change()));
  fat_vc.push_back(0);
  CHECK(decode_view_change(fat_vc).error == "trailing bytes");
  Bytes short_nv = body_of(encode_new_view(1, sample_new_view(ppw)));
  short_nv.pop_back();
  CHECK(decode_new_view(short_nv).error == "truncated or bad length");
  const Bytes vote_wire = with_trailer(encode_vote(MessageKind::Prepare, 1, Vote{1, 1, d(1)}));
  auto e = env_of(vote_wire);  // points into vote_wire, which outlives it
  Bytes fat(e.body.begin(), e.body.end());
  fat.push_back(0);
  CHECK(decode_vote(fat).error == "trailing bytes");
}

TEST_CASE("VIEW-CHANGE and NEW-VIEW counts larger than the body could hold are rejected") {
  // VIEW-CHANGE body: u64 v+1, u64 h, u32 |C|, 40 bytes each, u32 |P|, 48 each, u32 |Q|, 48 each.
  const ViewChange vc = sample_view_change();
  const Bytes vc_body = body_of(encode_view_change(3, vc));
  const std::size_t c_at = 16;
  const std::size_t p_at = c_at + 4 + 40 * vc.checkpoints.size();
  const std::size_t q_at = p_at + 4 + 48 * vc.prepared.size();
  REQUIRE(q_at + 4 + 48 * vc.pre_prepared.size() == vc_body.size());
  REQUIRE(decode_view_change(vc_body).ok());
  for (std::size_t at : {c_at, p_at, q_at}) {
    CAPTURE(at);
    // One more than present, as many as the body's bytes, the named bound, and 2^32 - 1.
    const std::uint32_t present = at == c_at ? 2 : at == p_at ? 1 : 3;
    for (std::uint32_t count : {present + 1, static_cast<std::uint32_t>(vc_body.size()), kViewChangeEntriesMax,
                                kViewChangeEntriesMax + 1, 0xFFFFFFFFu}) {
      CAPTURE(count);
      Bytes bad = vc_body;
      put_u32(bad, at, count);
      CHECK_FALSE(decode_view_change(bad).ok());
    }
    Bytes fewer = vc_body;  // fewer than present: the rest are trailing bytes or misread
    put_u32(fewer, at, present - 1);
    CHECK_FALSE(decode_view_change(fewer).ok());
  }

  // NEW-VIEW body: u64 v, u32 |V|, 36 bytes each, u64 h, digest, u32 |O|, bytes each.
  const Bytes ppw = with_trailer(encode_pre_prepare(1, PrePrepare{3, 17, d(7), {}}));
  const NewView nv = sample_new_view(ppw);
  const Bytes nv_body = body_of(encode_new_view(1, nv));
  const std::size_t v_at = 8;
  const std::size_t o_at = v_at + 4 + 36 * nv.view_changes.size() + 8 + 32;
  REQUIRE(decode_new_view(nv_body).ok());
  for (std::uint32_t count : {4u, static_cast<std::uint32_t>(nv_body.size()), kViewChangeEntriesMax, 0xFFFFFFFFu}) {
    CAPTURE(count);
    Bytes bad = nv_body;
    put_u32(bad, v_at, count);
    CHECK_FALSE(decode_new_view(bad).ok());
  }
  for (std::uint32_t count : {3u, static_cast<std::uint32_t>(nv_body.size()), kCertificateEntriesMax + 1, 0xFFFFFFFFu}) {
    CAPTURE(count);
    Bytes bad = nv_body;
    put_u32(bad, o_at, count);
    CHECK_FALSE(decode_new_view(bad).ok());
  }
  // BATCH: a length beyond the body.
  Bytes batch_body = body_of(encode_batch(2, Batch{ppw}));
  put_u32(batch_body, 0, static_cast<std::uint32_t>(ppw.size() + 1));
  CHECK_FALSE(decode_batch(batch_body).ok());
}

TEST_CASE("a VIEW-CHANGE's digest covers its content, not its authenticator") {
  KeyRing ring(5, AuthMode::Mac, 4);
  NodeCrypto sender(ring, 2);
  const Bytes content = encode_view_change(2, sample_view_change());
  const Bytes to_all = sender.seal(Bytes(content), std::vector<NodeId>{0, 1, 3});
  const Bytes to_one = sender.seal(Bytes(content), std::vector<NodeId>{1});
  REQUIRE(to_all != to_one);
  CHECK(view_change_digest(env_of(to_all).content) == view_change_digest(env_of(to_one).content));
  CHECK(view_change_digest(env_of(to_all).content) == view_change_digest(content));
  ViewChange other = sample_view_change();
  other.pre_prepared.pop_back();
  CHECK(view_change_digest(encode_view_change(2, other)) != view_change_digest(content));
  CHECK(view_change_digest(encode_view_change(3, sample_view_change())) != view_change_digest(content));  // the sender counts
}

TEST_CASE("unknown kinds, unknown schemes, bad lengths and huge counts are rejected") {
  Bytes wire = with_trailer(encode_vote(MessageKind::Prepare, 1, Vote{1, 1, d(1)}));
  Bytes k0 = wire, k15 = wire, scheme = wire, length = wire;
  k0[0] = 0;
  k15[0] = kMessageKindMax + 1;
  scheme.back() = 7;
  length[5] = 0xff;  // body length far beyond the message
  CHECK(parse_envelope(k0).error == "unknown kind");
  CHECK(parse_envelope(k15).error == "unknown kind");
  for (std::uint8_t k : {12, 13, 14}) {  // VIEW-CHANGE-ACK, FETCH-BATCH, BATCH
    Bytes known = wire;
    known[0] = k;
    CHECK(parse_envelope(known).ok());
  }
  CHECK_FALSE(parse_envelope(scheme).ok());
  CHECK_FALSE(parse_envelope(length).ok());
  // A PRE-PREPARE body claiming kBatchRequestsMax + 1 requests.
  Bytes body(8 + 8 + 32, 0);
  const std::uint32_t count = kBatchRequestsMax + 1;
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<std::uint8_t>(count >> (8 * i)));
  body.resize(body.size() + 4 * count, 0);
  CHECK_FALSE(decode_pre_prepare(body).ok());
}

TEST_CASE("batch digests bind the requests and their order; the null request has its own") {
  const MessageDigest a = d(1), b = d(2);
  CHECK(batch_digest(std::vector<MessageDigest>{a, b}) != batch_digest(std::vector<MessageDigest>{b, a}));
  CHECK(batch_digest(std::vector<MessageDigest>{a}) != null_batch_digest());
  CHECK(batch_digest(std::vector<MessageDigest>{}) == null_batch_digest());
  CHECK(summarize(with_trailer(encode_vote(MessageKind::Prepare, 2, Vote{0, 12, d(0xab)}))) ==
        "PREPARE from=2 v=0 n=12 d=abababababab");
  CHECK(summarize(Bytes{0, 1, 2}).rfind("MALFORMED", 0) == 0);
  CHECK(summarize(with_trailer(encode_view_change_ack(2, ViewChangeAck{5, 3, d(0xab)}))) ==
        "VIEW-CHANGE-ACK from=2 v=5 of=3 d=abababababab");
  CHECK(summarize(with_trailer(encode_fetch_batch(1, FetchBatch{65, d(0xab)}))) ==
        "FETCH-BATCH from=1 n=65 d=abababababab");
  const Bytes pp = with_trailer(encode_pre_prepare(0, PrePrepare{3, 17, d(0xab), {}}));
  CHECK(summarize(with_trailer(encode_batch(2, Batch{pp}))) == "BATCH from=2 (" + summarize(pp) + ")");
  CHECK(summarize(with_trailer(encode_view_change(3, sample_view_change()))) ==
        "VIEW-CHANGE from=3 v=5 h=64 |C|=2 |P|=1 |Q|=3");
  CHECK(summarize(with_trailer(encode_new_view(1, sample_new_view(pp)))) == "NEW-VIEW from=1 v=5 |V|=3 h=64 |O|=2");
}

TEST_CASE("STATUS carries its slot bytes and VIEW-CHANGE bitmap; unknown slot bits and oversized ones are refused") {
  Status st{7, Status::kInViewChange, 64, 70, {Status::kSlotPrePrepared, 0, Status::kSlotAll}, {0x05}};
  auto sd = decode_status(env_of(with_trailer(encode_status(2, st))).body);
  REQUIRE(sd.ok());
  CHECK(sd.value.view == 7);
  CHECK(sd.value.flags == Status::kInViewChange);
  CHECK(sd.value.stable_seq == 64);
  CHECK(sd.value.last_executed == 70);
  CHECK(sd.value.slots == st.slots);
  CHECK(sd.value.view_changes == st.view_changes);
  Status bad_bits = st;
  bad_bits.slots[1] = 8;
  CHECK_FALSE(decode_status(env_of(with_trailer(encode_status(2, bad_bits))).body).ok());
  Status too_long = st;
  too_long.slots.assign(kStatusSlotsMax + 1, Status::kSlotPrePrepared);
  CHECK_FALSE(decode_status(env_of(with_trailer(encode_status(2, too_long))).body).ok());
}
