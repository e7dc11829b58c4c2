#!/usr/bin/env bash
# Set up on first use, then serve stvos on the embedded SQLite database (./data) with the demo
# client ready: its API key is printed before the server starts. Extra arguments go to
# `stvos serve` (e.g. ./run.sh --port 9000 --workers 2).
set -euo pipefail
cd "$(dirname "$0")"
. tools/venv.sh
ensure_venv ""
.venv/bin/stvos demo
exec .venv/bin/stvos serve "$@"
