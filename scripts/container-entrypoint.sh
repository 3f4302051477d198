#!/bin/sh
# The container image's entrypoint (see Containerfile): settings that are secrets may arrive as files rather
# than environment variables, so they stay out of `docker inspect` and out of compose files. A file
# /run/secrets/<NAME> (compose `secrets:` with `target: <NAME>`, a Kubernetes secret volume, ...) becomes the
# variable NAME unless the environment already sets it; only the plugins' and Meltano's own names are taken
# (TAP_YANDEX_TRACKER_*, TARGET_CLICKHOUSE_AGILE_*, MELTANO_*). Then the command runs in its place.
set -eu
secrets_dir="${AGILE_SECRETS_DIR:-/run/secrets}"
if [ -d "$secrets_dir" ]; then
  for file in "$secrets_dir"/*; do
    [ -f "$file" ] || continue
    name=$(basename "$file")
    case "$name" in
      *[!A-Z0-9_]*) continue ;;
      TAP_YANDEX_TRACKER_* | TARGET_CLICKHOUSE_AGILE_* | MELTANO_*) ;;
      *) continue ;;
    esac
    eval "current=\${$name:-}"
    if [ -z "$current" ]; then
      value=$(cat "$file")
      export "$name=$value"
    fi
  done
fi
exec "$@"
