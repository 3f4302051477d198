"""A Yandex Tracker API simulator for tests, the demo and benchmarks.

Quick start::

    from tracker_simulator import TrackerSimulator, generate_organisation

    with TrackerSimulator(generate_organisation(500)) as sim:
        body = {"filter": {"queue": "DEV"}}
        requests.post(f"{sim.url}/v3/issues/_search", json=body, headers=sim.headers())

Standalone: ``tracker-simulator --issues 5000 --port 8765``. Behaviour follows
Yandex's API documentation (its example responses are fixtures in ``tests/fixtures/real_api/``); where
the documentation is silent the choice made here is documented in
the module that implements it (``search.py``, ``paging.py``, ``auth.py``, ``faults.py``, ``walker.py``).
"""

from .faults import DROP, TRUNCATE, FaultPlan
from .generator import NOW, generate_organisation
from .model import IssueTruth
from .organisation import Organisation
from .server import TrackerSimulator
from .stats import StatsSnapshot

__all__ = [
    "DROP",
    "NOW",
    "TRUNCATE",
    "FaultPlan",
    "IssueTruth",
    "Organisation",
    "StatsSnapshot",
    "TrackerSimulator",
    "generate_organisation",
]
