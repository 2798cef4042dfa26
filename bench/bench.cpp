// pbftsim benchmarks (not tests): runs the standard workloads of docs/PERFORMANCE.md and
// prints one line per figure, "name value [target ... met|MISSED]", ready to paste.
//
// Wall-clock time is read here, outside any simulated run; the runs themselves stay
// deterministic (each workload prints its fingerprint, so two benchmark runs can be checked
// to have done the same work). Every oracle and every assertion stays on while measuring.
//
//   build-bench/bench/pbftsim_bench [--repeat R] [--only NAME] [--seeds S] [--no-floor]
//   build-bench/bench/pbftsim_bench --memory REQUESTS   (one W5 size; bench/run runs both)
//
// NAME is one workload: w1_none w1_mac w2_none w2_mac w3_n4 w3_n16 w3_n64 w4 (or a prefix,
// e.g. "w1", "w3").
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "harness/run_scenario.h"
#include "protocol/crypto.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of the calling thread: on a shared machine it leaves out the time the thread
// waited for a core, so ratios of two such times are steadier than ratios of wall times.
double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// ---- output: one line per figure ----

void figure(const std::string& name, double value, const char* format = "%.1f") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  std::printf("%-40s %s\n", name.c_str(), buf);
}

void figure_text(const std::string& name, const std::string& text) {
  std::printf("%-40s %s\n", name.c_str(), text.c_str());
}

// `at_least`: the target is value >= target, else value <= target.
void target(const std::string& name, double value, double goal, bool at_least, const char* format) {
  char buf[64], goal_buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  std::snprintf(goal_buf, sizeof goal_buf, format, goal);
  const bool met = at_least ? value >= goal : value <= goal;
  std::printf("%-40s %s  target %s %s  %s\n", name.c_str(), buf, at_least ? ">=" : "<=", goal_buf,
              met ? "met" : "MISSED");
}

// ---- the workloads ----

// The peers' shape: f = (n-1)/3, no faults, uniform 1-5 ms links, checkpoints every 64,
// window 256. `in_flight` requests outstanding in total: each PBFT client has one request
// outstanding at a time, so that is `in_flight` protocol clients (see harness/workload.h).
harness::Scenario shape(std::uint32_t n, protocol::AuthMode auth, std::uint32_t batch,
                        std::uint32_t in_flight, std::uint64_t requests) {
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
  s.workload.clients = in_flight;
  s.workload.outstanding = 1;
  s.workload.requests_per_client = static_cast<std::uint32_t>(requests / in_flight);
  s.duration_ns = sim::seconds(100000);
  s.liveness_bound_ns = sim::seconds(100000);
  s.max_events = 4'000'000'000ULL;
  return s;
}

struct Measured {
  harness::RunReport report;
  protocol::CryptoCounters crypto;
  double wall_s = 0;
  double cpu_s = 0;
};

Measured timed_run(const harness::Scenario& s, std::uint64_t seed) {
  Measured m;
  harness::RunOptions o;
  o.seed = seed;
  o.crypto_out = &m.crypto;
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_s();
  m.report = harness::run_scenario(s, o);
  m.cpu_s = thread_cpu_s() - cpu_start;
  m.wall_s = seconds_since(start);
  return m;
}

// The crypto floor: exactly the digest and MAC work a run did, with nothing else. SHA-256
// is replayed per size class (compression blocks) with that class's operation count and
// bytes, so operations, blocks and bytes all equal the run's; each HMAC is over a 32-byte
// digest from precomputed keyed states, as in the run. The same primitives as the run
// (a reused protocol::Sha256 context, NodeCrypto::mac_to), so the floor is what the run's
// crypto costs with nothing around it.
volatile std::uint8_t g_sink = 0;

struct Floor {
  double wall_s = 0;
  double cpu_s = 0;
};

Floor crypto_floor(const protocol::CryptoCounters& c) {
  protocol::KeyRing ring(1, protocol::AuthMode::Mac, 2);
  protocol::NodeCrypto node(ring, 0);
  protocol::Sha256 hasher;
  std::size_t largest = 64;
  for (std::size_t b = 0; b < c.kBlockClasses; ++b) {
    if (c.sha256_ops_by_blocks[b] != 0) {
      largest = std::max<std::size_t>(largest, c.sha256_bytes_by_blocks[b] / c.sha256_ops_by_blocks[b] + 1);
    }
  }
  std::vector<std::uint8_t> data(largest, 0x5a);
  std::uint8_t sink = 0;
  (void)node.mac_to(1, protocol::MessageDigest{});  // the key set-up is not per operation
  const auto start = Clock::now();
  const double cpu_start = thread_cpu_s();
  for (std::size_t b = 0; b < c.kBlockClasses; ++b) {
    const std::uint64_t ops = c.sha256_ops_by_blocks[b];
    if (ops == 0) continue;
    const std::uint64_t size = c.sha256_bytes_by_blocks[b] / ops;
    const std::uint64_t longer = c.sha256_bytes_by_blocks[b] % ops;  // these are one byte longer
    for (std::uint64_t i = 0; i < ops; ++i) {
      data[0] = static_cast<std::uint8_t>(i);
      const auto d = hasher.digest(std::span<const std::uint8_t>(data.data(), size + (i < longer)));
      sink ^= d.bytes[0];
    }
  }
  protocol::MessageDigest d;
  for (std::uint64_t i = 0; i < c.hmac_ops; ++i) {
    d.bytes[0] = static_cast<std::uint8_t>(i);
    d.bytes[1] ^= sink;
    sink ^= node.mac_to(1, d)[0];
  }
  Floor f{seconds_since(start), thread_cpu_s() - cpu_start};
  g_sink = sink;  // keeps the work observable
  return f;
}

// The counts, in the form bench/lowlevel_floor.cpp takes them (to time the same work with
// OpenSSL's low-level SHA-256 functions instead of EVP).
std::string crypto_counts_arguments(const protocol::CryptoCounters& c) {
  std::string out = "--hmac " + std::to_string(c.hmac_ops);
  for (std::size_t b = 0; b < c.kBlockClasses; ++b) {
    if (c.sha256_ops_by_blocks[b] == 0) continue;
    out += " --sha " + std::to_string(c.sha256_ops_by_blocks[b]) + ":" + std::to_string(c.sha256_bytes_by_blocks[b]);
  }
  return out;
}

void throughput(const std::string& name, const harness::Scenario& s, int repeat, bool floor) {
  std::vector<double> wall, cpu, floor_s, floor_cpu_s;
  Measured last;
  for (int i = 0; i < repeat; ++i) {
    last = timed_run(s, 1);
    wall.push_back(last.wall_s);
    cpu.push_back(last.cpu_s);
    // Timed right after each run, so both see the same load on a shared machine.
    if (floor) {
      const Floor f = crypto_floor(last.crypto);
      floor_s.push_back(f.wall_s);
      floor_cpu_s.push_back(f.cpu_s);
    }
  }
  const double w = median(wall);
  const auto& st = last.report.stats;
  const double msgs = static_cast<double>(st.messages_delivered);
  figure_text(name + ".outcome", last.report.outcome + " completed=" + std::to_string(last.report.completed) + "/" +
                                     std::to_string(last.report.submitted) + " fingerprint=" + last.report.fingerprint);
  figure(name + ".delivered_msgs", msgs, "%.0f");
  figure(name + ".wall_s", w, "%.4f");
  if (name == "w1_none") {
    target(name + ".delivered_msgs_per_s", msgs / w, 2'000'000, true, "%.0f");
  } else {
    figure(name + ".delivered_msgs_per_s", msgs / w, "%.0f");
  }
  figure(name + ".committed_req_per_s", static_cast<double>(last.report.completed) / w, "%.0f");
  figure(name + ".sim_time_over_wall_time", static_cast<double>(st.virtual_time_ns) / 1e9 / w, "%.2f");
  figure(name + ".ns_per_delivered_msg", w * 1e9 / std::max(1.0, msgs), "%.1f");
  figure(name + ".cpu_ns_per_delivered_msg", median(cpu) * 1e9 / std::max(1.0, msgs), "%.1f");
  if (floor) {
    const double f = median(floor_s);
    figure_text(name + ".crypto_ops", "sha256=" + std::to_string(last.crypto.sha256_ops) +
                                          " sha256_bytes=" + std::to_string(last.crypto.sha256_bytes) +
                                          " hmac=" + std::to_string(last.crypto.hmac_ops));
    figure_text(name + ".crypto_counts", crypto_counts_arguments(last.crypto));
    figure(name + ".crypto_floor_s", f, "%.4f");
    if (name == "w1_mac") {
      target(name + ".run_time_over_crypto_floor", w / f, 2.0, false, "%.2f");
    } else {
      figure(name + ".run_time_over_crypto_floor", w / f, "%.2f");
    }
    // The same ratio by thread CPU time (steadier when other work shares the cores).
    figure(name + ".run_cpu_over_crypto_floor_cpu", median(cpu) / median(floor_cpu_s), "%.2f");
  }
  std::fflush(stdout);
}

struct NsPerMsg {
  double wall = 0;
  double cpu = 0;
};

NsPerMsg ns_per_msg(const harness::Scenario& s, int repeat, const std::string& name) {
  std::vector<double> ns, cpu_ns;
  Measured last;
  for (int i = 0; i < repeat; ++i) {
    last = timed_run(s, 1);
    ns.push_back(last.wall_s * 1e9 / std::max<double>(1, last.report.stats.messages_delivered));
    cpu_ns.push_back(last.cpu_s * 1e9 / std::max<double>(1, last.report.stats.messages_delivered));
  }
  figure_text(name + ".outcome", last.report.outcome + " completed=" + std::to_string(last.report.completed) + "/" +
                                     std::to_string(last.report.submitted) + " fingerprint=" + last.report.fingerprint);
  figure(name + ".delivered_msgs", static_cast<double>(last.report.stats.messages_delivered), "%.0f");
  figure(name + ".delivered_msgs_per_s", 1e9 / median(ns), "%.0f");
  figure(name + ".committed_req_per_s",
         static_cast<double>(last.report.completed) / (median(ns) * last.report.stats.messages_delivered / 1e9), "%.0f");
  figure(name + ".ns_per_delivered_msg", median(ns), "%.1f");
  figure(name + ".cpu_ns_per_delivered_msg", median(cpu_ns), "%.1f");
  std::fflush(stdout);
  return {median(ns), median(cpu_ns)};
}

double process_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Workload 4: many seeds of a small scenario in one process, `jobs` threads, each run
// single-threaded. Returns seeds per wall second; `cpu_per_seed_s` gets the CPU time per
// seed over all threads (equal for 1 and 2 jobs when the threads do not contend).
harness::Scenario workload4_scenario();

double seeds_per_second(int jobs, int seeds, int& passed_out, double& cpu_per_seed_s) {
  const harness::Scenario s = workload4_scenario();
  std::atomic<int> next{0}, passed{0};
  const auto start = Clock::now();
  const double cpu_start = process_cpu_s();
  auto worker = [&] {
    for (int i = next++; i < seeds; i = next++) {
      harness::RunOptions o;
      o.seed = static_cast<std::uint64_t>(i + 1);
      passed += harness::run_scenario(s, o).outcome == "pass";
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < jobs; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  const double wall = seconds_since(start);
  cpu_per_seed_s = (process_cpu_s() - cpu_start) / seeds;
  passed_out = passed.load();
  return seeds / wall;
}

harness::Scenario workload4_scenario() {
  harness::Scenario s = shape(4, protocol::AuthMode::Mac, 1, 4, 100);
  harness::FaultSpec silent;
  silent.kind = harness::FaultKind::Silence;
  silent.replicas = {3};  // a backup
  s.faults.push_back(silent);
  return s;
}

void workload4(int repeat, int seeds) {
  std::vector<double> one, two, cpu_one, cpu_two;
  int passed1 = 0, passed2 = 0;
  for (int i = 0; i < repeat; ++i) {
    double c1 = 0, c2 = 0;
    one.push_back(seeds_per_second(1, seeds, passed1, c1));
    two.push_back(seeds_per_second(2, seeds, passed2, c2));
    cpu_one.push_back(c1);
    cpu_two.push_back(c2);
  }
  figure_text("w4.seeds", std::to_string(seeds) + " per measurement; passed jobs1=" + std::to_string(passed1) +
                              " jobs2=" + std::to_string(passed2));
  target("w4.seeds_per_s_jobs1", median(one), 300, true, "%.0f");
  figure("w4.seeds_per_s_jobs2", median(two), "%.0f");
  target("w4.jobs2_over_jobs1", median(two) / median(one), 1.8, true, "%.2f");
  // Contention shows as more CPU per seed with two threads than with one; 1 CPU-second
  // per seed-second is the most a single thread gives, so 1 / cpu_per_seed bounds seeds/s.
  figure("w4.cpu_ms_per_seed_jobs1", median(cpu_one) * 1e3, "%.3f");
  figure("w4.cpu_ms_per_seed_jobs2", median(cpu_two) * 1e3, "%.3f");
  figure("w4.cpu_per_seed_jobs2_over_jobs1", median(cpu_two) / median(cpu_one), "%.2f");
  // How much of a seed is cryptography: the crypto floor of one seed's run.
  const Measured one_seed = timed_run(workload4_scenario(), 1);
  std::vector<double> floor_cpu;
  for (int i = 0; i < 5; ++i) floor_cpu.push_back(crypto_floor(one_seed.crypto).cpu_s);
  figure("w4.seed1_delivered_msgs", static_cast<double>(one_seed.report.stats.messages_delivered), "%.0f");
  figure("w4.seed1_crypto_floor_cpu_ms", median(floor_cpu) * 1e3, "%.3f");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int repeat = 5;
  int seeds = 600;
  bool floor = true;
  std::string only;
  std::uint64_t memory_requests = 0;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--repeat") && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) {
      only = argv[++i];
    } else if (!std::strcmp(argv[i], "--seeds") && i + 1 < argc) {
      seeds = std::max(1, std::atoi(argv[++i]));
    } else if (!std::strcmp(argv[i], "--no-floor")) {
      floor = false;  // for profiling the runs alone
    } else if (!std::strcmp(argv[i], "--memory") && i + 1 < argc) {
      memory_requests = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: %s [--repeat R] [--only NAME] [--seeds S] [--no-floor] | --memory REQUESTS\n", argv[0]);
      return 2;
    }
  }
  using protocol::AuthMode;
  if (memory_requests > 0) {
    // Workload 5, one size per process so that peak RSS is that run's alone.
    const auto m = timed_run(shape(4, AuthMode::None, 1, 30, memory_requests), 1);
    const std::string name = "w5.requests_" + std::to_string(memory_requests);
    figure_text(name + ".outcome", m.report.outcome + " completed=" + std::to_string(m.report.completed));
    figure(name + ".peak_rss_kb", static_cast<double>(peak_rss_kb()), "%.0f");
    figure(name + ".wall_s", m.wall_s, "%.2f");
    return 0;
  }
  auto want = [&](const std::string& name) { return only.empty() || name.rfind(only, 0) == 0; };
  figure_text("machine.cores", std::to_string(std::thread::hardware_concurrency()));
  figure_text("machine.load_average_start", load_average());
  figure_text("bench.repeat", std::to_string(repeat) + " (figures are medians)");
  // Workloads 1 and 2: n = 4, f = 1, 6000 requests, 30 in flight, no faults.
  if (want("w1_none")) throughput("w1_none", shape(4, AuthMode::None, 1, 30, 6000), repeat, floor);
  if (want("w1_mac")) throughput("w1_mac", shape(4, AuthMode::Mac, 1, 30, 6000), repeat, floor);
  if (want("w2_none")) throughput("w2_none", shape(4, AuthMode::None, 16, 30, 6000), repeat, floor);
  if (want("w2_mac")) throughput("w2_mac", shape(4, AuthMode::Mac, 16, 30, 6000), repeat, floor);
  // Workload 3: how the cost per delivered message grows with n (auth none).
  NsPerMsg n4, n64;
  if (want("w3_n4")) n4 = ns_per_msg(shape(4, AuthMode::None, 1, 30, 6000), repeat, "w3_n4");
  if (want("w3_n16")) ns_per_msg(shape(16, AuthMode::None, 1, 30, 6000), repeat, "w3_n16");
  if (want("w3_n64")) n64 = ns_per_msg(shape(64, AuthMode::None, 1, 30, 600), repeat, "w3_n64");
  if (n4.wall > 0 && n64.wall > 0) {
    target("w3.ns_per_msg_n64_over_n4", n64.wall / n4.wall, 2.0, false, "%.2f");
    figure("w3.cpu_ns_per_msg_n64_over_n4", n64.cpu / n4.cpu, "%.2f");
  }
  if (want("w4")) workload4(repeat, seeds);
  figure_text("machine.load_average_end", load_average());
  return 0;
}
