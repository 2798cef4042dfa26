#!/usr/bin/env python3
"""The mutation table: for each planted defect (protocol/defects.h), which oracle catches it
and how soon.

For each defect, with a pbftsim built with -Dplanted_defects=true:
  1. the scenario library: `pbftsim suite scenarios --seeds K --defect NAME` (K = 5). Runs
     are counted seed-major (every scenario's first seed, then every second seed...), so
     "runs needed" says how much of the library a catch takes; the first failing run is run
     again with --report for the oracle that fired (the first violation's invariant, or
     "liveness" when only liveness failed);
  2. the fuzzer: `pbftsim fuzz --defect NAME` from --fuzz-seed, in chunks of --chunk seeds,
     until a chunk has a failure (the lowest failing seed is the catch: the same whatever
     --jobs) or --fuzz-runs seeds have run (300).
A run that died (an assertion, a signal) or hit a harness error is no catch: the oracles are
the detector, not the asserts. It is reported as such.

Prints a Markdown table (docs/FUZZING.md keeps the last one) and, last, "N caught, N not
caught". Exit 0 when every defect was caught by an oracle, 1 when one was not, 2 on bad
input (no pbftsim, a build without planted defects, an unknown defect).

    bench/mutation_table.py --pbftsim build-defects/pbftsim --jobs 2
    bench/mutation_table.py --defects prepare_quorum_short,commit_quorum_short --seeds 1 --fuzz-runs 0
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def planted_defects(pbftsim):
    r = run([pbftsim, "defects"])
    if r.returncode != 0:
        sys.exit(f"mutation_table: {pbftsim} defects: {r.stderr.strip() or 'exit ' + str(r.returncode)}"
                 " (build it with meson setup build-defects -Dplanted_defects=true)")
    return [line.split()[0] for line in r.stdout.splitlines() if line.strip()]


def oracle_of(report):
    """The oracle a failed run's JSON report names: its first violation's invariant, else
    liveness; None for a harness error."""
    if report.get("outcome") == "error":
        return None
    violations = report["safety"]["violations"]
    if violations:
        return violations[0]["invariant"]
    if not report["liveness"]["holds"]:
        return "liveness"
    return "expectation"  # a run expected to violate safety that did not


def library(pbftsim, defect, paths, seeds, jobs, tmp):
    """First catch in the scenario library, seed-major: dict or None, and the tallies."""
    summary = os.path.join(tmp, f"suite-{defect}.json")
    cmd = [pbftsim, "suite", *paths, "--seeds", str(seeds), "--jobs", str(jobs), "--defect", defect,
           "--report", summary, "-q"]
    r = run(cmd)
    if r.returncode == 2:
        sys.exit(f"mutation_table: {' '.join(cmd)}: {r.stderr.strip()}")
    runs = json.load(open(summary))["runs"]
    # Suite order is scenario-major; seed-major is the order that spends seeds evenly.
    first_seed = {}
    for e in runs:
        first_seed.setdefault(e["scenario_path"], e["seed"])
    order = sorted(range(len(runs)), key=lambda i: (runs[i]["seed"] - first_seed[runs[i]["scenario_path"]], i))
    fails = sum(1 for e in runs if e["outcome"] == "fail")
    errors = sum(1 for e in runs if e["outcome"] == "error")
    for position, i in enumerate(order, start=1):
        e = runs[i]
        if e["outcome"] != "fail":
            continue
        report_path = os.path.join(tmp, f"run-{defect}.json")
        run([pbftsim, "run", e["scenario_path"], "--seed", str(e["seed"]), "--defect", defect,
             "--report", report_path, "-q"])
        report = json.load(open(report_path))
        return {"where": f"{e['scenario']} seed {e['seed']}", "oracle": oracle_of(report),
                "runs": position}, fails, errors, len(runs)
    return None, fails, errors, len(runs)


FAIL_LINE = re.compile(r"^FAIL seed=(\d+) (\w+): (.*)$")


def fuzz(pbftsim, defect, first, cap, chunk, jobs, tmp):
    """First fuzz seed whose run fails, with its verdict: dict or None, and the seeds run."""
    done = 0
    while done < cap:
        count = min(chunk, cap - done)
        out_dir = os.path.join(tmp, f"fuzz-{defect}")
        r = run([pbftsim, "fuzz", "--seed", str(first + done), "--runs", str(count), "--jobs", str(jobs),
                 "--defect", defect, "--out", out_dir, "-q"])
        if r.returncode == 2:
            sys.exit(f"mutation_table: fuzz --defect {defect}: {r.stderr.strip()}")
        failures = []
        for line in r.stdout.splitlines():
            m = FAIL_LINE.match(line)
            if m:
                failures.append((int(m.group(1)), m.group(2), m.group(3)))
        if failures:
            seed, kind, detail = min(failures)
            # safety: "invariant: detail"; liveness: the liveness detail; the rest are no oracle.
            oracle = {"safety": detail.split(":")[0].strip(), "liveness": "liveness"}.get(kind)
            return {"where": f"fuzz seed {seed}", "oracle": oracle, "verdict": kind,
                    "runs": seed - first + 1}, seed - first + 1
        done += count
    return None, done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pbftsim", default="build-defects/pbftsim", help="a pbftsim built with -Dplanted_defects=true")
    ap.add_argument("--defects", default="", help="comma-separated names (default: every one `pbftsim defects` lists)")
    ap.add_argument("--library", default="scenarios", help="scenario files or directories for suite (default scenarios)")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per library scenario (default 5)")
    ap.add_argument("--fuzz-seed", type=int, default=1, help="first fuzz seed (default 1)")
    ap.add_argument("--fuzz-runs", type=int, default=300, help="fuzz seeds at most (default 300; 0: no fuzzing)")
    ap.add_argument("--chunk", type=int, default=10, help="fuzz seeds per pbftsim fuzz call (default 10)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (default 2)")
    args = ap.parse_args()
    if not os.access(args.pbftsim, os.X_OK):
        sys.exit(f"mutation_table: {args.pbftsim}: not an executable (build it: meson setup build-defects "
                 "-Dplanted_defects=true && ninja -C build-defects pbftsim)")
    known = planted_defects(args.pbftsim)
    chosen = [d for d in args.defects.split(",") if d] or known
    unknown = [d for d in chosen if d not in known]
    if unknown:
        sys.exit(f"mutation_table: unknown defects: {', '.join(unknown)} (pbftsim defects lists them)")
    paths = args.library.split(",")

    print(f"Library: {', '.join(paths)}, {args.seeds} seeds per scenario; fuzz: seeds {args.fuzz_seed}.."
          f"{args.fuzz_seed + args.fuzz_runs - 1} until the first failure.\n")
    print("| defect | caught first by | oracle | runs needed | library runs failed | fuzz: first failing seed (oracle) |")
    print("|---|---|---|---|---|---|")
    caught = 0
    with tempfile.TemporaryDirectory() as tmp:
        for defect in chosen:
            lib, fails, errors, total = library(args.pbftsim, defect, paths, args.seeds, args.jobs, tmp)
            fz, fuzz_runs = fuzz(args.pbftsim, defect, args.fuzz_seed, args.fuzz_runs, args.chunk, args.jobs, tmp) \
                if args.fuzz_runs > 0 else (None, 0)
            lib_ok = lib is not None and lib["oracle"] is not None
            fz_ok = fz is not None and fz["oracle"] is not None
            if lib_ok:
                first = (f"library: {lib['where']}", lib["oracle"], f"{lib['runs']} of {total}")
            elif fz_ok:
                first = (fz["where"], fz["oracle"], f"{total} library + {fz['runs']} fuzz")
            else:
                first = ("**not caught**", "-", f"{total} library + {fuzz_runs} fuzz")
            caught += lib_ok or fz_ok
            lib_col = f"{fails} of {total}" + (f" ({errors} died)" if errors else "")
            if args.fuzz_runs == 0:
                fz_col = "not run"
            elif fz is None:
                fz_col = f"none in {fuzz_runs}"
            else:
                fz_col = f"{fz['where'].split()[-1]} ({fz['oracle'] or fz['verdict'] + ': no oracle'})"
            print(f"| `{defect}` | {first[0]} | {first[1]} | {first[2]} | {lib_col} | {fz_col} |", flush=True)
    print(f"\n{caught} caught, {len(chosen) - caught} not caught")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
