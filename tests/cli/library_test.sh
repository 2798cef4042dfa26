#!/usr/bin/env bash
# The scenario library (scenarios/): at least 20 documented scenarios covering every fault
# kind, the normal case at n = 4, 7 and 13, colluding equivocation with exactly f and with
# f+1 faulty replicas, and the combinations the issue names; and every one of them passes
# `pbftsim suite scenarios/ --seeds 20`.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

python3 - <<'PY' >"$tmp/checks" 2>&1
import glob, json
files = sorted(glob.glob("scenarios/*.json"))
lib = {f: json.load(open(f)) for f in files}
def line(ok, what): print(("ok   " if ok else "FAIL ") + what)
line(len(lib) >= 20, f"at least 20 scenarios ({len(lib)})")
for f, s in lib.items():
    d = s.get("description", "")
    line(len(d) >= 40 and "expect" in s, f"{f} says what it demonstrates and what to expect")
kinds = {k["kind"] for s in lib.values() for k in s.get("faults", [])}
for k in ["silence", "crash", "equivocate", "withhold", "corrupt", "forge", "replay", "bad_view_change",
          "censor", "delay", "drop", "partition", "timer_skew", "bad_checkpoint", "bad_state", "bad_reply",
          "double_preprepare", "split_votes"]:
    line(k in kinds, f"a scenario with a {k} fault")
def f_of(s): return s["cluster"].get("f", (s["cluster"]["n"] - 1) // 3)
for n in (4, 7, 13):
    line(any(s["cluster"]["n"] == n and not s.get("faults") for s in lib.values()), f"the normal case at n = {n}")
def colluding(s):
    eq = [k for k in s.get("faults", []) if k["kind"] == "equivocate" and k.get("colluders")]
    return len(eq[0]["replicas"]) + len(eq[0]["colluders"]) if eq else None
line(any(colluding(s) == f_of(s) and s["expect"]["safety"] == "holds" for s in lib.values()),
     "colluding equivocation with exactly f faulty, safety expected to hold")
line(any(colluding(s) == f_of(s) + 1 and s["expect"]["safety"] == "violated" for s in lib.values()),
     "colluding equivocation with f+1 faulty, safety expected violated")
def has(s, *ks): return all(any(f["kind"] == k for f in s.get("faults", [])) for k in ks)
line(any(has(s, "partition", "silence") and any(f["kind"] == "silence" and (f["replicas"] == "primary" or f["replicas"] == [0])
         for f in s["faults"]) for s in lib.values()), "a partition plus a silent primary")
line(any(has(s, "crash", "silence") and any(f["kind"] == "crash" and "restart_ms" in f for f in s["faults"])
         for s in lib.values()), "a crash-restart during a view change")
PY
cat "$tmp/checks"
pass=$((pass + $(grep -c '^ok' "$tmp/checks"))); fail=$((fail + $(grep -c '^FAIL' "$tmp/checks")))
[ -s "$tmp/checks" ] || ko "the library checks ran"

"$bin" suite scenarios/ --seeds 20 --jobs 2 --junit "$tmp/j.xml" >"$tmp/out" 2>&1
status=$?
tail -1 "$tmp/out"
[ "$status" -eq 0 ] && ok "pbftsim suite scenarios/ --seeds 20 passes" || { ko "pbftsim suite scenarios/ --seeds 20 passes"; grep -A1 -E '^(fail|error):' "$tmp/out" | head -20; }
python3 - "$tmp/j.xml" <<'PY' && ok "its JUnit file has one testcase per (scenario, seed) and no failure" || ko "library JUnit"
import glob, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
n = len(glob.glob("scenarios/*.json"))
assert root.get("tests") == str(20 * n) and root.get("failures") == "0" and root.get("errors") == "0", root.attrib
assert len(root.findall(".//testcase")) == 20 * n
PY

finish
