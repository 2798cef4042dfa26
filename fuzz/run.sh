#!/usr/bin/env bash
# One libFuzzer target as a test (meson suite "fuzz"; see docs/FUZZING.md):
#   fuzz/run.sh TARGET CORPUS_DIR SECONDS ARTIFACT_DIR [libFuzzer options...]
# 1. fuzzes for SECONDS from the corpus (new inputs go to a scratch directory: the corpus in
#    the repository is only read), 2. runs every corpus file once. A crash, an assertion, a
#    leak or a broken property fails the case and leaves the input in ARTIFACT_DIR with the
#    command that reproduces it. Prints one line per case and "N passed, N failed" last.
set -u
target=$1 corpus=$2 seconds=$3 artifacts=$4
shift 4
name=$(basename "$target")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$artifacts"
pass=0; fail=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# -rss_limit_mb: a decoder that allocates what a length field claims instead of what the
# input holds shows up as an out-of-memory finding, not as a slow machine.
if "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
     -artifact_prefix="$artifacts/" "$@" "$scratch" "$corpus" >"$scratch/log" 2>&1; then
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$scratch/log")
  pass=$((pass + 1)); echo "ok   $name: fuzzing for ${seconds}s (${runs:-?} runs) found nothing"
else
  fail=$((fail + 1)); echo "FAIL $name: fuzzing for ${seconds}s"
  grep -vE '^(#[0-9]|INFO:|MERGE|\s*$)' "$scratch/log" | tail -40
  for f in "$artifacts"/*; do [ -f "$f" ] && echo "reproduce: $target $f"; done
fi

# Every file of the corpus, once each: the seeds and any regression input kept there.
files=("$corpus"/*)
if "$target" -rss_limit_mb=2048 "${files[@]}" >"$scratch/replay" 2>&1; then
  pass=$((pass + 1)); echo "ok   $name: every corpus file (${#files[@]}) runs clean"
else
  fail=$((fail + 1)); echo "FAIL $name: a corpus file fails"
  grep -E '^(Running:|==|SUMMARY|fuzz_)' "$scratch/replay" | tail -20
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
