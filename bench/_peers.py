"""The peers of the adapters benchmark, each imported only when built (private).

A peer that is not importable raises `PeerUnavailableError`, and the benchmark skips it.
Every peer is configured like tokenguard: HS256, a Bearer token, issuer and audience checked,
a token valid for an hour, 401 without one; every token is minted by the library that checks
it.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt

from bench._adapter_apps import (
    ACCESS_TTL,
    ALG,
    AUDIENCE,
    ISSUER,
    PATH,
    SUBJECT,
    PeerUnavailableError,
    bare_asgi_app,
)
from tokenguard.types import ASGIApp

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

__all__ = ["fastapi_apps", "flask_apps", "starlette_pyjwt_app"]


def starlette_pyjwt_app(secret: str) -> tuple[ASGIApp, str]:
    """The bare app in Starlette's AuthenticationMiddleware with a PyJWT backend."""
    try:
        from starlette.authentication import (
            AuthCredentials,
            AuthenticationBackend,
            AuthenticationError,
            BaseUser,
            SimpleUser,
        )
        from starlette.middleware.authentication import AuthenticationMiddleware
        from starlette.requests import HTTPConnection
        from starlette.responses import PlainTextResponse, Response
    except ImportError as exc:
        raise PeerUnavailableError("Starlette + PyJWT", exc.name) from exc

    decoder = jwt.PyJWT()
    algorithms = [ALG]
    options: Any = {"require": ["exp", "iat", "sub"]}

    class PyJWTBackend(AuthenticationBackend):
        async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
            scheme, _, token = conn.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise AuthenticationError("Missing bearer token.")
            try:
                claims = decoder.decode(
                    token,
                    secret,
                    algorithms=algorithms,
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    options=options,
                )
            except jwt.InvalidTokenError as error:
                raise AuthenticationError("Invalid token.") from error
            scopes = str(claims.get("scope", "")).split()
            return AuthCredentials(scopes), SimpleUser(claims["sub"])

    def unauthorised(conn: HTTPConnection, error: AuthenticationError) -> Response:
        return PlainTextResponse(str(error), 401, headers={"www-authenticate": "Bearer"})

    app = AuthenticationMiddleware(bare_asgi_app, backend=PyJWTBackend(), on_error=unauthorised)
    now = int(time.time())
    token = jwt.encode(
        {"sub": SUBJECT, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + ACCESS_TTL},
        secret,
        algorithm=ALG,
    )
    return app, token


def fastapi_apps(secret: str) -> tuple[ASGIApp, ASGIApp, str]:
    """A FastAPI app without auth, the same app with one route behind authx, and a token."""
    try:
        from authx import AuthX, AuthXConfig
        from fastapi import Depends, FastAPI
        from fastapi.responses import PlainTextResponse
    except ImportError as exc:
        raise PeerUnavailableError("authx on FastAPI", exc.name) from exc

    config = AuthXConfig(
        JWT_SECRET_KEY=secret,
        JWT_ALGORITHM=ALG,
        JWT_DECODE_ALGORITHMS=[ALG],
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ENCODE_ISSUER=ISSUER,
        JWT_DECODE_ISSUER=ISSUER,
        JWT_ENCODE_AUDIENCE=AUDIENCE,
        JWT_DECODE_AUDIENCE=AUDIENCE,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ACCESS_TTL),
    )
    auth: AuthX[dict[str, Any]] = AuthX(config=config)

    async def items() -> str:
        return "ok"

    bare = FastAPI()
    bare.get(PATH, response_class=PlainTextResponse)(items)
    guarded = FastAPI()
    auth.handle_errors(guarded)
    guarded.get(
        PATH,
        response_class=PlainTextResponse,
        dependencies=[Depends(auth.access_token_required)],
    )(items)
    return bare, guarded, auth.create_access_token(uid=SUBJECT)


def flask_apps(secret: str) -> tuple[WSGIApplication, WSGIApplication, str]:
    """A Flask route without auth, the same route under ``@jwt_required()``, and a token."""
    try:
        from flask import Flask
        from flask_jwt_extended import JWTManager, create_access_token, jwt_required
    except ImportError as exc:
        raise PeerUnavailableError("flask-jwt-extended on Flask", exc.name) from exc

    def items() -> str:
        return "ok"

    bare = Flask("bench_flask")
    bare.get(PATH)(items)
    guarded = Flask("bench_flask_jwt_extended")
    guarded.config.update(
        JWT_SECRET_KEY=secret,
        JWT_ALGORITHM=ALG,
        JWT_TOKEN_LOCATION=["headers"],
        JWT_ENCODE_ISSUER=ISSUER,
        JWT_DECODE_ISSUER=ISSUER,
        JWT_ENCODE_AUDIENCE=AUDIENCE,
        JWT_DECODE_AUDIENCE=AUDIENCE,
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=ACCESS_TTL),
    )
    JWTManager(guarded)
    guarded.get(PATH)(jwt_required()(items))
    with guarded.app_context():
        token = create_access_token(identity=SUBJECT)
    return bare.wsgi_app, guarded.wsgi_app, token
