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

  ViewChange vc{5, 64, d(1), {Bytes{1}, Bytes{2, 3}}, {PreparedProof{ppw, {Bytes{4}, Bytes{}}}}};
  auto vd = decode_view_change(env_of(with_trailer(encode_view_change(3, vc))).body);
  REQUIRE(vd.ok());
  CHECK(vd.value.new_view == 5);
  CHECK(vd.value.stable_seq == 64);
  CHECK(vd.value.checkpoint_proof == vc.checkpoint_proof);
  REQUIRE(vd.value.prepared.size() == 1);
  CHECK(vd.value.prepared[0].pre_prepare == ppw);
  CHECK(vd.value.prepared[0].prepares == vc.prepared[0].prepares);

  NewView nv{5, {Bytes{1}}, {ppw}};
  auto nd = decode_new_view(env_of(with_trailer(encode_new_view(1, nv))).body);
  REQUIRE(nd.ok());
  CHECK(nd.value.pre_prepares == nv.pre_prepares);

  auto cp = decode_checkpoint(env_of(with_trailer(encode_checkpoint(0, Checkpoint{128, d(9)}))).body);
  REQUIRE(cp.ok());
  CHECK(cp.value.seq == 128);
  auto sr = decode_state_reply(env_of(with_trailer(encode_state_reply(0, StateReply{64, d(2), {1, 2}}))).body);
  REQUIRE(sr.ok());
  CHECK(sr.value.snapshot == Bytes{1, 2});
  auto fs = decode_fetch_state(env_of(with_trailer(encode_fetch_state(0, FetchState{64, d(2)}))).body);
  REQUIRE(fs.ok());
  CHECK(fs.value.state_digest == d(2));

  auto st = decode_status(env_of(with_trailer(encode_status(2, Status{6, Status::kInViewChange, 64, 70}))).body);
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
  const Bytes wire = with_trailer(encode_status(2, Status{6, Status::kReply, 64, 70}));
  Bytes body(env_of(wire).body.begin(), env_of(wire).body.end());
  body[8] = 0x04;  // flags follow the u64 view
  CHECK(decode_status(body).error == "unknown status flags");
  body[8] = Status::kFlagsAll;
  CHECK(decode_status(body).ok());
}

TEST_CASE("no proper prefix of a message parses and decodes; a trailing byte is rejected") {
  ViewChange vc{5, 64, d(1), {Bytes{1}}, {PreparedProof{Bytes{9, 9}, {Bytes{4}}}}};
  const Bytes wire = with_trailer(encode_view_change(3, vc));
  for (std::size_t len = 0; len < wire.size(); ++len) {
    auto e = parse_envelope(ByteView(wire.data(), len));
    CHECK_FALSE((e.ok() && decode_view_change(e.value.body).ok()));
  }
  Bytes longer = wire;
  longer.push_back(0);
  CHECK_FALSE(parse_envelope(longer).ok());
  const Bytes vote_wire = with_trailer(encode_vote(MessageKind::Prepare, 1, Vote{1, 1, d(1)}));
  auto e = env_of(vote_wire);  // points into vote_wire, which outlives it
  Bytes fat(e.body.begin(), e.body.end());
  fat.push_back(0);
  CHECK(decode_vote(fat).error == "trailing bytes");
}

TEST_CASE("unknown kinds, unknown schemes, bad lengths and huge counts are rejected") {
  Bytes wire = with_trailer(encode_vote(MessageKind::Prepare, 1, Vote{1, 1, d(1)}));
  Bytes k0 = wire, k12 = wire, scheme = wire, length = wire;
  k0[0] = 0;
  k12[0] = 12;
  scheme.back() = 7;
  length[5] = 0xff;  // body length far beyond the message
  CHECK(parse_envelope(k0).error == "unknown kind");
  CHECK(parse_envelope(k12).error == "unknown kind");
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
