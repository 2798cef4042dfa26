// The random scenario generator behind `pbftsim fuzz` (see random_scenario.h). Every draw
// comes from one named stream, in a fixed order, so a seed always gives the same scenario.
// Distributions are skewed the way bugs are: small clusters, short runs, windows that open
// and close while requests are in flight, timeouts both sane and far too short.
#include "harness/random_scenario.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <initializer_list>
#include <set>
#include <string>

#include "sim/rng.h"

namespace harness {
namespace {

using sim::RngEngine;

// Named bounds of the generated space.
constexpr std::uint32_t kClientsMax = 8;
constexpr std::uint32_t kRequestsPerClientMax = 60;
constexpr std::uint32_t kOutstandingMax = 4;
constexpr std::uint32_t kNetworkFaultsMax = 3;
constexpr std::int64_t kFaultStartMsMax = 3000;   // faults begin within the first 3 s
constexpr std::int64_t kFaultLengthMsMax = 6000;  // and a window lasts at most 6 s
constexpr std::uint64_t kEventsMax = 4'000'000;   // a run that needs more is a failure

class Draw {
 public:
  explicit Draw(RngEngine& rng) : rng_(rng) {}
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return sim::uniform_int(rng_, lo, hi); }
  bool chance(double p) { return sim::bernoulli(rng_, p); }
  double real(double lo, double hi) { return lo + (hi - lo) * sim::uniform_01(rng_); }
  // A value rounded to `step` (so that the JSON stays readable and round-trips exactly).
  double stepped(double lo, double hi, double step) {
    return std::round(real(lo, hi) / step) * step;
  }
  template <class T>
  T pick(std::initializer_list<T> values) {
    const auto i = between(0, values.size() - 1);
    return *(values.begin() + i);
  }
  template <class T>
  T pick(const std::vector<T>& values) {
    assert(!values.empty());
    return values[between(0, values.size() - 1)];
  }
  // A random subset of `from` (each kept with probability p), in the original order.
  std::vector<ReplicaId> subset(const std::vector<ReplicaId>& from, double p) {
    std::vector<ReplicaId> out;
    for (auto r : from) {
      if (chance(p)) out.push_back(r);
    }
    return out;
  }
  void shuffle(std::vector<ReplicaId>& v) {
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[between(0, i - 1)]);
  }

 private:
  RngEngine& rng_;
};

std::vector<ReplicaId> all_replicas(std::uint32_t n) {
  std::vector<ReplicaId> v(n);
  for (ReplicaId r = 0; r < n; ++r) v[r] = r;
  return v;
}

std::uint32_t draw_n(Draw& d, const RandomScenarioOptions& o) {
  // Small clusters find most bugs; 5 and 6 are the non-3f+1 sizes users pick by accident.
  const std::uint32_t n = d.pick<std::uint32_t>({4, 4, 4, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11, 12, 13, 1, 2, 3});
  return std::clamp(n, o.n_min, o.n_max);
}

protocol::PbftConfig draw_cluster(Draw& d, const RandomScenarioOptions& o) {
  protocol::PbftConfig c;
  c.n = draw_n(d, o);
  const std::uint32_t f_max = (c.n - 1) / 3;
  c.f = d.chance(0.85) ? f_max : static_cast<std::uint32_t>(d.between(0, f_max));
  c.auth = d.pick({protocol::AuthMode::Mac, protocol::AuthMode::Mac, protocol::AuthMode::Mac,
                   protocol::AuthMode::Signature, protocol::AuthMode::None});
  c.batch_size_max = d.chance(0.5) ? 1 : static_cast<std::uint32_t>(d.between(2, 16));
  c.batch_delay_ns = d.chance(0.5) ? 0 : sim::ms(static_cast<std::int64_t>(d.between(1, 20)));
  c.checkpoint_interval = d.pick<std::uint64_t>({1, 2, 4, 8, 8, 16, 16, 32, 64, 128});
  c.log_window = c.checkpoint_interval * d.pick<std::uint64_t>({1, 2, 2, 2, 4, 8});
  // Far too short (1-10 ms, below a round trip) as often as sane: spurious view changes
  // must stay safe and die out as timeouts back off.
  c.view_change_timeout_ns =
      sim::ms(d.pick<std::int64_t>({1, 2, 5, 10, 30, 100, 250, 500, 500, 1000, 2000}));
  c.client_retry_timeout_ns = sim::ms(d.pick<std::int64_t>({20, 100, 500, 1000, 1000, 3000}));
  c.state_fetch_timeout_ns = sim::ms(d.pick<std::int64_t>({5, 50, 200, 200, 1000}));
  assert(c.validate().empty());
  return c;
}

sim::LatencyModel draw_latency(Draw& d, double scale_ms) {
  sim::LatencyModel m;
  switch (d.between(0, 3)) {
    case 0:
      m.dist = sim::LatencyModel::Dist::Constant;
      m.value_ms = d.stepped(0, scale_ms, 0.5);
      break;
    case 1:
      m.dist = sim::LatencyModel::Dist::Uniform;
      m.min_ms = d.stepped(0, scale_ms / 2, 0.5);
      m.max_ms = m.min_ms + d.stepped(0, scale_ms, 0.5);
      break;
    case 2:
      m.dist = sim::LatencyModel::Dist::Exponential;
      m.mean_ms = std::max(0.5, d.stepped(0.5, scale_ms, 0.5));
      break;
    default:
      m.dist = sim::LatencyModel::Dist::Lognormal;
      m.median_ms = std::max(0.5, d.stepped(0.5, scale_ms / 2, 0.5));
      m.sigma = d.stepped(0.1, 1.5, 0.1);
      break;
  }
  return m;
}

// The mean of a latency distribution, for sizing the run.
double mean_ms(const sim::LatencyModel& m) {
  switch (m.dist) {
    case sim::LatencyModel::Dist::Constant: return m.value_ms;
    case sim::LatencyModel::Dist::Uniform: return (m.min_ms + m.max_ms) / 2;
    case sim::LatencyModel::Dist::Exponential: return m.mean_ms;
    case sim::LatencyModel::Dist::Lognormal: return m.median_ms * std::exp(m.sigma * m.sigma / 2);
  }
  return 0;
}

sim::NetworkConfig draw_network(Draw& d) {
  sim::NetworkConfig net;
  net.latency = draw_latency(d, d.pick({2.0, 10.0, 10.0, 30.0}));
  net.drop_probability = d.chance(0.6) ? 0.0 : d.pick({0.001, 0.01, 0.02, 0.05, 0.1});
  net.duplicate_probability = d.chance(0.6) ? 0.0 : d.pick({0.01, 0.05, 0.1, 0.3});
  return net;
}

WorkloadSpec draw_workload(Draw& d) {
  WorkloadSpec w;
  w.clients = static_cast<std::uint32_t>(d.between(1, kClientsMax));
  w.requests_per_client = static_cast<std::uint32_t>(
      d.chance(0.7) ? d.between(1, 20) : d.between(1, kRequestsPerClientMax));
  w.outstanding = d.chance(0.6) ? 1 : static_cast<std::uint32_t>(d.between(2, kOutstandingMax));
  w.keys = static_cast<std::uint32_t>(d.pick({1, 4, 16, 64}));
  w.start_ms = d.chance(0.7) ? 0.0 : static_cast<double>(d.between(1, 500));
  w.think_ms = d.chance(0.7) ? 0.0 : static_cast<double>(d.between(1, 100));
  return w;
}

// A window: from somewhere in the first seconds, until a later time or (open) to the end.
void draw_window(Draw& d, FaultSpec& f, bool may_stay_open) {
  f.from_ns = d.chance(0.3) ? 0 : sim::ms(static_cast<std::int64_t>(d.between(1, kFaultStartMsMax)));
  if (may_stay_open && d.chance(0.5)) return;
  f.until_ns = f.from_ns + sim::ms(static_cast<std::int64_t>(d.between(1, kFaultLengthMsMax)));
}

// One Byzantine (or crash) fault for `replicas`; `faulty` is the whole faulty set, from
// which equivocation colluders are drawn.
FaultSpec draw_byzantine(Draw& d, const protocol::PbftConfig& c, std::vector<ReplicaId> replicas,
                         const std::vector<ReplicaId>& faulty) {
  FaultSpec f;
  f.kind = d.pick({FaultKind::Silence, FaultKind::Crash, FaultKind::Crash, FaultKind::Equivocate,
                   FaultKind::Equivocate, FaultKind::Withhold, FaultKind::Corrupt, FaultKind::Forge,
                   FaultKind::Replay, FaultKind::BadViewChange, FaultKind::BadViewChange,
                   FaultKind::BadCheckpoint, FaultKind::BadState, FaultKind::BadReply,
                   FaultKind::DoublePrePrepare, FaultKind::SplitVotes});
  f.replicas = std::move(replicas);
  if (f.kind == FaultKind::Crash) {
    f.from_ns = d.chance(0.2) ? 0 : sim::ms(static_cast<std::int64_t>(d.between(1, kFaultStartMsMax)));
    if (d.chance(0.65)) f.restart_ns = f.from_ns + sim::ms(static_cast<std::int64_t>(d.between(1, kFaultLengthMsMax)));
    return f;
  }
  draw_window(d, f, true);
  const auto everyone = all_replicas(c.n);
  switch (f.kind) {
    case FaultKind::Equivocate: {
      for (auto r : faulty) {
        const bool listed = std::find(f.replicas.begin(), f.replicas.end(), r) != f.replicas.end();
        if (!listed && d.chance(0.6)) f.colluders.push_back(r);
      }
      if (d.chance(0.4)) {
        // Explicit split: the others in two or three groups (possibly leaving some out).
        std::vector<ReplicaId> others = everyone;
        d.shuffle(others);
        const auto groups = d.between(2, 3);
        f.split.resize(groups);
        for (auto r : others) {
          if (d.chance(0.9)) f.split[d.between(0, groups - 1)].push_back(r);
        }
        f.split.erase(std::remove_if(f.split.begin(), f.split.end(), [](const auto& g) { return g.empty(); }),
                      f.split.end());
      }
      break;
    }
    case FaultKind::Withhold: f.to = d.subset(everyone, d.pick({0.0, 0.3, 0.6})); break;
    case FaultKind::BadCheckpoint:
    case FaultKind::BadReply:
    case FaultKind::SplitVotes:
      // Colluders share one lie only within one fault: sometimes the whole faulty set is
      // one fault (no replica more is faulty for it).
      if (!f.replicas.empty() && d.chance(0.4)) f.replicas = faulty;
      break;
    case FaultKind::BadState:
      if (d.chance(0.3)) f.variants = {d.pick(std::vector<std::string>(kBadStateVariantNames.begin(), kBadStateVariantNames.end()))};
      break;
    case FaultKind::DoublePrePrepare:
      if (d.chance(0.3)) f.to = {static_cast<ReplicaId>(d.between(0, c.n - 1))};
      break;
    case FaultKind::Corrupt: f.probability = d.pick({0.01, 0.1, 0.3, 0.5, 1.0}); break;
    case FaultKind::Replay: f.rate_per_s = d.pick({1.0, 10.0, 50.0, 200.0}); break;
    default: break;
  }
  return f;
}

FaultSpec draw_network_fault(Draw& d, const protocol::PbftConfig& c) {
  FaultSpec f;
  f.kind = d.pick({FaultKind::Delay, FaultKind::Drop, FaultKind::Partition, FaultKind::Partition,
                   FaultKind::TimerSkew});
  draw_window(d, f, false);  // network faults heal: liveness is judged after the last one
  auto everyone = all_replicas(c.n);
  if (f.kind == FaultKind::Partition) {
    d.shuffle(everyone);
    const auto groups = d.between(2, std::min<std::uint64_t>(3, std::max<std::uint32_t>(c.n, 2)));
    f.groups.resize(groups);
    for (auto r : everyone) {
      if (d.chance(0.9)) f.groups[d.between(0, groups - 1)].push_back(r);
    }
    f.groups.erase(std::remove_if(f.groups.begin(), f.groups.end(), [](const auto& g) { return g.empty(); }),
                   f.groups.end());
    if (f.groups.empty()) f.groups.push_back({0});
    if (d.chance(0.25)) f.to = d.subset(all_replicas(c.n), 0.5);  // one-way: only into these
    return f;
  }
  if (d.chance(0.15)) {
    f.replicas_is_primary = true;
  } else {
    f.replicas = d.subset(everyone, 0.4);
    if (f.replicas.empty()) f.replicas.push_back(static_cast<ReplicaId>(d.between(0, c.n - 1)));
  }
  switch (f.kind) {
    case FaultKind::Delay:
      if (d.chance(0.5)) {
        f.extra_ms = static_cast<double>(d.pick({1, 5, 20, 100, 500}));
      } else {
        f.extra_latency = draw_latency(d, d.pick({5.0, 50.0, 200.0}));
      }
      break;
    case FaultKind::Drop: f.probability = d.pick({0.1, 0.5, 0.9, 1.0}); break;
    case FaultKind::TimerSkew: f.factor = d.pick({0.1, 0.5, 2.0, 10.0, 50.0}); break;
    default: break;
  }
  // One-way: only some receivers lose or wait for what these replicas send.
  if ((f.kind == FaultKind::Delay || f.kind == FaultKind::Drop) && d.chance(0.25)) {
    f.to = d.subset(all_replicas(c.n), 0.5);
  }
  return f;
}

// The faulty set: biased toward low ids, the primaries of the first views, where faults
// hurt most.
std::vector<ReplicaId> draw_faulty_set(Draw& d, std::uint32_t n, std::uint32_t count) {
  std::vector<ReplicaId> out;
  std::vector<ReplicaId> pool = all_replicas(n);
  d.shuffle(pool);
  if (count > 0 && d.chance(0.5)) out.push_back(0);
  for (auto r : pool) {
    if (out.size() >= count) break;
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void draw_faults(Draw& d, Scenario& s, const RandomScenarioOptions& o) {
  const auto& c = s.cluster;
  const std::uint32_t allowed = std::min(c.n, c.f + o.faulty_over_f_max);
  const auto count = static_cast<std::uint32_t>(d.between(0, allowed));
  // Some of the faulty budget goes to "primary" faults: each may resolve to any replica.
  std::uint32_t primary_faults = 0;
  while (primary_faults < count && d.chance(0.2)) primary_faults++;
  const auto faulty = draw_faulty_set(d, c.n, count - primary_faults);
  for (auto r : faulty) {
    const auto kinds = d.chance(0.75) ? 1 : 2;
    for (int k = 0; k < kinds; ++k) s.faults.push_back(draw_byzantine(d, c, {r}, faulty));
  }
  for (std::uint32_t p = 0; p < primary_faults; ++p) {
    FaultSpec f = draw_byzantine(d, c, {}, {});
    f.replicas_is_primary = true;
    f.colluders.clear();
    s.faults.push_back(std::move(f));
  }
  const auto network = d.chance(0.5) ? 0 : d.between(1, kNetworkFaultsMax);
  for (std::uint64_t i = 0; i < network; ++i) s.faults.push_back(draw_network_fault(d, c));
  // Order as a user would list them: by start time (stable, so draws decide ties).
  std::stable_sort(s.faults.begin(), s.faults.end(),
                   [](const FaultSpec& a, const FaultSpec& b) { return a.from_ns < b.from_ns; });
  for (std::size_t i = 0; i < s.faults.size(); ++i) s.faults[i].json_path = "/faults/" + std::to_string(i);
}

// Keeps one run's simulation cost within a budget, so a fuzzing session spends its time on
// many scenarios rather than a few expensive ones: messages grow with n^2 per request,
// signatures cost more than MACs, and a view-change timeout below the network's round trip
// turns every request into several view changes (each re-running the window). Only the
// amount of work shrinks; every dimension of the space stays reachable.
void bound_cost(Scenario& s) {
  constexpr double kCostMax = 2.0e6;
  const double n = s.cluster.n;
  const double crypto = s.cluster.auth == protocol::AuthMode::Signature ? 40.0 : 1.0;  // Ed25519 verify ~50 us, HMAC ~0.3 us, plus the rest of a delivery (seed 30005: 2 min at 8)
  const double round_trip_ms = 2 * mean_ms(s.network.latency) + 1;
  // Under churn every view change re-proposes each sequence number above the stable
  // checkpoint (up to a window of them) to every replica: a large window multiplies it (fuzz
  // seed 40235: K = L = 128 and a 2 ms timeout spent 4 million events on 200 requests).
  const double reproposals = std::max(1.0, static_cast<double>(s.cluster.log_window) / 8);
  const double churn =
      static_cast<double>(s.cluster.view_change_timeout_ns) / 1e6 < 2 * round_trip_ms ? 16.0 * reproposals : 1.0;
  auto cost = [&] {
    return static_cast<double>(s.workload.clients) * s.workload.requests_per_client * n * n * crypto * churn;
  };
  while (cost() > kCostMax && s.workload.requests_per_client > 1) s.workload.requests_per_client /= 2;
  while (cost() > kCostMax && s.workload.clients > 1) s.workload.clients /= 2;
  s.workload.outstanding = std::min(s.workload.outstanding, std::max<std::uint32_t>(1, s.workload.requests_per_client));
}

// Long enough to finish after the last fault heals, whatever the timeouts: the run stops as
// soon as every request completed, so a generous limit costs nothing when it passes.
void size_run(Scenario& s) {
  sim::TimeNs heal_ns = 0;
  for (const auto& f : s.faults) {
    heal_ns = std::max(heal_ns, f.from_ns);
    if (f.until_ns) heal_ns = std::max(heal_ns, *f.until_ns);
    if (f.restart_ns) heal_ns = std::max(heal_ns, *f.restart_ns);
  }
  double extra_ms = 0;
  for (const auto& f : s.faults) {
    if (f.kind == FaultKind::Delay) extra_ms = std::max(extra_ms, f.extra_latency ? mean_ms(*f.extra_latency) : f.extra_ms);
  }
  const double hop_ms = mean_ms(s.network.latency) + extra_ms + 1;
  const double request_ms = 8 * hop_ms + static_cast<double>(s.cluster.batch_delay_ns) / 1e6 + s.workload.think_ms;
  const double sequential = std::ceil(static_cast<double>(s.workload.requests_per_client) / s.workload.outstanding);
  const double timeout_ms = static_cast<double>(s.cluster.view_change_timeout_ns) / 1e6;
  const double client_ms = static_cast<double>(s.cluster.client_retry_timeout_ns) / 1e6;
  // A view-change timeout below a request's round trip (batch delay included) costs every
  // request several view changes: the timeout doubles until the request executes, then goes
  // back to T once a request executes in the new view, and the rotation passes faulty primaries whose views
  // time out with doubled timers. The protocol still completes, slowly; allow it 3 s a
  // request (measured: about 0.8 s at n = 7 with two faulty primaries, fuzz seed 21283).
  const double churn_ms = timeout_ms < 2 * request_ms ? 3'000 * sequential : 0;
  const double bound_ms = 60'000 + 4 * sequential * request_ms + 64 * timeout_ms + 16 * client_ms + churn_ms +
                          2 * static_cast<double>(heal_ns) / 1e6 + s.workload.start_ms;
  s.liveness_bound_ns = sim::ms(static_cast<std::int64_t>(std::ceil(bound_ms / 1000) * 1000));
  s.duration_ns = heal_ns - heal_ns % sim::ms(1000) + sim::ms(1000) + s.liveness_bound_ns;
  s.max_events = kEventsMax;
}

}  // namespace

std::uint32_t faulty_replicas_max(const Scenario& s) {
  std::set<ReplicaId> named;
  std::uint32_t primaries = 0;
  for (const auto& f : s.faults) {
    if (!fault_kind_is_faulty(f.kind)) continue;
    if (f.replicas_is_primary) primaries++;
    named.insert(f.replicas.begin(), f.replicas.end());
    if (f.kind == FaultKind::Equivocate) named.insert(f.colluders.begin(), f.colluders.end());
  }
  return std::min<std::uint32_t>(s.cluster.n, static_cast<std::uint32_t>(named.size()) + primaries);
}

bool guarantees_apply(const Scenario& s) {
  if (faulty_replicas_max(s) > s.cluster.f) return false;
  if (s.cluster.auth != protocol::AuthMode::None) return true;
  for (const auto& f : s.faults) {
    if (f.kind == FaultKind::Corrupt || f.kind == FaultKind::Forge || f.kind == FaultKind::BadViewChange) {
      return false;
    }
  }
  return true;
}

Scenario random_scenario(std::uint64_t seed, const RandomScenarioOptions& options) {
  assert(options.n_min >= 1 && options.n_min <= options.n_max && options.n_max <= 64);
  RngEngine rng = sim::make_stream(seed, "fuzz/scenario");
  Draw d(rng);
  Scenario s;
  s.name = "fuzz-" + std::to_string(seed);
  s.seed = seed;
  s.cluster = draw_cluster(d, options);
  s.network = draw_network(d);
  s.workload = draw_workload(d);
  draw_faults(d, s, options);
  bound_cost(s);
  size_run(s);
  const bool judged = guarantees_apply(s);
  s.expect.safety = judged ? Expect::Holds : Expect::Any;
  s.expect.liveness = judged ? Expect::Holds : Expect::Any;
  s.description = "Generated by `pbftsim fuzz` from seed " + std::to_string(seed) + " (at most " +
                  std::to_string(faulty_replicas_max(s)) + " faulty of n=" + std::to_string(s.cluster.n) +
                  ", f=" + std::to_string(s.cluster.f) + ").";
  return s;
}

}  // namespace harness
