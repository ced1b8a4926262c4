"""FastAPI integration: dependencies, OpenAPI security schemes, error handling.

Example:

    from tokenguard_fastapi import current_principal, install, require_scopes

    install(app, Authenticator(issuer.validator(), source=issuer))

    @app.get("/cart")
    async def cart(principal: Principal = Depends(require_scopes("cart:read"))): ...
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        'tokenguard_fastapi needs FastAPI: pip install "tokenguard[fastapi]"'
    ) from exc

from ._deps import (
    bearer_scheme,
    cookie_scheme,
    current_principal,
    install,
    optional_principal,
    require_scopes,
)

__all__ = [
    "bearer_scheme",
    "cookie_scheme",
    "current_principal",
    "install",
    "optional_principal",
    "require_scopes",
]
