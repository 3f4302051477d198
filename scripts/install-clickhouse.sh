#!/usr/bin/env bash
# Installs what the test suite starts on loopback: the Debian ClickHouse server (one per test session, and
# two more as a replicated cluster) and ZooKeeper with a Java runtime (the cluster's coordinator).
# Idempotent: installs only what is missing.
set -euo pipefail
missing=()
if ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ]; then
  missing+=(clickhouse-server clickhouse-client)
fi
if [ ! -r /usr/share/java/zookeeper.jar ]; then
  missing+=(zookeeper)
fi
if ! command -v java >/dev/null 2>&1; then
  missing+=(default-jre-headless)
fi
bash "$(dirname "$0")/apt-install.sh" "${missing[@]}"
# The packages may register services; the tests start their own throwaway instances instead.
