"""Run PyPI `tracker-exporter` 2.0.0 unchanged against a Tracker API at another address.

This file is executed by the interpreter of `benchmarks/.venv-old` (never imported by the project): the
exporter has no API-URL setting, so the official client's `Connection` gets a new default for `base_url`,
then `tracker_exporter.main:main` runs with `--run-once`. Everything else is configured by the
`EXPORTER_*` environment variables that `benchmarks/old_exporter.py` sets.

Optional hooks, all outside the exporter's own code paths:

* `--global-field ID` adds a field id to the client's list of global fields (`GET /v2/fields`). The
  exporter reads `issue.qaEngineer` and `issue.project` unconditionally; the client answers an
  AttributeError for a field that is neither in the issue nor in that list. The real API lists every
  global field (these two included); the simulator lists only the fields it generates, so without this
  every issue fails to transform;

* `--clickhouse-setting NAME=VALUE` adds a ClickHouse setting to every HTTP request of its ClickHouse
  client (18.16 parses its ISO timestamps only with `date_time_input_format=best_effort`);
* `--capture FILE` writes the issue, metric and changelog rows its ETL produced (JSON) to FILE, for the
  parity report when upload is off.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _set_default(function: Any, name: str, value: Any) -> None:
    """Replace the default of parameter `name` of `function` (positional-or-keyword parameters)."""
    code = function.__code__
    names = code.co_varnames[: code.co_argcount]
    defaults = list(function.__defaults__ or ())
    index = names.index(name) - (len(names) - len(defaults))
    defaults[index] = value
    function.__defaults__ = tuple(defaults)


def main() -> None:
    """Parse the wrapper's own options, install the hooks, then hand over to the exporter."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True, help="base URL of the Tracker API (the simulator)")
    parser.add_argument("--capture", help="write the rows the ETL produced to this JSON file")
    parser.add_argument("--clickhouse-setting", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--global-field", action="append", default=[], metavar="ID")
    args = parser.parse_args()
    # tracker_exporter parses sys.argv when its package is first imported (main.py, at import time).
    sys.argv = ["tracker-exporter", "--run-once"]

    from yandex_tracker_client import collections, connection

    _set_default(connection.Connection.__init__, "base_url", args.api_url)

    if args.global_field:
        listed = collections.Issues.fields.fget
        extra = tuple(args.global_field)

        def fields(self: Any) -> dict[str, Any]:
            known = listed(self)
            for field_id in extra:
                known.setdefault(field_id, None)
            return known

        collections.Issues.fields = property(fields)

    settings = dict(item.split("=", 1) for item in args.clickhouse_setting)
    if settings:
        from tracker_exporter.services import clickhouse

        init = clickhouse.ClickhouseClient.__init__
        _set_default(init, "params", settings)

    if args.capture:
        from tracker_exporter import etl

        original = etl.YandexTrackerETL._export_and_transform
        capture_path = args.capture

        def capturing(self: Any, *a: Any, **kw: Any) -> Any:
            result = original(self, *a, **kw)
            issues, changelog, metrics, _state = result
            with open(capture_path, "w") as out:
                json.dump({"issues": issues, "metrics": metrics, "changelog_rows": len(changelog)}, out)
            return result

        etl.YandexTrackerETL._export_and_transform = capturing

    from tracker_exporter.main import main as exporter_main

    exporter_main()


if __name__ == "__main__":
    main()
