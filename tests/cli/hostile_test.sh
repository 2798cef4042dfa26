#!/usr/bin/env bash
# Hostile files and options, as a new user (or a CI machine, as root) might give them:
# outputs that are devices, FIFOs and links, inputs that never end, directories, seeds out
# of range, empty suites, scenarios too big to run, and a run that dies inside a suite or an
# exploration. Each must end in a clear message and the right exit code, with nothing
# clobbered and no run lost. Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"
# Every command here must end quickly: a hang or a runaway allocation is a failure, not a
# stuck CI job (4 GB of address space is far above what these runs need).
ulimit -v 4000000
t() { timeout 120 "$@"; }

# ---- outputs: devices, FIFOs, links; checked before the run ----------------------------------
# The devices are reached through names of our own, so that a binary that replaces what it
# writes to (as this one did) replaces a file in $tmp, not the machine's /dev/full or
# /dev/stdout. As root, a private device node behaves like /dev/full itself, if $tmp's file
# system allows device nodes; else a symbolic link to it does.
full=$tmp/full
if ! { mknod "$full" c 1 7 2>/dev/null && ! (echo x >"$full") 2>/dev/null; }; then
  rm -f "$full"
  ln -s /dev/full "$full"
fi
expect_exit "--report to a full device exits 2" 2 t "$bin" run scenarios/normal-n4.json --report "$full" -q
check "... saying it cannot write: no space left" grep -q "cannot write $full: No space left on device" "$tmp/err"
check "... and the device is still a device" [ -c "$full" ]
check "/dev/full is still a device" [ -c /dev/full ]

ln -s /proc/self/fd/1 "$tmp/stdout"  # what /dev/stdout is
t "$bin" run scenarios/normal-n4.json --html "$tmp/stdout" -q >"$tmp/page.html" 2>"$tmp/err"
check "--html /dev/stdout prints the page after the summary line" \
  bash -c "head -1 '$tmp/page.html' | grep -q '^pass normal-n4' && grep -q '<html' '$tmp/page.html' && grep -q '</html>' '$tmp/page.html'"
check "... and /dev/stdout is still a link" [ -L "$tmp/stdout" ]

mkfifo "$tmp/fifo"
timeout 60 cat "$tmp/fifo" >"$tmp/from-fifo" &  # bounded: a binary that replaces the FIFO leaves it waiting
reader=$!
expect_exit "--trace into a FIFO exits 0" 0 t "$bin" run scenarios/normal-n4.json --trace "$tmp/fifo" -q
wait "$reader"
check "the FIFO is still a FIFO" [ -p "$tmp/fifo" ]
t "$bin" run scenarios/normal-n4.json --trace "$tmp/direct.jsonl" -q >/dev/null
check "the reader of the FIFO got the whole trace" cmp -s "$tmp/from-fifo" "$tmp/direct.jsonl"

echo '{"old": true}' >"$tmp/target.json"
ln -s target.json "$tmp/link.json"
expect_exit "--report into a symbolic link exits 0" 0 t "$bin" run scenarios/normal-n4.json --report "$tmp/link.json" -q
check "the link is still a link to the same file" [ "$(readlink "$tmp/link.json")" = target.json ]
check "the report went through the link" grep -q '"fingerprint"' "$tmp/target.json"
check "no temporary file is left beside it" bash -c "[ -z \"\$(ls '$tmp' | grep '\\.tmp\\.')\" ]"

echo 'precious' >"$tmp/keep.json"
expect_exit "--html into a missing directory exits 2" 2 t "$bin" run scenarios/normal-n4.json --report "$tmp/keep.json" --html "$tmp/missing/r.html"
check "... before the run: no summary printed" [ ! -s "$tmp/out" ]
check "... naming the missing directory" grep -q "cannot write $tmp/missing/r.html: directory $tmp/missing does not exist" "$tmp/err"
check "... and the other output is untouched" grep -qx precious "$tmp/keep.json"
expect_exit "suite --junit into a missing directory exits 2 before any run" 2 t "$bin" suite scenarios/normal-n4.json --junit "$tmp/missing/j.xml"
check "... no table printed" [ ! -s "$tmp/out" ]
expect_exit "explore --report into a directory exits 2" 2 t "$bin" explore scenarios/normal-n4.json --byzantine 0 --report "$tmp"
check "... saying it is a directory" grep -q 'is a directory' "$tmp/err"

# ---- inputs: endless files, directories ------------------------------------------------------
for dev in /dev/zero /dev/urandom; do
  expect_exit "validate $dev exits 2" 2 t "$bin" validate "$dev"
  check "validate $dev names the size limit" grep -q "^pbftsim: $dev: file larger than the limit of 16 MiB" "$tmp/err"
done
head -c $((16 * 1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$tmp/huge.json"
expect_exit "a scenario file one byte over 16 MiB exits 2" 2 t "$bin" run "$tmp/huge.json"
expect_exit "run DIR exits 2" 2 t "$bin" run scenarios
check "run DIR says it is a directory" grep -q '^pbftsim: scenarios: is a directory' "$tmp/err"
expect_exit "validate DIR checks every scenario in it" 0 t "$bin" validate scenarios
check "... one line per file" [ "$(grep -c ': ok (' "$tmp/out")" -eq "$(ls scenarios/*.json | wc -l)" ]
mkdir "$tmp/mixed"
cp scenarios/normal-n4.json tests/data/bad_scenarios/missing_n.json "$tmp/mixed/"
expect_exit "validate DIR with a bad scenario in it exits 2" 2 t "$bin" validate "$tmp/mixed"
check "... naming the bad file and its JSON path" grep -q "missing_n.json: /cluster/n: missing required field" "$tmp/err"
mkdir "$tmp/empty"
expect_exit "suite on an empty directory exits 2" 2 t "$bin" suite "$tmp/empty"
check "... no scenario found" grep -q "$tmp/empty: no scenario found" "$tmp/err"
expect_exit "suite on an empty directory beside a good one exits 2" 2 t "$bin" suite scenarios/normal-n4.json "$tmp/empty"
expect_exit "validate on an empty directory exits 2" 2 t "$bin" validate "$tmp/empty"

# ---- options out of range --------------------------------------------------------------------
expect_exit "explore --n 2000 exits 2 at once" 2 t "$bin" explore scenarios/normal-n4.json --byzantine 0 --n 2000
check "... naming the range" grep -q 'not in range 1 to 1024' "$tmp/err"
for seed in -1 18446744073709551616 0x10 1e3 ""; do
  expect_exit "run --seed '$seed' exits 2" 2 t "$bin" run scenarios/normal-n4.json --seed="$seed" -q
  check "... naming the accepted range" grep -q 'expected a decimal integer from 0 to 18446744073709551615' "$tmp/err"
done
expect_exit "fuzz --seed -1 exits 2" 2 t "$bin" fuzz --seed=-1 --runs 1 --out "$tmp/f"
expect_exit "run --seed 18446744073709551615 (the largest) runs" 0 t "$bin" run scenarios/normal-n4.json --seed 18446744073709551615 -q
check "... with that seed" grep -q 'seed=18446744073709551615 ' "$tmp/out"

# ---- scenarios too big to run: refused up front, naming the fields and the estimate --------------
echo '{"name": "huge-cluster", "cluster": {"n": 1024}}' >"$tmp/n1024.json"
expect_exit "n: 1024 is refused" 2 t "$bin" run "$tmp/n1024.json"
check "... naming the file, /cluster/n and the estimate" \
  grep -q "$tmp/n1024.json: /cluster/n: expected a run within the harness's memory limit of 4.0 GiB, estimated [0-9.]* GiB" "$tmp/err"
echo '{"name": "crowd", "cluster": {"n": 4}, "workload": {"clients": 100000, "outstanding": 10}}' >"$tmp/crowd.json"
expect_exit "clients 100000 x outstanding 10 is refused" 2 t "$bin" suite "$tmp/crowd.json"
check "... naming /workload/clients, outstanding and the estimate" \
  bash -c "grep -q '/workload/clients: expected a run within .* estimated .*lower workload.clients or workload.outstanding' '$tmp/err'"
check "... and nothing ran" [ ! -s "$tmp/out" ]
expect_exit "explore refuses a size it would derive beyond the limit" 2 t "$bin" explore scenarios/normal-n4.json --byzantine 0 --n 4,200
check "... naming the size" grep -q -- '--n 200 --byzantine 0: /cluster/n: expected a run within' "$tmp/err"
expect_exit "run --n 1024 (an explore replay) is refused too" 2 t "$bin" run scenarios/normal-n4.json --n 1024 --byzantine 0

# ---- fuzz: the repeat line repeats the session ---------------------------------------------------
t "$bin" fuzz --seed 11 --runs 3 --n-min 4 --n-max 7 --max-failures 5 --out "$tmp/fz" -v >"$tmp/fz1" 2>/dev/null
repeat=$(sed -n 's/^  repeat: pbftsim //p' "$tmp/fz1")
check "fuzz: the repeat line keeps --n-min, --n-max, --max-failures and --out" \
  bash -c "[ '$repeat' = 'fuzz --seed 11 --runs 3 --n-min 4 --n-max 7 --max-failures 5 --out $tmp/fz' ]"
# shellcheck disable=SC2086
t "$bin" $repeat -v >"$tmp/fz2" 2>/dev/null
check "fuzz: running the repeat line gives the same session, line for line" cmp -s "$tmp/fz1" "$tmp/fz2"

# ---- a run that dies: a harness error of its own, the others still run -------------------------
# A run is made to die from outside, as an assertion would from inside: its process gets
# SIGABRT. No hook in the binary: the suite runs each run in a child process, so the test
# finds the child (with --jobs 1, the first child runs the first scenario) and kills it.
# (Not under timeout(1): the child would be a grandchild.)
echo '{"name": "doomed", "cluster": {"n": 16}, "workload": {"clients": 8, "requests_per_client": 2000}}' >"$tmp/doomed.json"
kill_first_child() {  # kill_first_child PID: SIGABRT to PID's first child process
  local child=""
  for _ in $(seq 1 400); do
    child=$(pgrep -P "$1" | head -1)
    [ -n "$child" ] && break
    sleep 0.05
  done
  [ -n "$child" ] && kill -ABRT "$child"
}
"$bin" suite "$tmp/doomed.json" scenarios/normal-n4.json scenarios/silent-backup.json --jobs 1 \
  --junit "$tmp/dj.xml" --report "$tmp/dj.json" >"$tmp/out" 2>"$tmp/err" &
suite=$!
kill_first_child "$suite"
wait "$suite"
status=$?
check "suite: a run that died makes the suite exit 1" [ "$status" -eq 1 ]
check "suite: the dead run is a harness error in the table" grep -q '^doomed .* error ' "$tmp/out"
check "suite: it says how the run died, with its replay line" \
  bash -c "grep -q '^error: doomed seed 1 (the run died: killed by signal Aborted (SIGABRT))' '$tmp/out' && grep -q '^  replay: pbftsim run $tmp/doomed.json --seed 1$' '$tmp/out'"
check "suite: the other runs still ran and passed" \
  bash -c "grep -q '^normal-n4 .* pass ' '$tmp/out' && grep -q '^silent-backup .* pass ' '$tmp/out' && grep -q '^3 runs: 2 passed, 0 failed, 1 harness errors$' '$tmp/out'"
python3 - "$tmp/dj.xml" "$tmp/dj.json" <<'PY' && ok "suite: JUnit and the JSON report carry the dead run as an error with its replay line" || ko "suite: JUnit and JSON report of a dead run"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.get("tests") == "3" and root.get("errors") == "1" and root.get("failures") == "0", root.attrib
err = root.find(".//testcase/error")
assert "SIGABRT" in err.get("message") and "replay: pbftsim run" in err.get("message"), err.get("message")
runs = json.load(open(sys.argv[2]))["runs"]
dead = [r for r in runs if r["outcome"] == "error"]
assert len(dead) == 1 and dead[0]["scenario"] == "doomed" and "SIGABRT" in dead[0]["harness_error"], dead
assert dead[0]["replay"].startswith("pbftsim run ") and dead[0]["replay"].endswith("--seed 1")
assert [r["outcome"] for r in runs] == ["error", "pass", "pass"]
PY
# The same runs without the kill: the two that passed have the same fingerprints.
t "$bin" suite scenarios/normal-n4.json scenarios/silent-backup.json --jobs 2 >"$tmp/clean" 2>/dev/null
check "suite: the surviving runs' rows are those of a suite without the dead run" \
  bash -c "diff <(grep -E '^(normal-n4|silent-backup) ' '$tmp/out') <(grep -E '^(normal-n4|silent-backup) ' '$tmp/clean')"

# A suite killed from outside takes its running children with it.
"$bin" suite "$tmp/doomed.json" --jobs 1 >/dev/null 2>&1 &
suite=$!
child=""
for _ in $(seq 1 400); do child=$(pgrep -P "$suite" | head -1); [ -n "$child" ] && break; sleep 0.05; done
kill -KILL "$suite"
wait "$suite" 2>/dev/null
gone() {  # gone PID: no such process, or a zombie waiting for an init that may not reap it
  ! kill -0 "$1" 2>/dev/null || grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}
for _ in $(seq 1 100); do gone "$child" && break; sleep 0.05; done
check "suite: killing the suite ends its running child too" bash -c "[ -n '$child' ] && $(declare -f gone); gone '$child'"

echo '{"name": "doomed-base", "cluster": {"n": 10}, "workload": {"clients": 4, "requests_per_client": 60}}' >"$tmp/base.json"
"$bin" explore "$tmp/base.json" --byzantine 0..1 --seeds 1 --jobs 1 --report "$tmp/de.json" >"$tmp/out" 2>"$tmp/err" &
explore=$!
kill_first_child "$explore"
wait "$explore"
status=$?
check "explore: a run that died makes explore exit 1" [ "$status" -eq 1 ]
check "explore: the dead run is listed with how it died and its replay line" \
  bash -c "grep -q '^harness error (the run died: killed by signal Aborted (SIGABRT)' '$tmp/out' && grep -q '^  replay: pbftsim run $tmp/base.json --n 10 --byzantine 0 --behaviour equivocate --seed 1$' '$tmp/out'"
python3 - "$tmp/de.json" <<'PY' && ok "explore: the other cell still ran (JSON report)" || ko "explore: the other cell still ran"
import json, sys
cells = {c["byzantine"]: c for c in json.load(open(sys.argv[1]))["cells"]}
assert cells[0]["errors"] == 1 and cells[0]["failing_seeds"] == [1], cells[0]
assert cells[1]["errors"] == 0 and cells[1]["runs"] == 1 and cells[1]["safety_held"] == 1, cells[1]
PY

finish
