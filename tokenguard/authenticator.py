"""Authenticator: the per-request decision both adapters share, written once.

extract → validate → (silent refresh) → CSRF → an `AuthResult`, as an effect-yielding flow
that the ASGI adapter drives asynchronously and the WSGI adapter synchronously.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from typing import Literal

from cachetools import FIFOCache

from ._flow import Call, Flow, run_async, run_sync
from .context import AuthResult, UserLoader
from .cookies import CSRF_CLAIM, CookiePolicy
from .errors import (
    ConfigError,
    ExpiredTokenError,
    MalformedTokenError,
    MissingTokenError,
    TokenError,
)
from .events import AuthEvent, AuthListener, emit
from .extract import RequestView, TokenLocation, extract_token
from .principal import Principal
from .protocols import Clock
from .responses import ErrorHandler, ErrorResponse, default_error_response
from .sources import SingleFlightSource, TokenSource
from .validator import TokenValidator

__all__ = ["Authenticator"]

logger = logging.getLogger("tokenguard")
_sha256 = hashlib.sha256


def _matches(path: str, prefixes: Sequence[str]) -> bool:
    # "/admin" covers "/admin" and "/admin/x", never "/administrator".
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class Authenticator:
    """How requests are authenticated; shared by `tokenguard.asgi` and `tokenguard.wsgi`.

    Args:
        validator: checks access tokens.
        source: enables silent refresh (a `TokenIssuer`, `OAuth2TokenSource`, ...).
        locations: where tokens are looked for, in order; default Bearer header, then the
            access cookie.
        cookies: the cookie policy (names, flags, CSRF).
        refresh_ahead: also refresh a valid token this many seconds before it expires.
        protected: path prefixes where a token is required (401 without one).
        public: path prefixes never looked at (health checks, static files).
        realm: the ``realm`` of ``WWW-Authenticate`` challenges.
        expose_refreshed_token: a response header name carrying the new access token
            after a silent refresh of a Bearer request (off by default).
        listeners: receive `AuthEvent` objects.
        user_loader: loads the app's user lazily (see `RequestAuth.user`).
        error_handler: renders errors; the default is RFC 6750 JSON.
        clock: the time source for refresh-ahead (default: the validator's).
        memo_size: Bearer-only decisions remembered (by hash of the header) so that a
            repeated request skips the flow; 0 turns it off. Used only where nothing but
            the token decides: no listeners, no revocation checks, no refresh-ahead, and
            token locations limited to the Bearer header and the access cookie.
    """

    def __init__(
        self,
        validator: TokenValidator,
        *,
        source: TokenSource | None = None,
        locations: Sequence[TokenLocation] | None = None,
        cookies: CookiePolicy | None = None,
        refresh_ahead: float = 0,
        protected: Sequence[str] = (),
        public: Sequence[str] = (),
        realm: str = "api",
        expose_refreshed_token: str | None = None,
        listeners: Sequence[AuthListener] = (),
        user_loader: UserLoader | None = None,
        error_handler: ErrorHandler | None = None,
        clock: Clock | None = None,
        memo_size: int = 10_000,
    ) -> None:
        self.validator = validator
        self.cookies = cookies or CookiePolicy()
        self.locations = tuple(
            locations
            if locations is not None
            else (TokenLocation.bearer(), TokenLocation.cookie(self.cookies.access_cookie))
        )
        if not self.locations:
            raise ConfigError("At least one token location is needed.")
        if refresh_ahead < 0:
            raise ConfigError("refresh_ahead must be >= 0 seconds.")
        for prefix in (*protected, *public):
            if not prefix.startswith("/"):
                raise ConfigError(f"Path prefix {prefix!r} must start with '/'.")
        self.source = SingleFlightSource(source) if source is not None else None
        self.refresh_ahead = refresh_ahead
        self.protected = tuple(protected)
        self.public = tuple(public)
        self.realm = realm
        self.expose_refreshed_token = (
            expose_refreshed_token.lower() if expose_refreshed_token else None
        )
        self.listeners = tuple(listeners)
        self.user_loader = user_loader
        self.error_handler = error_handler
        self._clock = clock or validator.clock
        self._access_cookie = self.cookies.access_cookie
        self._refresh_cookie = self.cookies.refresh_cookie
        # The memo is sound only where the token alone decides the outcome.
        memo_ok = (
            memo_size > 0
            and not self.listeners
            and not refresh_ahead
            and not validator.checks_revocation
            and any(loc.kind == "bearer" for loc in self.locations)
            and all(loc.kind in ("bearer", "cookie") for loc in self.locations)
        )
        self._memo: FIFOCache[bytes, tuple[AuthResult, float, int]] | None = (
            FIFOCache(maxsize=memo_size) if memo_ok else None
        )
        self._memo_lock = threading.Lock()
        self._reads_cookies = self.source is not None or any(
            loc.kind == "cookie" for loc in self.locations
        )

    # -- the flow --------------------------------------------------------------------

    def flow(self, request: RequestView) -> Flow[AuthResult | ErrorResponse]:
        """Authenticate one request: an `AuthResult`, or the `ErrorResponse` to send."""
        if _matches(request.path, self.public):
            return AuthResult(None, skipped=True)
        had_cookies = False
        try:
            cookies = request.cookies() if self._reads_cookies else {}
            had_cookies = self._access_cookie in cookies or (
                self.source is not None and self._refresh_cookie in cookies
            )
            result = yield from self._authenticate(request, cookies)
            if isinstance(result, AuthResult):
                if self.listeners:
                    emit(self.listeners, self._event(result, request.path))
                elif self._memo is not None and not cookies:
                    self._memoize(request, result)
            return result
        except TokenError as error:
            logger.debug("rejected %s: %s", type(error).__name__, error.description)
            if self.listeners:
                try:
                    emit(self.listeners, AuthEvent("rejected", request.path, error=error))
                except TokenError as hook_error:
                    error = hook_error
            extra: list[tuple[str, str]] = []
            # A failed login state is cleared from the browser; a backend outage is not
            # the session's fault, and a bad request proves nothing about it.
            if had_cookies and error.status == 401 and not isinstance(error, MissingTokenError):
                extra = [("set-cookie", c) for c in self.cookies.clear_cookies()]
            return self.error_response(error, request, extra)

    def authenticate(self, request: RequestView) -> AuthResult | ErrorResponse:
        """Run `flow` synchronously (for WSGI-style integrations)."""
        return run_sync(self.flow(request))

    async def aauthenticate(self, request: RequestView) -> AuthResult | ErrorResponse:
        """Run `flow` on the event loop; no I/O blocks it."""
        return await run_async(self.flow(request))

    # -- the memo: repeated Bearer requests skip the flow ------------------------------

    @property
    def memo_enabled(self) -> bool:
        """True when adapters may ask `memoized` before running the flow."""
        return self._memo is not None

    def memoized(self, authorization: bytes, path: str) -> AuthResult | None:
        """The decision already made for exactly this ``Authorization`` value, while the
        validator's cache still vouches for the token; for requests without cookies only
        (the adapters check), and never for public paths (never looked at)."""
        memo = self._memo
        if memo is None or (self.public and _matches(path, self.public)):
            return None
        try:
            result, until, generation = memo[_sha256(authorization).digest()]
        except KeyError:
            return None
        if generation == self.validator._generation and self._clock() < until:
            return result
        return None

    def _memoize(self, request: RequestView, result: AuthResult) -> None:
        location = result.location
        if result.refreshed or location is None or location.kind != "bearer":
            return
        header = request.header("authorization")
        token = header.partition(" ")[2] if header else ""
        until = self.validator.cached_until(token) if token else None
        if header is None or until is None or self._memo is None:
            return
        key = _sha256(header.encode("latin-1")).digest()
        with self._memo_lock:
            self._memo[key] = (result, until, self.validator.generation)

    @staticmethod
    def _event(result: AuthResult, path: str) -> AuthEvent:
        if result.principal is None:
            return AuthEvent("anonymous", path)
        kind: Literal["validated", "refreshed"] = "refreshed" if result.refreshed else "validated"
        return AuthEvent(kind, path, principal=result.principal)

    def _authenticate(
        self, request: RequestView, cookies: dict[str, str]
    ) -> Flow[AuthResult | ErrorResponse]:
        found = extract_token(request, self.locations, cookies)
        refresh_token = cookies.get(self._refresh_cookie) if self.source else None
        if found is None and refresh_token is None:
            if _matches(request.path, self.protected):
                raise MissingTokenError()
            return AuthResult(None)
        by_cookie = found is None or found.location.kind == "cookie"
        if by_cookie:
            # Before anything is refreshed: a forged request must not rotate tokens.
            self.cookies.check_request_origin(request, cookies)
        principal: Principal | None = None
        if found is not None:
            try:
                principal = yield from self.validator.flow(found.token)
            except ExpiredTokenError:
                if refresh_token is None:
                    raise
        if principal is not None and found is not None:
            if by_cookie:
                self.cookies.check_token_binding(request, principal.claims)
            if refresh_token is not None and self._due(principal):
                try:
                    return (yield from self._refresh(request, refresh_token, found.location))
                except TokenError as exc:  # the current token is still good: keep it
                    logger.info("refresh-ahead failed (%s); serving the current token", exc)
            return AuthResult(principal, found.location)
        if refresh_token is None:  # pragma: no cover - excluded above
            raise MissingTokenError()
        return (yield from self._refresh(request, refresh_token, found.location if found else None))

    def _due(self, principal: Principal) -> bool:
        expires = principal.expires_at
        return bool(self.refresh_ahead) and (
            expires is not None and expires - self._clock() <= self.refresh_ahead
        )

    def _refresh(
        self, request: RequestView, refresh_token: str, location: TokenLocation | None
    ) -> Flow[AuthResult | ErrorResponse]:
        source = self.source
        if source is None:  # pragma: no cover - callers check
            raise ConfigError("No token source is configured.")
        if len(refresh_token) > 1024:
            # 401, so the adapters clear the cookie instead of failing every request.
            raise MalformedTokenError("The refresh cookie is malformed.")
        pair = yield Call(source.refresh, source.arefresh, refresh_token)
        principal = yield from self.validator.flow(pair.access_token)
        csrf = principal.claims.get(CSRF_CLAIM)
        bearer = location is not None and location.kind != "cookie"
        headers: list[tuple[str, str]] = [
            ("set-cookie", c)
            for c in self.cookies.login_cookies(
                pair, csrf_value=csrf if isinstance(csrf, str) else None
            )
            # A Bearer client keeps its token in a header: an access cookie would make its
            # next request carry two different tokens.
            if not (bearer and c.startswith(self._access_cookie + "="))
        ]
        if bearer and self.expose_refreshed_token:
            headers.append((self.expose_refreshed_token, pair.access_token))
        # New tokens ride on this response: no cache may keep it (RFC 6749 section 5.1).
        headers.append(("cache-control", "no-store"))
        logger.info("refreshed tokens for subject %r", principal.subject)
        if not bearer:
            try:
                self.cookies.check_token_binding(request, principal.claims)
            except TokenError as error:
                # Rotation happened: hand the browser its new cookies even on refusal,
                # or its next request would present a retired refresh token.
                return self.error_response(error, request, headers)
        return AuthResult(principal, location, refreshed=True, response_headers=tuple(headers))

    # -- helpers ---------------------------------------------------------------------

    def error_response(
        self,
        error: TokenError,
        request: RequestView,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> ErrorResponse:
        """The response for an auth error: the error handler's, or RFC 6750 JSON."""
        response = None
        if self.error_handler is not None:
            try:
                response = self.error_handler(error, request)
            except Exception:
                logger.exception("error handler failed; answering with the default response")
        if response is None:
            response = default_error_response(error, self.realm)
        if extra_headers:
            response = ErrorResponse(
                response.status, [*response.headers, *extra_headers], response.body
            )
        return response
