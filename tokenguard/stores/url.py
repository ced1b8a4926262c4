"""open_store: a TokenStore from a URL, for command lines and configuration files.

===============================  ========================================================
``memory://``                    `MemoryStore` (this process only; gone when it exits)
``sqlite:///relative/file.db``   `SQLiteStore` (the embedded default); four slashes for
``sqlite:////absolute/file.db``  an absolute path, as in SQLAlchemy
``redis://host:6379/0``          `RedisStore`; ``rediss://`` for TLS
===============================  ========================================================

The SQLite and Redis backends are imported only when their URL is opened, so a program that
never uses Redis runs without the ``redis`` package installed.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from .base import TokenStore
from .memory import MemoryStore

__all__ = ["STORE_SCHEMES", "open_store"]

#: The URL schemes `open_store` understands.
STORE_SCHEMES: tuple[str, ...] = ("memory", "sqlite", "redis", "rediss")
_EXAMPLES = (
    "memory://",
    "sqlite:///relative/tokens.db",
    "sqlite:////absolute/tokens.db",
    "redis://host:6379/0",
    "rediss://host:6380/0",
)
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,30}")


def _scheme(url: str) -> str:
    head, sep, _ = url.partition("://")
    return head.lower() if sep else ""


def _check_options(factory: Callable[..., Any], options: dict[str, Any], scheme: str) -> None:
    # A misspelt or misplaced option (``prefix`` for SQLite) must be a ConfigError that
    # names it, not a TypeError from deep inside a constructor.
    try:
        inspect.signature(factory).bind_partial(**options)
    except TypeError:
        params = inspect.signature(factory).parameters
        unknown = [name for name in options if name not in params] or list(options)
        raise ConfigError(
            f"{scheme}:// stores do not take the option(s) {', '.join(sorted(unknown))}."
        ) from None


def _import_error(scheme: str, exc: ImportError) -> ConfigError:
    if exc.name == "redis":
        return ConfigError(
            f'{scheme}:// stores need the redis package: pip install "tokenguard[redis]"'
        )
    return ConfigError(f"The {scheme}:// store backend cannot be imported ({exc}).")


def open_store(url: str, **options: Any) -> TokenStore:
    """Open the `TokenStore` a URL names.

    Args:
        url: ``memory://``, ``sqlite:///relative/file.db``, ``sqlite:////absolute/file.db``,
            ``redis://…`` or ``rediss://…`` (see `STORE_SCHEMES`).
        options: keyword arguments for the backend's constructor, such as ``prefix`` for
            Redis or ``clock`` for any of them.

    Returns:
        The open store; call its ``close()`` when done.

    Raises:
        ConfigError: an unknown scheme (the message lists the known ones), an option the
            backend does not take, or a backend whose dependencies are not installed.
        StoreUnavailableError: the backend could not be reached.
    """
    if not isinstance(url, str):
        raise ConfigError("A store URL must be a string.")
    scheme = _scheme(url)
    if scheme == "memory":
        if url.lower() != "memory://":
            raise ConfigError("A memory store URL is just 'memory://'.")
        _check_options(MemoryStore, options, scheme)
        return MemoryStore(**options)
    if scheme == "sqlite":
        try:
            from .sqlite import SQLiteStore
        except ImportError as exc:
            raise _import_error(scheme, exc) from exc
        _check_options(SQLiteStore.from_url, options, scheme)
        store: TokenStore = SQLiteStore.from_url(url, **options)
        return store
    if scheme in ("redis", "rediss"):
        try:
            from .redis import RedisStore
        except ImportError as exc:
            raise _import_error(scheme, exc) from exc
        _check_options(RedisStore, options, scheme)
        store = RedisStore(url, **options)
        return store
    # Only a plausible scheme is echoed: the rest of a URL may hold a password.
    shown = f"{scheme!r}" if _SCHEME.fullmatch(scheme) else "(none)"
    raise ConfigError(f"Unknown store URL scheme {shown}; use one of: {', '.join(_EXAMPLES)}.")
