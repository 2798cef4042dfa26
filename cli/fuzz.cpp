// `pbftsim fuzz`: runs random scenarios (harness/random_scenario.h), one seed each, and
// reports every run whose outcome differs from what PBFT guarantees, in the spirit of
// TigerBeetle's VOPR.
//
// Each run happens in a child process (fork): an assertion that fires in a replica, a
// crash or a hang is a finding like any other, and must not take the fuzzer down with it.
// The child prints one result line; the parent classifies it, saves the failing scenario as
// JSON in the documented format (so `pbftsim run FILE` replays it exactly) and, with
// --shrink, greedily simplifies it to a smaller scenario that still fails the same way.
//
// Seeds: run i uses seed S+i, both to generate the scenario and to run it. The output (which
// seeds failed, how) depends only on S, the options and the binary, never on --jobs or on
// timing, except for --run-timeout, which is a wall-clock guard against hangs.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "harness/random_scenario.h"
#include "harness/scenario_writer.h"
#include "harness/shrink.h"
#include "harness/world.h"
#include "reports/writers.h"

namespace cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChildOutputBytesMax = 64 * 1024;  // kept from each child (the tail)
constexpr std::uint32_t kShrinkRunsMax = 300;             // runs one shrink may spend
constexpr const char* kResultMarker = "@@pbftsim-fuzz-result ";

// How a run went, from the fuzzer's point of view.
enum class Verdict { Pass, Safety, Liveness, Error, Crash, Timeout };

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::Pass: return "pass";
    case Verdict::Safety: return "safety";
    case Verdict::Liveness: return "liveness";
    case Verdict::Error: return "error";
    case Verdict::Crash: return "crash";
    case Verdict::Timeout: return "timeout";
  }
  return "unknown";
}

struct RunResult {
  Verdict verdict = Verdict::Pass;
  std::string detail;       // the first violation, the liveness detail, the signal...
  std::string fingerprint;  // of a run that finished
};

// ---- the child side ---------------------------------------------------------------------

[[noreturn]] void child_run(const harness::Scenario& scenario) {
  const reports::RunReport r = harness::run_scenario(scenario, {scenario.seed, false, nullptr});
  nlohmann::json out;
  out["outcome"] = r.outcome;
  out["safety"] = r.safety_holds;
  out["liveness"] = r.liveness_holds;
  out["stop"] = r.stop_reason;
  out["fingerprint"] = r.fingerprint;
  out["error"] = r.harness_error;
  out["liveness_detail"] = r.liveness_detail;
  if (!r.violations.empty()) {
    out["violation"] = r.violations.front().invariant + ": " + r.violations.front().detail;
  }
  const std::string line = kResultMarker + out.dump() + "\n";
  std::fflush(stderr);
  (void)!write(STDOUT_FILENO, line.data(), line.size());
  _exit(0);
}

RunResult classify(const harness::Scenario& s, const std::string& output, int status, bool timed_out) {
  RunResult res;
  const auto marker = output.rfind(kResultMarker);
  if (timed_out) {
    res.verdict = Verdict::Timeout;
    res.detail = "killed after the wall-clock limit (--run-timeout)";
    return res;
  }
  if (marker == std::string::npos || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    res.verdict = Verdict::Crash;
    res.detail = WIFSIGNALED(status) ? std::string("killed by signal ") + strsignal(WTERMSIG(status))
                                     : "exited without a result";
    // The tail of what it printed (an assertion message, a sanitizer report).
    std::string tail = output.substr(0, marker == std::string::npos ? output.size() : marker);
    while (!tail.empty() && tail.back() == '\n') tail.pop_back();
    const auto cut = tail.size() > 600 ? tail.size() - 600 : 0;
    if (!tail.empty()) res.detail += ": " + tail.substr(cut);
    return res;
  }
  const auto line_end = output.find('\n', marker);
  const auto j = nlohmann::json::parse(
      output.substr(marker + std::strlen(kResultMarker), line_end - marker - std::strlen(kResultMarker)),
      nullptr, false);
  if (j.is_discarded()) {
    res.verdict = Verdict::Crash;
    res.detail = "unreadable result line";
    return res;
  }
  res.fingerprint = j.value("fingerprint", "");
  const bool safety = j.value("safety", false);
  const bool liveness = j.value("liveness", false);
  if (j.value("outcome", "") == "error") {
    res.verdict = Verdict::Error;
    res.detail = j.value("error", "");
  } else if (!safety && s.expect.safety == harness::Expect::Holds) {
    res.verdict = Verdict::Safety;
    res.detail = j.value("violation", "");
  } else if (!liveness && s.expect.liveness == harness::Expect::Holds) {
    res.verdict = Verdict::Liveness;
    res.detail = j.value("liveness_detail", "") + " (stopped: " + j.value("stop", "") + ")";
  }
  return res;
}

// ---- the parent side: a pool of child processes -------------------------------------------

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::size_t job = 0;
  std::string output;
  Clock::time_point started;
  bool timed_out = false;
};

// Runs `scenarios[i]` for every i, at most `jobs` children at a time, and calls
// done(i, result) in the parent as each finishes. done() returns false to stop early.
class Pool {
 public:
  Pool(std::uint32_t jobs, double timeout_s) : jobs_(std::max<std::uint32_t>(jobs, 1)), timeout_s_(timeout_s) {}

  template <class Next, class Done>
  void run(Next&& next, Done&& done) {
    bool more = true;
    while (true) {
      while (more && children_.size() < jobs_) {
        const harness::Scenario* s = nullptr;
        std::size_t job = 0;
        if (!next(s, job)) {
          more = false;
          break;
        }
        start(*s, job);
      }
      if (children_.empty()) return;
      wait_some([&](Child& c, int status) {
        if (!done(c.job, status, c.output, c.timed_out)) more = false;
      });
    }
  }

 private:
  void start(const harness::Scenario& s, std::size_t job) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("pbftsim fuzz: pipe");
      std::exit(kExitBadInput);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("pbftsim fuzz: fork");
      std::exit(kExitBadInput);
    }
    if (pid == 0) {
      close(fds[0]);
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      close(fds[1]);
      child_run(s);
    }
    close(fds[1]);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    children_.push_back(Child{pid, fds[0], job, {}, Clock::now(), false});
  }

  template <class OnExit>
  void wait_some(OnExit&& on_exit) {
    std::vector<pollfd> fds;
    for (const auto& c : children_) fds.push_back(pollfd{c.fd, POLLIN, 0});
    (void)poll(fds.data(), fds.size(), 500);
    for (std::size_t i = 0; i < children_.size();) {
      Child& c = children_[i];
      bool eof = false;
      char buf[4096];
      while (true) {
        const ssize_t got = read(c.fd, buf, sizeof buf);
        if (got > 0) {
          c.output.append(buf, static_cast<std::size_t>(got));
          if (c.output.size() > kChildOutputBytesMax) c.output.erase(0, c.output.size() - kChildOutputBytesMax);
          continue;
        }
        eof = got == 0 || (errno != EAGAIN && errno != EINTR);
        break;
      }
      // Past the limit is a hang, even if the run ends before we get round to killing it.
      const double age_s = std::chrono::duration<double>(Clock::now() - c.started).count();
      if (timeout_s_ > 0 && age_s > timeout_s_ && !c.timed_out) {
        c.timed_out = true;
        if (!eof) kill(c.pid, SIGKILL);
      }
      if (!eof) {
        ++i;
        continue;
      }
      int status = 0;
      while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {}
      close(c.fd);
      Child finished = std::move(c);
      children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
      on_exit(finished, status);
    }
  }

  std::uint32_t jobs_;
  double timeout_s_;
  std::vector<Child> children_;
};

RunResult run_isolated(const harness::Scenario& s, double timeout_s) {
  RunResult result;
  Pool pool(1, timeout_s);
  bool given = false;
  pool.run(
      [&](const harness::Scenario*& out, std::size_t& job) {
        if (given) return false;
        given = true;
        out = &s;
        job = 0;
        return true;
      },
      [&](std::size_t, int status, const std::string& output, bool timed_out) {
        result = classify(s, output, status, timed_out);
        return true;
      });
  return result;
}

// Greedy shrinking: take the first candidate that fails with the same verdict, repeat.
harness::Scenario shrink(harness::Scenario s, Verdict verdict, double timeout_s, bool quiet,
                         std::uint32_t& runs_used) {
  runs_used = 0;
  bool progress = true;
  while (progress && runs_used < kShrinkRunsMax) {
    progress = false;
    for (auto& candidate : harness::shrink_candidates(s)) {
      if (runs_used >= kShrinkRunsMax) break;
      runs_used++;
      if (run_isolated(candidate.scenario, timeout_s).verdict != verdict) continue;
      if (!quiet) std::cout << "    shrink: " << candidate.what << "\n" << std::flush;
      s = std::move(candidate.scenario);
      progress = true;
      break;
    }
  }
  return s;
}

std::string save(const std::string& dir, const std::string& file, const harness::Scenario& s) {
  const std::string path = (std::filesystem::path(dir) / file).string();
  const std::string err = reports::write_output(path, harness::scenario_to_json(s));
  if (!err.empty()) {
    std::cerr << "pbftsim: " << err << "\n";
    return "";
  }
  return path;
}

std::uint64_t default_seed() {
  // The one place randomness from outside enters: which seeds to explore when the user did
  // not say. It is printed first, so the whole session can be repeated with --seed.
  std::random_device rd;
  return (std::uint64_t{rd()} << 32 | rd()) % 1'000'000'000'000ULL;
}

}  // namespace

int fuzz_command(const FuzzArgs& args) {
  const std::uint64_t first = args.seed.value_or(default_seed());
  std::error_code ec;
  std::filesystem::create_directories(args.out_dir, ec);
  if (ec) {
    std::cerr << "pbftsim: " << args.out_dir << ": cannot create the output directory: " << ec.message() << "\n";
    return kExitBadInput;
  }
  harness::RandomScenarioOptions options;
  options.faulty_over_f_max = args.max_faulty_over_f;
  options.n_max = args.n_max;
  options.n_min = std::min(args.n_min, args.n_max);
  std::cout << "pbftsim fuzz: seeds " << first << ".." << first + args.runs - 1 << " (" << args.runs
            << " runs, --max-faulty-over-f " << args.max_faulty_over_f << ", n " << options.n_min << ".."
            << options.n_max << ", " << args.jobs << " jobs)\n"
            << "  repeat: pbftsim fuzz --seed " << first << " --runs " << args.runs
            << (args.max_faulty_over_f ? " --max-faulty-over-f " + std::to_string(args.max_faulty_over_f) : "")
            << "\n" << std::flush;

  const bool tty = isatty(STDERR_FILENO) != 0 && !args.quiet;
  const std::uint64_t progress_every = std::max<std::uint64_t>(1, args.runs / 20);
  std::map<Verdict, std::uint64_t> tally;
  std::vector<std::uint64_t> failed_seeds;
  std::uint64_t next = 0, finished = 0;
  harness::Scenario current;
  Pool pool(args.jobs, args.run_timeout_s);
  pool.run(
      [&](const harness::Scenario*& out, std::size_t& job) {
        if (next >= args.runs) return false;
        current = harness::random_scenario(first + next, options);
        out = &current;  // the child gets a copy at fork
        job = next++;
        return true;
      },
      [&](std::size_t job, int status, const std::string& output, bool timed_out) {
        const std::uint64_t seed = first + job;
        const harness::Scenario s = harness::random_scenario(seed, options);
        const RunResult r = classify(s, output, status, timed_out);
        finished++;
        tally[r.verdict]++;
        if (args.verbose) {
          std::cout << verdict_name(r.verdict) << " seed=" << seed << " n=" << s.cluster.n
                    << " faults=" << s.faults.size() << " fingerprint=" << r.fingerprint << "\n";
        }
        if (r.verdict != Verdict::Pass) {
          failed_seeds.push_back(seed);
          if (tty) std::fprintf(stderr, "\r\033[K");
          const std::string path = save(args.out_dir, s.name + ".json", s);
          std::cout << "FAIL seed=" << seed << " " << verdict_name(r.verdict) << ": " << r.detail << "\n"
                    << "  scenario: " << path << "\n"
                    << "  replay:   pbftsim run " << path << " --seed " << seed << "\n" << std::flush;
          if (args.shrink) {
            std::uint32_t used = 0;
            const harness::Scenario small = shrink(s, r.verdict, args.run_timeout_s, args.quiet, used);
            const std::string small_path = save(args.out_dir, s.name + ".min.json", small);
            std::cout << "  shrunk:   " << small_path << " (" << small.faults.size() << " faults, n="
                      << small.cluster.n << ", " << small.workload.clients << "x"
                      << small.workload.requests_per_client << " requests; " << used << " runs)\n"
                      << std::flush;
          }
        }
        if (tty) {
          std::fprintf(stderr, "\r[%llu/%llu runs, %zu failed]", static_cast<unsigned long long>(finished),
                       static_cast<unsigned long long>(args.runs), failed_seeds.size());
        } else if (!args.quiet && !args.verbose && finished % progress_every == 0) {
          // Not a terminal (a CI log): a progress line every 5 % instead of a live counter.
          std::fprintf(stderr, "[%llu/%llu runs, %zu failed]\n", static_cast<unsigned long long>(finished),
                       static_cast<unsigned long long>(args.runs), failed_seeds.size());
        }
        return args.max_failures == 0 || failed_seeds.size() < args.max_failures;
      });
  if (tty) std::fprintf(stderr, "\n");
  std::sort(failed_seeds.begin(), failed_seeds.end());
  std::cout << finished << " runs: " << tally[Verdict::Pass] << " passed, " << failed_seeds.size() << " failed";
  if (!failed_seeds.empty()) {
    std::cout << " (";
    bool comma = false;
    for (const auto& [v, count] : tally) {
      if (v == Verdict::Pass) continue;
      std::cout << (comma ? ", " : "") << verdict_name(v) << " " << count;
      comma = true;
    }
    std::cout << "); failing seeds:";
    for (auto s : failed_seeds) std::cout << " " << s;
  }
  std::cout << "\n";
  return failed_seeds.empty() ? kExitOk : kExitMismatch;
}

}  // namespace cli
