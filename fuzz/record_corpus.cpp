// Records real wire messages into the seed corpus of fuzz_decode: a short run of four
// replicas through step() (tests/replica_cluster.h) under each authentication scheme, with
// checkpoints, a state transfer, STATUS and a view change (VIEW-CHANGE, VIEW-CHANGE-ACK,
// NEW-VIEW) in which the new primary lacks a batch it chooses (FETCH-BATCH, BATCH), so that
// every message kind starts from bytes the protocol actually sends. Deterministic: the same
// build writes the same files.
//
//   PBFTSIM_CORPUS_OUT=fuzz/corpus/fuzz_decode build-libfuzzer/fuzz/fuzz_record_corpus
//
// Without PBFTSIM_CORPUS_OUT it writes nothing and only checks that the run covers every kind.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "protocol/crypto.h"
#include "tests/replica_cluster.h"

using namespace protocol_test;

namespace {

// At most this many distinct messages per kind and scheme: the corpus stays small (libFuzzer
// mutates from a few examples as well as from many) and the run is quick to reproduce.
constexpr std::size_t kPerKindMax = 4;

const char* scheme_name(AuthMode auth) { return auth_mode_name(auth); }

// Runs the script on a fresh cluster and returns every message that went over the queue.
std::vector<Bytes> recorded_run(AuthMode auth) {
  Cluster c(4, 1, 2, /*window=*/8, /*k=*/4, auth);
  std::vector<Bytes> seen;
  auto drain = [&] {
    for (std::size_t i = 0; i < 100000 && !c.queue.empty(); ++i) {
      Packet p = std::move(c.queue.front());
      c.queue.pop_front();
      seen.push_back(p.wire);
      c.deliver(p.from, p.to, p.wire);
    }
  };
  auto submit = [&](std::uint32_t client, Timestamp t, NodeId to) {
    const Bytes req = c.request(client, t, op_incr(t % 2 ? "x" : "y"));
    seen.push_back(req);
    c.deliver(c.client(client), to, req);
  };
  // Normal case with checkpoints every 4; replica 3 misses seqs 1..20 and catches up by
  // state transfer (FETCH-STATE, STATE-REPLY) once the others' checkpoint passes its window.
  c.isolated[3] = true;
  for (Timestamp t = 1; t <= 20; ++t) {
    submit(0, t, 0);
    drain();
  }
  c.isolated[3] = false;
  for (Timestamp t = 21; t <= 24; ++t) submit(0, t, 0);
  drain();
  // Replica 1, the primary of view 1, hears nothing while 0, 2 and 3 commit seq 25: the
  // view change will choose that request, whose batch replica 1 then lacks.
  c.isolated[1] = true;
  submit(0, 25, 0);
  drain();
  // The primary falls silent with a request pending at 2 and 3.
  c.isolated[0] = true;
  for (ReplicaId r = 2; r < 4; ++r) submit(1, 1, r);
  drain();
  // Work pending and no progress over two status ticks: STATUS, and answers to it (not to
  // replica 1 yet, which would learn seq 25 from them).
  for (int tick = 0; tick < 2; ++tick) {
    for (ReplicaId r = 1; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::Status));
  }
  drain();
  // Replica 1 is back, with the request pending too. The view change to view 1: VIEW-CHANGEs,
  // VIEW-CHANGE-ACKs to replica 1, FETCH-BATCH for seq 25 and the BATCH answering it, NEW-VIEW.
  c.isolated[1] = false;
  submit(1, 1, 1);
  drain();
  for (ReplicaId r = 1; r < 4; ++r) c.step(r, Input::timer_fired(TimerKind::ViewChange));
  drain();
  return seen;
}

std::string file_name(AuthMode auth, MessageKind kind, const Bytes& wire) {
  std::string name = std::string(scheme_name(auth)) + "-" + message_kind_name(kind) + "-";
  name += sha256(wire).short_hex();
  for (char& ch : name) ch = ch == '-' || std::isalnum(static_cast<unsigned char>(ch)) ? std::tolower(ch) : '_';
  return name;
}

}  // namespace

TEST_CASE("a short run under each scheme sends every message kind; the corpus records them") {
  const char* out_dir = std::getenv("PBFTSIM_CORPUS_OUT");
  for (AuthMode auth : {AuthMode::Mac, AuthMode::Signature, AuthMode::None}) {
    const std::string scheme = scheme_name(auth);
    CAPTURE(scheme);
    std::map<MessageKind, std::vector<Bytes>> by_kind;
    std::set<Bytes> distinct;
    for (Bytes& wire : recorded_run(auth)) {
      auto env = parse_envelope(wire);
      REQUIRE(env.ok());
      auto& list = by_kind[env.value.kind];
      if (list.size() < kPerKindMax && distinct.insert(wire).second) list.push_back(std::move(wire));
    }
    for (std::uint8_t k = 1; k <= kMessageKindMax; ++k) {
      const std::string kind = message_kind_name(static_cast<MessageKind>(k));
      CAPTURE(kind);
      CHECK(by_kind.count(static_cast<MessageKind>(k)) == 1);
    }
    if (out_dir == nullptr) continue;
    for (const auto& [kind, list] : by_kind) {
      for (const Bytes& wire : list) {
        const std::string path = std::string(out_dir) + "/" + file_name(auth, kind, wire);
        std::FILE* f = std::fopen(path.c_str(), "wb");
        REQUIRE(f != nullptr);
        CHECK(std::fwrite(wire.data(), 1, wire.size(), f) == wire.size());
        std::fclose(f);
      }
    }
  }
}
