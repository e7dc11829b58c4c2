# Shared by run.sh and test.sh: make sure .venv exists with this checkout installed.
# Usage: ensure_venv [extra]   (extra: "" for the server, "dev" for tests and tools)
ensure_venv() {
  local extra="${1:-}"
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "stvos needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2
    return 1
  fi
  if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  # Reinstall when the project's dependencies change (or a dev install is first needed).
  local stamp=".venv/.stvos-installed${extra:+-$extra}"
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing stvos${extra:+[$extra]} into .venv ..." >&2
    .venv/bin/python -m pip install --quiet -e ".${extra:+[$extra]}"
    echo "$want" > "$stamp"
  fi
}
