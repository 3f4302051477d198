"""The secret scan: every configured secret searched for in everything a test produced."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.clickhouse import PASSWORD
from tests.support.pipeline import CAPTURED

SIM_TOKEN = "sim-token"


@dataclass
class SecretScan:
    """Collects secrets and texts; `check()` lists every (where, which secret) leak."""

    secrets: set[str] = field(default_factory=lambda: {SIM_TOKEN, PASSWORD})
    texts: list[tuple[str, str]] = field(default_factory=list)

    def add_secret(self, value: str) -> None:
        self.secrets.add(value)

    def add_text(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def leaks(self) -> list[str]:
        found = []
        for label, text in [*self.texts, *CAPTURED]:
            for secret in sorted(self.secrets):
                if secret and secret in text:
                    line = next(li for li in text.splitlines() if secret in li)
                    found.append(f"{secret!r} leaked in {label}: {line[:300]}")
        return found
