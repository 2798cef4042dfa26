#!/usr/bin/env bash
# The layers only point down: sim <- protocol <- faults <- oracles <- host <- harness <- reports <- cli
# (docs/DESIGN.md, "Layers"). Every #include "dir/..." in a layer's folder names its own layer
# or one below it, and each layer's meson library lists no dependency above it. Prints one
# line per case and "N passed, N failed" last.
set -u
. "$(dirname "$0")/common.bash"
layers=(sim protocol faults oracles host harness reports cli)
rank() { local i; for i in "${!layers[@]}"; do [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }

for i in "${!layers[@]}"; do
  dir=${layers[$i]} up=""
  for f in "$dir"/*.h "$dir"/*.cpp; do
    [ -e "$f" ] || continue
    while read -r target; do
      r=$(rank "$target")
      [ "$r" -gt "$i" ] && up="$up $f->$target"
    done < <(sed -nE 's|^#include "([a-z_]+)/.*|\1|p' "$f")
  done
  [ -z "$up" ] && ok "layers: $dir includes nothing above it" || ko "layers: $dir includes from above:$up"
  if [ -f "$dir/meson.build" ]; then
    deps_up=""
    for above in "${layers[@]:$((i + 1))}"; do
      # The library's own dependencies: the static_library(...) call, up to its closing line.
      sed -n "/^${dir}_lib = static_library/,/)\$/p" "$dir/meson.build" | grep -q "\b${above}_dep\b" && deps_up="$deps_up $above"
    done
    [ -z "$deps_up" ] && ok "layers: $dir's meson library depends on nothing above it" \
      || ko "layers: $dir's meson library depends on:$deps_up"
  fi
done

# The check itself can fail: an include pointing up is found.
mkdir -p "$tmp/sim"
printf '#include "harness/world.h"\n' > "$tmp/sim/x.h"
found=$(sed -nE 's|^#include "([a-z_]+)/.*|\1|p' "$tmp/sim/x.h")
[ "$(rank "$found")" -gt "$(rank sim)" ] && ok "layers: an upward include is seen as one" || ko "layers: an upward include is seen as one"

finish
