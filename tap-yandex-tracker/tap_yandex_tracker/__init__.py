"""Singer tap for Yandex Tracker."""

from tap_yandex_tracker.garbage_collection import pause_while_the_console_script_imports

pause_while_the_console_script_imports()  # first: the imports below are most of the tap's start
from tap_yandex_tracker.sdk_import import import_the_sdk  # noqa: E402

import_the_sdk()  # before any module of the package imports the SDK
