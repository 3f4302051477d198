#!/usr/bin/env bash
# `make meltano-demo`: the demo through Meltano. Starts the Tracker simulator on 127.0.0.1:8765 (the
# `demo` environment's api_url), installs the plugins once (uv) and runs the pipeline into embedded
# ClickHouse under .meltano-demo/. Meltano keeps the STATE: run it again and the sync is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/tracker-simulator --issues "${ISSUES:-1500}" --port 8765 > .meltano-demo.log 2>&1 &
sim=$!
trap 'kill "$sim" 2>/dev/null || true' EXIT
for _ in $(seq 100); do  # wait until it listens (it prints its URL when ready)
  grep -q "^URL:" .meltano-demo.log 2>/dev/null && break
  kill -0 "$sim" 2>/dev/null || { cat .meltano-demo.log; exit 1; }
  sleep 0.1
done
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
.venv-meltano/bin/meltano install
.venv-meltano/bin/meltano --environment=demo run tap-yandex-tracker target-clickhouse-agile
.venv-meltano/bin/meltano --environment=demo state get demo:tap-yandex-tracker-to-target-clickhouse-agile
.venv/bin/python -c 'from pathlib import Path; from demo.summary import print_summary; print_summary(Path(".meltano-demo/clickhouse"), "agile")'
