"""The extension object, the current_principal proxy and the cookie helpers."""

from __future__ import annotations

from typing import cast

from flask import Flask, Response, current_app, request
from werkzeug.local import LocalProxy
from werkzeug.wrappers import Response as BaseResponse

import tokenguard
from tokenguard import Authenticator, CookiePolicy, Principal, TokenError, TokenPair, get_auth
from tokenguard.settings import authenticator_from_mapping
from tokenguard.wsgi import TokenGuardMiddleware, request_view

_PREFIX = "TOKENGUARD_"
#: Where each app keeps its own Authenticator: one extension object may serve many apps.
_AUTHENTICATOR_KEY = "tokenguard.authenticator"


class TokenGuard:
    """The Flask extension: ``TokenGuard(app, authenticator)`` or ``init_app`` later.

    Without an authenticator, one is built from ``app.config``'s ``TOKENGUARD_*`` keys
    (see `tokenguard.settings.SETTINGS`); a bad value stops the app at start-up with a
    message naming the key.
    """

    def __init__(self, app: Flask | None = None, authenticator: Authenticator | None = None):
        self._default = authenticator
        #: The authenticator of the app initialised last.
        self.authenticator = authenticator
        if app is not None:
            self.init_app(app, authenticator)

    def init_app(self, app: Flask, authenticator: Authenticator | None = None) -> None:
        """Wrap ``app.wsgi_app`` and register the TokenError handler."""
        authenticator = authenticator or self._default
        if authenticator is None:
            settings = {
                key[len(_PREFIX) :].lower(): value
                for key, value in app.config.items()
                if key.startswith(_PREFIX)
            }
            authenticator = authenticator_from_mapping(settings, where=_PREFIX)
        self.authenticator = authenticator
        app.wsgi_app = TokenGuardMiddleware(app.wsgi_app, authenticator)  # type: ignore[method-assign]
        app.extensions["tokenguard"] = self
        app.extensions[_AUTHENTICATOR_KEY] = authenticator
        app.register_error_handler(TokenError, self._handle)

    def _handle(self, error: TokenError) -> Response:
        authenticator = cast(Authenticator, current_app.extensions[_AUTHENTICATOR_KEY])
        auth = get_auth(request.environ)
        if auth is not None:
            auth.guard_error = None  # answered here: the middleware has nothing to replace
        # No refresh cookies here: the middleware adds them to every response on its way out.
        rendered = authenticator.error_response(error, request_view(request.environ))
        response = Response(rendered.body, status=rendered.status)
        for name, value in rendered.headers:
            if name == "set-cookie":
                response.headers.add(name, value)
            else:
                response.headers[name] = value
        return response


def _principal() -> Principal | None:
    return tokenguard.current_principal()


#: The current request's Principal (None when anonymous), like ``flask.g`` but typed.
current_principal: Principal = cast(Principal, LocalProxy(_principal))


def _policy() -> CookiePolicy:
    authenticator = current_app.extensions.get(_AUTHENTICATOR_KEY)
    if not isinstance(authenticator, Authenticator):
        raise tokenguard.ConfigError("TokenGuard is not initialised on this app.")
    return authenticator.cookies


def set_login_cookies(
    response: BaseResponse, pair: TokenPair, *, csrf_value: str | None
) -> BaseResponse:
    """Put the access, refresh and CSRF cookies of a login on a Flask response."""
    for value in _policy().login_cookies(pair, csrf_value=csrf_value):
        response.headers.add("Set-Cookie", value)
    return response


def clear_login_cookies(response: BaseResponse) -> BaseResponse:
    """Delete the three cookies (logout)."""
    for value in _policy().clear_cookies():
        response.headers.add("Set-Cookie", value)
    return response
