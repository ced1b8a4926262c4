"""`python -m bench` runs end to end and reports every algorithm (timings are not checked)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NUMBER = r"\d+\.\d+"
VERDICT = r"(?:PASS|MISS)"


@pytest.mark.timeout(60)
def test_quick_validation_benchmark_reports_every_algorithm() -> None:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--number", "50", "--rounds", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=50,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for alg in ("HS256", "RS256", "ES256", "EdDSA"):
        # alg, three times in µs, uncached/raw and its verdict, hit/raw(HS256) and its verdict.
        row = rf"^{alg}\s+(?:{NUMBER}\s+){{3}}{NUMBER}\s+{VERDICT}\s+{NUMBER}\s+{VERDICT}\b"
        assert re.search(row, result.stdout, re.MULTILINE), (alg, result.stdout)
    assert re.search(r"^bench: .*validate (?:PASS|MISS)", result.stdout, re.MULTILINE)
