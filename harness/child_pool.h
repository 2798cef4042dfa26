// Runs pieces of work each in a child process of its own (fork, no exec), a bounded number
// at a time. An assertion, a signal, a sanitizer report or a hang in one piece of work ends
// that child only: the parent learns how it died and goes on with the others. `pbftsim
// fuzz`, `suite` and `explore` run every simulated run this way.
//
// The child gets a copy of the parent's memory at fork (the scenario included) and hands
// back one string, the work's result, on a pipe of its own; what it prints on stdout and
// stderr goes to another pipe, of which the parent keeps the tail (the assertion message).
// Nothing here reads the result: a run inside a child is the same deterministic run as
// anywhere else, and the parent orders results by job, never by completion.
//
// REQUIRES: the calling process has no other threads (fork copies only the caller).
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace harness {

// What one child left behind.
struct ChildOutcome {
  int status = 0;           // as waitpid() reported it
  bool timed_out = false;   // killed after the wall-clock limit
  bool has_result = false;  // the work returned and its whole result arrived
  std::string result;       // what the work returned (when has_result)
  std::string output_tail;  // the last bytes it printed (kChildOutputTailBytes at most)
  double wall_seconds = 0;  // from fork to exit; for reports, never for a run
  // "" when the work returned normally, else how the child ended, with the tail of what it
  // printed: "killed by signal Aborted (SIGABRT): replica.cpp:12: ... Assertion failed".
  std::string death() const;
};

inline constexpr std::size_t kChildOutputTailBytes = 64 * 1024;
// A result larger than this is not a result (the child is killed): a parent that runs
// hundreds of children must not be made to hold an unbounded amount for one of them.
inline constexpr std::size_t kChildResultBytesMax = std::size_t{256} << 20;

class ChildPool {
 public:
  // At most `jobs` children at a time; `timeout_s` > 0: a child alive for longer is killed
  // (SIGKILL) and its outcome says timed_out.
  ChildPool(std::uint32_t jobs, double timeout_s);

  using Work = std::function<std::string()>;  // runs in the child; returns its result
  // Asks next(job, work) for work while fewer than `jobs` children run (false: no more),
  // and calls done(job, outcome) in the parent as each child ends (false: start no more;
  // the children running are waited for). Returns when no child is left.
  void run(const std::function<bool(std::size_t& job, Work& work)>& next,
           const std::function<bool(std::size_t job, ChildOutcome&& outcome)>& done);

 private:
  std::uint32_t jobs_;
  double timeout_s_;
};

// work(0) .. work(count - 1), each in a child, `jobs` at a time; outcome i is work(i)'s.
// progress(finished) is called in the parent after each child ends.
std::vector<ChildOutcome> run_each_in_child(std::size_t count, std::uint32_t jobs, double timeout_s,
                                            const std::function<std::string(std::size_t)>& work,
                                            const std::function<void(std::size_t finished)>& progress);

}  // namespace harness
