#!/usr/bin/env bash
# System packages the test suite needs beyond the Python venv (idempotent; installs only what is missing).
# - chromium: the browser test drives Debian's chromium (Playwright cannot download its own browser here);
# - postgresql: the storage, RLS and scheduler tests start a throwaway PostgreSQL cluster (tests/support/pg.py).
set -euo pipefail

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "system-deps.sh: need root to install ${missing[*]} with apt-get" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
