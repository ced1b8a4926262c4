"""The middleware, settings loading, response helpers and a class-based-view mixin."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.module_loading import import_string

from tokenguard import (
    Authenticator,
    AuthResult,
    ConfigError,
    ErrorResponse,
    InsufficientScopeError,
    MissingTokenError,
    RequestAuth,
    RequestView,
    TokenError,
    TokenPair,
    bind,
)
from tokenguard.responses import extra_headers
from tokenguard.settings import authenticator_from_mapping
from tokenguard.wsgi import request_view


@functools.cache
def get_authenticator() -> Authenticator:
    """The Authenticator configured in ``settings.TOKENGUARD`` (built once)."""
    config = getattr(settings, "TOKENGUARD", None)
    if not isinstance(config, dict):
        raise ConfigError("settings.TOKENGUARD must be a dict (see tokenguard_django docs).")
    if "AUTHENTICATOR" in config:
        target = config["AUTHENTICATOR"]
        value = import_string(target) if isinstance(target, str) else target
        value = value() if callable(value) and not isinstance(value, Authenticator) else value
        if not isinstance(value, Authenticator):
            raise ConfigError("TOKENGUARD['AUTHENTICATOR'] must name an Authenticator.")
        return value
    return authenticator_from_mapping(
        {key.lower(): value for key, value in config.items()}, where="TOKENGUARD['", suffix="']"
    )


def _view(request: HttpRequest) -> RequestView:
    # META holds WSGI-style HTTP_* keys under ASGI too; Django knows path and scheme best.
    view = request_view(request.META)
    return replace(view, path=request.path_info, scheme=request.scheme or "http")


def _apply(
    response: HttpResponseBase, headers: Sequence[tuple[str, str]], *, keep_own: bool = True
) -> HttpResponseBase:
    if keep_own:  # the view's own cookies and Cache-Control beat the adapter's
        own = [("set-cookie", f"{name}=") for name in response.cookies]
        own += [(name, value) for name, value in response.items()]
        headers = extra_headers(own, headers)
    for name, value in headers:
        if name == "set-cookie":
            response.cookies.load(value)  # Django keeps cookies apart from headers
        else:
            response[name] = value
    return response


def _render(error: ErrorResponse) -> HttpResponse:
    response = HttpResponse(error.body, status=error.status)
    _apply(response, error.headers)
    return response


class TokenGuardMiddleware:
    """Authenticates each request; works under WSGI and ASGI (sync and async capable).

    Sets ``request.principal`` (None when anonymous) and ``request.tokenguard`` (the
    `RequestAuth`), and answers guards' TokenErrors with RFC 6750 responses.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.authenticator = get_authenticator()
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self._acall(request)
        outcome = self.authenticator.authenticate(_view(request))
        if isinstance(outcome, ErrorResponse):
            return _render(outcome)
        auth = self._attach(request, outcome)
        with bind(auth):
            response = self.get_response(request)
        return _apply(response, outcome.response_headers)  # type: ignore[arg-type]

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        outcome = await self.authenticator.aauthenticate(_view(request))
        if isinstance(outcome, ErrorResponse):
            return _render(outcome)
        auth = self._attach(request, outcome)
        with bind(auth):
            response = await self.get_response(request)  # type: ignore[misc]
        return _apply(response, outcome.response_headers)

    def _attach(self, request: HttpRequest, result: AuthResult) -> RequestAuth:
        auth = RequestAuth(result, self.authenticator.user_loader)
        request.tokenguard = auth  # type: ignore[attr-defined]
        request.principal = auth.principal  # type: ignore[attr-defined]
        return auth

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """Answer a guard's TokenError raised in a view."""
        if not isinstance(exception, TokenError):
            return None
        auth: RequestAuth | None = getattr(request, "tokenguard", None)
        if auth is not None:
            auth.guard_error = None
        # The refresh cookies, if any, are added by __call__ on the way out.
        return _render(self.authenticator.error_response(exception, _view(request)))


class ScopesRequiredMixin:
    """For class-based views: ``required_scopes = ("cart:read",)`` guards every method."""

    required_scopes: Sequence[str] = ()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        principal = getattr(request, "principal", None)
        if not hasattr(request, "tokenguard"):
            raise ConfigError("Add tokenguard_django.TokenGuardMiddleware to MIDDLEWARE.")
        if principal is None:
            raise MissingTokenError()
        if not principal.has_scopes(*self.required_scopes):
            raise InsufficientScopeError(scope=tuple(self.required_scopes))
        return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]


def set_login_cookies(
    response: HttpResponseBase, pair: TokenPair, *, csrf_value: str | None
) -> HttpResponseBase:
    """Put the access, refresh and CSRF cookies of a login on a Django response."""
    cookies = get_authenticator().cookies.login_cookies(pair, csrf_value=csrf_value)
    return _apply(response, [("set-cookie", c) for c in cookies], keep_own=False)


def clear_login_cookies(response: HttpResponseBase) -> HttpResponseBase:
    """Delete the three cookies (logout)."""
    cookies = get_authenticator().cookies.clear_cookies()
    return _apply(response, [("set-cookie", c) for c in cookies], keep_own=False)
