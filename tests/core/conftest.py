"""What the validator tests share: each validation runs through `validate` and `avalidate`
(ids ``sync`` and ``async``), and a refusal is checked the same way everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tokenguard import Principal, TokenError, TokenValidator

Check = Callable[[TokenValidator, Any], Awaitable[Principal]]


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture
def check(mode: str) -> Check:
    """Validate through `validate` or `avalidate`, as the test is parametrised: the two must
    agree."""

    async def run(validator: TokenValidator, token: Any) -> Principal:
        if mode == "sync":
            return validator.validate(token)
        return await validator.avalidate(token)

    return run


def assert_token_not_disclosed(exc: BaseException, token: Any) -> None:
    """Neither the token nor any long part of it appears in the error or its causes."""
    text = token if isinstance(token, str) else repr(token)
    secrets = [part for part in (text, *text.split(".")) if len(part) >= 16]
    seen: BaseException | None = exc
    while seen is not None:
        texts = [str(seen), repr(seen), *(str(arg) for arg in seen.args)]
        if isinstance(seen, TokenError):
            texts.append(seen.description)
        for shown in texts:
            for secret in secrets:
                assert secret not in shown
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


async def assert_refused(
    check: Check, validator: TokenValidator, token: Any, error: type[TokenError]
) -> TokenError:
    """The token is refused with exactly this class, 401 invalid_token, and a message that
    does not echo the token."""
    with pytest.raises(error) as excinfo:
        await check(validator, token)
    exc = excinfo.value
    assert type(exc) is error
    assert exc.status == 401
    assert exc.error == "invalid_token"
    assert_token_not_disclosed(exc, token)
    return exc
