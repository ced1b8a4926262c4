"""Flask integration: a Flask extension around tokenguard's WSGI middleware.

Example:

    from tokenguard_flask import TokenGuard, current_principal
    from tokenguard import require_scopes

    guard = TokenGuard(app, Authenticator(issuer.validator(), source=issuer))

    @app.get("/cart")
    @require_scopes("cart:read")
    def cart():
        return {"owner": current_principal.subject}

Or configure from ``app.config`` (``TOKENGUARD_ISSUER``, ``TOKENGUARD_JWKS_URL`` ...) with
``TokenGuard(app)``.
"""

from __future__ import annotations

try:
    import flask  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('tokenguard_flask needs Flask: pip install "tokenguard[flask]"') from exc

from ._extension import (
    TokenGuard,
    clear_login_cookies,
    current_principal,
    set_login_cookies,
)

__all__ = ["TokenGuard", "clear_login_cookies", "current_principal", "set_login_cookies"]
