"""ASGI and WSGI type aliases, in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, TypeAlias

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

if TYPE_CHECKING:
    # typeshed's own WSGI types, so apps typed against them (Flask, Django) fit.
    from _typeshed import OptExcInfo as OptExcInfo
    from _typeshed.wsgi import StartResponse as StartResponse
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    WSGIApp: TypeAlias = WSGIApplication
    WSGIEnviron: TypeAlias = WSGIEnvironment
