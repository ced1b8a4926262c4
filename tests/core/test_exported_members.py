"""The public API is exactly what __all__ says, and the core imports no web framework."""

from __future__ import annotations
import __future__

import pkgutil
import subprocess
import sys
import types

import tokenguard


def test_all_matches_public_names() -> None:
    public = {
        name
        for name, value in vars(tokenguard).items()
        if not name.startswith("_")
        and not isinstance(value, (types.ModuleType, __future__._Feature))
    }
    assert set(tokenguard.__all__) - {"__version__"} == public
    for name in tokenguard.__all__:
        assert hasattr(tokenguard, name), name


def test_core_modules_import_no_framework() -> None:
    # Every module of the package, adapters included: none may pull in a framework.
    core = ["tokenguard"] + [
        m.name
        for m in pkgutil.walk_packages(tokenguard.__path__, prefix="tokenguard.")
        if m.name != "tokenguard.stores.redis"  # an optional extra, not a framework
    ]
    assert "tokenguard.stores.memory" in core
    assert "tokenguard.asgi" in core
    frameworks = ["starlette", "fastapi", "flask", "werkzeug", "django", "litestar", "falcon"]
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in core)
        + f"print(','.join(f for f in {frameworks!r} if f in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
