"""Bad Singer input to the target (property-based): loaded correctly or refused, never a STATE past it.

The contract under test: for any input, either the target loads it (and the values read back from
ClickHouse equal what was sent) or it stops with an error naming the problem; in both cases every STATE
it wrote covers only data that is stored. Most examples run the target in-process (fast); a few run the
CLI for the exit code. Example counts are modest: each example is a real load into the real server.
"""

from __future__ import annotations

import io
import itertools
import json
import math
from contextlib import redirect_stdout
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.target import TargetClickhouseAgile
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import password_target_config
from tests.support.pipeline import capture, run_target
from tests.support.singer import issue, record, schema_message

SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
_ids = itertools.count()


def _issue_id() -> str:
    return f"bad{next(_ids):06d}"


def run_inprocess(
    config: dict[str, Any], lines: list[str]
) -> tuple[list[dict[str, Any]], BaseException | None]:
    """The target on raw input lines; returns (STATEs written, the error that stopped it or None)."""
    out = io.StringIO()
    error: BaseException | None = None
    try:
        target = TargetClickhouseAgile(config=dict(config))
        with redirect_stdout(out):
            target.listen(io.StringIO("".join(line + "\n" for line in lines)))
    except (Exception, SystemExit) as exc:  # the CLI turns these into a non-zero exit
        error = exc
    capture("in-process target stdout", out.getvalue())
    if error is not None:
        capture("in-process target error", repr(error))
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()], error


def stored_issue_ids(config: dict[str, Any]) -> set[str]:
    with connect(config) as conn:
        return {r["issue_id"] for r in conn.query("SELECT issue_id FROM issues FINAL")}


def _issue_line(issue_id: str, **extra: Any) -> str:
    data = issue(
        issue_id, f"BAD-{issue_id[3:]}", "open", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.000Z"
    )
    return json.dumps(record("issues", {**data, **extra}), ensure_ascii=False)


def _state(n: int) -> str:
    return json.dumps(
        {"type": "STATE", "value": {"bookmarks": {"issues": {"replication_key_value": f"s{n}"}}}}
    )


@pytest.fixture
def config(clickhouse_native: NativeDatabase) -> dict[str, Any]:
    settings_ = password_target_config(clickhouse_native)
    # Apply migrations once so every example starts from a ready database.
    _, error = run_inprocess(settings_, [json.dumps(schema_message("statuses"))])
    assert error is None, error
    return settings_


# -- malformed lines -------------------------------------------------------------------------------------

BAD_LINES = [
    "not json at all",
    "{",
    '{"type": "RECORD", "stream": "issues", "record": {"id": "x"',  # a line cut by a crash
    "[]",
    "null",
    "42",
    '"RECORD"',
    '{"no_type": 1}',
    '{"type": "NOPE", "stream": "issues"}',
    '{"type": "RECORD", "stream": "issues"}',
    '{"type": "RECORD", "stream": "never_declared", "record": {"id": "1"}}',
    '{"type": "SCHEMA", "stream": "broken"}',
    '{"type": "SCHEMA", "stream": "broken", "schema": "not an object", "key_properties": []}',
    '{"type": "STATE"}',
    json.dumps(record("issues", {"key": "NOKEY-1", "createdAt": "2024-03-04T07:00:00.000Z"})),
    json.dumps(record("issues", {"id": None, "key": "NULL-1"})),
    json.dumps(record("issues", {"id": "schema-violation", "key": "V-1", "createdAt": 12, "updatedAt": [1]})),
    json.dumps(record("issues", {"id": "no-dates", "key": "V-2", "queue": {"key": "V"}})),
    json.dumps(record("issue_changelog", {"id": "orphan", "updatedAt": "2024-01-01T00:00:00.000Z"})),
]


@SETTINGS
@given(
    bad=st.sampled_from(BAD_LINES) | st.text(max_size=200).filter(lambda s: "\n" not in s and "\r" not in s)
)
@example(bad="")
def test_malformed_line_never_checkpoints_past_it(config: dict[str, Any], bad: str) -> None:
    """valid issue A, STATE 1, <bad line>, valid issue B, STATE 2."""
    a, b = _issue_id(), _issue_id()
    lines = [
        json.dumps(schema_message("issues")),
        _issue_line(a),
        _state(1),
        bad,
        json.dumps(schema_message("issues")),
        _issue_line(b),
        _state(2),
    ]
    states, error = run_inprocess(config, lines)
    stored = stored_issue_ids(config)
    values = [s["bookmarks"]["issues"]["replication_key_value"] for s in states]
    if error is None:
        # Tolerated (e.g. a blank line): then everything must be there.
        assert {a, b} <= stored
        assert values[-1:] == ["s2"]
    else:
        assert values in ([], ["s1"]), f"STATE past rejected input {bad!r}: {values}"
        if values:
            assert a in stored
        assert str(error).strip(), "the error must say something"


def test_cli_exit_code_and_message_for_garbage(config: dict[str, Any], workdir: Path) -> None:
    a = _issue_id()
    lines = [json.dumps(schema_message("issues")), _issue_line(a), _state(1), "this is not JSON", _state(2)]
    run = run_target(config, "".join(line + "\n" for line in lines), workdir=workdir)
    assert run.returncode != 0
    assert [s["bookmarks"]["issues"]["replication_key_value"] for s in run.states] in ([], ["s1"])
    assert "this is not JSON" in run.stderr or "JSON" in run.stderr


def test_cli_record_before_schema(config: dict[str, Any], workdir: Path) -> None:
    lines = [_issue_line(_issue_id()), _state(1)]
    run = run_target(config, "".join(line + "\n" for line in lines), workdir=workdir)
    assert run.returncode != 0
    assert run.states == []
    assert "schema" in run.stderr.lower()


# -- odd values: round trip or clear refusal ---------------------------------------------------------------

ODD_STRINGS = [
    "NUL \x00 inside",
    "\u202eRTL override\u202c and \u05e9\u05dc\u05d5\u05dd",
    "emoji 🧨👩🏽‍💻🇷🇺",
    "quotes ' \" ` \\ ; DROP TABLE issues; --",
    "\ufeffBOM and \u200bzero width",
    "line\nbreaks\r\nand\ttabs",
    "x" * (1024 * 1024),
]


def _load(config: dict[str, Any], issue_id: str, extra: dict[str, Any]) -> tuple[list[Any], Exception | None]:
    lines = [json.dumps(schema_message("issues")), _issue_line(issue_id, **extra), _state(1)]
    return run_inprocess(config, lines)


def _assert_loaded(config: dict[str, Any], issue_id: str, extra: dict[str, Any], check) -> None:
    """The record is loaded and checkpointed, and its row passes `check`."""
    states, error = _load(config, issue_id, extra)
    assert error is None, f"refused although it must load: {error!r}"
    assert [s["bookmarks"]["issues"]["replication_key_value"] for s in states] == ["s1"]
    with connect(config) as conn:
        (row,) = conn.query(
            "SELECT summary, created_at, created_at_ms, story_points FROM issues FINAL "
            f"WHERE issue_id = '{issue_id}'"
        )
    check(row)


def _assert_refused(config: dict[str, Any], issue_id: str, extra: dict[str, Any]) -> None:
    """The record is refused: no STATE, no row."""
    states, error = _load(config, issue_id, extra)
    assert error is not None, "loaded although it must be refused"
    assert states == [], f"STATE written although the record was refused: {error!r}"
    assert issue_id not in stored_issue_ids(config)


def _not_utf8(text: str) -> bool:
    """A lone surrogate: the only text no INSERT can carry (and the only text refused)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


@SETTINGS
@given(text=st.text(min_size=0, max_size=300))
@example(text=ODD_STRINGS[0])
@example(text=ODD_STRINGS[1])
@example(text=ODD_STRINGS[2])
@example(text=ODD_STRINGS[3])
@example(text=ODD_STRINGS[4])
@example(text=ODD_STRINGS[5])
@example(text=ODD_STRINGS[6])
@example(text="lone surrogate \ud800 escaped")
def test_any_unicode_summary_round_trips(config: dict[str, Any], text: str) -> None:
    """Every Unicode text round-trips exactly; only text that is not Unicode at all (a lone surrogate
    from a JSON escape) is refused, with no STATE and no row."""

    def check(row: dict[str, Any]) -> None:
        assert row["summary"] == text

    if _not_utf8(text):
        _assert_refused(config, _issue_id(), {"summary": text})
    else:
        _assert_loaded(config, _issue_id(), {"summary": text}, check)


def _offset(minutes: int) -> str:
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@SETTINGS
@given(
    moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    offset=st.sampled_from([14 * 60, -12 * 60, 5 * 60 + 45, 0, -(9 * 60 + 30), 12 * 60 + 45]),
    compact=st.booleans(),
)
@example(moment=datetime(2024, 2, 29, 23, 59, 59, 999000), offset=14 * 60, compact=False)
@example(moment=datetime(2024, 1, 1, 0, 0), offset=-12 * 60, compact=True)
@example(moment=datetime(2024, 6, 1, 12, 0), offset=5 * 60 + 45, compact=True)
def test_timestamps_with_odd_offsets_are_the_same_instant(
    config: dict[str, Any], moment: datetime, offset: int, compact: bool
) -> None:
    """`createdAt` with +14:00, -12:00, +0545 ... is stored as the same UTC instant (to the ms)."""
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    tz = timezone(timedelta(minutes=offset))
    local = moment.replace(tzinfo=tz)
    suffix = _offset(offset).replace(":", "") if compact else _offset(offset)
    text = local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}" + suffix
    # Calendar arithmetic, independent of the code under test (and of floating point).
    days = moment.date().toordinal() - date(1970, 1, 1).toordinal()
    clock_ms = ((moment.hour * 60 + moment.minute) * 60 + moment.second) * 1000 + moment.microsecond // 1000
    expected_ms = days * 86_400_000 + clock_ms - offset * 60_000

    def check(row: dict[str, Any]) -> None:
        assert row["created_at_ms"] == expected_ms, text
        assert row["created_at"].astimezone(timezone.utc).replace(microsecond=0) == local.astimezone(
            timezone.utc
        ).replace(microsecond=0)

    _assert_loaded(config, _issue_id(), {"createdAt": text}, check)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324])
def test_odd_numbers_in_story_points(config: dict[str, Any], value: float) -> None:
    """Float64 holds them all: NaN, infinities, the extremes are stored as sent."""

    def check(row: dict[str, Any]) -> None:
        stored = row["story_points"]
        assert (math.isnan(stored) and math.isnan(value)) or stored == value

    _assert_loaded(config, _issue_id(), {"storyPoints": value}, check)
