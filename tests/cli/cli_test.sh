#!/usr/bin/env bash
# Command-line contract tests. Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

expect_exit "--help exits 0" 0 "$bin" --help
expect_exit "--version exits 0" 0 "$bin" --version
grep -q "pbftsim" "$tmp/out" && ok "--version names pbftsim" || ko "--version names pbftsim"
expect_exit "unknown option exits 2" 2 "$bin" --frobnicate
grep -qi "frobnicate" "$tmp/err" && ok "unknown option is named" || ko "unknown option is named"
expect_exit "unknown subcommand exits 2" 2 "$bin" fly
expect_exit "missing scenario file exits 2" 2 "$bin" run "$tmp/nope.json"

expect_exit "normal-n4 runs and passes" 0 "$bin" run scenarios/normal-n4.json
for field in "completed" "PREPARE" "view" "fingerprint" "replay: pbftsim run scenarios/normal-n4.json --seed 1"; do
  grep -q -- "$field" "$tmp/out" && ok "run summary mentions '$field'" || ko "run summary mentions '$field'"
done

# Determinism across processes: same seed, same fingerprint and the same trace, byte for byte.
"$bin" run scenarios/equivocating-primary.json --seed 7 --report "$tmp/a.json" --trace "$tmp/a.jsonl" >/dev/null
"$bin" run scenarios/equivocating-primary.json --seed 7 --report "$tmp/b.json" --trace "$tmp/b.jsonl" >/dev/null
fa=$(grep -o '"fingerprint": *"[0-9a-f]*"' "$tmp/a.json"); fb=$(grep -o '"fingerprint": *"[0-9a-f]*"' "$tmp/b.json")
[ -n "$fa" ] && [ "$fa" = "$fb" ] && ok "same seed, same fingerprint in two processes" || ko "same seed, same fingerprint ($fa vs $fb)"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" && [ -s "$tmp/a.jsonl" ] && ok "same seed, identical trace file" || ko "same seed, identical trace file"
"$bin" run scenarios/equivocating-primary.json --seed 8 --report "$tmp/c.json" >/dev/null
fc=$(grep -o '"fingerprint": *"[0-9a-f]*"' "$tmp/c.json")
[ "$fa" != "$fc" ] && ok "different seed, different fingerprint" || ko "different seed, different fingerprint"

# The report is JSON with the contract's fields.
python3 - "$tmp/a.json" <<'PY' && ok "JSON report has the contract fields" || ko "JSON report has the contract fields"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ["scenario", "seed", "fingerprint", "outcome", "faulty_replicas", "safety", "liveness", "stats"]:
    assert k in r, k
assert set(["holds", "violations"]) <= set(r["safety"])
assert set(["holds", "submitted", "completed"]) <= set(r["liveness"])
for k in ["events", "messages_sent", "messages_delivered", "messages_dropped", "messages_rejected",
          "view_changes", "final_view", "executed_seq", "stable_checkpoint", "virtual_time_ns"]:
    assert k in r["stats"], k
PY

# A report path that cannot be written: exit 2 and nothing half-written.
expect_exit "unwritable report path exits 2" 2 "$bin" run scenarios/normal-n4.json --report "$tmp/missing/dir/r.json"
[ ! -e "$tmp/missing" ] && ok "nothing left behind" || ko "nothing left behind"

# An expectation that does not hold exits 1.
sed 's/"liveness": "holds"/"liveness": "violated"/' scenarios/normal-n4.json > "$tmp/wrong-expect.json"
expect_exit "outcome differs from expect exits 1" 1 "$bin" run "$tmp/wrong-expect.json"

# validate: every bad case exits 2 and names the JSON path.
for f in tests/data/bad_scenarios/*.json; do
  expect_exit "validate rejects $(basename "$f")" 2 "$bin" validate "$f"
done
expect_exit "validate accepts the library" 0 "$bin" validate scenarios/*.json
"$bin" validate tests/data/bad_scenarios/missing_n.json 2>"$tmp/err" >/dev/null
grep -q '^pbftsim: tests/data/bad_scenarios/missing_n.json: /cluster/n: missing required field' "$tmp/err" \
  && ok "validate names the file, the JSON path and what was expected" || ko "validate message: $(cat "$tmp/err")"
"$bin" validate tests/data/bad_scenarios/syntax_error.json 2>"$tmp/err" >/dev/null
grep -q 'syntax_error.json:3:[0-9]*: syntax error' "$tmp/err" && ok "a syntax error names line and column" || ko "syntax error position: $(cat "$tmp/err")"
"$bin" validate scenarios/normal-n4.json tests/data/bad_scenarios/n_zero.json >/dev/null 2>&1
[ $? -eq 2 ] && ok "validate exits 2 when any file is bad" || ko "validate exits 2 when any file is bad"
"$bin" run tests/data/bad_scenarios/n_lt_3f_plus_1.json >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && [ ! -s "$tmp/out" ] && grep -q 'n >= 3f+1' "$tmp/err" && ok "run on a bad scenario exits 2 and runs nothing" || ko "run on a bad scenario"
expect_exit "an unknown option of a subcommand exits 2" 2 "$bin" run scenarios/normal-n4.json --frob
for sub in run suite explore validate; do
  grep -q "$sub" <("$bin" --help) && ok "--help lists $sub" || ko "--help lists $sub"
done

# suite: JUnit XML parses with the right counts.
expect_exit "suite on two scenarios passes" 0 "$bin" suite scenarios/normal-n4.json scenarios/silent-backup.json --seeds 2 --jobs 2 --junit "$tmp/j.xml"
python3 - "$tmp/j.xml" <<'PY' && ok "JUnit XML parses with 4 test cases" || ko "JUnit XML parses with 4 test cases"
import sys, xml.dom.minidom
d = xml.dom.minidom.parse(sys.argv[1])
assert len(d.getElementsByTagName("testcase")) == 4
PY

finish
