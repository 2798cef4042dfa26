#!/usr/bin/env bash
# Builds pbftsim twice (release, and ASan+UBSan) and runs every test: the doctest binaries
# of both builds and the command-line tests in tests/cli/. Prints one line per test binary
# or script and, last, the plain summary "N passed, N failed" over all test cases.
# Exits non-zero if anything failed or did not build.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# --browser: Chromium, for tests/cli/html_test.sh (the HTML reports open without errors).
bash scripts/setup-debian.sh --browser || { echo "set-up failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

build() {  # build DIR [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >"$log_dir/setup-$dir.log" 2>&1 || { cat "$log_dir/setup-$dir.log"; return 1; }
  fi
  meson compile -C "$dir" >"$log_dir/build-$dir.log" 2>&1 || { tail -50 "$log_dir/build-$dir.log"; return 1; }
}

run_doctest() {  # run_doctest LABEL BINARY
  local label=$1 bin=$2 out
  out=$("$bin" --no-colors=true 2>&1)
  local status=$?
  local line p f
  line=$(printf '%s\n' "$out" | grep -E '^\[doctest\] test cases:' | tail -1)
  p=$(printf '%s' "$line" | sed -nE 's/.*\| *([0-9]+) passed.*/\1/p')
  f=$(printf '%s' "$line" | sed -nE 's/.*\| *([0-9]+) failed.*/\1/p')
  if [ -z "$p" ] || [ -z "$f" ]; then p=0; f=1; fi  # crashed before its summary
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$f" -ne 0 ]; then printf '%s\n' "$out" | grep -vE '^\[doctest\] (doctest version|run with)' | tail -60; fi
  echo "$label: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

for spec in "build" "build-asan -Db_sanitize=address,undefined -Dbuildtype=debugoptimized -Db_lundef=false"; do
  set -- $spec
  dir=$1; shift
  if ! build "$dir" "$@"; then
    echo "$dir: build failed"
    failed=$((failed + 1))
    continue
  fi
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  for bin in "$dir"/*/*_tests; do
    [ -x "$bin" ] && run_doctest "$bin" "$bin"
  done
done

# Command-line tests: each script prints "N passed, N failed" as its last line.
for t in tests/cli/*.sh; do
  [ -f "$t" ] || continue
  out=$(PBFTSIM="$root/build/pbftsim" bash "$t" 2>&1)
  status=$?
  last=$(printf '%s\n' "$out" | tail -1)
  p=$(printf '%s' "$last" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/p')
  f=$(printf '%s' "$last" | sed -nE 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/p')
  if [ -z "$p" ]; then p=0; f=1; fi
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  [ "$f" -ne 0 ] && printf '%s\n' "$out" | tail -40
  echo "$t: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
