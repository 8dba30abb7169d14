#!/usr/bin/env bash
# System packages the test suite needs beyond the Python venv (run as root; idempotent).
# The browser test drives Debian's chromium: Playwright cannot download its own browser here.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "system-deps.sh: run as root (it calls apt-get)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

if [ ! -x /usr/bin/chromium ]; then
    apt-get update
    apt-get install -y --no-install-recommends chromium
fi
