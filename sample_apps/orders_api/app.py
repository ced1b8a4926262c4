"""The orders service: validates the shop's tokens with the shop's public JWKS only.

It holds no secret and never talks to the shop's store: the microservice case.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sample_apps.common import ISSUER
from tokenguard import Authenticator, RemoteJWKS, TokenValidator, current_principal, require_scopes
from tokenguard_starlette import install


def create_app(shop_url: str, *, leeway: float = 30) -> Starlette:
    """The orders API, trusting tokens whose keys are published at ``shop_url``."""
    host = urlsplit(shop_url).hostname
    keys = RemoteJWKS(
        shop_url.rstrip("/") + "/.well-known/jwks.json",
        # Plain http only for the demo on this machine; use https:// anywhere else.
        allow_http=host in ("127.0.0.1", "localhost", "::1"),
        default_ttl=60,
        min_ttl=1,
        unknown_kid_interval=1,
    )
    validator = TokenValidator(keys, issuer=ISSUER, audience="api://orders", leeway=leeway)

    @require_scopes("cart:read")
    async def orders(request: Request) -> JSONResponse:
        principal = current_principal()
        owner = principal.subject if principal is not None else ""
        return JSONResponse({"owner": owner, "orders": [{"id": 1, "items": ["book"]}]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/orders", orders), Route("/health", health)])
    install(app, Authenticator(validator, public=["/health"]))
    return app
