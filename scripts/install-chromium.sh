#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium, used by the report tests (screenshot and --dump-dom of the
# HTML report that `agile-report` writes). Idempotent: does nothing when a chromium binary is present.
set -euo pipefail
for candidate in chromium chromium-browser google-chrome; do
  if command -v "$candidate" >/dev/null 2>&1; then
    exit 0
  fi
done
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing chromium (Debian package) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
