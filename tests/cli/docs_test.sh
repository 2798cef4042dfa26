#!/usr/bin/env bash
# docs/scenario-format.md and harness/scenario.cpp agree: every field the validator accepts
# (it lists them when it meets an unknown one) and every fault kind is documented, and every
# JSON example in the document is a valid scenario that passes. The README's links resolve.
# Prints one line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"
doc=docs/scenario-format.md

# The fields the validator accepts where, as it lists them for an unknown field.
accepted() {  # accepted JSON -> the accepted field names, one per line
  printf '%s' "$1" > "$tmp/s.json"
  "$bin" validate "$tmp/s.json" 2>&1 >/dev/null | sed -nE 's/.*expected one of: (.*)$/\1/p' | tr ',' '\n' | tr -d ' '
}
check_documented() {  # check_documented WHERE JSON
  local fields missing=""
  fields=$(accepted "$2")
  if [ -z "$fields" ]; then ko "$1: the validator lists its fields"; return; fi
  for f in $fields; do grep -q "\`$f\`" "$doc" || missing="$missing $f"; done
  [ -z "$missing" ] && ok "$1: every accepted field is documented ($(echo $fields | wc -w))" || ko "$1: undocumented:$missing"
}
check_documented "top level" '{"name":"x","cluster":{"n":4},"zz":1}'
check_documented "cluster" '{"name":"x","cluster":{"n":4,"zz":1}}'
check_documented "network" '{"name":"x","cluster":{"n":4},"network":{"zz":1}}'
check_documented "workload" '{"name":"x","cluster":{"n":4},"workload":{"zz":1}}'
check_documented "expect" '{"name":"x","cluster":{"n":4},"expect":{"zz":1}}'
kinds=$(accepted '{"name":"x","cluster":{"n":4},"faults":[{"kind":"zz","replicas":[0]}]}')
[ "$(echo $kinds | wc -w)" -ge 12 ] && ok "the validator lists the fault kinds" || ko "fault kinds listed: $kinds"
for k in $kinds; do
  grep -q "^| \`$k\` |" "$doc" && ok "fault kind $k has a row in the table" || ko "fault kind $k is documented"
  check_documented "fault $k" "{\"name\":\"x\",\"cluster\":{\"n\":4},\"faults\":[{\"kind\":\"$k\",\"replicas\":[0],\"zz\":1}]}"
done
for d in constant uniform exponential lognormal; do
  grep -q "^| \`\"$d\"\` |" "$doc" && ok "distribution $d is documented" || ko "distribution $d is documented"
done

# Every example in the document runs and passes.
python3 - "$doc" "$tmp" <<'PY'
import re, sys
blocks = re.findall(r"```json\n(.*?)```", open(sys.argv[1]).read(), re.S)
for i, b in enumerate(blocks):
    open(f"{sys.argv[2]}/example{i}.json", "w").write(b)

PY
n_examples=$(ls "$tmp"/example*.json 2>/dev/null | wc -l)
[ "$n_examples" -ge 3 ] && ok "the document has examples ($n_examples)" || ko "the document has examples"
for e in "$tmp"/example*.json; do
  "$bin" run "$e" -q >/dev/null 2>"$tmp/err" && ok "example $(basename "$e") runs and passes" || ko "example $(basename "$e"): $(cat "$tmp/err")"
done

# The README's set-up commands come first, and its links point at files that exist.
first_cmds=$(grep -E '^    bash ' README.md | head -2 | tr -d ' ')
[ "$first_cmds" = "$(printf 'bashscripts/demo.sh\nbashscripts/test.sh')" ] && ok "README: the two set-up commands come first" || ko "README set-up commands: $first_cmds"
for link in $(grep -oE '`(docs/[A-Za-z_.-]+\.md)`' README.md docs/*.md | sed -E 's/.*`(docs\/[^`]+)`.*/\1/' | sort -u); do
  [ -f "$link" ] && ok "README/docs link $link exists" || ko "README/docs link $link exists"
done

finish
