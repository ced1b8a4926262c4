"""Django REST framework: an authentication class and a scope permission."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tokenguard import ConfigError, Principal

from .middleware import get_authenticator

__all__ = ["PrincipalUser", "TokenGuardAuthentication", "TokenHasScopes"]


class PrincipalUser:
    """A minimal user object for DRF's ``request.user``, backed by a Principal."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.username = principal.subject
        self.pk = principal.subject

    def __str__(self) -> str:
        return self.username


class TokenGuardAuthentication(BaseAuthentication):
    """Uses what TokenGuardMiddleware decided; ``request.auth`` is the Principal."""

    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:
        auth = getattr(request._request, "tokenguard", None)
        if auth is None:
            raise ConfigError("Add tokenguard_django.TokenGuardMiddleware to MIDDLEWARE.")
        principal: Principal | None = auth.principal
        if principal is None:
            return None
        loader = get_authenticator().user_loader
        user = auth.user() if loader is not None else PrincipalUser(principal)
        return user, principal

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to anonymous requests, with a challenge.
        return f'Bearer realm="{get_authenticator().realm}"'


class TokenHasScopes(BasePermission):
    """Grants access when ``request.auth`` has every scope in the view's ``required_scopes``."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        scopes = getattr(view, "required_scopes", ())
        return isinstance(principal, Principal) and principal.has_scopes(*scopes)
