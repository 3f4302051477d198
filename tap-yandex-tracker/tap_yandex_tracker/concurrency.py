"""How many requests the tap keeps in flight: found by the tap itself, never above a ceiling.

Tracker does not document its rate limits; it answers 429 (with `Retry-After`) when a client asks too much.
A fixed level is either too timid (4 in flight leaves 4x on the table against an API that admits 16) or too
bold for a busy organisation. So the limit adapts, the way TCP finds a link's capacity:

* **slow start**: from `START` the limit doubles after every window of healthy answers (a window: as many
  answers as the limit, while the limit was actually in use), by at most `MAX_STEP` (a doubling from 16 to
  32 against an API that admits 16 would have 16 requests refused at once), until the ceiling or the
  first refusal;
* **multiplicative decrease**: a 429 or 503 at a level that has worked (`proven`: it completed a window of
  healthy answers since the last halving) means the API admits less than it did: the limit halves, once
  per overload (answers to requests that were sent before the last change carry an older generation and
  are not counted again), and nothing counts as proven until a window completes again;
* **a step back instead, above what has worked**: a refusal before the level has completed a window (a
  step of the slow start, a probe, the ceiling refused at once) says only that this step went too far; the
  limit goes back to the highest proven level rather than to half, and grows from there as below (halving
  16 -> 8 after a refused step from 15 cost ~0.3 s of climbing back at 100 ms per round trip, for nothing);
* **additive increase below what failed**: after a refusal the limit grows by one per window up to just
  below the level that was refused (`known_capacity`), then stays there and only *probes* one more after
  `probe_windows` windows; a refusal above the known capacity (a probe, or a level climbed back to, below)
  doubles the wait before the next probe, up to `MAX_PROBE_WINDOWS`, unless, before the level just below the
  refused one works, another refusal comes lower down: then the API admits less than that, the first refusal
  was an overload's, not a refused probe's, and the doubling is undone (repeated overloads would otherwise
  keep lengthening the climbs back). An overload to just one level below the refused one looks like a
  refused probe and is taken as one. Against an API with a fixed capacity this settles at it with a refusal
  once in a long while;
* **probes that cost little**: a 429 with `Retry-After` pauses every worker (transport.py), so a refused
  probe costs all requests that pause. The wait before a probe is at least `PAUSE_FACTOR` times the latest
  such pause (until a capacity above all before restarts the wait, below), counted in windows (the gate
  measures the round trip), so refused probes cost at most ~1/`PAUSE_FACTOR` of the time while that floor
  holds, whether the API asks for 1 s or a minute (a client library of Tracker's API waits 60 s when it does
  not say). Against an API that admits 6 and asks for 1 s at 100 ms round trips, probes every 16-64 windows
  had cost 3 of a 24 s sync;
* **a capacity that rises is found**: a probe that completes a healthy window above every level that ever
  did (`highest_proven`) means the API admits more than it ever did (another client's load went away):
  that level becomes the known capacity and the wait before the next probe starts again at
  `PROBE_WINDOWS`, so the new capacity is climbed one level per `PROBE_WINDOWS` windows;
* **a capacity that comes back is regained**: a probe of a level that had worked before that works again
  (an overload has passed) lets the limit climb back one level per window to `highest_proven` (`regain`)
  instead of probing each level on the way. The known capacity stays where the refusals left it, so a
  refusal on the way back doubles the wait as a refused probe does: an API that now and then refuses a
  request at exactly its capacity (a race between its bookkeeping and a client that asks again at once)
  keeps the limit mostly just below it, as before.

`benchmarks/limiter_model.py` runs these rules against model APIs (a 429 pausing everyone for 10 round
trips) next to the code before them: a capacity that rises from 8 to 16 is reached 169 round trips after
the rise instead of ~15,500 (the rule for rising capacities); after a dip from 16 to 4 for 300 round trips,
16 is reached again after ~360 instead of ~1,400 (climbing back; ~220 instead of ~3,000 without
`Retry-After`), and after 145 (130 for dips to 10) each time such dips come every 2,500 round trips; races
at exactly the capacity cost no more refusals. A first version that reset the wait at every probe that
worked, the old levels included, had 20-40 times the refusals under such races.

The ceiling is `max_concurrent_requests`. Its default, 16, keeps a round trip of ~100 ms (the API from a
distant data centre) from dominating: 16 requests in flight cost 6 ms of wall time per issue, about what the
tap spends on an issue's records itself, so more would mostly add load on the API; and should the API admit
less, the limit finds that below the ceiling by itself. `adaptive_concurrency: false` pins the level at the
ceiling.

Pure logic: no clock, no threads (the gate in transport.py holds the lock), unit-tested by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

START = 8
#: The largest step of the slow start.
MAX_STEP = 4
#: Windows at the known capacity before one more request is tried in parallel.
PROBE_WINDOWS = 16
#: After a refusal that paused every worker, the next probe waits at least this many times that pause.
PAUSE_FACTOR = 20
#: The longest wait between two probes that refusals double, in windows (a window takes about one round
#: trip; the latest pause may ask for more, `PAUSE_FACTOR`): ~7 min at 100 ms round trips. Every refused
#: probe pauses all workers for the server's `Retry-After`; one per 4,096 windows costs ~0.25 % of the wall
#: time at 100 ms with `Retry-After: 1` (1.2 % at 20 ms). Eight refused probes double the wait up to it, after
#: 4,080 windows of waiting (~7 min at 100 ms).
MAX_PROBE_WINDOWS = 4096


@dataclass(frozen=True)
class LimitChange:
    old: int
    new: int
    reason: str


class AdaptiveLimit:
    """The current limit on requests in flight, and how it reacts to answers."""

    def __init__(self, ceiling: int, *, adaptive: bool = True, start: int = START) -> None:
        self.ceiling = max(1, int(ceiling))
        self.adaptive = adaptive
        self.limit = min(self.ceiling, max(1, start)) if adaptive else self.ceiling
        self.highest = self.limit
        #: Bumped at every change: answers to requests sent before it belong to an older generation.
        self.generation = 0
        self.known_capacity: int | None = None
        #: The highest level that completed a healthy window since the last halving (None: none yet).
        self.proven: int | None = None
        #: Windows before a probe, as refused probes doubled it (`probe_windows` adds the pause floor).
        self._wait = PROBE_WINDOWS
        #: The wait before the last doubling and the level refused then, until the level below it works
        #: (a refusal further down first shows an overload, which undoes the doubling).
        self._undoubled: tuple[int, int] | None = None
        #: The floor the latest pause set: `PAUSE_FACTOR` times it, in windows.
        self._pause_floor = 0
        #: The highest level that ever completed a healthy window (0: none yet); never reset.
        self.highest_proven = 0
        #: While set, the limit climbs back one level per window up to this level that worked before.
        self.regain: int | None = None
        self._slow_start = True
        self._healthy = 0

    @property
    def probe_windows(self) -> int:
        """Windows at the level the limit grows to before one more is tried."""
        return max(self._wait, self._pause_floor)

    def on_success(self, *, saturated: bool, generation: int | None = None) -> LimitChange | None:
        """A healthy answer. It counts toward growth only if the request was sent while the limit was in
        use (`saturated`) and at the current limit (`generation`, None = current): a limit nobody reaches
        has proven nothing, and answers to requests sent before the last step prove only the level below
        (counting them let the slow start take a second step before a refusal of the first could arrive).
        A full window proves the level, the ceiling included, whether or not the limit then grows."""
        if not self.adaptive or not saturated:
            return None
        if generation is not None and generation != self.generation:
            return None
        self._healthy += 1
        if self._healthy >= self.limit:  # a full window: this level works
            self.proven = max(self.proven or 0, self.limit)
            if self._undoubled is not None and self.limit >= self._undoubled[1] - 1:
                self._undoubled = None  # the level below the refused one works: the doubling stands
            probe = self.known_capacity is not None and self.limit > self.known_capacity
            if probe and self.limit > self.highest_proven:  # the API admits more than it ever did
                self.known_capacity, self.regain = self.limit, None
                self._wait, self._pause_floor = PROBE_WINDOWS, 0
            elif probe:  # a level that had worked works again: climb back to the highest that did
                self.regain = self.highest_proven
            self.highest_proven = max(self.highest_proven, self.limit)
        if self.limit >= self.ceiling:
            return None
        grow_to = self.known_capacity if self.regain is None else max(self.regain, self.known_capacity or 0)
        at_capacity = grow_to is not None and self.limit >= grow_to
        if self._healthy < self.limit * (self.probe_windows if at_capacity else 1):
            return None
        if self._slow_start:
            new = self.limit + min(self.limit, MAX_STEP)
        elif at_capacity:
            new = self.limit + 1  # the probe
        else:
            new = min(self.limit + 1, grow_to or self.ceiling)
        return self._change(min(new, self.ceiling), "healthy answers")

    def on_throttle(self, generation: int, *, pause_windows: float = 0.0) -> LimitChange | None:
        """A 429 or 503 to a request sent under `generation`; `pause_windows`: the pause it imposes on
        every worker (its `Retry-After`), in round trips (0: none, or not known yet)."""
        if not self.adaptive or generation != self.generation:
            return None
        old = self.limit
        floor = math.ceil(PAUSE_FACTOR * pause_windows) if pause_windows > 0 else self._pause_floor
        if self.known_capacity is not None and old > self.known_capacity:
            # A probe, or the climb back above the known capacity, was refused: twice the wait before the
            # next (counting an earlier pause's floor only as far as the latest pause asks as much), at
            # most the maximum or what the latest pause asks for.
            self._undoubled = (self._wait, old)
            self._wait = min(
                2 * max(self._wait, min(self._pause_floor, floor)), max(MAX_PROBE_WINDOWS, floor)
            )
        elif self._undoubled is not None and old < self._undoubled[1]:
            # Refused again, lower, before the level under the one refused before worked: the API admits
            # less than that, so the first refusal was an overload's, not a refused probe's, and says
            # nothing about how soon to probe (repeated overloads kept doubling the wait).
            self._wait, self._undoubled = self._undoubled[0], None
        self._pause_floor = floor  # what a refused probe costs now
        self._slow_start = False
        self.regain = None
        self.known_capacity = max(1, old - 1)
        if self.proven is not None and old > self.proven:
            return self._change(self.proven, "refused (429/503): back to the last level that worked")
        self.proven = None
        return self._change(max(1, old // 2), "refused (429/503)")

    def _change(self, new: int, reason: str) -> LimitChange | None:
        old = self.limit
        self._healthy = 0
        if new == old:
            return None
        self.limit = new
        self.highest = max(self.highest, new)
        self.generation += 1
        return LimitChange(old, new, reason)
