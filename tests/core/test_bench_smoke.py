"""`python -m bench` runs end to end and reports what it measures (timings are not checked)."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"-?\d+\.\d+"
VERDICT = r"(?:PASS|MISS)"
PERCENT = r"\d+\.\d%"

#: The peer modules the adapters benchmark needs (``pip install -e '.[bench]'``).
ADAPTER_PEERS = ("starlette", "fastapi", "authx", "flask", "flask_jwt_extended")
#: The stores of the stores benchmark; it skips Redis when it cannot start a redis-server.
STORES = ("MemoryStore", "SQLiteStore", "RedisStore")


def _bench(
    *args: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **(env or {}), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
        check=False,
    )


@pytest.mark.timeout(60)
def test_quick_validation_benchmark_reports_every_algorithm() -> None:
    result = _bench("validate", "--quick", "--number", "50", "--rounds", "2", timeout=50)
    assert result.returncode == 0, result.stderr
    for alg in ("HS256", "RS256", "ES256", "EdDSA"):
        # alg, three times in µs, uncached/raw and its verdict, hit/raw(HS256) and its verdict.
        row = rf"^{alg}\s+(?:{NUMBER}\s+){{3}}{NUMBER}\s+{VERDICT}\s+{NUMBER}\s+{VERDICT}\b"
        assert re.search(row, result.stdout, re.MULTILINE), (alg, result.stdout)
    assert re.search(r"^bench: .*validate (?:PASS|MISS)", result.stdout, re.MULTILINE)


@pytest.mark.timeout(150)
def test_quick_adapters_benchmark_prints_every_ratio() -> None:
    missing = [name for name in ADAPTER_PEERS if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"peers not installed: {', '.join(missing)} (pip install -e '.[bench]')")
    result = _bench("adapters", "--quick", "--number", "20", "--rounds", "2", timeout=140)
    assert result.returncode == 0, result.stderr
    assert "skipped" not in result.stdout, result.stdout
    goals = (
        "tokenguard ASGI / Starlette AuthenticationMiddleware+PyJWT overhead",
        "tokenguard WSGI / flask-jwt-extended overhead",
    )
    reported = (
        "tokenguard ASGI / authx overhead",
        "tokenguard ASGI + revocation / Starlette AuthenticationMiddleware+PyJWT overhead",
    )
    # A quick run is noisy: a ratio may be n/a when a peer's overhead came out non-positive.
    not_measured = r"n/a \(.* is not positive: too noisy a run\)"
    with_goal = rf"{NUMBER} \(goal <= {NUMBER}: {VERDICT}\)"
    without_goal = rf"{NUMBER} \(reported, no goal\)"
    for labels, value in ((goals, with_goal), (reported, without_goal)):
        for label in labels:
            line = rf"^ratio {re.escape(label)}: (?:{value}|{not_measured})$"
            assert re.search(line, result.stdout, re.MULTILINE), (label, result.stdout)
    refresh = rf"^silent refresh: overhead {NUMBER} µs/request = issuer\.refresh {NUMBER} µs "
    assert re.search(refresh, result.stdout, re.MULTILINE), result.stdout
    assert re.search(rf"^bench: .*adapters {VERDICT}", result.stdout, re.MULTILINE)


def _stores_rows(stdout: str, store: str) -> tuple[int, int]:
    """How many cache-hit rows (sync and async tables) and uncached rows name ``store``."""
    # store, µs/call, x plain, +µs, store alone µs, ttl=1 µs, ttl=1 x plain, noise
    hit = rf"^{store}(?:\s+{NUMBER}){{6}}\s+{PERCENT}$"
    uncached = rf"^{store}(?:\s+{NUMBER}){{3}}\s+{PERCENT}$"
    return (
        len(re.findall(hit, stdout, re.MULTILINE)),
        len(re.findall(uncached, stdout, re.MULTILINE)),
    )


def _check_stores_report(result: subprocess.CompletedProcess[str], *, redis: bool) -> None:
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in ("sync validate, cache hit", "async avalidate, cache hit", "uncached"):
        assert re.search(rf"^{title}\s+µs/call\s+x plain", out, re.MULTILINE), (title, out)
    # The baseline row: its µs/call, then a dash in each column that compares with it.
    plain_hit = rf"^plain \(no revocation\)\s+{NUMBER}(?:\s+-){{5}}\s+{PERCENT}$"
    plain_uncached = rf"^plain \(no revocation\)\s+{NUMBER}(?:\s+-){{2}}\s+{PERCENT}$"
    assert len(re.findall(plain_hit, out, re.MULTILINE)) == 2, out
    assert len(re.findall(plain_uncached, out, re.MULTILINE)) == 1, out
    for store in STORES if redis else STORES[:2]:
        assert _stores_rows(out, store) == (2, 1), (store, out)
    if redis:
        assert "skipped RedisStore" not in out, out
    else:
        assert re.search(r"^  skipped RedisStore: \S", out, re.MULTILINE), out
        assert _stores_rows(out, "RedisStore") == (0, 0), out
    assert not re.search(r"\b(?:PASS|MISS)\b", out), out  # report only: no goals
    assert re.search(r"^bench: .*stores \(report only\): ", out, re.MULTILINE), out


def _redis_runs() -> bool:
    return (
        shutil.which("redis-server") is not None and importlib.util.find_spec("redis") is not None
    )


@pytest.mark.timeout(60)
def test_quick_stores_benchmark_reports_every_store() -> None:
    result = _bench("stores", "--quick", "--number", "20", "--rounds", "2", timeout=50)
    # Without redis-server (or the redis package) the benchmark skips Redis and says so.
    _check_stores_report(result, redis=_redis_runs())


@pytest.mark.timeout(60)
def test_quick_stores_benchmark_skips_redis_without_a_server(tmp_path: Path) -> None:
    # An empty PATH hides redis-server; the interpreter is run by its absolute path.
    env = {"PATH": str(tmp_path)}
    result = _bench("stores", "--quick", "--number", "20", "--rounds", "2", timeout=50, env=env)
    _check_stores_report(result, redis=False)
    assert "redis-server is not installed" in result.stdout, result.stdout
