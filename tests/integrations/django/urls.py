"""ROOT_URLCONF of the Django tests."""

from __future__ import annotations

from typing import Any

from django.urls import path

from tests.integrations.django import views

urlpatterns: list[Any] = [
    path("whoami", views.whoami),
    path("a/whoami", views.awhoami),
    path("me", views.me),
    path("a/me", views.ame),
    path("cart", views.cart),
    path("a/cart", views.acart),
    path("cbv/cart", views.CartView.as_view()),
    path("cbv/a/cart", views.AsyncCartView.as_view()),
    path("cbv/mixin", views.MixinCartView.as_view()),
    path("refresh", views.refresh),
    path("boom", views.boom),
    path("login", views.login),
    path("logout", views.logout),
]

if hasattr(views, "DRFMe"):
    urlpatterns += [
        path("drf/me", views.DRFMe.as_view()),
        path("drf/cart", views.DRFCart.as_view()),
        path("drf/open", views.DRFOpen.as_view()),
        path("drf/guarded", views.DRFGuarded.as_view()),
    ]
