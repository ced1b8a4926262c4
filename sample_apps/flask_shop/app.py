"""The shop's routes on Flask. tokenguard is wired in by the `TokenGuard` extension."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as BaseResponse

from sample_apps.common import Options, Shop, json_error
from tokenguard import current_auth, require_auth, require_scopes
from tokenguard_flask import TokenGuard, clear_login_cookies, current_principal, set_login_cookies


def _body() -> dict[str, Any]:
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return dict(request.form)


def _json_error(message: str, status: int) -> Response:
    return Response(json_error(message), status=status, mimetype="application/json")


def create_app(options: Options) -> Flask:
    """The shop as a Flask app."""
    shop = Shop(options)
    app = Flask(__name__)
    TokenGuard(app, shop.authenticator)  # WSGI middleware + RFC 6750 error handler

    @app.get("/")
    def index() -> str:
        return shop.page(current_auth().principal)

    @app.post("/login")
    def login() -> BaseResponse:
        data = _body()
        username, password = str(data.get("username", "")), str(data.get("password", ""))
        if not shop.check_password(username, password):
            if request.is_json:
                return _json_error("Wrong username or password.", 401)
            return Response(shop.page(None, error="Wrong username or password."), status=401)
        pair, csrf = shop.login(username)
        response = jsonify(pair.to_dict()) if request.is_json else redirect("/", code=303)
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
        return set_login_cookies(response, pair, csrf_value=csrf)

    @app.get("/me")
    @require_auth
    def me() -> dict[str, Any]:
        return shop.profile(current_principal)

    @app.get("/cart")
    @require_scopes("cart:read")
    def cart() -> dict[str, Any]:
        return {"items": shop.cart(current_principal.subject)}

    @app.post("/cart/items")
    @require_scopes("cart:write")
    def add_item() -> Response:
        try:
            items = shop.add_item(current_principal.subject, _body().get("item"))
        except ValueError as exc:
            return _json_error(str(exc), 400)
        response = jsonify({"items": items})
        response.status_code = 201
        return response

    @app.post("/refresh")
    def refresh() -> Response:
        token = _body().get("refresh_token")
        if not isinstance(token, str) or not token:
            return _json_error("Send {refresh_token}.", 400)
        response = jsonify(shop.issuer.refresh(token).to_dict())
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
        return response

    @app.post("/logout")
    def logout() -> BaseResponse:
        token = _body().get("refresh_token") or request.cookies.get(shop.cookies.refresh_cookie)
        shop.logout(current_auth().principal, token if isinstance(token, str) else None)
        return clear_login_cookies(jsonify({"logged_out": True}))

    @app.get("/.well-known/jwks.json")
    def jwks() -> dict[str, Any]:
        return shop.issuer.jwks()

    return app
