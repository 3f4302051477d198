"""The singer-sdk standard tap tests, against a small simulator started when this module is imported."""

from __future__ import annotations

import atexit

from singer_sdk.testing import get_tap_test_class

from tap_yandex_tracker.tap import TapYandexTracker
from tests.simulator import TrackerSimulator, generate_organisation
from tests.tap.conftest import tap_config

_SIMULATOR = TrackerSimulator(generate_organisation(60, seed=3)).start()
atexit.register(_SIMULATOR.stop)

TestTapYandexTracker = get_tap_test_class(
    TapYandexTracker,
    config=tap_config(_SIMULATOR, start_date="2000-01-01T00:00:00Z"),
)
