#!/usr/bin/env python3
"""Goodput under message loss, through the command line (a benchmark, not a test).

For n = 4 and 7, all replicas correct and with f silent replicas (the first f, so the
primaries of views 0 .. f-1 are among them), and loss 0, 5, 10, 20 and 30 %: runs the same
workload for several seeds with `pbftsim run --report` and prints, per cell, the median over
seeds of the completed requests per virtual second and of the view changes per 1000
requests, next to the loss-free figure of the same row.

    python3 bench/goodput.py [--pbftsim build/pbftsim] [--seeds 5] [--requests 25]

Everything it reports is virtual time, so the figures do not depend on the machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

LOSSES = [0.0, 0.05, 0.10, 0.20, 0.30]


def scenario(n, silent, loss, clients, requests):
    faults = []
    if silent:
        faults.append({"kind": "silence", "replicas": list(range(silent)), "from_ms": 50})
    return {
        "name": f"goodput-n{n}-silent{silent}-loss{int(loss * 100)}",
        "cluster": {"n": n, "view_change_timeout_ms": 400 if n == 4 else 500},
        "network": {"latency_ms": {"dist": "uniform", "min": 3, "max": 12}, "drop": loss},
        "workload": {"clients": clients, "requests_per_client": requests},
        "faults": faults,
        "duration_ms": 600000,
        "liveness_bound_ms": 600000,
    }


def run(pbftsim, path, seed, report):
    subprocess.run([pbftsim, "run", path, "--seed", str(seed), "--report", report, "--quiet"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    with open(report) as f:
        r = json.load(f)
    completed = r["liveness"]["completed"]
    seconds = r["stats"]["virtual_time_ns"] / 1e9
    return completed / seconds if seconds > 0 else 0.0, 1000.0 * r["stats"]["view_changes"] / max(1, completed), \
        completed == r["liveness"]["submitted"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pbftsim", default="build/pbftsim")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--requests", type=int, default=25)
    args = ap.parse_args()
    if not os.access(args.pbftsim, os.X_OK):
        sys.exit(f"goodput.py: {args.pbftsim} is not an executable (build it first)")
    print(f"{'n':>3} {'silent':>6} {'loss':>5} {'req/s':>8} {'vs 0%':>6} {'VC/1000 req':>11} {'all done':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (4, 7):
            f = (n - 1) // 3
            for silent in (0, f):
                base = None
                for loss in LOSSES:
                    path = os.path.join(tmp, "s.json")
                    with open(path, "w") as out:
                        json.dump(scenario(n, silent, loss, args.clients, args.requests), out)
                    rates, vcs, done = [], [], 0
                    for seed in range(1, args.seeds + 1):
                        rate, vc, all_done = run(args.pbftsim, path, seed, os.path.join(tmp, "r.json"))
                        rates.append(rate)
                        vcs.append(vc)
                        done += all_done
                    rate = statistics.median(rates)
                    base = rate if base is None else base
                    print(f"{n:>3} {silent:>6} {int(loss * 100):>4}% {rate:>8.1f} {rate / base if base else 0:>6.2f} "
                          f"{statistics.median(vcs):>11.1f} {done:>4}/{args.seeds}")


if __name__ == "__main__":
    main()
