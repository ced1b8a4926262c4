"""URL routes of the Django shop."""

from __future__ import annotations

from django.urls import path

from sample_apps.django_shop import views

urlpatterns = [
    path("", views.index),
    path("login", views.login),
    path("me", views.me),
    path("cart", views.cart),
    path("cart/items", views.add_item),
    path("refresh", views.refresh),
    path("logout", views.logout),
    path(".well-known/jwks.json", views.jwks),
]
