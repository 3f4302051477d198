"""Reading Singer messages from stdin, with errors that say which line is wrong and how.

The SDK's reader logs a traceback with the whole offending line (a changelog record can be megabytes),
answers `null` or `42` with a `TypeError` from deep inside itself, and reports an unknown message type
without saying where. Here every refusal is an `InvalidInputLine` naming the 1-based input line, what it
holds (an excerpt) and what a Singer message must look like; the console entry point prints it as one
line and exits 1, and no STATE after the line is written (the target stops before it).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from singer_sdk.exceptions import InvalidInputLine
from singer_sdk.singerlib.encoding import SimpleSingerReader, SingerMessageType

EXCERPT_CHARS = 80
KNOWN_TYPES = tuple(kind.value for kind in SingerMessageType)
#: The SDK's `deserialize_json` (fractions as Decimal, their exact text kept), built once instead of once
#: per line as `json.loads(line, parse_float=...)` does.
_DECODER = json.JSONDecoder(parse_float=Decimal)
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def excerpt(line: str) -> str:
    """The start of a line, quoted, short enough for a log line."""
    text = line.rstrip("\r\n")
    return repr(text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "...")


class SingerInputReader(SimpleSingerReader):
    """The SDK's line reader with line numbers and explicit refusals."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict:
        self.line_number += 1
        if not line.strip():
            msg = f"input line {self.line_number} is empty: every line must be one Singer message (JSON)"
            raise InvalidInputLine(msg)
        try:
            message: Any = _DECODER.decode(line)
        except json.JSONDecodeError as error:
            msg = (
                f"input line {self.line_number} is not valid JSON ({error.msg} at character "
                f"{error.pos + 1}): {excerpt(line)}; was the tap's output cut short, or mixed with its "
                "logs on stdout?"
            )
            raise InvalidInputLine(msg) from None
        if not isinstance(message, dict):
            kind = "null" if message is None else _JSON_KINDS.get(type(message), type(message).__name__)
            msg = (
                f"input line {self.line_number} is {kind}, not a Singer message (a JSON object with a "
                f"'type'): {excerpt(line)}"
            )
            raise InvalidInputLine(msg)
        return message

    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:  # type: ignore[override]
        missing = sorted(requires - set(line_dict))
        if missing:
            msg = (
                f"input line {self.line_number} has no {', '.join(repr(m) for m in missing)}: "
                f"{excerpt(json.dumps(line_dict, ensure_ascii=False, default=str))}"
            )
            raise InvalidInputLine(msg)

    def _process_unknown_message(self, message_dict: dict) -> None:
        msg = (
            f"input line {self.line_number} has unknown message type {message_dict.get('type')!r} "
            f"(expected one of {', '.join(KNOWN_TYPES)})"
        )
        raise InvalidInputLine(msg)
