// See child_pool.h.
#include "harness/child_pool.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

namespace harness {
namespace {

using Clock = std::chrono::steady_clock;

// The result travels as an 8-byte length and the bytes: a child that dies half-way through
// writing it leaves a short result, which is no result.
constexpr std::size_t kLengthBytes = 8;
// How long the parent sleeps in poll() at most, so that it notices a child past its limit.
constexpr int kPollMs = 200;
// Exit statuses of a child without a result: its work threw, or its parent is gone.
constexpr int kExitWorkThrew = 70;
constexpr int kExitParentGone = 71;

void write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t put = write(fd, data, size);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) _exit(kExitParentGone);  // the parent is gone or refused the result
    data += put;
    size -= static_cast<std::size_t>(put);
  }
}

[[noreturn]] void child_main(const ChildPool::Work& work, int output_fd, int result_fd, pid_t parent) {
  // A run can last minutes: when the parent is killed, its children go too, instead of
  // running on for nobody.
  (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(kExitParentGone);  // it died before prctl() took effect
  dup2(output_fd, STDOUT_FILENO);
  dup2(output_fd, STDERR_FILENO);
  close(output_fd);
  std::string result;
  try {
    result = work();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uncaught exception: %s\n", e.what());
    std::fflush(stderr);
    _exit(kExitWorkThrew);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  char length[kLengthBytes];
  std::uint64_t size = result.size();
  for (std::size_t i = 0; i < kLengthBytes; ++i) length[i] = static_cast<char>(size >> (8 * i) & 0xff);
  write_all(result_fd, length, kLengthBytes);
  write_all(result_fd, result.data(), result.size());
  _exit(0);  // no destructors, no atexit handlers: they belong to the parent
}

struct Child {
  pid_t pid = -1;
  int output_fd = -1;  // its stdout and stderr
  int result_fd = -1;
  std::size_t job = 0;
  std::string result;  // length prefix and bytes, as received
  bool oversized = false;
  Clock::time_point started;
  ChildOutcome outcome;
};

// Reads what is available; returns false at end of file (or an error: the same for us).
bool drain_fd(int fd, Child& c, bool is_result) {
  char buf[65536];
  while (true) {
    const ssize_t got = read(fd, buf, sizeof buf);
    if (got > 0) {
      if (!is_result) {
        std::string& tail = c.outcome.output_tail;
        tail.append(buf, static_cast<std::size_t>(got));
        if (tail.size() > kChildOutputTailBytes) tail.erase(0, tail.size() - kChildOutputTailBytes);
      } else if (c.result.size() + static_cast<std::size_t>(got) > kChildResultBytesMax + kLengthBytes) {
        c.oversized = true;
        kill(c.pid, SIGKILL);
      } else {
        c.result.append(buf, static_cast<std::size_t>(got));
      }
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    return got < 0 && errno == EAGAIN;
  }
}

void close_fd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

[[noreturn]] void die_in_parent(const char* what) {
  // Out of processes or descriptors: the harness cannot go on, and says so (exit 2 is
  // "the input cannot be run", which is closest).
  std::fprintf(stderr, "pbftsim: %s: %s\n", what, std::strerror(errno));
  std::exit(2);
}

Child start(const ChildPool::Work& work, std::size_t job) {
  int output[2], result[2];
  if (pipe(output) != 0) die_in_parent("pipe");
  if (pipe(result) != 0) die_in_parent("pipe");
  std::fflush(stdout);  // or the child would print the parent's buffered output again
  std::fflush(stderr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) die_in_parent("fork");
  if (pid == 0) {
    close(output[0]);
    close(result[0]);
    child_main(work, output[1], result[1], parent);
  }
  close(output[1]);
  close(result[1]);
  fcntl(output[0], F_SETFL, O_NONBLOCK);
  fcntl(result[0], F_SETFL, O_NONBLOCK);
  Child c;
  c.pid = pid;
  c.output_fd = output[0];
  c.result_fd = result[0];
  c.job = job;
  c.started = Clock::now();
  return c;
}

// The child has closed both pipes: collect its status and its result.
ChildOutcome finish(Child& c) {
  int status = 0;
  while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {}
  ChildOutcome out = std::move(c.outcome);
  out.status = status;
  out.wall_seconds = std::chrono::duration<double>(Clock::now() - c.started).count();
  std::uint64_t size = 0;
  if (c.result.size() >= kLengthBytes) {
    for (std::size_t i = 0; i < kLengthBytes; ++i) size |= std::uint64_t{static_cast<unsigned char>(c.result[i])} << (8 * i);
  }
  out.has_result = !out.timed_out && !c.oversized && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
                   c.result.size() >= kLengthBytes && c.result.size() - kLengthBytes == size;
  if (out.has_result) out.result = c.result.substr(kLengthBytes);
  if (c.oversized) out.output_tail += "\nresult larger than the limit of " + std::to_string(kChildResultBytesMax) + " bytes";
  return out;
}

}  // namespace

std::string ChildOutcome::death() const {
  if (has_result) return "";
  std::string why;
  if (timed_out) {
    why = "killed after the wall-clock limit";
  } else if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    why = std::string("killed by signal ") + strsignal(WTERMSIG(status)) + " (SIG" + (abbrev ? abbrev : "?") + ")";
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    why = "exited with status " + std::to_string(WEXITSTATUS(status)) + " without a result";
  } else {
    why = "exited without a result";
  }
  std::string tail = output_tail;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  constexpr std::size_t kTailShown = 600;
  if (tail.size() > kTailShown) tail = "..." + tail.substr(tail.size() - kTailShown);
  return tail.empty() ? why : why + ": " + tail;
}

ChildPool::ChildPool(std::uint32_t jobs, double timeout_s) : jobs_(std::max<std::uint32_t>(jobs, 1)), timeout_s_(timeout_s) {}

void ChildPool::run(const std::function<bool(std::size_t&, Work&)>& next,
                    const std::function<bool(std::size_t, ChildOutcome&&)>& done) {
  std::vector<Child> children;
  bool more = true;
  while (true) {
    while (more && children.size() < jobs_) {
      std::size_t job = 0;
      Work work;
      if (!next(job, work)) {
        more = false;
        break;
      }
      children.push_back(start(work, job));
    }
    if (children.empty()) return;
    std::vector<pollfd> fds;
    for (const auto& c : children) {
      if (c.output_fd >= 0) fds.push_back(pollfd{c.output_fd, POLLIN, 0});
      if (c.result_fd >= 0) fds.push_back(pollfd{c.result_fd, POLLIN, 0});
    }
    (void)poll(fds.data(), fds.size(), kPollMs);
    for (std::size_t i = 0; i < children.size();) {
      Child& c = children[i];
      if (c.output_fd >= 0 && !drain_fd(c.output_fd, c, false)) close_fd(c.output_fd);
      if (c.result_fd >= 0 && !drain_fd(c.result_fd, c, true)) close_fd(c.result_fd);
      // Past the limit is a hang, even if the run ends before we get round to killing it.
      const double age_s = std::chrono::duration<double>(Clock::now() - c.started).count();
      if (timeout_s_ > 0 && age_s > timeout_s_ && !c.outcome.timed_out) {
        c.outcome.timed_out = true;
        kill(c.pid, SIGKILL);
      }
      if (c.output_fd >= 0 || c.result_fd >= 0) {
        ++i;
        continue;
      }
      ChildOutcome outcome = finish(c);
      const std::size_t job = c.job;
      children.erase(children.begin() + static_cast<std::ptrdiff_t>(i));
      if (!done(job, std::move(outcome))) more = false;
    }
  }
}

std::vector<ChildOutcome> run_each_in_child(std::size_t count, std::uint32_t jobs, double timeout_s,
                                            const std::function<std::string(std::size_t)>& work,
                                            const std::function<void(std::size_t)>& progress) {
  std::vector<ChildOutcome> outcomes(count);
  std::size_t next_job = 0, finished = 0;
  ChildPool pool(jobs, timeout_s);
  pool.run(
      [&](std::size_t& job, ChildPool::Work& w) {
        if (next_job >= count) return false;
        job = next_job++;
        w = [&work, job] { return work(job); };
        return true;
      },
      [&](std::size_t job, ChildOutcome&& outcome) {
        assert(job < count);
        outcomes[job] = std::move(outcome);
        if (progress) progress(++finished);
        return true;
      });
  return outcomes;
}

}  // namespace harness
