"""Settings and the ASGI application of the Django shop."""

from __future__ import annotations

import secrets
from typing import Any

import django
from django.conf import settings

from sample_apps.common import Options, Shop


def create_app(options: Options) -> Any:
    """Configure Django for the shop and return its ASGI application."""
    shop = Shop(options)
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(32),  # unused: no sessions, no Django CSRF
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF="sample_apps.django_shop.urls",
        INSTALLED_APPS=[],
        DATABASES={},
        # tokenguard authenticates every request and does the CSRF check for cookies.
        MIDDLEWARE=["tokenguard_django.TokenGuardMiddleware"],
        TOKENGUARD={"AUTHENTICATOR": shop.authenticator},
        TOKENGUARD_SHOP=shop,
        APPEND_SLASH=False,
    )
    django.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()
