#!/usr/bin/env bash
# `run --perfetto FILE`: a Chrome/Perfetto trace-event file that follows the format's rules
# (docs/report-format.md, "Perfetto"): every event has a phase, a pid and a time in
# microseconds; complete slices a duration >= 0; instants a scope; every flow that ends
# started; every process and thread used is named. And it shows what it promises: a slice
# per view and per view change, the fault window, messages with flows, a violation with its
# detail. Same run, same bytes; an unwritable path is refused before the run.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

# check_trace NAME FILE EXPECT...: the format's rules, then each EXPECT (a Python expression
# over `names`, the set of event names, and `events`).
check_trace() {
  local name=$1 file=$2; shift 2
  local out
  out=$(python3 - "$file" "$@" <<'PY'
import json, sys
path, expects = sys.argv[1], sys.argv[2:]
try:
    doc = json.load(open(path))
except Exception as e:
    print(f"not JSON: {e}"); sys.exit(1)
problems = []
events = doc.get("traceEvents")
if not isinstance(events, list) or not events:
    print("no traceEvents array"); sys.exit(1)
procs, threads, used_p, used_t, starts, ends = set(), set(), set(), set(), {}, {}
for e in events:
    ph = e.get("ph")
    if ph not in ("M", "X", "i", "s", "f"):
        problems.append(f"unknown phase {ph!r}"); continue
    if not isinstance(e.get("pid"), int) or not isinstance(e.get("name"), str):
        problems.append(f"pid or name missing: {e}"); continue
    if ph == "M":
        if e["name"] == "process_name": procs.add(e["pid"])
        if e["name"] == "thread_name": threads.add((e["pid"], e.get("tid")))
        if not isinstance(e.get("args", {}).get("name", e.get("args", {}).get("sort_index")), (str, int)):
            problems.append(f"metadata without a value: {e}")
        continue
    ts = e.get("ts")
    if not isinstance(ts, (int, float)) or ts < 0:
        problems.append(f"bad ts: {e}")
    used_p.add(e["pid"])
    if ph == "X" and not (isinstance(e.get("dur"), (int, float)) and e["dur"] >= 0):
        problems.append(f"complete event without a duration: {e}")
    if ph == "i" and e.get("s") not in ("t", "p", "g"):
        problems.append(f"instant without a scope: {e}")
    if not (ph == "i" and e.get("s") == "g"):
        used_t.add((e["pid"], e.get("tid")))
    if ph == "s": starts[e["id"]] = starts.get(e["id"], 0) + 1
    if ph == "f": ends[e["id"]] = ends.get(e["id"], 0) + 1
for p in used_p - procs: problems.append(f"process {p} is not named")
for t in used_t - threads: problems.append(f"thread {t} is not named")
for i, n in starts.items():
    if n != 1: problems.append(f"flow {i} starts {n} times")
for i in ends:
    if i not in starts: problems.append(f"flow {i} ends but never starts")
names = {e["name"] for e in events}
for x in expects:
    if not eval(x): problems.append(f"expected: {x}")
print("; ".join(problems[:5]) if problems else f"ok {len(events)} events, {len(starts)} flows")
PY
)
  case $out in ok*) ok "$name ($out)" ;; *) ko "$name: $out" ;; esac
}

expect_exit "run --perfetto writes the trace" 0 "$bin" run scenarios/silent-primary.json --perfetto "$tmp/sp.json" -q
check_trace "a view change run: slices per view and view change, the fault window, flows" "$tmp/sp.json" \
  "'view 0' in names" "'view 1' in names" "any(n.startswith('view change to 1') for n in names)" \
  "'silence [primary]' in names" "any(n.startswith('send ') for n in names)" \
  "any(e.get('ph') == 'f' for e in events)" \
  "any(e['name'] == 'process_name' and e['args']['name'] == 'replica 1' for e in events if e['ph'] == 'M')" \
  "any(e['name'] == 'thread_name' and e['args']['name'] == 'views' for e in events if e['ph'] == 'M')" \
  "any(n.startswith('stable checkpoint ') for n in names)" "'request' in names"
"$bin" run scenarios/silent-primary.json --perfetto "$tmp/sp2.json" -q >/dev/null
check "the same run writes the same bytes" cmp -s "$tmp/sp.json" "$tmp/sp2.json"

expect_exit "a run that breaks safety (as its scenario expects) writes its trace" 0 "$bin" run scenarios/colluding-equivocation-f-plus-1.json \
  --seed 1 --perfetto "$tmp/bad.json" -q
check_trace "a run with a violation: the violation as an instant with its detail" "$tmp/bad.json" \
  "any(e['name'].startswith('violation: ') and e['args'].get('detail') and e.get('s') == 'g' for e in events if e['ph'] == 'i')" \
  "any('(faulty)' in e['args'].get('name', '') for e in events if e['ph'] == 'M')"

expect_exit "lost messages are marked where they were headed" 0 "$bin" run scenarios/lossy-network.json --perfetto "$tmp/lossy.json" -q
check_trace "a lossy run: losses as instants with their cause" "$tmp/lossy.json" \
  "any(e['name'].startswith('lost ') and e['args'].get('cause') for e in events if e['ph'] == 'i')"

mkdir -p "$tmp/ro"
expect_exit "an unwritable --perfetto path is refused before the run (exit 2)" 2 "$bin" run scenarios/normal-n4.json \
  --perfetto "$tmp/missing-dir/x.json" -q
check "... naming the path" grep -q "missing-dir/x.json" "$tmp/err"

finish
