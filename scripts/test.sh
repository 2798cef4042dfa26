#!/usr/bin/env bash
# Builds pbftsim twice and runs every test through `meson test` (suites: see meson.build):
#   build/            release (GCC): suites unit, runs, sweeps and cli (tests/cli/*.sh)
#   build-asan-fuzz/  ASan+UBSan (clang 14), with the libFuzzer targets and the planted
#                     protocol defects compiled in (-Dplanted_defects=true; without --defect
#                     a run plants none): suites unit, runs, fuzz (each target 10 s from its
#                     corpus, then every corpus file) and defects (each defect caught by an
#                     oracle). Only the executables those suites run are compiled there.
# The sweeps (many seeds, the whole scenario library) run once, in the release build: they
# look for logic errors, and under ASan they took most of the time. The ASan build runs while
# the release tests do, so the two cores stay busy. Both are unity builds (meson's default
# here), which halves what the compiler spends parsing the same headers.
# Prints one line per test (a doctest binary under its suite filter, a command-line script,
# a fuzz target) and, last, the plain summary "N passed, N failed" over all test cases.
# Exits non-zero if anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# --browser: Chromium, for tests/cli/html_test.sh (the HTML reports open without errors).
# --fuzz: clang 14 and its runtimes, for the ASan build and the libFuzzer targets.
bash scripts/setup-debian.sh --browser --fuzz || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT
jobs=$(nproc)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

configure() {  # configure DIR [meson options...]; CXX from the environment
  local dir=$1; shift
  [ -f "$dir/build.ninja" ] && return 0
  meson setup "$dir" "$@" >"$log_dir/setup-${dir//\//_}.log" 2>&1 || { cat "$log_dir/setup-${dir//\//_}.log"; return 1; }
}

# The executables the tests of the given suites run (only those get built in the ASan tree:
# not the command-line tool, whose tests run on the release build).
targets_for() {  # targets_for DIR SUITE...
  python3 - "$@" <<'PY'
import json, subprocess, sys
d, suites = sys.argv[1], set(sys.argv[2:])
import os
tests = json.loads(subprocess.check_output(["meson", "introspect", d, "--tests"]))
files = {t["id"]: t["filename"] for t in json.loads(subprocess.check_output(["meson", "introspect", d, "--targets"]))}
need = sorted({f for t in tests if suites & {s.split(":")[-1] for s in t["suite"]}
               for i in t["depends"] for f in files.get(i, [])})
print("\n".join(os.path.relpath(f, d) for f in need))
PY
}

run_suites() {  # run_suites DIR LOGBASE SUITE...: meson test; the log is DIR/meson-logs/LOGBASE.json
  local dir=$1 base=$2; shift 2
  local args=()
  for s in "$@"; do args+=(--suite "$s"); done
  meson test -C "$dir" --no-rebuild --num-processes "$jobs" --logbase "$base" "${args[@]}" \
    >"$log_dir/test-$base.log" 2>&1
}

# One line per test from a meson test log, with test cases counted from each test's own
# summary (doctest's "[doctest] test cases:" line, or a script's "N passed, N failed").
# A test that crashed before its summary, or failed without saying so, counts as one failure.
report() {  # report DIR LOGBASE -> prints the lines, then "TOTAL p f" last
  python3 - "$1" "$1/meson-logs/$2.json" <<'PY'
import json, re, sys
label_dir, path = sys.argv[1], sys.argv[2]
total_p = total_f = 0
try:
    lines = open(path).read().splitlines()
except OSError:
    lines = []
if not lines:
    print(f"{label_dir}: no test ran")
    total_f += 1
for line in lines:
    t = json.loads(line)
    out = (t.get("stdout") or "") + (t.get("stderr") or "")
    m = re.findall(r"^\[doctest\] test cases:.*?\|\s*(\d+) passed\s*\|\s*(\d+) failed", out, re.M)
    s = re.findall(r"^(\d+) passed, (\d+) failed", out, re.M)
    if m:
        p, f = map(int, m[-1])
    elif s:
        p, f = map(int, s[-1])
    else:
        p, f = 0, 1
    if t.get("result") != "OK" and f == 0:
        f = 1
    if f:
        keep = [l for l in out.splitlines() if not re.match(r"^\[doctest\] (doctest version|run with)", l)]
        print("\n".join(keep[-60:]))
        print(f"({t.get('result')}, exit {t.get('returncode')}: {' '.join(t.get('command', []))})")
    name = t["name"].replace("pbftsim:", "")  # "unit / sim": suite and test
    print(f"{label_dir}: {name}: {p} passed, {f} failed ({t.get('duration', 0):.0f} s)")
    total_p += p
    total_f += f
print(f"TOTAL {total_p} {total_f}")
PY
}

tally() {  # tally DIR LOGBASE: prints the report and adds it up
  local out
  out=$(report "$1" "$2")
  printf '%s\n' "$out" | grep -v '^TOTAL '
  set -- $(printf '%s\n' "$out" | tail -1)
  passed=$((passed + $2)); failed=$((failed + $3))
}

# Every command-line script is registered as a test (meson.build lists them: no globbing).
for t in tests/cli/*.sh; do
  case $(basename "$t") in common.bash) continue ;; esac
  if ! grep -q "'$(basename "$t" .sh)'" tests/cli/meson.build; then
    echo "$t: not registered in tests/cli/meson.build: 0 passed, 1 failed"
    failed=$((failed + 1))
  fi
done

# Release: everything.
release_ok=0
if configure build && meson compile -C build >"$log_dir/build-release.log" 2>&1; then
  release_ok=1
  run_suites build release unit runs sweeps cli &
  release_pid=$!
else
  tail -50 "$log_dir/build-release.log" 2>/dev/null
  echo "build: build failed"
  failed=$((failed + 1))
fi

# ASan+UBSan, with the planted defects, and the libFuzzer targets when clang is there (the
# set-up installs it).
asan_dir=build-asan-fuzz
asan_suites=(unit runs fuzz defects)
# -O1 with line tables only: ASan's reports keep file and line, the compiler spends an
# eighth less than at -O2 -g, and the tests run as fast.
asan_flags=(-Db_sanitize=address,undefined -Dbuildtype=plain -Doptimization=1 -Ddebug=false
            -Db_lundef=false -Dplanted_defects=true)
if command -v clang++-14 >/dev/null; then
  CXX=clang++-14 configure "$asan_dir" "${asan_flags[@]}" -Dcpp_args=-gline-tables-only -Dlibfuzzer=true
else
  echo "$asan_dir: clang++-14 missing: ASan build with the default compiler, no fuzz targets"
  asan_dir=build-asan
  asan_suites=(unit runs defects)
  configure "$asan_dir" "${asan_flags[@]}" -Dcpp_args=-g1
fi
asan_status=$?
if [ "$asan_status" -eq 0 ]; then
  mapfile -t asan_targets < <(targets_for "$asan_dir" "${asan_suites[@]}")
  ninja -C "$asan_dir" "${asan_targets[@]}" >"$log_dir/build-asan.log" 2>&1
  asan_status=$?
fi
if [ "$asan_status" -eq 0 ]; then
  run_suites "$asan_dir" asan "${asan_suites[@]}"
else
  tail -50 "$log_dir/build-asan.log" 2>/dev/null
  echo "$asan_dir: build failed"
  failed=$((failed + 1))
fi

if [ "$release_ok" -eq 1 ]; then
  wait "$release_pid"
  tally build release
fi
[ "$asan_status" -eq 0 ] && tally "$asan_dir" asan

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
