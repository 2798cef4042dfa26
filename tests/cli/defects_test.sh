#!/usr/bin/env bash
# `--defect NAME` and `pbftsim defects` on both kinds of build (PBFTSIM_PLANTED_DEFECTS says
# which one PBFTSIM is, as meson configured it):
#   release ("false"): both are refused with exit 2 and say why, and the binary holds no
#     defect at all (not even a name);
#   defects ("true", -Dplanted_defects=true): the list, the refusals of unknown names, the
#     replay lines that carry --defect, and a fast part of the mutation table
#     (bench/mutation_table.py): defects an oracle is known to catch at seed 1 of a
#     library scenario, each caught by that oracle.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"
planted=${PBFTSIM_PLANTED_DEFECTS:-false}
scenario=scenarios/normal-n4.json

if [ "$planted" != "true" ]; then
  expect_exit "release: pbftsim defects exits 2" 2 "$bin" defects
  grep -q "this build has no planted defects" "$tmp/err" && ok "release: pbftsim defects says the build has none" \
    || ko "release: pbftsim defects says the build has none: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] && ok "release: pbftsim defects lists nothing" || ko "release: pbftsim defects lists nothing"
  expect_exit "release: run --defect exits 2" 2 "$bin" run "$scenario" --defect prepare_quorum_short
  grep -q -- "--defect: this build has no planted defects" "$tmp/err" && ok "release: run --defect says why" \
    || ko "release: run --defect says why: $(cat "$tmp/err")"
  expect_exit "release: suite --defect exits 2" 2 "$bin" suite "$scenario" --defect prepare_quorum_short -q
  expect_exit "release: explore --defect exits 2" 2 "$bin" explore "$scenario" --byzantine 0 --seeds 1 --defect prepare_quorum_short -q
  expect_exit "release: fuzz --defect exits 2" 2 "$bin" fuzz --seed 1 --runs 1 --out "$tmp/fz" --defect prepare_quorum_short -q
  [ ! -e "$tmp/fz" ] && ok "release: fuzz --defect runs nothing" || ko "release: fuzz --defect runs nothing"
  # The defect names live only in the table a defects build compiles: none may be in here.
  for name in prepare_quorum_short votes_ignore_digest recover_active replay_before_new_view decision_skips_a2; do
    ! grep -q -a "$name" "$bin" && ok "release: the binary has no defect $name" || ko "release: the binary has no defect $name"
  done
  expect_exit "release: a run without --defect still passes" 0 "$bin" run "$scenario" -q
  finish
  exit
fi

# ---- a defects build ----
expect_exit "defects: pbftsim defects exits 0" 0 "$bin" defects
count=$(grep -c . "$tmp/out")
[ "$count" -ge 15 ] && ok "defects: at least 15 defects listed ($count)" || ko "defects: at least 15 defects listed ($count)"
bad=$(grep -v -E '^[a-z0-9_]+  +[^ ].*$' "$tmp/out")
[ -z "$bad" ] && ok "defects: each line is 'name  description'" || ko "defects: each line is 'name  description': $bad"
dups=$(cut -d' ' -f1 "$tmp/out" | sort | uniq -d)
[ -z "$dups" ] && ok "defects: names are unique" || ko "defects: names are unique: $dups"
for name in votes_ignore_digest recover_active replay_before_new_view; do
  grep -q "^$name " "$tmp/out" && ok "defects: $name is one of them" || ko "defects: $name is one of them"
done

for cmd in "run $scenario" "suite $scenario -q" "explore $scenario --byzantine 0 --seeds 1 -q" "fuzz --seed 1 --runs 1 --out $tmp/fz -q"; do
  # shellcheck disable=SC2086
  expect_exit "defects: ${cmd%% *} --defect with an unknown name exits 2" 2 "$bin" $cmd --defect no_such_defect
  grep -q 'no planted defect is called "no_such_defect"' "$tmp/err" && ok "defects: ${cmd%% *} names the unknown defect" \
    || ko "defects: ${cmd%% *} names the unknown defect: $(cat "$tmp/err")"
done

expect_exit "defects: a run without --defect passes" 0 "$bin" run "$scenario" -q
expect_exit "defects: the same run with a defect fails" 1 "$bin" run "$scenario" --defect commit_quorum_short --report "$tmp/r.json"
grep -q "replay: pbftsim run $scenario --seed 1 --defect commit_quorum_short" "$tmp/out" \
  && ok "defects: run's replay line carries --defect" || ko "defects: run's replay line carries --defect"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(r["safety"]["violations"][0]["invariant"] != "certificate")' "$tmp/r.json" \
  && ok "defects: the report names the oracle (certificate)" || ko "defects: the report names the oracle (certificate)"
expect_exit "defects: suite with a defect exits 1" 1 "$bin" suite "$scenario" --defect commit_quorum_short -q
grep -q -- "--seed 1 --defect commit_quorum_short" "$tmp/out" && ok "defects: suite's replay line carries --defect" \
  || ko "defects: suite's replay line carries --defect"
expect_exit "defects: explore with a defect exits 1" 1 "$bin" explore "$scenario" --byzantine 0 --seeds 1 --defect commit_quorum_short -q
grep -q -- "--behaviour [a-z_]* --seed 1 --defect commit_quorum_short" "$tmp/out" && ok "defects: explore's replay line carries --defect" \
  || ko "defects: explore's replay line carries --defect: $(grep replay "$tmp/out" | head -1)"
expect_exit "defects: fuzz with a defect exits 1" 1 "$bin" fuzz --seed 1 --runs 1 --out "$tmp/fz" --defect prepare_quorum_short -q
grep -q "repeat: pbftsim fuzz --seed 1 --runs 1 --out $tmp/fz --defect prepare_quorum_short" "$tmp/out" \
  && ok "defects: fuzz's repeat line carries --defect" || ko "defects: fuzz's repeat line carries --defect"
grep -q "replay:   pbftsim run $tmp/fz/fuzz-1.json --seed 1 --defect prepare_quorum_short" "$tmp/out" \
  && ok "defects: fuzz's replay line carries --defect" || ko "defects: fuzz's replay line carries --defect"
# The failure's Perfetto trace and HTML page are written beside its scenario (the run
# replayed with its trace, the defect planted again), and the output names them.
grep -q "perfetto: $tmp/fz/fuzz-1.perfetto.json" "$tmp/out" && [ -s "$tmp/fz/fuzz-1.perfetto.json" ] \
  && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if any(e['name'].startswith('violation: ') for e in d['traceEvents']) else 1)" "$tmp/fz/fuzz-1.perfetto.json" \
  && ok "defects: fuzz writes the failure's Perfetto trace, with its violation" || ko "defects: fuzz writes the failure's Perfetto trace"
grep -q "html:     $tmp/fz/fuzz-1.html" "$tmp/out" && grep -q "violation" "$tmp/fz/fuzz-1.html" \
  && ok "defects: fuzz writes the failure's HTML page" || ko "defects: fuzz writes the failure's HTML page"

# The fast part of the mutation table: one seed of the scenarios that catch these defects
# first (docs/FUZZING.md has the whole table), and one fuzz seed: about 80 short runs.
python3 bench/mutation_table.py --pbftsim "$bin" --seeds 1 --fuzz-runs 1 --chunk 1 --jobs 1 \
  --defects prepare_quorum_short,commit_quorum_short,votes_ignore_digest,bad_mac_accepted,recover_active,reexecute_retransmission,assign_beyond_window,new_view_unchecked,replay_before_new_view \
  --library scenarios/normal-n4.json,scenarios/equivocating-primary.json,scenarios/forge.json,scenarios/crash-restart-primary.json,scenarios/silent-primary-lossy.json,scenarios/full-window.json,scenarios/bad-new-view-laggard.json,scenarios/early-pre-prepare.json \
  >"$tmp/table" 2>&1
status=$?
[ "$status" -eq 0 ] && ok "mutation table (fast part): exit 0" || ko "mutation table (fast part): exit $status: $(tail -3 "$tmp/table")"
grep -q "^9 caught, 0 not caught$" "$tmp/table" && ok "mutation table (fast part): every defect caught" \
  || ko "mutation table (fast part): every defect caught: $(tail -1 "$tmp/table")"
for row in prepare_quorum_short:certificate commit_quorum_short:certificate votes_ignore_digest:certificate \
           bad_mac_accepted:certificate recover_active:amnesia reexecute_retransmission:integrity \
           assign_beyond_window:liveness new_view_unchecked:agreement replay_before_new_view:double_vote; do
  name=${row%%:*} oracle=${row##*:}
  grep -q "^| \`$name\` | library: [^|]* | $oracle |" "$tmp/table" && ok "mutation table: $name caught by $oracle" \
    || ko "mutation table: $name caught by $oracle: $(grep "\`$name\`" "$tmp/table")"
done

finish
