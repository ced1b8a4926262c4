"""Fixtures of the end-to-end tests, and the server output in the report of a failure."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.e2e.servers import Servers, running_servers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        # Every fixture value that started servers (an AppServer, a Servers) offers their
        # output; pytest prints report sections next to the traceback.
        sections: dict[str, str] = {}
        for value in getattr(item, "funcargs", {}).values():
            log_sections = getattr(value, "log_sections", None)
            if callable(log_sections):
                sections.update(log_sections())
        for title, text in sections.items():
            report.sections.append((f"server output: {title}", text))
    return report


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """Starts sample apps for one test (logs in tmp_path) and stops them afterwards."""
    yield from running_servers(tmp_path)
