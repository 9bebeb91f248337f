#!/usr/bin/env bash
# Installs the test services' tools into a cache outside the repository (kept between CI
# runs on the same machine), only when they are missing. Prints nothing on a warm cache.
#   ARGUS_TOOLS  cache directory (default: ~/.cache/argus-tools)
set -euo pipefail
tools="${ARGUS_TOOLS:-$HOME/.cache/argus-tools}"
mkdir -p "$tools"

# moto: an S3-compatible server (PyPI), in its own virtualenv.
if [ ! -x "$tools/moto/bin/moto_server" ]; then
  echo "installing moto into $tools/moto" >&2
  python3 -m venv "$tools/moto"
  "$tools/moto/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.*'
fi
echo "$tools"
