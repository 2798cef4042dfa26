#!/usr/bin/env bash
# `pbftsim suite` and `pbftsim explore` from the outside: exit codes, progress only on a
# terminal, harness errors that do not stop the suite, JUnit counts, explore's table at
# the f-fault limit and replay lines that really replay a cell.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

# ---- suite ----------------------------------------------------------------------------------
cat > "$tmp/budget.json" <<'EOF'
{"name": "tiny-budget", "description": "A run that cannot finish in 300 events.",
 "cluster": {"n": 4}, "workload": {"clients": 2, "requests_per_client": 50}, "max_events": 300}
EOF
sed 's/"liveness": "holds"/"liveness": "violated"/' scenarios/normal-n4.json > "$tmp/wrong-expect.json"

"$bin" suite scenarios/normal-n4.json "$tmp/budget.json" scenarios/silent-backup.json --seeds 2 \
  --junit "$tmp/j.xml" --report "$tmp/s.json" >"$tmp/out" 2>"$tmp/err"
status=$?
check "a harness error makes the suite exit 1" [ "$status" -eq 1 ]
check "the suite goes on after a harness error (runs after it are in the table)" \
  grep -q '^silent-backup .* pass ' "$tmp/out"
check "the harness error is named, with its replay line" \
  grep -q '^error: tiny-budget seed 1 (the run exceeded its event budget of 300 events)' "$tmp/out"
check "replay line of the failing run" grep -q "^  replay: pbftsim run $tmp/budget.json --seed 2" "$tmp/out"
check "totals line" grep -q '^6 runs: 4 passed, 0 failed, 2 harness errors$' "$tmp/out"
check "no progress when stderr is not a terminal" [ ! -s "$tmp/err" ]
python3 - "$tmp/j.xml" <<'PY' && ok "JUnit: 6 testcases in 3 testsuites, 2 errors with replay lines" || ko "JUnit counts"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("tests") == "6" and root.get("errors") == "2" and root.get("failures") == "0"
suites = root.findall("testsuite")
assert [s.get("name") for s in suites] == ["normal-n4", "tiny-budget", "silent-backup"], suites
assert all(s.get("tests") == "2" for s in suites)
errors = root.findall(".//testcase/error")
assert len(errors) == 2 and all("replay: pbftsim run" in e.get("message") for e in errors)
assert len(root.findall(".//testcase")) == 6
PY
python3 - "$tmp/s.json" <<'PY' && ok "suite --report totals" || ko "suite --report totals"
import json, sys
t = json.load(open(sys.argv[1]))["totals"]
assert t == {"runs": 6, "passed": 4, "failed": 0, "errors": 2}, t
PY

"$bin" suite scenarios/normal-n4.json "$tmp/wrong-expect.json" --junit "$tmp/f.xml" >"$tmp/out" 2>&1
check "a run whose outcome differs from expect makes the suite exit 1" [ $? -eq 1 ]
python3 - "$tmp/f.xml" <<'PY' && ok "JUnit: the failure message carries the replay command" || ko "JUnit failure message"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.get("failures") == "1", root.attrib
f = root.find(".//failure")
assert "replay: pbftsim run" in f.get("message") and "liveness held (expected violated)" in f.get("message"), f.get("message")
PY
"$bin" suite scenarios/normal-n4.json scenarios/silent-backup.json --seeds 3 --jobs 2 >"$tmp/a" 2>/dev/null
check "a suite where every run passes exits 0" [ $? -eq 0 ]
"$bin" suite scenarios/normal-n4.json scenarios/silent-backup.json --seeds 3 --jobs 1 >"$tmp/b" 2>/dev/null
check "the table does not depend on --jobs" cmp -s "$tmp/a" "$tmp/b"
"$bin" suite "$tmp/nope" >/dev/null 2>"$tmp/err"
check "a missing suite path exits 2" [ $? -eq 2 ]
cp tests/data/bad_scenarios/missing_n.json "$tmp/bad.json"
"$bin" suite scenarios/normal-n4.json "$tmp/bad.json" >"$tmp/out" 2>"$tmp/err"
check "a bad scenario in a suite exits 2 and runs nothing" [ $? -eq 2 ] && [ ! -s "$tmp/out" ]
if command -v script >/dev/null 2>&1; then
  script -qec "$bin suite scenarios/normal-n4.json --seeds 3" /dev/null >"$tmp/tty" 2>&1
  check "progress is shown on a terminal" grep -q '\[3/3 runs\]' "$tmp/tty"
  script -qec "$bin suite scenarios/normal-n4.json --seeds 3 --quiet" /dev/null >"$tmp/tty" 2>&1
  check "--quiet hides the progress" bash -c "! grep -q 'runs\]' '$tmp/tty'"
else
  ko "script(1) is available to test progress on a terminal"
fi

# ---- explore --------------------------------------------------------------------------------
"$bin" explore scenarios/colluding-equivocation-f.json --n 4,7 --byzantine 0..3 --seeds 4 --jobs 2 \
  --report "$tmp/e.json" --html "$tmp/e.html" >"$tmp/out" 2>"$tmp/err"
status=$?
check "explore exits 0 when PBFT's promises hold up to f" [ "$status" -eq 0 ]
python3 - "$tmp/e.json" <<'PY' && ok "explore: safety holds in every run up to f, fails in some at f+1 (n = 4, 7)" || ko "explore at the f limit"
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
assert {(c["n"], c["byzantine"]) for c in cells} == {(n, b) for n in (4, 7) for b in range(4)}
for c in cells:
    assert c["runs"] == 4 and c["errors"] == 0, c
    if c["byzantine"] <= c["f"]:
        assert c["safety_held"] == c["runs"] and c["liveness_held"] == c["runs"] and c["liveness_required"], c
    if c["byzantine"] == c["f"] + 1:
        assert c["safety_held"] < c["runs"] and not c["liveness_required"], c
        assert len(c["failing_seeds"]) == c["runs"] - c["safety_held"], c
PY
check "the table marks f and shows liveness beyond f as n/a" \
  bash -c "grep -Eq '^ +4 +1 \\| 100% / 100% +\\| 100% / 100% \\(f\\) +\\| +[0-9]+% / n/a \\( *[0-9]+% done\\)' '$tmp/out'"
replay=$(grep -m1 '^  replay: ' "$tmp/out" | sed 's/^  replay: pbftsim //')
check "every failing explore run has a replay line" [ -n "$replay" ]
# shellcheck disable=SC2086
"$bin" $replay --report "$tmp/replayed.json" >"$tmp/replayed" 2>&1
check "the replay line reruns that cell: the violation again, and exit 0 (nothing is promised beyond f)" \
  bash -c "[ $? -eq 0 ] && grep -q 'safety:   VIOLATED (expected any)' '$tmp/replayed'"
python3 - "$tmp/replayed.json" "$tmp/e.json" "$replay" <<'PY' && ok "the replayed run is the explored one (n, byzantine, seed)" || ko "replayed run matches the cell"
import json, re, sys
r = json.load(open(sys.argv[1]))
args = sys.argv[3].split()
n, byz, seed = int(args[args.index("--n") + 1]), int(args[args.index("--byzantine") + 1]), int(args[args.index("--seed") + 1])
assert r["cluster"]["n"] == n and len(r["faulty_replicas"]) == byz and r["seed"] == seed, r["cluster"]
cell = [c for c in json.load(open(sys.argv[2]))["cells"] if c["n"] == n and c["byzantine"] == byz][0]
assert seed in cell["failing_seeds"]
assert r["safety"]["holds"] is False
PY
"$bin" explore scenarios/colluding-equivocation-f.json --byzantine 2..1 >/dev/null 2>"$tmp/err"
check "explore: a bad --byzantine range exits 2" [ $? -eq 2 ]
"$bin" explore scenarios/colluding-equivocation-f.json --byzantine 1 --behaviour delay >/dev/null 2>"$tmp/err"
check "explore: a behaviour that makes no replica faulty exits 2 and says so" \
  bash -c "[ $? -eq 2 ] && grep -q 'expected a fault kind that makes replicas faulty' '$tmp/err'"
"$bin" explore scenarios/colluding-equivocation-f.json --n 4 --byzantine 4 >/dev/null 2>"$tmp/err"
check "explore: all replicas Byzantine exits 2" [ $? -eq 2 ]
"$bin" run scenarios/normal-n4.json --n 7 >/dev/null 2>"$tmp/err"
check "run --n without --byzantine exits 2" bash -c "[ $? -eq 2 ] && grep -q -- '--byzantine' '$tmp/err'"

# --traces DIR: each failed run's Perfetto trace and HTML page, named next to its replay line.
python3 -c "
import json,sys
d=json.load(open('scenarios/colluding-equivocation-f-plus-1.json'))
d['name']='must-hold'; d['expect']={'safety':'holds','liveness':'any'}; d.pop('\$schema',None)
json.dump(d,open(sys.argv[1],'w'))" "$tmp/must-hold.json"
cp scenarios/normal-n4.json "$tmp/fine.json"
expect_exit "suite --traces: a failed run still exits 1" 1 "$bin" suite "$tmp/must-hold.json" "$tmp/fine.json" --traces "$tmp/traces" -q
grep -q "^  perfetto: $tmp/traces/must-hold-seed1.perfetto.json" "$tmp/out" && [ -s "$tmp/traces/must-hold-seed1.perfetto.json" ] \
  && ok "suite --traces: the failed run's Perfetto trace, named under its replay line" || ko "suite --traces: perfetto ($(cat "$tmp/out"))"
grep -q "^  html: $tmp/traces/must-hold-seed1.html" "$tmp/out" && [ -s "$tmp/traces/must-hold-seed1.html" ] \
  && ok "suite --traces: and its HTML page" || ko "suite --traces: html"
[ "$(ls "$tmp/traces" | wc -l)" = "2" ] && ok "suite --traces: nothing for the runs that passed" || ko "suite --traces: only failed runs ($(ls "$tmp/traces"))"
expect_exit "suite --traces into an unusable directory exits 2 before any run" 2 "$bin" suite "$tmp/fine.json" --traces /dev/null/x -q

finish
