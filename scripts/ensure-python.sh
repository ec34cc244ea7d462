#!/usr/bin/env bash
# Make sure the interpreter can create virtual environments (Debian splits venv out).
set -euo pipefail
py="${1:-python3}"
if ! command -v "$py" >/dev/null; then
  echo "need $py (3.11 or newer)"; exit 1
fi
"$py" - <<'PY' || { echo "SafeZone needs Python 3.11 or newer"; exit 1; }
import sys
raise SystemExit(0 if sys.version_info >= (3, 11) else 1)
PY
if ! "$py" -c "import ensurepip, venv" 2>/dev/null; then
  echo "installing python3-venv with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi
