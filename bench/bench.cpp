// pbftsim benchmarks (not tests): runs the standard workloads and prints one line per figure.
// Wall-clock time is read here, outside any simulated run; runs stay deterministic (the
// fingerprint is printed so a reader can check two runs of the benchmark did the same work).
//
//   build-bench/bench/pbftsim_bench [--repeat R] [--only NAME] [--requests N]
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "harness/world.h"
#include "protocol/crypto.h"

namespace {

using Clock = std::chrono::steady_clock;

harness::Scenario base(std::uint32_t n, protocol::AuthMode auth, std::uint32_t batch,
                       std::uint32_t clients, std::uint32_t outstanding, std::uint64_t requests) {
  harness::Scenario s;
  s.name = "bench";
  s.cluster.n = n;
  s.cluster.f = (n - 1) / 3;
  s.cluster.auth = auth;
  s.cluster.batch_size_max = batch;
  s.cluster.batch_delay_ns = batch > 1 ? 1'000'000 : 0;
  s.cluster.checkpoint_interval = 64;
  s.cluster.log_window = 256;
  s.network.latency = sim::LatencyModel{sim::LatencyModel::Dist::Uniform, 0, 1, 5, 0, 0, 0};
  s.workload.clients = clients;
  s.workload.outstanding = outstanding;
  s.workload.requests_per_client = static_cast<std::uint32_t>(requests / clients);
  s.duration_ns = sim::seconds(100000);
  s.liveness_bound_ns = sim::seconds(100000);
  s.max_events = 4'000'000'000ULL;
  return s;
}

struct Timed {
  reports::RunReport report;
  double wall_s = 0;
  protocol::CryptoCounters crypto;
};

Timed timed_run(const harness::Scenario& s, std::uint64_t seed) {
  Timed t;
  harness::RunOptions o;
  o.seed = seed;
  o.crypto_out = &t.crypto;
  const auto start = Clock::now();
  t.report = harness::run_scenario(s, o);
  t.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Times exactly the digest and MAC work a run did: the same counts and sizes.
double crypto_floor_s(const protocol::CryptoCounters& c) {
  protocol::KeyRing ring(1, protocol::AuthMode::Mac, 2);
  protocol::NodeCrypto node(ring, 0);
  const std::size_t avg = c.sha256_ops ? c.sha256_bytes / c.sha256_ops : 0;
  std::vector<std::uint8_t> data(std::max<std::size_t>(avg, 1), 0x5a);
  const auto start = Clock::now();
  for (std::uint64_t i = 0; i < c.sha256_ops; ++i) {
    data[0] = static_cast<std::uint8_t>(i);
    (void)protocol::sha256(data);
  }
  std::uint8_t sink = 0;
  for (std::uint64_t i = 0; i < c.hmac_ops; ++i) {
    protocol::MessageDigest d;
    d.bytes[0] = static_cast<std::uint8_t>(i);
    auto mac = protocol::hmac_sha256(std::span<const std::uint8_t>(d.bytes), std::span<const std::uint8_t>(d.bytes));
    sink ^= mac[0];
  }
  const double s = std::chrono::duration<double>(Clock::now() - start).count();
  return s + (sink == 255 ? 1e-12 : 0);
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

void throughput(const char* name, const harness::Scenario& s, int repeat, bool floor) {
  std::vector<double> wall, floor_s;
  Timed last;
  for (int i = 0; i < repeat; ++i) {
    last = timed_run(s, 1);
    wall.push_back(last.wall_s);
    if (floor) floor_s.push_back(crypto_floor_s(last.crypto));
  }
  const double w = median(wall);
  const auto& st = last.report.stats;
  std::printf("%-28s delivered_msgs_per_s=%.0f committed_req_per_s=%.0f sim_over_wall=%.2f ns_per_msg=%.1f "
              "completed=%llu/%llu outcome=%s fingerprint=%s wall_s=%.3f",
              name, st.messages_delivered / w, last.report.completed / w, st.virtual_time_ns / 1e9 / w,
              w * 1e9 / std::max<double>(1, st.messages_delivered),
              static_cast<unsigned long long>(last.report.completed),
              static_cast<unsigned long long>(last.report.submitted), last.report.outcome.c_str(),
              last.report.fingerprint.c_str(), w);
  if (floor) std::printf(" crypto_floor_s=%.3f run_over_crypto=%.2f", median(floor_s), w / median(floor_s));
  std::printf("\n");
  std::fflush(stdout);
}

void seeds_per_second(int jobs, int seeds) {
  harness::Scenario s = base(4, protocol::AuthMode::Mac, 1, 4, 1, 100);
  harness::FaultSpec silent;
  silent.kind = harness::FaultKind::Silence;
  silent.replicas = {3};
  s.faults.push_back(silent);
  std::atomic<int> next{0}, passed{0};
  const auto start = Clock::now();
  auto worker = [&] {
    for (int i = next++; i < seeds; i = next++) {
      passed += harness::run_scenario(s, {static_cast<std::uint64_t>(i + 1), false, nullptr}).outcome == "pass";
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < jobs; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  const double w = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("seeds_per_s jobs=%d seeds=%d passed=%d seeds_per_s=%.1f\n", jobs, seeds, passed.load(), seeds / w);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 3;
  std::string only;
  std::uint64_t memory_requests = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--memory") && i + 1 < argc) memory_requests = std::strtoull(argv[++i], nullptr, 10);
  }
  if (memory_requests > 0) {  // one process per size, so peak RSS is that run's alone
    auto r = timed_run(base(4, protocol::AuthMode::None, 1, 4, 8, memory_requests), 1);
    std::printf("memory requests=%llu completed=%llu peak_rss_kb=%ld wall_s=%.2f\n",
                static_cast<unsigned long long>(memory_requests),
                static_cast<unsigned long long>(r.report.completed), peak_rss_kb(), r.wall_s);
    return 0;
  }
  auto want = [&](const char* name) { return only.empty() || only == name; };
  // Workload 1/2: n=4, f=1, 4 clients, 6000 requests, 30 in flight in total.
  if (want("w1")) {
    throughput("w1_n4_batch1_auth_none", base(4, protocol::AuthMode::None, 1, 30, 1, 6000), repeat, false);
    throughput("w1_n4_batch1_auth_mac", base(4, protocol::AuthMode::Mac, 1, 30, 1, 6000), repeat, true);
  }
  if (want("w2")) {
    throughput("w2_n4_batch16_auth_none", base(4, protocol::AuthMode::None, 16, 30, 1, 6000), repeat, false);
    throughput("w2_n4_batch16_auth_mac", base(4, protocol::AuthMode::Mac, 16, 30, 1, 6000), repeat, true);
  }
  if (want("w3")) {
    throughput("w3_n4_auth_none", base(4, protocol::AuthMode::None, 1, 30, 1, 6000), repeat, false);
    throughput("w3_n16_auth_none", base(16, protocol::AuthMode::None, 1, 30, 1, 6000), repeat, false);
    throughput("w3_n64_auth_none", base(64, protocol::AuthMode::None, 1, 30, 1, 3000), repeat, false);
  }
  if (want("w4")) {
    seeds_per_second(1, 600);
    seeds_per_second(2, 600);
  }
  return 0;
}
