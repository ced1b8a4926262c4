"""The shop's views on Django. tokenguard runs as ``TokenGuardMiddleware`` in MIDDLEWARE."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from sample_apps.common import Shop, json_error
from tokenguard import require_auth, require_scopes
from tokenguard_django import clear_login_cookies, set_login_cookies


def _shop() -> Shop:
    shop: Shop = settings.TOKENGUARD_SHOP
    return shop


def _is_json(request: HttpRequest) -> bool:
    return (request.content_type or "").startswith("application/json")


def _body(request: HttpRequest) -> dict[str, Any]:
    if _is_json(request):
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        return data if isinstance(data, dict) else {}
    return {key: request.POST.get(key) for key in request.POST}


def _error(message: str, status: int) -> HttpResponse:
    return HttpResponse(json_error(message), status=status, content_type="application/json")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_shop().page(request.principal))  # type: ignore[attr-defined]


@require_POST
def login(request: HttpRequest) -> HttpResponseBase:
    shop = _shop()
    data = _body(request)
    username, password = str(data.get("username") or ""), str(data.get("password") or "")
    if not shop.check_password(username, password):
        if _is_json(request):
            return _error("Wrong username or password.", 401)
        return HttpResponse(shop.page(None, error="Wrong username or password."), status=401)
    pair, csrf = shop.login(username)
    response = JsonResponse(pair.to_dict()) if _is_json(request) else redirect("/", permanent=False)
    if not _is_json(request):
        response.status_code = 303
    response["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
    return set_login_cookies(response, pair, csrf_value=csrf)


@require_GET
@require_auth
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_shop().profile(request.principal))  # type: ignore[attr-defined]


@require_GET
@require_scopes("cart:read")
def cart(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"items": _shop().cart(request.principal.subject)})  # type: ignore[attr-defined]


@require_POST
@require_scopes("cart:write")
def add_item(request: HttpRequest) -> HttpResponse:
    subject = request.principal.subject  # type: ignore[attr-defined]
    try:
        items = _shop().add_item(subject, _body(request).get("item"))
    except ValueError as exc:
        return _error(str(exc), 400)
    return JsonResponse({"items": items}, status=201)


@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    token = _body(request).get("refresh_token")
    if not isinstance(token, str) or not token:
        return _error("Send {refresh_token}.", 400)
    response = JsonResponse(_shop().issuer.refresh(token).to_dict())
    response["Cache-Control"] = "no-store"  # RFC 6749 section 5.1
    return response


@require_POST
def logout(request: HttpRequest) -> HttpResponseBase:
    shop = _shop()
    token = _body(request).get("refresh_token") or request.COOKIES.get(shop.cookies.refresh_cookie)
    shop.logout(request.principal, token if isinstance(token, str) else None)  # type: ignore[attr-defined]
    return clear_login_cookies(JsonResponse({"logged_out": True}))


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_shop().issuer.jwks())
