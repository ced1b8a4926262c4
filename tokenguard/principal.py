"""Principal: who a validated token speaks for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = ["FrozenDict", "FrozenList", "Principal", "TokenKind", "scopes_from_claims"]

TokenKind = Literal["jwt", "opaque"]


class FrozenDict(dict[str, Any]):
    """A read-only dict: claims are shared between requests through the validation cache,
    so no handler may change them for the next one. Still a dict for ``json.dumps``."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("claims are read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> Any:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A read-only list (equal to the list it holds, and still JSON-serialisable)."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> Any:
        raise TypeError("claims are read-only")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __copy__(self) -> list[Any]:
        return list(self)

    def __reduce__(self) -> Any:
        return (FrozenList, (list(self),))


def _freeze(value: Any) -> Any:
    # Objects become FrozenDicts and arrays FrozenLists, all the way down.
    if type(value) is dict:
        return FrozenDict({k: _freeze(v) for k, v in value.items()})
    if type(value) is list:
        return FrozenList(_freeze(v) for v in value)
    return value


def scopes_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """Read scopes from ``scope`` (space-separated, RFC 8693/9068) or ``scp`` (a list).

    A claim of the wrong shape yields no scopes rather than a guess.
    """
    scope = claims.get("scope")
    if isinstance(scope, str):
        return frozenset(scope.split())
    scp = claims.get("scp")
    if isinstance(scp, list) and all(isinstance(s, str) for s in scp):
        return frozenset(scp)
    if isinstance(scp, str):
        return frozenset(scp.split())
    return frozenset()


class Principal:
    """The authenticated party of a request: subject, read-only claims and scopes.

    Args:
        subject: the ``sub`` claim (may be empty for client-credential tokens).
        claims: every claim of the token; stored read-only.
        kind: ``"jwt"`` or ``"opaque"``.
        scopes: granted scopes; read from the claims when omitted.
    """

    __slots__ = ("_claims", "kind", "scopes", "subject")

    subject: str
    scopes: frozenset[str]
    kind: TokenKind
    _claims: Mapping[str, Any]

    def __init__(
        self,
        subject: str,
        claims: Mapping[str, Any],
        *,
        kind: TokenKind = "jwt",
        scopes: Iterable[str] | None = None,
    ) -> None:
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "_claims", FrozenDict({k: _freeze(v) for k, v in claims.items()}))
        object.__setattr__(self, "kind", kind)
        object.__setattr__(
            self,
            "scopes",
            frozenset(scopes) if scopes is not None else scopes_from_claims(claims),
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Principal is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Principal is immutable")

    @property
    def claims(self) -> Mapping[str, Any]:
        """Every claim of the token, read-only."""
        return self._claims

    @property
    def expires_at(self) -> float | None:
        """The ``exp`` claim as a POSIX timestamp, or None when the token has none."""
        exp = self._claims.get("exp")
        return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None

    @property
    def token_id(self) -> str | None:
        """The ``jti`` claim, or None."""
        jti = self._claims.get("jti")
        return jti if isinstance(jti, str) else None

    @property
    def issuer(self) -> str | None:
        """The ``iss`` claim, or None."""
        iss = self._claims.get("iss")
        return iss if isinstance(iss, str) else None

    def has_scopes(self, *scopes: str) -> bool:
        """True when every scope given was granted."""
        return self.scopes.issuperset(scopes)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Principal):
            return NotImplemented
        return (
            self.subject == other.subject
            and self.kind == other.kind
            and self.scopes == other.scopes
            and dict(self._claims) == dict(other._claims)
        )

    def __hash__(self) -> int:
        return hash((self.subject, self.kind, self.scopes))

    def __repr__(self) -> str:
        return (
            f"Principal(subject={self.subject!r}, kind={self.kind!r}, "
            f"scopes={sorted(self.scopes)!r})"
        )
