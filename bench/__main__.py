"""Run the benchmarks: ``python -m bench [NAME ...] [--quick] [--rounds R] [--number N]``.

Benchmarks are reports, not tests: the exit status is 0 whether or not a goal is met
(it is 2 only for a bad command line). To add one, write ``bench/<name>.py`` with a
``run(request: Request) -> Outcome`` function and add its name to `BENCHMARKS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence

from bench._harness import Benchmark, Request

#: Benchmark modules of this package, run in this order.
BENCHMARKS: tuple[str, ...] = ("validate", "adapters", "stores")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Benchmark tokenguard against raw PyJWT and print a table per benchmark. "
            "Each contender is timed in batches, interleaved with the others over several "
            "rounds; the median per-call time is reported. Goals are marked PASS or MISS, "
            "but the exit status is 0 either way."
        ),
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short smoke run (a few seconds) instead"
    )
    parser.add_argument(
        "--rounds", type=_positive, help="rounds of interleaved batches (default: per benchmark)"
    )
    parser.add_argument(
        "--number", type=_positive, help="calls per contender per batch (default: per benchmark)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks and print their reports, then one summary line."""
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHMARKS)}")
    request = Request(quick=args.quick, rounds=args.rounds, number=args.number, out=sys.stdout)
    start = time.perf_counter()
    summaries: list[str] = []
    all_met = True
    for index, name in enumerate(args.names or BENCHMARKS):
        if index:
            print()
        run: Benchmark = importlib.import_module(f"bench.{name}").run
        outcome = run(request)
        summaries.append(outcome.summary)
        all_met = all_met and outcome.met
    elapsed = time.perf_counter() - start
    verdict = "all goals met" if all_met else "some goals missed"
    print()
    print(f"bench: {verdict} in {elapsed:.1f} s; {'; '.join(summaries)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
