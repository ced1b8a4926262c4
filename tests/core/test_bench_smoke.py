"""`python -m bench` runs end to end and reports what it measures (timings are not checked)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"-?\d+\.\d+"
VERDICT = r"(?:PASS|MISS)"

#: The peer modules the adapters benchmark needs (``pip install -e '.[bench]'``).
ADAPTER_PEERS = ("starlette", "fastapi", "authx", "flask", "flask_jwt_extended")


def _bench(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
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
