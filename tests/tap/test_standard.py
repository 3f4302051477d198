"""The singer-sdk standard tap tests, against a small simulator started when this module is imported.

One adaptation: the SDK cannot classify an untyped property (``{}``, any JSON, which the tap uses for the
documented fields it does not read: see ``schemas.py``) and fails while *generating* its attribute tests.
Those tests run here through subclasses that skip untyped properties and behave as the SDK's otherwise.
"""

from __future__ import annotations

import atexit
from typing import Any

from singer_sdk.testing import get_tap_test_class
from singer_sdk.testing.suites import SingerTestSuite, tap_stream_attribute_tests
from singer_sdk.testing.templates import AttributeTestTemplate

from tap_yandex_tracker.tap import TapYandexTracker
from tests.support.configs import tap_config
from tracker_simulator import TrackerSimulator, generate_organisation

_SIMULATOR = TrackerSimulator(generate_organisation(60, seed=3)).start()
atexit.register(_SIMULATOR.stop)
# One issue whose changelog always fails: it is set aside, so `skipped_issues` has a record to test too.
_POISON = _SIMULATOR.org.records[7].id
_SIMULATOR.faults.script(f"GET /v3/issues/{_POISON}/changelog", 500, times=10**9)


def _typed(schema: dict[str, Any]) -> bool:
    return any(key in schema for key in ("type", "anyOf", "allOf", "oneOf"))


def _skipping_untyped(test: type[AttributeTestTemplate]) -> type[AttributeTestTemplate]:
    class Adapted(test):  # type: ignore[valid-type, misc]
        @classmethod
        def evaluate(cls, stream: Any, property_name: str, property_schema: dict) -> bool:
            return _typed(property_schema) and test.evaluate(stream, property_name, property_schema)

    Adapted.__name__ = test.__name__
    return Adapted


ATTRIBUTE_TESTS = SingerTestSuite(
    kind="tap_stream_attribute", tests=[_skipping_untyped(t) for t in tap_stream_attribute_tests.tests]
)

TestTapYandexTracker = get_tap_test_class(
    TapYandexTracker,
    config=tap_config(_SIMULATOR, start_date="2000-01-01T00:00:00Z"),
    include_stream_attribute_tests=False,
    custom_suites=[ATTRIBUTE_TESTS],
)
