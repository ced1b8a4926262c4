"""Starlette integration: tokenguard's ASGI middleware with Starlette's own auth objects.

``request.user`` / ``request.auth`` work as with Starlette's AuthenticationMiddleware, so
``starlette.authentication.requires`` keeps working; tokenguard's guards work as well.

Example:

    from tokenguard_starlette import install, set_login_cookies

    install(app, Authenticator(issuer.validator(), source=issuer))
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'tokenguard_starlette needs Starlette: pip install "tokenguard[starlette]"'
    ) from exc

from ._bridge import (
    TokenGuardStarlette,
    TokenUser,
    clear_login_cookies,
    error_response,
    install,
    set_login_cookies,
)

__all__ = [
    "TokenGuardStarlette",
    "TokenUser",
    "clear_login_cookies",
    "error_response",
    "install",
    "set_login_cookies",
]
