#!/usr/bin/env bash
# Installs what is missing, builds pbftsim and runs the main job on a bundled scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec build/pbftsim run scenarios/normal-n4.json "$@"
