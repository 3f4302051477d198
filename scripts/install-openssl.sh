#!/usr/bin/env bash
# openssl is needed by the TLS tests to mint a throwaway CA.
set -euo pipefail
command -v openssl >/dev/null 2>&1 && exit 0
SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl >/dev/null
