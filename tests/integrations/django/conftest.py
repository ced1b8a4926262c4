"""Django settings for this package, configured once, and a per-test authenticator.

Only the framework's own test clients are used (``django.test.Client`` and
``AsyncClient``); pytest-django is not needed. Each test installs its own Authenticator
through ``override_settings(TOKENGUARD=...)``; ``get_authenticator`` is cached, so its
cache is cleared around every change.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.integrations.conftest import Shop
from tokenguard import Authenticator

HAS_DJANGO = importlib.util.find_spec("django") is not None
HAS_DRF = HAS_DJANGO and importlib.util.find_spec("rest_framework") is not None

if HAS_DJANGO:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="tokenguard-tests-not-a-secret",  # no sessions, no Django CSRF here
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF="tests.integrations.django.urls",
            INSTALLED_APPS=["rest_framework"] if HAS_DRF else [],
            DATABASES={},
            MIDDLEWARE=["tokenguard_django.TokenGuardMiddleware"],
            # Replaced per test; a dotted path to a factory is also accepted.
            TOKENGUARD={"AUTHENTICATOR": "tests.integrations.django.views.hs256_authenticator"},
            REST_FRAMEWORK={
                "DEFAULT_AUTHENTICATION_CLASSES": [
                    "tokenguard_django.drf.TokenGuardAuthentication"
                ],
                "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
                "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
                "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
                # No django.contrib.auth here: anonymous DRF requests get user None.
                "UNAUTHENTICATED_USER": None,
            },
            USE_TZ=True,
            APPEND_SLASH=False,
        )
        django.setup()


@contextmanager
def use_tokenguard(config: Any, **extra: Any) -> Iterator[None]:
    """``override_settings(TOKENGUARD=config, **extra)``, the authenticator cache cleared."""
    from django.test import override_settings

    from tokenguard_django import get_authenticator

    with override_settings(TOKENGUARD=config, **extra):
        get_authenticator.cache_clear()
        try:
            yield
        finally:
            get_authenticator.cache_clear()


@pytest.fixture
def authenticator(shop: Shop) -> Iterator[Authenticator]:
    """The shop's authenticator, installed as ``TOKENGUARD["AUTHENTICATOR"]``."""
    authenticator = shop.authenticator()
    with use_tokenguard({"AUTHENTICATOR": authenticator}, TOKENGUARD_TEST_ISSUER=shop.issuer):
        yield authenticator
