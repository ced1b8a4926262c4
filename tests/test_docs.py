"""The documentation site builds without a warning, and its examples run.

A Python block preceded by ``<!-- run -->`` in docs/ must run as it is printed. The
quickstart apps are also logged in to and called, with a Bearer token and with cookies.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tokenguard import Key

pytestmark = pytest.mark.docs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_RUN_BLOCK = re.compile(r"^<!-- run -->\n```python[^\n]*\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_FRAMEWORKS = {"starlette", "fastapi", "flask", "django", "rest_framework"}


def _examples() -> list[Any]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in _RUN_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            name = f"{page.relative_to(DOCS)}:{line}"
            found.append(pytest.param(match.group(1), name, id=name))
    return found


EXAMPLES = _examples()


def test_examples_are_found() -> None:
    assert len(EXAMPLES) >= 10


def _run(code: str, name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run one example in ``workdir`` (holding a signing.pem) and return its namespace."""
    (workdir / "signing.pem").write_bytes(Key.generate("EdDSA").private_pem())
    monkeypatch.chdir(workdir)
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    try:
        exec(compile(code, name, "exec"), namespace)  # noqa: S102 - our own docs
    except ModuleNotFoundError as exc:
        if exc.name not in _FRAMEWORKS:
            raise
        pytest.skip(f"the example needs {exc.name}, which is not installed")
    return namespace


def _close(namespace: dict[str, Any]) -> None:
    issuer = namespace.get("issuer")
    if issuer is not None:
        issuer.store.close()


@pytest.mark.parametrize(("code", "name"), EXAMPLES)
def test_example_runs(
    code: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    namespace = _run(code, name, tmp_path, monkeypatch)
    _close(namespace)
    capsys.readouterr()  # the examples print what the page shows


class _Client:
    """The few calls the quickstart check makes, over either framework's test client."""

    def __init__(self, post: Callable[..., Any], get: Callable[..., Any]) -> None:
        self.post, self.get = post, get


def _starlette_client(app: Any) -> tuple[_Client, Callable[[], dict[str, str]]]:
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="https://testserver")
    return _Client(client.post, client.get), lambda: dict(client.cookies)


def _flask_client(app: Any) -> tuple[_Client, Callable[[], dict[str, str]]]:
    client = app.test_client()

    def post(path: str, **kwargs: Any) -> Any:
        return client.post("https://localhost" + path, **kwargs)

    def get(path: str, **kwargs: Any) -> Any:
        return client.get("https://localhost" + path, **kwargs)

    def cookies() -> dict[str, str]:
        names = ("__Host-access_token", "__Host-refresh_token", "__Host-csrf_token")
        found = {name: client.get_cookie(name) for name in names}
        return {name: cookie.value for name, cookie in found.items() if cookie is not None}

    return _Client(post, get), cookies


def _body(response: Any) -> Any:
    return response.json() if callable(response.json) else response.json


QUICKSTARTS = [
    pytest.param("quickstart/starlette.md", "starlette", _starlette_client, id="starlette"),
    pytest.param("quickstart/fastapi.md", "fastapi", _starlette_client, id="fastapi"),
    pytest.param("quickstart/flask.md", "flask", _flask_client, id="flask"),
]


@pytest.mark.parametrize(("page", "framework", "make_client"), QUICKSTARTS)
def test_quickstart_app_serves_the_flow(
    page: str,
    framework: str,
    make_client: Callable[[Any], tuple[_Client, Callable[[], dict[str, str]]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip(framework)
    match = _RUN_BLOCK.search((DOCS / page).read_text(encoding="utf-8"))
    assert match is not None
    namespace = _run(match.group(1), page, tmp_path, monkeypatch)
    namespace["check_password"] = lambda username, password: password == "wonderland"
    try:
        browser, cookies = make_client(namespace["app"])
        credentials = {"username": "alice", "password": "wonderland"}
        assert browser.post("/login", json={**credentials, "password": "x"}).status_code == 401
        login = browser.post("/login", json=credentials)
        assert login.status_code == 200
        assert login.headers["cache-control"] == "no-store"
        pair = _body(login)
        jar = cookies()
        assert sorted(jar) == ["__Host-access_token", "__Host-csrf_token", "__Host-refresh_token"]

        # Cookies: a read, then a write without and with the CSRF header.
        assert _body(browser.get("/cart"))["owner"] == "alice"
        assert browser.post("/cart/items", json={"item": "book"}).status_code == 403
        csrf = {"x-csrf-token": jar["__Host-csrf_token"]}
        assert browser.post("/cart/items", json={"item": "book"}, headers=csrf).status_code == 201

        # Bearer: refresh explicitly, log out, and find both tokens revoked.
        api, _ = make_client(namespace["app"])
        assert api.get("/.well-known/jwks.json").status_code == 200
        refreshed = api.post("/refresh", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.headers["cache-control"] == "no-store"
        renewed = _body(refreshed)
        bearer = {"authorization": "Bearer " + renewed["access_token"]}
        assert _body(api.get("/me", headers=bearer))["subject"] == "alice"
        body = {"refresh_token": renewed["refresh_token"]}
        assert api.post("/logout", json=body, headers=bearer).status_code == 200
        assert api.get("/me", headers=bearer).status_code == 401
        assert api.post("/refresh", json=body).status_code == 401
    finally:
        _close(namespace)


def test_site_builds_without_warnings(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip('mkdocs is not installed: pip install -e ".[docs]" (or make docs)')
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    for page in ("index.html", "cli/index.html", "api/validation/index.html"):
        assert (tmp_path / page).is_file(), page
    # The CLI page holds the help the command prints today.
    assert "let --out overwrite a file" in (tmp_path / "cli" / "index.html").read_text()
