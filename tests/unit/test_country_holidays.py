"""A country's holidays load only that country's module of `holidays`, and are the library's own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import date

import holidays
import pytest

from target_clickhouse_agile.metrics.calendar import WorkCalendar
from target_clickhouse_agile.metrics.country_holidays import country_holidays

YEARS = range(2015, 2031)


def _in_a_fresh_process(body: str) -> dict:
    """Run `body` (which prints one JSON line) in a new interpreter: `sys.modules` as at a target's start."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_calendar_loads_one_country_module_and_leaves_the_package_whole() -> None:
    seen = _in_a_fresh_process(
        """
        import json, sys
        from datetime import date
        imported = []

        class Recorder:  # asked first for every module that is not loaded yet
            def find_spec(self, name, path=None, target=None):
                imported.append(name)

        sys.meta_path.insert(0, Recorder())
        from target_clickhouse_agile.metrics.calendar import WorkCalendar
        calendar = WorkCalendar(holidays_country="AS")  # American Samoa: built on the United States' module
        countries = sorted({m for m in imported if m.startswith("holidays.countries.")})
        left = sorted(m for m in sys.modules if m.startswith("holidays.countries"))
        off = not calendar.is_working_day(date(2025, 7, 4))
        import holidays, holidays.countries  # later users of the library get the real, complete package
        from holidays.countries import Russia
        whole = [holidays.countries.russia.Russia is Russia, hasattr(holidays.countries, "american_samoa"),
                 type(holidays.country_holidays("RU")).__name__]
        print(json.dumps({"countries": countries, "left": left, "off": off, "whole": whole}))
        """
    )
    assert seen == {
        "countries": ["holidays.countries.american_samoa", "holidays.countries.united_states"],
        "left": [],
        "off": True,
        "whole": [True, True, "RU"],
    }


@pytest.mark.parametrize("code", ["RU", "RUS", "DE", "US", "AS", "GB"])
def test_the_same_days_as_the_library_gives(code: str) -> None:
    """AS (American Samoa) is built on the United States' module: a sibling import under the package."""
    ours = _in_a_fresh_process(
        f"""
        import json
        from datetime import date
        from target_clickhouse_agile.metrics.country_holidays import country_holidays
        days = country_holidays({code!r})
        for year in range({YEARS.start}, {YEARS.stop}):
            date(year, 1, 1) in days  # a look-up computes its year
        print(json.dumps({{"class": type(days).__qualname__, "module": type(days).__module__,
                          "days": sorted(str(day) for day in days)}}))
        """
    )
    library = holidays.country_holidays(code, years=YEARS)
    assert ours["class"] == type(library).__qualname__
    assert ours["module"] == type(library).__module__
    assert ours["days"] == sorted(str(day) for day in library)
    assert len(ours["days"]) > 5 * len(YEARS)


def test_with_the_whole_package_loaded_the_answer_is_the_same() -> None:
    """In this process `holidays.countries` may already be imported (other tests), and the class looked up
    alone may be cached from before: either way the answer is the library's, and the package stays the real
    one."""
    import holidays.countries  # noqa: F401  (the complete package, as another user of holidays would)

    days = country_holidays("RU")
    assert date(2025, 5, 9) in days
    assert hasattr(sys.modules["holidays.countries"], "Russia")


def test_an_unknown_code_is_refused_by_name_as_before() -> None:
    with pytest.raises(ValueError, match="Unknown holidays_country 'XX'"):
        WorkCalendar(holidays_country="XX")
