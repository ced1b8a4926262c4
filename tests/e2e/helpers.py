"""HTTP helpers shared by the end-to-end tests: logins, Set-Cookie and challenge parsing."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

USER = "alice"
PASSWORD = "wonderland"
#: The shops sign with this issuer whatever port they listen on.
SHOP_ISSUER = "http://127.0.0.1:8000"
TOKEN_COOKIES = ("access_token", "refresh_token", "csrf_token")

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class SetCookie:
    """One Set-Cookie header: name, value and attributes (lower-case names, flags → "")."""

    name: str
    value: str
    attributes: dict[str, str]

    @property
    def http_only(self) -> bool:
        return "httponly" in self.attributes

    @property
    def max_age(self) -> int | None:
        raw = self.attributes.get("max-age")
        return None if raw is None else int(raw)


def set_cookies(response: httpx.Response) -> dict[str, SetCookie]:
    """The response's Set-Cookie headers by cookie name (each name at most once)."""
    found: dict[str, SetCookie] = {}
    for header in response.headers.get_list("set-cookie"):
        first, *rest = header.split(";")
        name, _, value = first.strip().partition("=")
        attributes = {}
        for part in rest:
            key, _, attribute = part.strip().partition("=")
            attributes[key.lower()] = attribute
        assert name not in found, f"Set-Cookie {name} sent twice: {response.headers}"
        found[name] = SetCookie(name, value.strip('"'), attributes)
    return found


def challenge(response: httpx.Response) -> dict[str, str]:
    """The parameters of the response's ``WWW-Authenticate: Bearer ...`` challenge."""
    value = response.headers.get("www-authenticate")
    assert value is not None, f"no WWW-Authenticate on {response.status_code}: {response.text}"
    scheme, _, params = value.partition(" ")
    assert scheme == "Bearer", value
    return dict(_CHALLENGE_PARAM.findall(params))


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def jwt_part(token: str, index: int) -> dict[str, Any]:
    """The decoded header (0) or payload (1) of a JWT; no verification."""
    segment = token.split(".")[index]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return data


def login_json(client: httpx.Client, base_url: str = "") -> dict[str, Any]:
    """Log alice in with a JSON body; the token response (the client keeps the cookies)."""
    response = client.post(f"{base_url}/login", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def api_login(base_url: str) -> dict[str, Any]:
    """Log alice in as an API client that keeps no cookies: the token response."""
    with httpx.Client(timeout=10) as client:
        return login_json(client, base_url)


def wait_past(exp: float, margin: float = 0.2) -> None:
    """Sleep until the real time ``exp`` (a token's expiry) has passed."""
    time.sleep(max(0.0, exp - time.time()) + margin)


def issue_token(key: Path, *, scopes: list[str], audience: str = "api://shop") -> str:
    """An access token for alice signed with ``key`` by the ``tokenguard issue`` command."""
    command = [
        sys.executable, "-m", "tokenguard", "issue",
        "--key", str(key), "--alg", "EdDSA",
        "--sub", USER, "--iss", SHOP_ISSUER, "--aud", audience,
        "--scope", *scopes,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()
