#!/usr/bin/env bash
# `bash scripts/apt-install.sh PACKAGE...`: installs Debian packages quietly (through sudo unless root), for
# the install-*.sh scripts, which first work out what is missing.
set -euo pipefail
[ $# -gt 0 ] || exit 0
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing $* (Debian packages) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null
