#!/usr/bin/env bash
# The PostgreSQL run needs the local server (127.0.0.1:5432, trust auth, database `test`).
# Start it when it is installed but stopped; fail clearly when it is absent.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! ready; then
  if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do ready && break; sleep 1; done
  fi
fi
ready || { echo "PostgreSQL is not reachable on 127.0.0.1:5432 (set SAFEZONE_TEST_PG_URL)"; exit 1; }
