"""The shop's routes on FastAPI. tokenguard is wired in by `install` and the dependencies."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from sample_apps.common import Options, Shop, json_error
from tokenguard import Principal, get_auth
from tokenguard_fastapi import current_principal, install, optional_principal, require_scopes
from tokenguard_starlette import clear_login_cookies, set_login_cookies


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}


#: Token responses must not be cached (RFC 6749 section 5.1).
NO_STORE = {"cache-control": "no-store"}


def create_app(options: Options) -> FastAPI:
    """The shop as a FastAPI app."""
    shop = Shop(options)
    app = FastAPI(title="tokenguard shop")
    install(app, shop.authenticator)  # middleware + RFC 6750 error responses

    @app.get("/", response_class=HTMLResponse)
    async def index(
        principal: Annotated[Principal | None, Depends(optional_principal)],
    ) -> str:
        return await asyncio.to_thread(shop.page, principal)

    @app.post("/login")
    async def login(request: Request) -> Response:
        data = await _body(request)
        is_json = request.headers.get("content-type", "").startswith("application/json")
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        if not await asyncio.to_thread(shop.check_password, username, password):
            if is_json:
                return Response(json_error("Wrong username or password."), 401,
                                media_type="application/json")  # fmt: skip
            page = shop.page(None, error="Wrong username or password.")
            return HTMLResponse(page, status_code=401)
        pair, csrf = await asyncio.to_thread(shop.login, username)
        response: Response = (
            JSONResponse(pair.to_dict(), headers=NO_STORE)
            if is_json
            else RedirectResponse("/", status_code=303)
        )
        return set_login_cookies(response, pair, shop.cookies, csrf_value=csrf)

    @app.get("/me")
    async def me(principal: Annotated[Principal, Depends(current_principal)]) -> dict[str, Any]:
        return shop.profile(principal)

    @app.get("/cart")
    async def cart(
        principal: Annotated[Principal, Depends(require_scopes("cart:read"))],
    ) -> dict[str, Any]:
        return {"items": await asyncio.to_thread(shop.cart, principal.subject)}

    @app.post("/cart/items")
    async def add_item(
        request: Request,
        principal: Annotated[Principal, Depends(require_scopes("cart:write"))],
    ) -> Response:
        data = await _body(request)
        try:
            items = await asyncio.to_thread(shop.add_item, principal.subject, data.get("item"))
        except ValueError as exc:
            return Response(json_error(str(exc)), 400, media_type="application/json")
        return JSONResponse({"items": items}, status_code=201)

    @app.post("/refresh")
    async def refresh(request: Request) -> Response:
        token = (await _body(request)).get("refresh_token")
        if not isinstance(token, str) or not token:
            return Response(json_error("Send {refresh_token}."), 400, media_type="application/json")
        pair = await shop.issuer.arefresh(token)  # TokenErrors become RFC 6750 answers
        return JSONResponse(pair.to_dict(), headers=NO_STORE)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        auth = get_auth(request.scope)
        body = await _body(request)
        token = body.get("refresh_token") or request.cookies.get(shop.cookies.refresh_cookie)
        principal = auth.principal if auth is not None else None
        await asyncio.to_thread(shop.logout, principal, token if isinstance(token, str) else None)
        return clear_login_cookies(JSONResponse({"logged_out": True}), shop.cookies)

    @app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return shop.issuer.jwks()

    return app


def app_from_env() -> FastAPI:
    """Factory for multi-worker runs: the options travel in environment variables."""
    return create_app(
        Options(
            host="",
            port=0,
            data=Path(os.environ["TOKENGUARD_SHOP_DATA"]),
            access_ttl=int(os.environ.get("TOKENGUARD_ACCESS_TTL", "900")),
            refresh_grace=float(os.environ.get("TOKENGUARD_REFRESH_GRACE", "5")),
            redis=os.environ.get("TOKENGUARD_SHOP_REDIS") or None,
            workers=1,
        )
    )
