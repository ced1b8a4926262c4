"""The views of the Django tests: function views, class-based views, DRF views."""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View

import tokenguard
from tests.integrations.conftest import AUDIENCE, ISSUER
from tokenguard import Authenticator, Key, KeySet, TokenIssuer, TokenValidator
from tokenguard_django import (
    ScopesRequiredMixin,
    clear_login_cookies,
    get_authenticator,
    set_login_cookies,
)

#: The HS256 secret of the settings-based configurations (43 bytes).
SECRET = "hs256-secret-for-the-django-tests-only-0123"


def hs256_authenticator() -> Authenticator:
    """A factory named by a dotted path in ``TOKENGUARD["AUTHENTICATOR"]``."""
    keys = KeySet([Key.hmac(SECRET)])
    return Authenticator(TokenValidator(keys, issuer=ISSUER, audience=AUDIENCE), realm="factory")


def _who(request: HttpRequest) -> dict[str, Any]:
    principal = request.principal  # type: ignore[attr-defined]
    auth = request.tokenguard  # type: ignore[attr-defined]
    return {
        "sub": principal.subject if principal is not None else None,
        "jti": principal.token_id if principal is not None else None,
        "same_as_context": tokenguard.current_principal() is principal,
        "refreshed": auth.result.refreshed,
    }


def whoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


async def awhoami(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


@tokenguard.require_auth
def me(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


@tokenguard.require_auth
async def ame(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


@tokenguard.require_scopes("cart:read")
def cart(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


@tokenguard.require_scopes("cart:read")
async def acart(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_who(request))


@method_decorator(tokenguard.require_scopes("cart:read"), name="dispatch")
class CartView(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(_who(request))


@method_decorator(tokenguard.require_scopes("cart:read"), name="dispatch")
class AsyncCartView(View):
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(_who(request))


class MixinCartView(ScopesRequiredMixin, View):
    required_scopes = ("cart:read", "cart:write")

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(_who(request))


def refresh(request: HttpRequest) -> JsonResponse:
    source = get_authenticator().source
    assert source is not None
    pair = source.refresh(request.GET.get("token", ""))  # a TokenError is answered 401
    return JsonResponse(pair.to_dict())


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("not a token error")


def login(request: HttpRequest) -> HttpResponse:
    issuer: TokenIssuer = settings.TOKENGUARD_TEST_ISSUER
    pair = issuer.issue_pair("alice", claims={"csrf": "c5rf"})
    response = JsonResponse(pair.to_dict())
    returned = set_login_cookies(response, pair, csrf_value="c5rf")
    assert returned is response
    return response


def logout(request: HttpRequest) -> HttpResponse:
    return clear_login_cookies(JsonResponse({"logged_out": True}))


if importlib.util.find_spec("rest_framework") is not None:
    from rest_framework.permissions import IsAuthenticated
    from rest_framework.request import Request
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from tokenguard_django.drf import TokenGuardAuthentication, TokenHasScopes

    def _drf_who(request: Request) -> dict[str, Any]:
        return {
            "user": str(request.user) if request.user is not None else None,
            "user_type": type(request.user).__name__,
            "auth_type": type(request.auth).__name__,
            "auth_sub": getattr(request.auth, "subject", None),
            "authenticator": type(request.successful_authenticator).__name__,
        }

    class DRFMe(APIView):
        authentication_classes = (TokenGuardAuthentication,)
        permission_classes = (IsAuthenticated,)

        def get(self, request: Request) -> Response:
            return Response(_drf_who(request))

    class DRFCart(APIView):
        authentication_classes = (TokenGuardAuthentication,)
        permission_classes = (TokenHasScopes,)
        required_scopes = ("cart:read",)

        def get(self, request: Request) -> Response:
            return Response(_drf_who(request))

    class DRFOpen(APIView):
        permission_classes = ()  # authentication from the settings' default

        def get(self, request: Request) -> Response:
            return Response(_drf_who(request))

    class DRFGuarded(APIView):
        permission_classes = ()

        @method_decorator(tokenguard.require_scopes("cart:write"))
        def get(self, request: Request) -> Response:
            return Response(_drf_who(request))
