"""Input the target must refuse says which line and why, in one line, and writes no STATE after it.

Lines come before any SCHEMA where the case allows, so most cases need no database: the refusal happens
while reading. The CLI case checks what an operator sees: exit code 1 and a one-line message.
"""

from __future__ import annotations

import io
import json
import subprocess
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidInputLine

from target_clickhouse_agile.rows import RecordError
from target_clickhouse_agile.singer_reader import SingerInputReader, excerpt
from target_clickhouse_agile.target import TargetClickhouseAgile
from tests.support.pipeline import TARGET_CLI
from tests.support.singer import issue, record, run_target, schema_message, state
from tests.support.tables import run_queries

UNREACHABLE = {"host": "127.0.0.1", "port": 9, "database": "never_used"}


def _state_line(n: int) -> str:
    return json.dumps(state({"n": n}))


def run_lines(config: dict[str, Any], lines: list[str]) -> str:
    """The target in-process on raw input lines; returns what it wrote to stdout (on failure, the error
    carries it as `error.stdout`)."""
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            target = TargetClickhouseAgile(config=dict(config))
            target.listen(io.StringIO("".join(f"{line}\n" for line in lines)))
    except Exception as error:
        error.stdout = out.getvalue()  # type: ignore[attr-defined]
        raise
    return out.getvalue()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("null", "input line 2 is null, not a Singer message"),
        ("42", "input line 2 is a number, not a Singer message"),
        ("[]", "input line 2 is an array, not a Singer message"),
        ('"RECORD"', "input line 2 is a string, not a Singer message"),
        ("", "input line 2 is empty"),
        ("   ", "input line 2 is empty"),
        ("{", "input line 2 is not valid JSON"),
        ('{"type": "RECORD", "stream": "issues", "record": {"id": "x"', "input line 2 is not valid JSON"),
        ('{"no_type": 1}', "input line 2 has no 'type'"),
        (
            '{"type": "NOPE"}',
            "input line 2 has unknown message type 'NOPE' (expected one of RECORD, SCHEMA, STATE",
        ),
    ],
)
def test_a_bad_line_is_named_by_number_and_kind(line: str, expected: str) -> None:
    with pytest.raises(InvalidInputLine) as refused:
        run_lines(UNREACHABLE, [_state_line(1), line, _state_line(2)])
    assert str(refused.value).startswith(expected), str(refused.value)
    assert refused.value.stdout == "", "no STATE, not even the one before the bad line"  # type: ignore[attr-defined]


def test_a_long_bad_line_is_quoted_short() -> None:
    line = '{"type": "RECORD", "record": {"description": "' + "x" * 100_000
    with pytest.raises(InvalidInputLine) as refused:
        SingerInputReader().deserialize_json(line)
    assert excerpt(line) in str(refused.value)
    assert len(str(refused.value)) < 300


def test_cli_prints_one_line_and_exits_1_without_state_past_the_line(tmp_path: Path) -> None:
    config = tmp_path / "target.json"
    config.write_text(json.dumps(UNREACHABLE))
    stdin = "\n".join([_state_line(1), "42", _state_line(2)]) + "\n"
    done = subprocess.run(
        [TARGET_CLI, "--config", str(config)], input=stdin, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert "Bad input: input line 2 is a number" in errors[0]
    assert [json.loads(line) for line in done.stdout.splitlines()] in ([], [{"n": 1}])


@pytest.mark.parametrize("engine", ["server-18.16", "chdb"])
def test_text_no_insert_can_carry_names_the_record_and_field(
    engine: str, request: pytest.FixtureRequest
) -> None:
    """A lone surrogate (from a JSON `\\ud800` escape) cannot be encoded as UTF-8: the record is refused
    before anything of its batch is sent, on both engines alike, naming the record and the field, and no
    STATE covers it."""
    settings = (
        request.getfixturevalue("chdb_settings")
        if engine == "chdb"
        else request.getfixturevalue("clickhouse_native").settings
    )
    good = issue("ok-1", "DEV-1", "open", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.000Z")
    bad: dict[str, Any] = {**good, "id": "bad-2", "key": "DEV-2", "summary": "broken \ud800 text"}
    messages = [schema_message("issues"), record("issues", good), record("issues", bad), state({"n": 1})]
    with pytest.raises(RecordError) as refused:
        run_target(settings, messages)
    assert str(refused.value).startswith("issues record DEV-2: field 'summary' holds text that is not valid")
    assert refused.value.states == []  # type: ignore[attr-defined]
    stored = run_queries(settings, {"n": "SELECT count() AS n FROM issues"})["n"]
    assert stored == [{"n": 0}]
