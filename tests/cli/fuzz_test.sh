#!/usr/bin/env bash
# `pbftsim fuzz` command-line contract: exit codes, what a failure leaves behind, replay.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"

expect_exit "fuzz: a few passing runs exit 0" 0 "$bin" fuzz --seed 1 --runs 4 --out "$tmp/ok" -q
grep -q "^4 runs: 4 passed, 0 failed" "$tmp/out" && ok "fuzz: summary line" || ko "fuzz: summary line: $(tail -1 "$tmp/out")"
grep -q "repeat: pbftsim fuzz --seed 1 --runs 4" "$tmp/out" && ok "fuzz: prints how to repeat the session" || ko "fuzz: prints how to repeat the session"
[ -z "$(ls -A "$tmp/ok")" ] && ok "fuzz: no files when nothing failed" || ko "fuzz: no files when nothing failed"

# Same seeds, same verdicts and fingerprints, whatever --jobs.
"$bin" fuzz --seed 5 --runs 6 --out "$tmp/j1" -v --jobs 1 | grep -E "^(pass|safety|liveness|error|crash)" | sort >"$tmp/j1.txt"
"$bin" fuzz --seed 5 --runs 6 --out "$tmp/j2" -v --jobs 2 | grep -E "^(pass|safety|liveness|error|crash)" | sort >"$tmp/j2.txt"
[ -s "$tmp/j1.txt" ] && cmp -s "$tmp/j1.txt" "$tmp/j2.txt" && ok "fuzz: --jobs does not change any run" || ko "fuzz: --jobs does not change any run"

# A run that cannot finish in time is a failure: exit 1, the scenario saved as JSON that
# `pbftsim validate` accepts and `pbftsim run` replays with the seed printed.
expect_exit "fuzz: a failing run exits 1" 1 "$bin" fuzz --seed 3 --runs 1 --out "$tmp/bad" --run-timeout 0.000001 -q
grep -q "^FAIL seed=3 timeout" "$tmp/out" && ok "fuzz: the failure names its seed and kind" || ko "fuzz: the failure names its seed and kind"
[ -f "$tmp/bad/fuzz-3.json" ] && ok "fuzz: the failing scenario is saved" || ko "fuzz: the failing scenario is saved"
expect_exit "fuzz: the saved scenario validates" 0 "$bin" validate "$tmp/bad/fuzz-3.json"
"$bin" fuzz --seed 3 --runs 1 --out "$tmp/bad2" --run-timeout 0.000001 -q >"$tmp/bad.out" 2>&1
grep -q "replay:   pbftsim run .*fuzz-3.json --seed 3" "$tmp/bad.out" && ok "fuzz: prints the replay command" || ko "fuzz: prints the replay command"
"$bin" run "$tmp/bad/fuzz-3.json" --seed 3 -q >"$tmp/replay1" 2>&1
"$bin" run "$tmp/bad/fuzz-3.json" -q >"$tmp/replay2" 2>&1
grep -q "seed=3 " "$tmp/replay1" && cmp -s "$tmp/replay1" "$tmp/replay2" && ok "fuzz: the saved scenario carries its seed" || ko "fuzz: the saved scenario carries its seed"

expect_exit "fuzz: bad option exits 2" 2 "$bin" fuzz --runs 0
expect_exit "fuzz: unknown option exits 2" 2 "$bin" fuzz --frobnicate
expect_exit "fuzz: unusable output directory exits 2" 2 "$bin" fuzz --seed 1 --runs 1 --out /dev/null/x -q

finish
