#!/usr/bin/env bash
# Installs the Debian 12 packages pbftsim needs, only those that are missing.
# Idempotent: a second run finds nothing missing and does nothing. Must run as root when
# something is missing.
#
#   bash scripts/setup-debian.sh            build dependencies
#   bash scripts/setup-debian.sh --browser  also Chromium, for the HTML check in the tests
#   bash scripts/setup-debian.sh --fuzz     also clang 14 and its sanitizer and libFuzzer
#                                           runtimes, for the libFuzzer targets (fuzz/)
set -euo pipefail
packages=(meson ninja-build g++ pkg-config libboost-dev nlohmann-json3-dev libcli11-dev
          doctest-dev libssl-dev python3 python3-jsonschema)
for arg in "$@"; do
  case "$arg" in
    --browser) packages+=(chromium) ;;
    # libclang-rt-14-dev holds the runtimes -fsanitize=fuzzer,address,undefined link (it is
    # only a recommendation of clang-14, which --no-install-recommends skips).
    --fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
    *) echo "setup-debian.sh: unknown option $arg (expected --browser or --fuzz)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-debian.sh: missing packages (${missing[*]}); run as root to install them" >&2
  exit 2
fi
echo "setup-debian.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y --no-install-recommends "${missing[@]}"
