"""MkDocs hook: replace ``<!-- tokenguard-help ARGS -->`` with ``tokenguard ARGS --help``.

The CLI reference is generated from the command itself at build time, so it cannot drift.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Iterator
from typing import Any

from tokenguard.cli import main

_MARKER = re.compile(r"^<!-- tokenguard-help(?P<args>(?: [\w-]+)*) -->$", re.MULTILINE)
# argparse wraps help to the terminal width and may colour it: pin both for the page.
_ENVIRONMENT = {"COLUMNS": "90", "NO_COLOR": "1"}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def _help(args: list[str]) -> str:
    out = io.StringIO()
    with _environment(_ENVIRONMENT), contextlib.redirect_stdout(out):
        code = main([*args, "--help"])
    if code != 0:
        raise RuntimeError(f"tokenguard {' '.join(args)} --help exited with {code}")
    return out.getvalue().rstrip()


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Expand every help marker on the page into a console block."""

    def expand(match: re.Match[str]) -> str:
        args = match.group("args").split()
        command = " ".join(["tokenguard", *args, "--help"])
        return f"```console\n$ {command}\n{_help(args)}\n```"

    return _MARKER.sub(expand, markdown)
