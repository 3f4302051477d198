#!/usr/bin/env bash
# Installs the Debian ClickHouse server used by the test suite (started per test session on loopback).
# Idempotent: does nothing when the binary is already present.
set -euo pipefail
if command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing clickhouse-server (Debian package) ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
# The package may register a service; the tests start their own throwaway instances instead.
