"""What the three sample shops share: users, carts, keys on disk, the issuer, the page.

Each shop (FastAPI, Flask, Django) only maps its routes onto `Shop`; the tokenguard wiring
is in `Shop.__init__` and is the part to copy into your own app.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import html
import json
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tokenguard import (
    Authenticator,
    CookiePolicy,
    Key,
    Principal,
    TokenIssuer,
    TokenPair,
    TokenStore,
    login_redirect,
    new_csrf_value,
)
from tokenguard.stores.sqlite import SQLiteStore

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = ["api://shop", "api://orders"]
SCOPES = ("profile", "cart:read", "cart:write")
DEMO_USERS = {"alice": "wonderland"}

# A few lines of CSS keep the demo page readable; the element ids are what tests rely on.
_HEAD = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tokenguard shop</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; color: #222; max-width: 30rem;
       margin: 3rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin: 0 0 1.5rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 0.5rem; }
label { display: block; margin-bottom: 0.75rem; }
label input { display: block; width: 100%; box-sizing: border-box; margin-top: 0.25rem; }
input, button { font: inherit; padding: 0.4rem 0.7rem; border: 1px solid #bbb;
                border-radius: 4px; }
button { background: #2b59c3; border-color: #2b59c3; color: #fff; cursor: pointer; }
#cart { padding-left: 1.25rem; }
#cart:empty::before { content: "Your cart is empty."; color: #777; margin-left: -1.25rem; }
#add { display: flex; gap: 0.5rem; }
#add input { flex: 1; }
#logout { margin-top: 1.5rem; background: #fff; color: #2b59c3; }
.error { color: #b00020; }
</style></head>"""


@dataclass(frozen=True)
class Options:
    """Command line and environment of a shop."""

    host: str
    port: int
    data: Path
    access_ttl: int
    refresh_grace: float
    redis: str | None
    workers: int


def parse_options(description: str, argv: list[str] | None = None) -> Options:
    """``--host``, ``--port``, ``--data``, ``--redis``, ``--workers`` and the
    ``TOKENGUARD_ACCESS_TTL`` / ``TOKENGUARD_REFRESH_GRACE`` environment variables."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--data", type=Path, default=Path("var/shop"), help="folder for keys and databases"
    )
    parser.add_argument(
        "--redis", default=None, help="redis:// URL: keep tokens in Redis instead of SQLite"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the token store"
    )
    args = parser.parse_args(argv)
    return Options(
        host=args.host,
        port=args.port,
        data=args.data,
        access_ttl=_env_number("TOKENGUARD_ACCESS_TTL", 900, int),
        refresh_grace=_env_number("TOKENGUARD_REFRESH_GRACE", 5.0, float),
        redis=args.redis,
        workers=args.workers,
    )


def _env_number(name: str, default: Any, kind: type) -> Any:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, not {raw!r}") from None


def load_or_create_key(data: Path) -> Key:
    """The shop's EdDSA signing key, generated on first start and kept (mode 0600)."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / "signing-key.pem"
    if not path.exists():
        # Written in full under a temporary name, then linked into place: of several
        # processes starting together (uvicorn --workers), one key wins and every process
        # reads that one, never a half-written file.
        temporary = data / f".signing-key-{os.getpid()}-{secrets.token_hex(4)}.pem"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Key.generate("EdDSA").private_pem())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink()
    key = Key.from_pem(path.read_bytes(), alg="EdDSA")
    return key.with_kid(key.thumbprint())


def _password_hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


class Shop:
    """The shop's state and logic, shared by the three framework versions."""

    def __init__(self, options: Options) -> None:
        self.options = options
        options.data.mkdir(parents=True, exist_ok=True)
        store: TokenStore
        if options.redis:
            from tokenguard.stores.redis import RedisStore

            store = RedisStore(options.redis, prefix="shop:")
        else:
            store = SQLiteStore(options.data / "tokens.db")
        # --- tokenguard wiring: issuer, validator, middleware configuration -------------
        self.issuer = TokenIssuer(
            load_or_create_key(options.data),
            store=store,
            issuer=ISSUER,
            audience=AUDIENCE,
            access_ttl=options.access_ttl,
            refresh_grace=options.refresh_grace,
        )
        # Plain http on 127.0.0.1: Secure cookies would never be sent back. Use the
        # default (secure=True, __Host- names) behind HTTPS.
        self.cookies = CookiePolicy(secure=False)
        self.authenticator = Authenticator(
            self.issuer.validator(),  # checks revocation in the store too
            source=self.issuer,  # silent refresh with rotation
            cookies=self.cookies,
            public=["/refresh", "/.well-known/jwks.json", "/login"],
            error_handler=login_redirect("/"),  # browsers go back to the login form
        )
        # ---------------------------------------------------------------------------------
        self._db = sqlite3.connect(options.data / "shop.db", check_same_thread=False)
        self._db_lock = threading.Lock()
        with self._db_lock, self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS carts (user TEXT, item TEXT)")
        salt = secrets.token_bytes(16)
        self._users = {name: (salt, _password_hash(pw, salt)) for name, pw in DEMO_USERS.items()}

    # -- accounts ----------------------------------------------------------------------

    def check_password(self, username: str, password: str) -> bool:
        """The app's own job: tokenguard starts after this."""
        salt, expected = self._users.get(username, (b"-" * 16, b""))
        return hmac.compare_digest(_password_hash(password, salt), expected) and bool(expected)

    def login(self, username: str) -> tuple[TokenPair, str]:
        """A new token pair with a CSRF value bound into the access token."""
        csrf = new_csrf_value()
        pair = self.issuer.issue_pair(username, scopes=SCOPES, claims={"csrf": csrf})
        return pair, csrf

    def logout(self, principal: Principal | None, refresh_token: str | None) -> None:
        """Revoke the refresh family and the presented access token."""
        if refresh_token:
            self.issuer.revoke_refresh(refresh_token)
        if principal is not None and principal.token_id is not None:
            self.issuer.revoke_access(principal)

    # -- carts -------------------------------------------------------------------------

    def cart(self, user: str) -> list[str]:
        with self._db_lock:
            rows = self._db.execute("SELECT item FROM carts WHERE user = ?", (user,)).fetchall()
        return [row[0] for row in rows]

    def add_item(self, user: str, item: object) -> list[str]:
        if not isinstance(item, str) or not 0 < len(item) <= 100:
            raise ValueError("item must be a string of 1 to 100 characters")
        with self._db_lock, self._db:
            self._db.execute("INSERT INTO carts VALUES (?, ?)", (user, item))
        return self.cart(user)

    # -- responses -----------------------------------------------------------------------

    @staticmethod
    def profile(principal: Principal) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "scopes": sorted(principal.scopes),
            "fresh": principal.claims.get("fresh") is True,
            "expires_at": principal.expires_at,
        }

    def page(self, principal: Principal | None, error: str | None = None) -> str:
        """The HTML page: the login form, or the profile and cart."""
        if principal is None:
            message = f'<p class="error">{html.escape(error)}</p>' if error else ""
            body = f"""<h1>tokenguard shop</h1>{message}
<form method="post" action="/login" id="login">
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <button type="submit">Log in</button>
</form>"""
        else:
            items = "".join(f"<li>{html.escape(i)}</li>" for i in self.cart(principal.subject))
            body = f"""<h1>tokenguard shop</h1>
<p id="profile">Logged in as <b id="subject">{html.escape(principal.subject)}</b></p>
<h2>Cart</h2><ul id="cart">{items}</ul>
<form id="add"><input name="item" id="item" placeholder="book"><button>Add</button></form>
<button id="logout">Log out</button>
<script>
const csrf = () => (document.cookie.match(/(?:^|; )csrf_token=([^;]*)/) || [])[1] || "";
async function post(url, body) {{
  const r = await fetch(url, {{method: "POST", headers: {{"content-type": "application/json",
    "x-csrf-token": csrf()}}, body: JSON.stringify(body || {{}})}});
  if (!r.ok && r.status !== 401) alert("Request failed: " + r.status);
  location.reload();
}}
document.getElementById("add").onsubmit = (e) => {{
  e.preventDefault(); post("/cart/items", {{item: document.getElementById("item").value}});
}};
document.getElementById("logout").onclick = () => post("/logout");
</script>"""
        return f"{_HEAD}<body>{body}</body></html>"


def json_error(message: str) -> bytes:
    """A small JSON error body."""
    return json.dumps({"error": "invalid_request", "error_description": message}).encode()
