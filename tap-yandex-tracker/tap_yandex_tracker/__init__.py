"""Singer tap for Yandex Tracker."""

from tap_yandex_tracker.sdk_import import import_sdk_without_numpy

import_sdk_without_numpy()  # before any module of the package imports the SDK
