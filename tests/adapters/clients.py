"""The two clients of the behaviour suite, behind one interface returning a `Reply`.

ASGI requests go through ``httpx.ASGITransport``; WSGI requests through WebTest, whose lint
middleware checks PEP 3333 on the way. ``burst`` sends many identical requests at once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from wsgiref.util import setup_testing_defaults

import httpx

with warnings.catch_warnings():
    # WebOb 1.8 (WebTest's request layer) imports the stdlib ``cgi`` module, deprecated
    # since Python 3.11; silence exactly that import-time warning and nothing else.
    warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
    import webtest

from tokenguard import asgi, wsgi

HOST = "shop.example"


# -- replies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attrs: dict[str, str]  # lower-case attribute names; flags map to ""


def parse_set_cookie(raw: str) -> SetCookie:
    first, *rest = raw.split(";")
    name, _, value = first.strip().partition("=")
    attrs = {}
    for part in rest:
        key, _, val = part.strip().partition("=")
        attrs[key.lower()] = val
    return SetCookie(name, value, attrs)


def parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="api", error="x"`` -> ("Bearer", {"realm": "api", "error": "x"})."""
    scheme, _, rest = value.partition(" ")
    params: dict[str, str] = {}
    while rest:
        name, _, rest = rest.partition("=")
        assert rest.startswith('"'), value
        end = rest.index('"', 1)
        params[name.strip()] = rest[1:end]
        rest = rest[end + 1 :].lstrip(", ")
    return scheme, params


@dataclass(frozen=True)
class Reply:
    status: int
    headers: list[tuple[str, str]]  # lower-case names, in order
    body: bytes

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name.lower()]

    def header(self, name: str) -> str | None:
        values = self.values(name)
        assert len(values) <= 1, f"{name} was sent {len(values)} times"
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def cookies(self) -> dict[str, SetCookie]:
        parsed = [parse_set_cookie(v) for v in self.values("set-cookie")]
        by_name = {c.name: c for c in parsed}
        assert len(by_name) == len(parsed), "a cookie was set twice"
        return by_name

    def challenge(self) -> tuple[str, dict[str, str]]:
        value = self.header("www-authenticate")
        assert value is not None, "no WWW-Authenticate header"
        return parse_challenge(value)

    def assert_secret_free(self, *secrets: str) -> None:
        """None of ``secrets`` appears in the body or in a header other than Set-Cookie."""
        shown = " ".join(v for n, v in self.headers if n != "set-cookie") + self.text
        for secret in secrets:
            assert secret not in shown


# -- clients ---------------------------------------------------------------------------

Headers = Mapping[str, str] | Sequence[tuple[str, str]]


def header_list(headers: Headers, cookies: Mapping[str, str] | None) -> list[tuple[str, str]]:
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if cookies:
        items.append(("Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items())))
    return items


class Client:
    """One interface over both adapters."""

    adapter: str

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Headers = (),
        cookies: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        raise NotImplementedError

    def burst(
        self, n: int, method: str, path: str, *, cookies: Mapping[str, str] | None = None
    ) -> list[Reply]:
        """``n`` identical requests at the same time."""
        raise NotImplementedError

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)


class ASGIClient(Client):
    adapter = "asgi"

    def __init__(self, app: asgi.TokenGuardMiddleware) -> None:
        self.app = app

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url=f"http://{HOST}", trust_env=False
        )

    @staticmethod
    def reply(response: httpx.Response) -> Reply:
        return Reply(response.status_code, response.headers.multi_items(), response.content)

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Headers = (),
        cookies: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        async def go() -> Reply:
            async with self.http() as http:
                response = await http.request(
                    method, path, headers=header_list(headers, cookies), content=body
                )
            return self.reply(response)

        return asyncio.run(go())

    def burst(
        self, n: int, method: str, path: str, *, cookies: Mapping[str, str] | None = None
    ) -> list[Reply]:
        async def go() -> list[Reply]:
            async with self.http() as http:
                responses = await asyncio.gather(
                    *(
                        http.request(method, path, headers=header_list((), cookies))
                        for _ in range(n)
                    )
                )
            return [self.reply(r) for r in responses]

        return asyncio.run(go())


def call_wsgi(app: wsgi.TokenGuardMiddleware, environ: dict[str, Any]) -> Reply:
    """Run one request through a WSGI callable without any test framework."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started.append((status, headers))
        return lambda data: None

    body = app(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    status, headers = started[-1]
    return Reply(int(status.split()[0]), [(n.lower(), v) for n, v in headers], data)


class WSGIClient(Client):
    adapter = "wsgi"

    def __init__(self, app: wsgi.TokenGuardMiddleware) -> None:
        self.app = app
        self.test_app = webtest.TestApp(app)

    @staticmethod
    def merged(headers: Headers, cookies: Mapping[str, str] | None) -> dict[str, str]:
        # A WSGI server has one environ slot per header: repeated header lines arrive
        # joined with commas (RFC 9110 section 5.3), cookies with "; ".
        merged: dict[str, str] = {}
        for name, value in header_list(headers, cookies):
            key = name.lower()
            if key in merged:
                merged[key] += ("; " if key == "cookie" else ",") + value
            else:
                merged[key] = value
        merged.setdefault("host", HOST)
        return merged

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Headers = (),
        cookies: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        response = self.test_app.request(
            path,
            method=method,
            headers=list(self.merged(headers, cookies).items()),
            body=body,
            expect_errors=True,
        )
        self.test_app.reset()  # no cookie jar: every test states its cookies
        headers_out = [(n.lower(), v) for n, v in response.headerlist]
        return Reply(response.status_int, headers_out, response.body)

    def burst(
        self, n: int, method: str, path: str, *, cookies: Mapping[str, str] | None = None
    ) -> list[Reply]:
        barrier = threading.Barrier(n)

        def one(_: int) -> Reply:
            environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path}
            setup_testing_defaults(environ)
            for name, value in self.merged((), cookies).items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value
            barrier.wait(timeout=10)
            return call_wsgi(self.app, environ)

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(one, range(n)))
