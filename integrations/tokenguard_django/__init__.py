"""Django integration: a sync-and-async middleware, settings, guards on views, and DRF.

``settings.py``:

    MIDDLEWARE = [..., "tokenguard_django.TokenGuardMiddleware"]
    TOKENGUARD = {"AUTHENTICATOR": "shop.auth.authenticator"}   # an Authenticator, or
    TOKENGUARD = {"ISSUER": "https://issuer.example", "JWKS_URL": "https://..."}

Views read ``request.principal``; tokenguard's guards work on function views and, with
``method_decorator``, on class-based views (or use `ScopesRequiredMixin`). For Django REST
framework, add ``tokenguard_django.drf.TokenGuardAuthentication`` to the authentication
classes.
"""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('tokenguard_django needs Django: pip install "tokenguard[django]"') from exc

from .middleware import (
    ScopesRequiredMixin,
    TokenGuardMiddleware,
    clear_login_cookies,
    get_authenticator,
    set_login_cookies,
)

__all__ = [
    "ScopesRequiredMixin",
    "TokenGuardMiddleware",
    "clear_login_cookies",
    "get_authenticator",
    "set_login_cookies",
]
