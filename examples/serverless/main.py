"""A Yandex Cloud Function (or any FaaS with `handler(event, context)`) that syncs Tracker into ClickHouse.

Why a function needs nothing more: the target keeps the latest STATE in ClickHouse (`target_state`), so
each invocation starts from what the previous one checkpointed, and the pipeline runs in-process (no shell,
no second interpreter). The run stops within the function's time budget and resumes next time.

Configuration, all from environment variables (the names Meltano and the plugins themselves use):

* `TAP_YANDEX_TRACKER_<SETTING>`: `TOKEN` or `IAM_TOKEN`, `ORG_ID` or `CLOUD_ORG_ID`, `QUEUES` (JSON array or
  comma-separated), `START_DATE`, `API_URL`, ... (every tap setting);
* `TARGET_CLICKHOUSE_AGILE_<SETTING>`: `HOST`, `PORT`, `USER`, `PASSWORD`, `DATABASE`, `SECURE`,
  `CA_CERTS`, `STATE_ID`, `STATSD_HOST`, ... (every target setting; `STORE_STATE` is always on);
* `AGILE_MAX_SECONDS`: the time budget; by default the function's remaining time minus
  `AGILE_RESERVE_SECONDS` (default 60: the target's final drain and metrics step run after the cut).

Through Yandex Cloud's serverless DB proxy (no public access to the cluster): set
`TARGET_CLICKHOUSE_AGILE_PROTOCOL=http`, `_SECURE=true`,
`_HOST=<proxy id>.clickhouse-proxy.serverless.yandexcloud.net`, `_SERVERLESS_PROXY_ID=<proxy id>`,
`_USER` and `_DATABASE` as the proxy was created with, and no password:
the function's service account (role `serverless.mdbProxies.user`) authenticates with its IAM token, which
the handler takes from the invocation context every time (it lives about 12 hours; never store it).

Entry point `main.handler`; requirements: `tap-yandex-tracker`, `target-clickhouse-agile` (no `[embedded]`).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from tap_yandex_tracker.tap import TapYandexTracker
from target_clickhouse_agile.runner import run_in_process
from target_clickhouse_agile.target import TargetClickhouseAgile

TAP_PREFIX = "TAP_YANDEX_TRACKER_"
TARGET_PREFIX = "TARGET_CLICKHOUSE_AGILE_"
DEFAULT_RESERVE_S = 60.0


def _parse(raw: str, schema: Mapping[str, Any]) -> Any:
    """One environment value typed by its JSON schema (env vars are strings)."""
    types = schema.get("type", "string")
    types = [types] if isinstance(types, str) else list(types)
    if "boolean" in types:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if "integer" in types:
        return int(raw)
    if "number" in types:
        return float(raw)
    if "array" in types or "object" in types:
        stripped = raw.strip()
        if stripped.startswith(("[", "{")):
            return json.loads(stripped)
        items = schema.get("items") or {"type": "string"}
        return [_parse(part.strip(), items) for part in stripped.split(",") if part.strip()]
    return raw


def config_from_env(schema: Mapping[str, Any], prefix: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Every setting of a plugin's config schema that the environment sets, as `<PREFIX><NAME>`."""
    config: dict[str, Any] = {}
    for name, prop in schema.get("properties", {}).items():
        raw = env.get(prefix + name.upper())
        if raw is not None and raw != "":
            config[name] = _parse(raw, prop)
    return config


def _iam_token(context: Any) -> str | None:
    """The service account's IAM token from the invocation context (`context.token["access_token"]`), if
    the function runs as a service account."""
    token = getattr(context, "token", None)
    if isinstance(token, Mapping):
        value = token.get("access_token")
        return str(value) if value else None
    return None


def _budget(context: Any, env: Mapping[str, str]) -> float | None:
    if env.get("AGILE_MAX_SECONDS"):
        return float(env["AGILE_MAX_SECONDS"])
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):
        reserve = float(env.get("AGILE_RESERVE_SECONDS") or DEFAULT_RESERVE_S)
        return max(remaining() / 1000.0 - reserve, 1.0)
    return None


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Run one sync within the time budget; the body says how far it got."""
    logging.basicConfig(level=logging.INFO)
    env = os.environ
    tap_config = config_from_env(TapYandexTracker.config_jsonschema, TAP_PREFIX, env)
    target_config = config_from_env(TargetClickhouseAgile.config_jsonschema, TARGET_PREFIX, env)
    if not target_config.get("password") and (token := _iam_token(context)):
        target_config["password"] = token  # fresh for this invocation: the context carries a current one
    result = run_in_process(tap_config, target_config, max_seconds=_budget(context, env))
    return {"statusCode": 200, "body": json.dumps(result.as_dict(), sort_keys=True)}
