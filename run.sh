#!/usr/bin/env bash
# Set up on first use, then serve stvos on the embedded SQLite database (./data) with the demo
# client ready: its API key is printed before the server starts. Extra arguments go to
# `stvos serve` (e.g. ./run.sh --port 9000 --workers 2).
set -euo pipefail
cd "$(dirname "$0")"
. tools/venv.sh
ensure_venv ""
# The demo's "Try: curl ..." line names the address the server will listen on.
args=("$@")
for i in "${!args[@]}"; do
  case "${args[$i]}" in
    --port=*) export STVOS_SERVER_PORT="${args[$i]#--port=}" ;;
    --port) export STVOS_SERVER_PORT="${args[$((i + 1))]:-}" ;;
    --host=*) export STVOS_SERVER_HOST="${args[$i]#--host=}" ;;
    --host) export STVOS_SERVER_HOST="${args[$((i + 1))]:-}" ;;
  esac
done
.venv/bin/stvos demo
exec .venv/bin/stvos serve "$@"
