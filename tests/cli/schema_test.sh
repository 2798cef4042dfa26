#!/usr/bin/env bash
# schema/scenario.schema.json and `pbftsim validate` agree (and the reports follow
# schema/report.schema.json, at the end): the schema accepts every bundled
# scenario and refuses every bad one in tests/data/bad_scenarios except those that break a
# rule across fields (listed below: only pbftsim can refuse them, and it does); and for every
# object and every fault kind, the schema names exactly the fields pbftsim accepts (pbftsim
# lists them when it meets an unknown field). Prints one line per case and "N passed, N
# failed" last.
set -u
. "$(dirname "$0")/common.bash"
schema=schema/scenario.schema.json
if ! python3 -c 'import jsonschema' 2>/dev/null; then
  ko "python3-jsonschema is installed (bash scripts/setup-debian.sh installs it)"
  finish; exit
fi

# The bad scenarios whose fault is a rule across fields (or a key written twice, which a JSON
# parser that keeps the last value cannot see): the schema accepts them, pbftsim must not.
cross_field="censor_client_out_of_range colluder_out_of_range duplicate_key latency_min_above_max
log_window_not_multiple n_lt_3f_plus_1 one_way_to_out_of_range overlapping_partition overlapping_split
replica_id_out_of_range restart_before_crash until_before_from"

python3 - "$schema" "$cross_field" >"$tmp/verdicts" <<'PY'
import glob, json, os, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
cross = set(sys.argv[2].split())
try:
    jsonschema.Draft202012Validator.check_schema(schema)
    print("ok   schema: a valid JSON Schema 2020-12")
except jsonschema.SchemaError as e:
    print(f"FAIL schema: a valid JSON Schema 2020-12: {e.message}")
v = jsonschema.Draft202012Validator(schema)
for f in sorted(glob.glob("scenarios/*.json") + glob.glob("tests/data/fuzz_regressions/*.json")):
    errors = sorted(v.iter_errors(json.load(open(f))), key=lambda e: list(e.path))
    print(f"ok   schema accepts {f}" if not errors else
          f"FAIL schema accepts {f}: /{'/'.join(map(str, errors[0].path))}: {errors[0].message[:120]}")
for f in sorted(glob.glob("tests/data/bad_scenarios/*.json")):
    name = os.path.basename(f)[:-5]
    try:
        doc = json.load(open(f))
    except ValueError:
        print(f"ok   schema: {name} is not JSON at all")
        continue
    refused = any(True for _ in v.iter_errors(doc))
    if name in cross:
        print(f"ok   schema accepts {name} (a rule across fields: pbftsim's)" if not refused else
              f"FAIL {name} is listed as a rule across fields, but the schema refuses it: move it out of the list")
    else:
        print(f"ok   schema refuses {name}" if refused else f"FAIL schema refuses {name}")
PY
while IFS= read -r line; do
  case "$line" in ok*) ok "${line#ok   }" ;; *) ko "${line#FAIL }" ;; esac
done <"$tmp/verdicts"

for name in $cross_field; do
  expect_exit "pbftsim validate refuses $name" 2 "$bin" validate "tests/data/bad_scenarios/$name.json"
done

# The fields pbftsim accepts where, as it lists them for an unknown field, against the
# schema's properties at the same place.
accepted() {  # accepted JSON -> the accepted field names, sorted, one line
  printf '%s' "$1" >"$tmp/s.json"
  "$bin" validate "$tmp/s.json" 2>&1 >/dev/null | sed -nE 's/.*expected one of: (.*)$/\1/p' | tr ',' '\n' | tr -d ' ' | sort | tr '\n' ' '
}
in_schema() {  # in_schema PYTHON-EXPR-OVER-s -> the property names, sorted, one line
  python3 - "$schema" "$1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = s["$defs"]
kind = lambda k: next(o for o in d["fault"]["oneOf"] if o["properties"]["kind"]["const"] == k)
dist = lambda k: next(o for o in d["latency"]["oneOf"] if o["properties"]["dist"]["const"] == k)
print(" ".join(sorted(eval(sys.argv[2])["properties"])) + " ")
PY
}
same_fields() {  # same_fields WHERE JSON SCHEMA-EXPR
  local got want
  got=$(accepted "$2"); want=$(in_schema "$3")
  if [ -n "$got" ] && [ "$got" = "$want" ]; then ok "fields of $1: pbftsim and the schema agree"
  else ko "fields of $1: pbftsim accepts [$got], the schema names [$want]"; fi
}
same_fields "the top level" '{"name":"x","cluster":{"n":4},"zz":1}' 's'
same_fields "cluster" '{"name":"x","cluster":{"n":4,"zz":1}}' 's["properties"]["cluster"]'
same_fields "network" '{"name":"x","cluster":{"n":4},"network":{"zz":1}}' 's["properties"]["network"]'
same_fields "workload" '{"name":"x","cluster":{"n":4},"workload":{"zz":1}}' 's["properties"]["workload"]'
same_fields "expect" '{"name":"x","cluster":{"n":4},"expect":{"zz":1}}' 's["properties"]["expect"]'
for dist in constant uniform exponential lognormal; do
  same_fields "latency $dist" "{\"name\":\"x\",\"cluster\":{\"n\":4},\"network\":{\"latency_ms\":{\"dist\":\"$dist\",\"zz\":1}}}" "dist('$dist')"
done

# Every fault kind pbftsim knows is in the schema, with the same fields.
kinds=$(printf '{"name":"x","cluster":{"n":4},"faults":[{"kind":"zz","replicas":[0]}]}' >"$tmp/k.json";
        "$bin" validate "$tmp/k.json" 2>&1 | sed -nE 's/.*expected one of: (.*)$/\1/p' | tr ',' ' ')
schema_kinds=$(python3 -c 'import json,sys; print(" ".join(sorted(o["properties"]["kind"]["const"] for o in json.load(open(sys.argv[1]))["$defs"]["fault"]["oneOf"])))' "$schema")
[ -n "$kinds" ] && [ "$(echo $kinds | tr ' ' '\n' | sort | tr '\n' ' ')" = "$schema_kinds " ] \
  && ok "fault kinds: pbftsim and the schema agree ($(echo $kinds | wc -w))" \
  || ko "fault kinds: pbftsim [$kinds], the schema [$schema_kinds]"
for k in $kinds; do
  same_fields "a $k fault" "{\"name\":\"x\",\"cluster\":{\"n\":4},\"faults\":[{\"kind\":\"$k\",\"zz\":1}]}" "kind('$k')"
done

# The comparison can fail: a field the schema does not name is seen.
[ "$(in_schema 's["properties"]["expect"]')" != "safety " ] && ok "fields: a difference is seen as one" \
  || ko "fields: a difference is seen as one"

# schema/report.schema.json: the reports pbftsim writes follow it (a run that passes, one
# whose safety is violated beyond f, a suite's), and a report that breaks it is refused.
report_schema=schema/report.schema.json
"$bin" run scenarios/normal-n4.json --report "$tmp/pass.json" >/dev/null 2>&1
"$bin" run scenarios/colluding-equivocation-f-plus-1.json --report "$tmp/violated.json" >/dev/null 2>&1
"$bin" suite scenarios/normal-n4.json scenarios/bad-reply-f-plus-1.json --seeds 2 --report "$tmp/suite.json" >/dev/null 2>&1
python3 - "$report_schema" "$tmp" >"$tmp/report_verdicts" <<'PY'
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
def verdict(name, doc, want_valid):
    errors = list(v.iter_errors(doc))
    good = (not errors) == want_valid
    why = "" if good or not errors else f": {errors[0].message[:120]}"
    print(("ok   " if good else "FAIL ") + name + why)
docs = {}
for name in ["pass", "violated", "suite"]:
    try:
        docs[name] = json.load(open(f"{sys.argv[2]}/{name}.json"))
    except (OSError, ValueError) as e:
        print(f"FAIL report schema: pbftsim wrote {name}.json: {e}")
for name, doc in docs.items():
    verdict(f"report schema accepts the {name} report", doc, True)
if "violated" in docs:
    d = docs["violated"]
    print("ok   the violated report has violations" if d["safety"]["violations"] else "FAIL the violated report has violations")
    bad = json.loads(json.dumps(d)); bad["outcome"] = "maybe"
    verdict("report schema refuses an unknown outcome", bad, False)
    bad = json.loads(json.dumps(d)); bad["safety"]["violations"][0]["invariant"] = "made_up"
    verdict("report schema refuses an unknown invariant", bad, False)
    bad = json.loads(json.dumps(d)); del bad["stats"]
    verdict("report schema refuses a report without stats", bad, False)
PY
while IFS= read -r line; do
  case "$line" in ok*) ok "${line#ok   }" ;; *) ko "${line#FAIL }" ;; esac
done <"$tmp/report_verdicts"

finish
