"""Singer target for ClickHouse with agile flow metrics."""

import os

# clickhouse-driver builds two date lookup tables for 1900-2299 when it is imported (~22 MB resident,
# a third of the target's baseline memory) unless this documented variable (spelled "LASY" by the
# driver) asks for lazily filled ones; the few dates we (de)serialise then cost a dict entry each.
# It must be set before the driver's first import, which is why it lives in the package's root.
os.environ.setdefault("CLICKHOUSE_DRIVER_LASY_DATE_LUT", "1")

from target_clickhouse_agile.garbage_collection import pause_while_the_console_script_imports

pause_while_the_console_script_imports()  # first: the imports below are most of the target's start
from target_clickhouse_agile.sdk_import import import_the_sdk  # noqa: E402

import_the_sdk()  # before any module of the package imports the SDK
