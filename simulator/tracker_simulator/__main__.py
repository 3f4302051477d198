"""Run the simulator standalone: ``tracker-simulator --issues 5000 --port 8765``.

Prints the URL and credentials, serves until Ctrl-C or SIGTERM. ``--tick-seconds`` makes the
organisation live (every tick advances the clock and mutates/creates issues), for demos of incremental
syncs against a running server.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

from .faults import FaultPlan
from .generator import generate_organisation
from .server import TrackerSimulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tracker-simulator", description=__doc__.splitlines()[0])
    p.add_argument("--issues", type=int, default=5000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    p.add_argument("--token", default="sim-token", help="OAuth token accepted by the server")
    p.add_argument("--org-id", default="sim-org", help="X-Org-ID accepted by the server")
    p.add_argument("--cloud-org-id", default=None, help="X-Cloud-Org-ID accepted by the server")
    p.add_argument("--iam-token", default=None, help="IAM token (Bearer) accepted with --cloud-org-id")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    p.add_argument(
        "--capacity", type=int, default=None, help="requests served at once; more get 429 (default: no limit)"
    )
    p.add_argument("--capacity-retry-after", type=float, default=1.0, help="Retry-After of those 429s")
    p.add_argument(
        "--load-latency-ms",
        type=float,
        default=0.0,
        help="added per other request in service (slows with load)",
    )
    p.add_argument("--users", type=int, default=None, help="people in the organisation (> 10000: big org)")
    p.add_argument(
        "--drift",
        action="store_true",
        help="serve fields the product does not rely on in other shapes (see tracker_simulator/drift.py)",
    )
    faults = p.add_argument_group("faults (probabilities per request, 0..1)")
    faults.add_argument("--fault-seed", type=int, default=0)
    faults.add_argument("--jitter-ms", type=float, default=0.0)
    faults.add_argument("--rate-429", type=float, default=0.0)
    faults.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds on 429")
    faults.add_argument("--rate-500", type=float, default=0.0)
    faults.add_argument("--rate-503", type=float, default=0.0)
    faults.add_argument("--rate-504", type=float, default=0.0)
    faults.add_argument(
        "--rate-drop", type=float, default=0.0, help="close the connection without a response"
    )
    faults.add_argument("--rate-truncate", type=float, default=0.0, help="200 with half a JSON body")
    faults.add_argument(
        "--fault-routes", default="*", help='fnmatch pattern, e.g. "POST /{v}/issues/_search"'
    )
    live = p.add_argument_group("live organisation")
    live.add_argument(
        "--tick-seconds", type=float, default=0.0, help="advance every N wall seconds (0 = off)"
    )
    live.add_argument("--tick-minutes", type=float, default=10.0, help="simulated minutes per tick")
    live.add_argument("--tick-mutate", type=int, default=5)
    live.add_argument("--tick-create", type=int, default=1)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    org = generate_organisation(args.issues, seed=args.seed, users=args.users)
    rates = ("rate_429", "retry_after", "rate_500", "rate_503", "rate_504", "rate_drop", "rate_truncate")
    plan = FaultPlan(
        seed=args.fault_seed,
        latency_jitter_ms=args.jitter_ms,
        routes=args.fault_routes,
        **{name: getattr(args, name) for name in rates},
    )
    sim = TrackerSimulator(
        org,
        host=args.host,
        port=args.port,
        token=args.token,
        org_id=args.org_id,
        cloud_org_id=args.cloud_org_id,
        iam_token=args.iam_token,
        latency_ms=args.latency_ms,
        faults=plan,
        drift=args.drift,
        capacity=args.capacity,
        capacity_retry_after=args.capacity_retry_after,
        load_latency_ms=args.load_latency_ms,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with sim:
        print(
            f"Tracker simulator: {args.issues} issues (seed {args.seed}) in {time.monotonic() - started:.1f}s"
        )
        print(f"URL:          {sim.url}   (API: {sim.url}/v3, {sim.url}/v2)")
        credentials = (
            ("OAuth token", args.token, f"Authorization: OAuth {args.token}"),
            ("Org id", args.org_id, "X-Org-ID"),
            ("Cloud org id", args.cloud_org_id, "X-Cloud-Org-ID"),
            ("IAM token", args.iam_token, f"Authorization: Bearer {args.iam_token}"),
        )
        for label, value, usage in credentials:
            if value:
                print(f"{label + ':':<14}{value}   ({usage})")
        print("Ctrl-C to stop.", flush=True)
        while not stop.wait(args.tick_seconds or 3600):
            if args.tick_seconds:
                changed = sim.advance(args.tick_minutes, mutate=args.tick_mutate, create=args.tick_create)
                print(f"advanced {args.tick_minutes} min: {len(changed)} issues changed", flush=True)
        stats = sim.stats
    print(f"stopped after {stats.total} requests (peak concurrency {stats.peak_concurrency})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
