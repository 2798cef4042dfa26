// harness::ChildPool (harness/child_pool.h): each piece of work in a child process of its
// own. A child that aborts, dies on a signal or throws takes only itself down; results come
// back whole, in job order, whatever order the children end in.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "harness/child_pool.h"

using namespace harness;

TEST_CASE("child pool: results come back whole and in job order, with --jobs 1 and 3") {
  for (std::uint32_t jobs : {1u, 3u}) {
    const auto outcomes = run_each_in_child(
        6, jobs, 0,
        [](std::size_t i) {
          // Later jobs end first (with 3 at a time), and job 5's result is larger than a pipe holds.
          usleep(static_cast<useconds_t>((6 - i) * 2000));
          return i == 5 ? std::string(1 << 20, 'x') : "job " + std::to_string(i);
        },
        nullptr);
    REQUIRE(outcomes.size() == 6);
    for (std::size_t i = 0; i < 5; ++i) {
      CHECK(outcomes[i].has_result);
      CHECK(outcomes[i].result == "job " + std::to_string(i));
      CHECK(outcomes[i].death() == "");
    }
    CHECK(outcomes[5].result.size() == std::size_t{1} << 20);
  }
}

TEST_CASE("child pool: an abort, a signal or an exception ends that child only, and says how") {
  std::size_t progress_calls = 0;
  const auto outcomes = run_each_in_child(
      5, 2, 0,
      [](std::size_t i) -> std::string {
        if (i == 1) {
          std::fprintf(stderr, "replica.cpp:12: invariant broken\n");
          std::abort();
        }
        if (i == 2) raise(SIGSEGV);
        if (i == 3) throw std::runtime_error("thrown in the child");
        return "fine " + std::to_string(i);
      },
      [&](std::size_t finished) { CHECK(finished == ++progress_calls); });
  CHECK(progress_calls == 5);
  CHECK(outcomes[0].result == "fine 0");
  CHECK(outcomes[4].result == "fine 4");
  CHECK_FALSE(outcomes[1].has_result);
  CHECK(WIFSIGNALED(outcomes[1].status));
  CHECK(outcomes[1].death().find("SIGABRT") != std::string::npos);
  // What it printed is kept (under the test harness, doctest's crash report follows it, its
  // length depending on where the build is: so the message is looked for in the tail kept,
  // and death() must end with the tail's last line).
  CHECK(outcomes[1].output_tail.find("replica.cpp:12: invariant broken") != std::string::npos);
  std::string last_line = outcomes[1].output_tail;
  while (!last_line.empty() && (last_line.back() == '\n' || last_line.back() == ' ')) last_line.pop_back();
  last_line = last_line.substr(last_line.rfind('\n') + 1);
  CHECK(outcomes[1].death().size() > last_line.size());
  CHECK(outcomes[1].death().compare(outcomes[1].death().size() - last_line.size(), last_line.size(), last_line) == 0);
  CHECK_FALSE(outcomes[2].has_result);
  CHECK(outcomes[2].death().find("SEGV") != std::string::npos);  // the signal, or the sanitizer's report of it
  CHECK_FALSE(outcomes[3].has_result);
  CHECK(outcomes[3].death().find("thrown in the child") != std::string::npos);
}

TEST_CASE("child pool: a child past the wall-clock limit is killed and marked timed out") {
  const auto outcomes = run_each_in_child(
      2, 2, 0.3,
      [](std::size_t i) -> std::string {
        if (i == 0) sleep(30);
        return "quick";
      },
      nullptr);
  CHECK(outcomes[0].timed_out);
  CHECK_FALSE(outcomes[0].has_result);
  CHECK(outcomes[0].death().find("wall-clock limit") != std::string::npos);
  CHECK(outcomes[0].wall_seconds < 10);
  CHECK(outcomes[1].result == "quick");
}

TEST_CASE("child pool: done() returning false starts no more children") {
  std::size_t started = 0, finished = 0;
  ChildPool pool(1, 0);
  pool.run(
      [&](std::size_t& job, ChildPool::Work& work) {
        if (started == 10) return false;
        job = started++;
        work = [] { return std::string("x"); };
        return true;
      },
      [&](std::size_t, ChildOutcome&&) { return ++finished < 3; });
  CHECK(started == 3);
  CHECK(finished == 3);
}
