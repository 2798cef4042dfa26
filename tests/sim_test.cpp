// The simulation kernel: ordering, cancellation, named streams, distributions, network
// model, payload pool, trace and fingerprint.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "sim/event_queue.h"
#include "sim/hash.h"
#include "sim/network.h"
#include "sim/payload_pool.h"
#include "sim/virtual_time.h"
#include "sim/rng.h"
#include "sim/trace.h"

using namespace sim;

TEST_CASE("events at the same virtual time come out in the order they were scheduled") {
  EventQueue q;
  for (std::uint32_t i = 0; i < 100; ++i) q.schedule(Event{ms(5), 0, 1, i, 0, 0});
  q.schedule(Event{ms(1), 0, 1, 999, 0, 0});
  CHECK(q.pop()->target == 999);
  for (std::uint32_t i = 0; i < 100; ++i) {
    auto e = q.pop();
    REQUIRE(e);
    CHECK(e->target == i);
    CHECK(e->time_ns == ms(5));
  }
  CHECK_FALSE(q.pop());
}

TEST_CASE("events pop in (time, insertion) order under a randomized stress") {
  EventQueue q;
  RngEngine rng = make_stream(3, "test");
  std::vector<std::pair<TimeNs, std::uint32_t>> reference;
  for (std::uint32_t i = 0; i < 10000; ++i) {
    const auto t = static_cast<TimeNs>(uniform_int(rng, 0, 500));
    q.schedule(Event{t, 0, 1, i, 0, 0});
    reference.emplace_back(t, i);
  }
  std::stable_sort(reference.begin(), reference.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (const auto& [t, id] : reference) {
    auto e = q.pop();
    REQUIRE(e);
    CHECK(e->time_ns == t);
    CHECK(e->target == id);
  }
  CHECK(q.empty());
}

// The queue against a reference model (an ordered set), as a run uses it: deliveries
// posted from "now" with delays from zero to far past the calendar's horizon (same bucket,
// next buckets, the ring's wrap, the far heap), timers scheduled and cancelled, and
// everything interleaved with pops. Every pop must be exactly the reference's minimum.
TEST_CASE("posted and scheduled events come out in exact (time, insertion) order, across buckets and the horizon") {
  EventQueue q;
  RngEngine rng = make_stream(5, "test");
  std::set<std::tuple<TimeNs, std::uint64_t, std::uint32_t>> reference;  // (time, insertion, id)
  std::vector<std::pair<EventHandle, std::tuple<TimeNs, std::uint64_t, std::uint32_t>>> timers;
  std::uint64_t inserted = 0;
  std::uint32_t id = 0;
  const TimeNs bucket_ns = TimeNs{1} << EventQueue::kBucketShift;
  const TimeNs horizon_ns = bucket_ns * static_cast<TimeNs>(EventQueue::kBuckets);
  auto delay = [&]() -> TimeNs {
    switch (uniform_int(rng, 0, 5)) {
      case 0: return 0;                                                          // now
      case 1: return static_cast<TimeNs>(uniform_int(rng, 0, bucket_ns));        // this or next bucket
      case 2: return static_cast<TimeNs>(uniform_int(rng, 0, ms(5)));            // typical latency
      case 3: return static_cast<TimeNs>(uniform_int(rng, horizon_ns - bucket_ns, horizon_ns + bucket_ns));
      case 4: return static_cast<TimeNs>(uniform_int(rng, 0, 3 * horizon_ns));  // far
      default: return static_cast<TimeNs>(uniform_int(rng, 0, 7)) * bucket_ns;  // bucket edges
    }
  };
  std::size_t pops = 0;
  for (int step = 0; step < 60000; ++step) {
    const auto op = uniform_int(rng, 0, 9);
    if (op < 5) {
      const TimeNs t = q.now_ns() + delay();
      q.post(Event{t, 0, 1, id, 0, 0});
      reference.emplace(t, inserted++, id++);
    } else if (op == 5) {
      const TimeNs t = q.now_ns() + delay();
      const auto key = std::make_tuple(t, inserted++, id);
      timers.emplace_back(q.schedule(Event{t, 0, 2, id++, 0, 0}), key);
      reference.insert(key);
    } else if (op == 6 && !timers.empty()) {
      const auto i = uniform_int(rng, 0, timers.size() - 1);
      if (q.cancel(timers[i].first)) reference.erase(timers[i].second);
      timers.erase(timers.begin() + static_cast<std::ptrdiff_t>(i));
    } else if (!reference.empty()) {
      REQUIRE(q.size() == reference.size());
      CHECK(q.peek_time_ns() == std::get<0>(*reference.begin()));
      auto e = q.pop();
      REQUIRE(e);
      CHECK(e->time_ns == std::get<0>(*reference.begin()));
      CHECK(e->target == std::get<2>(*reference.begin()));
      reference.erase(reference.begin());
      pops++;
    }
  }
  while (!reference.empty()) {
    auto e = q.pop();
    REQUIRE(e);
    CHECK(e->target == std::get<2>(*reference.begin()));
    reference.erase(reference.begin());
  }
  CHECK(q.empty());
  CHECK(pops > 10000);
}

TEST_CASE("cancelled events never fire; stale handles are ignored; slots are reused") {
  EventQueue q;
  RngEngine rng = make_stream(4, "test");
  std::vector<EventHandle> handles;
  for (std::uint32_t i = 0; i < 10000; ++i) {
    handles.push_back(q.schedule(Event{static_cast<TimeNs>(uniform_int(rng, 0, 1000)), 0, 1, i, 0, 0}));
  }
  std::set<std::uint32_t> cancelled;
  for (std::uint32_t i = 0; i < 10000; i += 2) {
    CHECK(q.cancel(handles[i]));
    cancelled.insert(i);
  }
  CHECK_FALSE(q.cancel(handles[0]));  // twice
  std::size_t fired = 0;
  while (auto e = q.pop()) {
    CHECK(cancelled.count(e->target) == 0);
    fired++;
  }
  CHECK(fired == 5000);
  CHECK_FALSE(q.cancel(handles[1]));  // already fired
  // A fresh event in a recycled slot is not cancelled by an old handle to that slot.
  const auto fresh = q.schedule(Event{q.now_ns() + 1, 0, 1, 77, 0, 0});
  for (const auto& h : handles) CHECK_FALSE(q.cancel(h));
  CHECK(q.pop()->target == 77);
  (void)fresh;
}

TEST_CASE("memory is bounded by pending events, not by events ever scheduled") {
  EventQueue q;
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 10; ++i) q.schedule(Event{q.now_ns() + i, 0, 1, 0, 0, 0});
    while (q.pop()) {}
  }
  CHECK(q.scheduled_total() == 10000);
  CHECK(q.size() == 0);
}

TEST_CASE("named stream derivation is stable (pinned values)") {
  CHECK(derive_stream_seed(42, "network") == 12995258661248178162ULL);
  CHECK(derive_stream_seed(42, "replica/0") == 1824368641046871178ULL);
  CHECK(derive_stream_seed(42, "client/3") == 17328863634868389718ULL);
  RngEngine r = make_stream(42, "network");
  CHECK(r() == 17951768561414174457ULL);
  CHECK(r() == 4761739959496088926ULL);
  CHECK(r() == 7342602940513299887ULL);
  CHECK(derive_stream_seed(42, "network") != derive_stream_seed(43, "network"));
  CHECK(derive_stream_seed(42, "a") != derive_stream_seed(42, "b"));
}

TEST_CASE("latency distributions: deterministic, within bounds, right mean") {
  LatencyModel uniform{LatencyModel::Dist::Uniform, 0, 2, 6, 0, 0, 0};
  LatencyModel expo{LatencyModel::Dist::Exponential, 0, 0, 0, 4, 0, 0};
  LatencyModel logn{LatencyModel::Dist::Lognormal, 0, 0, 0, 0, 5, 0.5};
  LatencyModel constant{LatencyModel::Dist::Constant, 3, 0, 0, 0, 0, 0};
  RngEngine a = make_stream(1, "x"), b = make_stream(1, "x");
  double sum_u = 0, sum_e = 0;
  std::vector<double> logs;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const auto u = uniform.sample(a);
    CHECK(u == uniform.sample(b));
    REQUIRE(u >= ms(2));
    REQUIRE(u <= ms(6));
    sum_u += u;
    sum_e += expo.sample(a);
    logs.push_back(static_cast<double>(logn.sample(a)));
    expo.sample(b);
    logn.sample(b);
  }
  CHECK(sum_u / kDraws == doctest::Approx(ms(4)).epsilon(0.01));
  CHECK(sum_e / kDraws == doctest::Approx(ms(4)).epsilon(0.02));
  std::nth_element(logs.begin(), logs.begin() + kDraws / 2, logs.end());
  CHECK(logs[kDraws / 2] == doctest::Approx(ms(5)).epsilon(0.02));  // median
  CHECK(constant.sample(a) == ms(3));
  CHECK(LatencyModel{LatencyModel::Dist::Uniform, 0, 5, 1, 0, 0, 0}.validate() != "");
  CHECK(uniform.validate() == "");
}

TEST_CASE("network: drop 1 never delivers, duplicate 1 always doubles, same seed same fates") {
  Network lossy({LatencyModel{}, 1.0, 0.0}, make_stream(5, "network"));
  for (int i = 0; i < 1000; ++i) CHECK(lossy.transmit(0, 1).copies == 0);
  Network dup({LatencyModel{}, 0.0, 1.0}, make_stream(5, "network"));
  for (int i = 0; i < 1000; ++i) CHECK(dup.transmit(0, 1).copies == 2);
  NetworkConfig cfg{LatencyModel{LatencyModel::Dist::Exponential, 0, 0, 0, 3, 0, 0}, 0.2, 0.1};
  Network x(cfg, make_stream(9, "network")), y(cfg, make_stream(9, "network"));
  for (int i = 0; i < 1000; ++i) {
    const auto a = x.transmit(0, 1), b = y.transmit(0, 1);
    CHECK(a.copies == b.copies);
    CHECK(a.delay_ns[0] == b.delay_ns[0]);
    CHECK(a.delay_ns[1] == b.delay_ns[1]);
  }
}

TEST_CASE("payload pool shares one buffer among recipients and recycles it") {
  PayloadPool pool;
  const auto id = pool.put({1, 2, 3}, 3);
  CHECK(pool.bytes(id).size() == 3);
  CHECK(pool.content_hash(id) == hash_bytes(std::vector<std::uint8_t>{1, 2, 3}));
  pool.release(id);
  pool.release(id);
  CHECK(pool.live() == 1);
  pool.release(id);
  CHECK(pool.live() == 0);
  CHECK(pool.put({9}, 1) == id);  // the slot is reused
}

TEST_CASE("trace: same events, same fingerprint; any changed field changes it") {
  auto run = [](std::uint64_t tweak) {
    Trace t(false);
    for (std::uint64_t i = 0; i < 100; ++i) {
      t.record(TraceEvent{static_cast<TimeNs>(i), TraceKind::Deliver, 1, 2, 3, i * 7, i == 50 ? tweak : 0, 0});
    }
    return t.fingerprint();
  };
  CHECK(run(0) == run(0));
  CHECK(run(0) != run(1));
  Trace a(false), b(false);
  a.record(TraceEvent{1, TraceKind::Send, 1, 2, 0, 0, 0, 0});
  b.record(TraceEvent{1, TraceKind::Send, 2, 1, 0, 0, 0, 0});  // from and to swapped
  CHECK(a.fingerprint() != b.fingerprint());
  CHECK(a.fingerprint_hex().size() == 16);
}

TEST_CASE("a recorded trace keeps each event with its summary, shown hash and note; recording changes no fingerprint") {
  Trace t(true), quiet(false);
  const TraceEvent drop{5, TraceKind::Drop, 1, 2, 3, 0xab, 1, 2};
  const TraceEvent reject{5, TraceKind::Reject, 1, 2, 3, 0, 4, 0};
  const TraceEvent note{6, TraceKind::Note, 2, 2, 0, 0, 7, 0};
  t.record(drop, "say \"hi\"\n");
  t.record(reject, "PREPARE", 0xab);  // shows the message's hash without folding it
  t.record(note, "entered view 7", 0, NoteKind::ViewEntered);
  quiet.record(drop);
  quiet.record(reject);
  quiet.record(note);
  CHECK(t.fingerprint() == quiet.fingerprint());
  REQUIRE(t.records().size() == 3);
  CHECK(quiet.records().empty());
  CHECK(t.records()[0].summary == "say \"hi\"\n");
  CHECK(t.records()[0].shown_hash == 0xab);
  CHECK(t.records()[1].shown_hash == 0xab);
  CHECK(t.records()[1].event.payload_hash == 0);
  CHECK(t.records()[2].note == NoteKind::ViewEntered);
  CHECK(std::string(note_kind_name(NoteKind::ViewEntered)) == "view_entered");
}

TEST_CASE("hash_bytes: every length and content distinct, tail handled") {
  std::set<std::uint64_t> seen;
  std::vector<std::uint8_t> bytes;
  for (int len = 0; len <= 17; ++len) {
    seen.insert(hash_bytes(bytes));
    bytes.push_back(0);  // zero padding must not collide with a shorter input
  }
  CHECK(seen.size() == 18);
  CHECK(hash_bytes(std::vector<std::uint8_t>{1, 2}) != hash_bytes(std::vector<std::uint8_t>{2, 1}));
}

TEST_CASE("timer deadlines under timer_skew saturate instead of overflowing") {
  using sim::kTimeNsMax;
  using sim::skewed_deadline;
  // Ordinary timers: delay / factor, truncated, at least 1 ns.
  CHECK(skewed_deadline(100, 1000, 1.0) == 1100);
  CHECK(skewed_deadline(100, 1000, 4.0) == 350);
  CHECK(skewed_deadline(100, 3, 1e6) == 101);
  CHECK(skewed_deadline(0, 0, 1.0) == 1);
  // The largest timeout a scenario allows (10^12 ms) on a clock 1000 times slow: 10^21 ns
  // does not fit in 64 bits; it is "never", not a timer that fires at once.
  const sim::DurationNs largest = sim::from_ms(1e12);
  CHECK(skewed_deadline(0, largest, 0.001) == kTimeNsMax);
  CHECK(skewed_deadline(sim::from_ms(1e12), largest, 0.001) == kTimeNsMax);
  // Near the top of the range: exactly what fits, then saturation, never a wrap.
  CHECK(skewed_deadline(kTimeNsMax - 4096, 2048, 1.0) == kTimeNsMax - 2048);
  CHECK(skewed_deadline(kTimeNsMax - 10, 1'000'000, 1.0) == kTimeNsMax);
  CHECK(skewed_deadline(kTimeNsMax - 1, 1, 1.0) == kTimeNsMax);
  CHECK(skewed_deadline(0, INT64_MAX, 0.5) == kTimeNsMax);
  for (sim::TimeNs now : {sim::TimeNs{0}, sim::TimeNs{1} << 40, sim::TimeNs{1} << 62, kTimeNsMax - 1}) {
    for (double factor : {1e-3, 0.5, 1.0, 3.0, 1e6}) {
      const sim::TimeNs t = skewed_deadline(now, largest, factor);
      CHECK(t > now);
      CHECK(t <= kTimeNsMax);
    }
  }
}
