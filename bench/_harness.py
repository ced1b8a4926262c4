"""Timing and reporting helpers shared by the benchmark modules (private).

Every benchmark measures its contenders the same way: ``rounds`` rounds, and in each round
one batch of ``number`` calls per contender, in an order that rotates from round to round,
so that drift in machine load (other tenants, frequency scaling, thermal limits) falls on
every contender alike. The reported figure is the median per-call time across rounds.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

__all__ = [
    "Benchmark",
    "Operation",
    "Outcome",
    "Request",
    "Sizes",
    "Stats",
    "format_table",
    "measure",
    "time_batch",
]


class Operation(Protocol):
    """One call of a contender; its result is ignored."""

    def __call__(self) -> object: ...


@dataclass(frozen=True, kw_only=True)
class Sizes:
    """How much to measure: ``rounds`` rounds of ``number`` calls per contender."""

    rounds: int
    number: int


@dataclass(frozen=True, kw_only=True)
class Request:
    """What the command line asked of a benchmark.

    Args:
        quick: a short smoke run instead of the full one.
        rounds: overrides the benchmark's own choice of rounds.
        number: overrides the benchmark's own choice of calls per batch.
        out: where the report goes.
    """

    quick: bool
    rounds: int | None
    number: int | None
    out: TextIO

    def sizes(self, *, full: Sizes, quick: Sizes) -> Sizes:
        """The benchmark's defaults for this run, with the command-line overrides applied."""
        base = quick if self.quick else full
        return Sizes(rounds=self.rounds or base.rounds, number=self.number or base.number)


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a benchmark found, in one line, and whether every goal was met."""

    summary: str
    met: bool


class Benchmark(Protocol):
    """The ``run`` function of a benchmark module."""

    def __call__(self, request: Request) -> Outcome: ...


@dataclass(frozen=True, kw_only=True)
class Stats:
    """Per-call times (nanoseconds) of one contender, one sample per round."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median: how noisy the rounds were."""
        if len(self.samples) < 2 or self.median <= 0:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return (q3 - q1) / self.median


def time_batch(operation: Operation, number: int) -> int:
    """Nanoseconds taken by ``number`` calls of ``operation``."""
    # The collector is off while timing (as timeit does): a collection is triggered by
    # allocation counts, so it would be charged to whichever contender happens to run when
    # the threshold trips rather than to the one that made the garbage.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(number):
            operation()
        return time.perf_counter_ns() - start
    finally:
        if was_enabled:
            gc.enable()


def _rotated(items: Sequence[str], by: int) -> list[str]:
    shift = by % len(items) if items else 0
    return [*items[shift:], *items[:shift]]


def measure(
    groups: Mapping[str, Mapping[str, Operation]], sizes: Sizes
) -> dict[str, dict[str, Stats]]:
    """Time every contender of every group, interleaved, and return their per-call times.

    In round ``r`` both the group order and the contender order within each group are
    rotated by ``r``, so no contender always runs first, last, or after the same neighbour.

    Args:
        groups: contenders by group (such as an algorithm), then by name.
        sizes: rounds, and calls per batch.

    Returns:
        The per-call times, by group and contender name.
    """
    samples: dict[str, dict[str, list[float]]] = {
        group: {name: [] for name in contenders} for group, contenders in groups.items()
    }
    group_names = list(groups)
    for round_ in range(sizes.rounds):
        for group in _rotated(group_names, round_):
            contenders = groups[group]
            for name in _rotated(list(contenders), round_):
                elapsed = time_batch(contenders[name], sizes.number)
                samples[group][name].append(elapsed / sizes.number)
    return {
        group: {name: Stats(samples=tuple(values)) for name, values in by_name.items()}
        for group, by_name in samples.items()
    }


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [first.ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
