// The replicated key-value service.
#include <doctest/doctest.h>

#include "protocol/config.h"
#include "protocol/service.h"

using namespace protocol;

namespace {
std::string run(KvService& s, KvOpcode op, const char* key, const char* value = "") {
  Bytes r = s.execute(encode_kv_operation(op, key, value));
  return std::string(r.begin(), r.end());
}
}  // namespace

TEST_CASE("put, get, append and increment") {
  KvService s;
  CHECK(run(s, KvOpcode::Get, "a") == "");
  CHECK(run(s, KvOpcode::Put, "a", "x") == "OK");
  CHECK(run(s, KvOpcode::Get, "a") == "x");
  CHECK(run(s, KvOpcode::Append, "a", "yz") == "3");
  CHECK(run(s, KvOpcode::Append, "a", "yz") == "5");  // a double execution shows
  CHECK(run(s, KvOpcode::Get, "a") == "xyzyz");
  CHECK(run(s, KvOpcode::Increment, "n") == "1");
  CHECK(run(s, KvOpcode::Increment, "n") == "2");
  CHECK(run(s, KvOpcode::Increment, "a") == "1");  // non-numeric counts as 0
}

TEST_CASE("malformed operations are a no-op every replica agrees on") {
  KvService s;
  run(s, KvOpcode::Put, "a", "x");
  const MessageDigest before = s.state_digest();
  for (Bytes bad : {Bytes{}, Bytes{9, 0, 0}, Bytes{1, 5, 0, 'a'}, Bytes{1, 0, 0, 1, 0, 0, 0}}) {
    const Bytes r = s.execute(bad);
    CHECK(std::string(r.begin(), r.end()) == "ERR malformed");
  }
  CHECK(s.state_digest() == before);
}

TEST_CASE("snapshot and restore round-trip; digests depend on content, not history") {
  KvService a, b;
  run(a, KvOpcode::Put, "x", "1");
  run(a, KvOpcode::Put, "y", "2");
  run(b, KvOpcode::Put, "y", "2");
  run(b, KvOpcode::Put, "x", "1");
  CHECK(a.state_digest() == b.state_digest());
  run(b, KvOpcode::Append, "x", "!");
  CHECK(a.state_digest() != b.state_digest());
  KvService c;
  REQUIRE(c.restore(a.snapshot()));
  CHECK(c == a);
  Bytes snap = a.snapshot();
  snap.pop_back();
  CHECK_FALSE(c.restore(snap));
  snap = a.snapshot();
  snap.push_back(0);
  CHECK_FALSE(c.restore(snap));
  CHECK(c == a);  // unchanged by the failed restores
}

TEST_CASE("PbftConfig validation") {
  PbftConfig c;
  c.n = 4;
  c.f = 1;
  CHECK(c.validate() == "");
  c.n = 3;
  CHECK(c.validate() == "n = 3 is too small for f = 1: PBFT needs n >= 3f+1 = 4");
  c.n = 6;
  CHECK(c.validate() == "");
  c.log_window = 100;
  c.checkpoint_interval = 64;
  CHECK(c.validate().find("multiple of checkpoint_interval") != std::string::npos);
  auto quorum = [](std::uint32_t n, std::uint32_t f) { PbftConfig x; x.n = n; x.f = f; return x.quorum(); };
  CHECK(quorum(4, 1) == 3);
  CHECK(quorum(7, 2) == 5);
  CHECK(quorum(6, 1) == 4);
  CHECK(quorum(10, 3) == 7);
  CHECK(quorum(5, 1) == 4);
}
