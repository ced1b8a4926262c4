"""The shop with the services around it: a second API trusting its JWKS, and Redis.

* orders_api validates the shop's tokens with nothing but the shop's public JWKS, and
  follows a key rotation (a restarted shop with a new key) by refetching for the new kid.
* With ``--redis URL --workers 2`` two shop processes answer on one address and share
  refresh tokens and revocations through Redis, whichever process serves a request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import USER, api_login, bearer, challenge, jwt_part, wait_past
from tests.e2e.servers import AppServer, Servers
from tests.redisserver import RedisServer

pytestmark = pytest.mark.e2e

ACCESS_TTL = 2
REFRESH_GRACE = 1


def _jwks_kid(client: httpx.Client, shop: AppServer) -> str:
    response = client.get(shop.url + "/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 1
    kid: str = keys[0]["kid"]
    return kid


def test_orders_api_trusts_shop_tokens_and_follows_a_key_rotation(
    servers: Servers, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("shop-data")
    env = {"TOKENGUARD_ACCESS_TTL": str(ACCESS_TTL), "TOKENGUARD_REFRESH_GRACE": str(REFRESH_GRACE)}
    shop = servers.start("shop", data=data, env=env)
    orders = servers.start("orders_api", args=["--shop", shop.url], ready_path="/health")

    with httpx.Client(timeout=10) as client:
        old_kid = _jwks_kid(client, shop)
        old_token = api_login(shop.url)["access_token"]
        assert jwt_part(old_token, 0)["kid"] == old_kid

        accepted = client.get(orders.url + "/orders", headers=bearer(old_token))
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["owner"] == USER
        assert accepted.json()["orders"] == [{"id": 1, "items": ["book"]}]

        anonymous = client.get(orders.url + "/orders")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="api"'

        # Key rotation: the shop restarts on the same port and data folder without its
        # key file, so it generates (and publishes) a new one.
        shop.stop()
        (data / "signing-key.pem").unlink()
        shop.start()
        new_kid = _jwks_kid(client, shop)
        assert new_kid != old_kid
        wait_past(jwt_part(old_token, 1)["exp"])

        new_token = api_login(shop.url)["access_token"]
        assert jwt_part(new_token, 0)["kid"] == new_kid
        # An unknown kid makes orders_api refetch the shop's JWKS.
        fresh = client.get(orders.url + "/orders", headers=bearer(new_token))
        assert fresh.status_code == 200, fresh.text
        assert fresh.json()["owner"] == USER

        stale = client.get(orders.url + "/orders", headers=bearer(old_token))
        assert stale.status_code == 401
        params = challenge(stale)
        assert params["error"] == "invalid_token"
        # Refused for its key, which the shop no longer publishes (its expiry alone is
        # within orders_api's 30-second leeway).
        assert params["error_description"] == "The access token was not signed by a trusted key."


# -- Redis ------------------------------------------------------------------------------

REDIS_REQUESTS = 20


@pytest.fixture
def redis_shop(
    servers: Servers, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> AppServer:
    """The FastAPI shop as two uvicorn workers on one address, sharing one Redis."""
    env = {
        # Long enough that a refused token is refused for its revocation, not its age.
        "TOKENGUARD_ACCESS_TTL": "60",
        "TOKENGUARD_REFRESH_GRACE": str(REFRESH_GRACE),
    }
    data = tmp_path_factory.mktemp("redis-shop-data")
    args = ["--redis", redis_server.url, "--workers", "2"]
    shop = servers.start("shop", data=data, args=args, env=env)
    # The first worker answering made it ready; the second must be up too.
    shop.wait_for_output("Application startup complete.", count=2)
    return shop


@pytest.fixture
def spread(redis_shop: AppServer) -> Iterator[httpx.Client]:
    """A client opening a new connection per request, so both workers get to answer."""
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=redis_shop.url, timeout=10, limits=limits) as client:
        yield client


def _statuses(responses: list[httpx.Response]) -> list[int]:
    return [response.status_code for response in responses]


@pytest.mark.redis
def test_redis_revocation_holds_in_every_worker(
    redis_shop: AppServer, spread: httpx.Client
) -> None:
    tokens = api_login(redis_shop.url)
    access = bearer(tokens["access_token"])
    before = [spread.get("/me", headers=access) for _ in range(REDIS_REQUESTS)]
    assert _statuses(before) == [200] * REDIS_REQUESTS
    assert {response.json()["subject"] for response in before} == {USER}

    logout = spread.post("/logout", json={"refresh_token": tokens["refresh_token"]}, headers=access)
    assert logout.status_code == 200, logout.text

    after = [spread.get("/me", headers=access) for _ in range(REDIS_REQUESTS)]
    assert _statuses(after) == [401] * REDIS_REQUESTS
    descriptions = {challenge(response)["error_description"] for response in after}
    assert descriptions == {"The access token has been revoked."}
    refreshes = [
        spread.post("/refresh", json={"refresh_token": tokens["refresh_token"]})
        for _ in range(REDIS_REQUESTS // 2)
    ]
    assert _statuses(refreshes) == [401] * (REDIS_REQUESTS // 2)


@pytest.mark.redis
def test_redis_rotation_and_reuse_detection_across_workers(
    redis_shop: AppServer, spread: httpx.Client
) -> None:
    first = api_login(redis_shop.url)

    sent_at = time.monotonic()
    rotated = spread.post("/refresh", json={"refresh_token": first["refresh_token"]})
    rotated_at = time.monotonic()
    assert rotated.status_code == 200, rotated.text
    second: dict[str, Any] = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]

    # Within the grace window every worker answers the old token with the same pair.
    again = [
        spread.post("/refresh", json={"refresh_token": first["refresh_token"]}) for _ in range(4)
    ]
    assert time.monotonic() - sent_at < REFRESH_GRACE, "too slow to test the grace window"
    assert _statuses(again) == [200] * 4
    assert all(response.json() == second for response in again)

    time.sleep(max(0.0, rotated_at + REFRESH_GRACE + 0.2 - time.monotonic()))
    reused = spread.post("/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401
    assert challenge(reused)["error"] == "invalid_token"

    # The family is revoked for every worker: the newest refresh token is refused too.
    newest = [
        spread.post("/refresh", json={"refresh_token": second["refresh_token"]})
        for _ in range(REDIS_REQUESTS // 2)
    ]
    assert _statuses(newest) == [401] * (REDIS_REQUESTS // 2)
