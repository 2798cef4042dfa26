# Shared by the command-line test scripts (tests/cli/*.sh; this file is sourced, not run):
# the binary under test, a scratch directory removed on exit, and the pass/fail tally.
# Each script prints one line per case and, last (`finish`), "N passed, N failed".
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
bin=${PBFTSIM:-build/pbftsim}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
# expect_exit NAME CODE CMD...: runs CMD (stdout to $tmp/out, stderr to $tmp/err).
expect_exit() {
  local name=$1 code=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local got=$?
  if [ "$got" -eq "$code" ]; then ok "$name"; else ko "$name (exit $got, wanted $code): $(head -3 "$tmp/err")"; fi
}
# check NAME CMD...: passes when CMD succeeds.
check() {
  local name=$1; shift
  if "$@"; then ok "$name"; else ko "$name"; fi
}
# The summary line, and the exit status.
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
