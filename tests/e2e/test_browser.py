"""The FastAPI sample shop in a real browser (headless Chromium driven by Playwright).

One scenario, as a user lives it: log in through the form, fill the cart, stay on the page
past the access token's lifetime (the shop runs with TOKENGUARD_ACCESS_TTL=2) and keep
working without seeing the login form again (silent refresh, with the refresh token
rotated), then log out. Along the way it checks what only a browser shows: the tokens live
in HttpOnly cookies that the page's JavaScript cannot read, and the page's own fetch calls
pass the CSRF check.

The access token lives under two seconds, so the checks read the tokens from the
Set-Cookie headers of the response that carried them, not from the browser's cookie jar
(where the access cookie may already have lapsed).

A failure keeps a screenshot of every step, the page's HTML and the shop's log in
test-artifacts/browser/ (the path is printed with the failure).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.e2e.browser_support import (
    ARTIFACTS,
    CHROMIUM_ARGS,
    ShopServer,
    StepRecorder,
    chromium_path,
    jwt_claims,
    sync_playwright,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Response

pytestmark = pytest.mark.e2e

ACCESS_TTL = 2  # seconds; the shortest lifetime that still leaves time to act
TIMEOUT_MS = 10_000  # for every browser action (expectations keep their 5 s)
TOKENS = ("access_token", "refresh_token")


def _jar(context: BrowserContext) -> dict[str, Any]:
    return {cookie["name"]: cookie for cookie in context.cookies()}


def _set_cookies(response: Response) -> dict[str, tuple[str, set[str]]]:
    """The cookies a response sets: name -> (value, lower-cased attribute names)."""
    found = {}
    for header in response.headers_array():
        if header["name"].lower() == "set-cookie":
            pair, *attributes = (part.strip() for part in header["value"].split(";"))
            name, _, value = pair.partition("=")
            found[name] = (value, {a.partition("=")[0].lower() for a in attributes})
    return found


def _issued_tokens(response: Response) -> dict[str, str]:
    """Both tokens set by ``response``, each in an HttpOnly cookie; their values."""
    cookies = _set_cookies(response)
    where = f"{response.request.method} {response.url} ({response.status})"
    issued = {}
    for name in TOKENS:
        assert name in cookies, f"{where} set no {name} cookie; it set {sorted(cookies)}"
        value, attributes = cookies[name]
        assert value, f"{where} cleared {name} instead of setting it"
        assert "httponly" in attributes, f"{where} set {name} without HttpOnly"
        issued[name] = value
    if "csrf_token" in cookies:
        assert "httponly" not in cookies["csrf_token"][1], "the page's JS must read csrf_token"
    return issued


def _check_jar(page: Page, context: BrowserContext) -> str:
    """The browser keeps the tokens from scripts; returns its refresh token."""
    jar = _jar(context)
    for name in TOKENS:
        if name in jar:  # the access cookie lapses within two seconds
            assert jar[name]["httpOnly"] is True, f"{name} is readable by scripts"
    assert "refresh_token" in jar, f"no refresh cookie; the browser holds {sorted(jar)}"
    raw: str = page.evaluate("document.cookie")
    visible = {part.split("=", 1)[0].strip() for part in raw.split(";") if part.strip()}
    assert visible == {"csrf_token"}, f"the page's JavaScript reads {sorted(visible)}"
    refresh: str = jar["refresh_token"]["value"]
    return refresh


def _wait_past_expiry(context: BrowserContext) -> None:
    """Wait until the browser has dropped its access cookie: the token has expired (the
    cookie's Max-Age is the token's lifetime, counted from receipt) and the next request
    carries only the refresh cookie. The one wait of the test: real time on the shop's clock.
    """
    deadline = time.monotonic() + ACCESS_TTL + 2.0
    while "access_token" in _jar(context):
        assert time.monotonic() < deadline, "the browser kept the expired access cookie"
        time.sleep(0.05)


def _scenario(page: Page, context: BrowserContext, step: StepRecorder, url: str) -> None:
    from playwright.sync_api import expect  # here: without playwright the test skips

    login, subject, cart = (
        page.locator("#login"),
        page.locator("#subject"),
        page.locator("#cart li"),
    )
    retired: set[str] = set()  # every refresh token seen so far: none may come back

    def answer(method: str, path: str) -> Any:
        return page.expect_response(
            lambda r: r.request.method == method and r.url == f"{url}{path}"
        )

    def new_tokens(response: Response) -> None:
        """``response`` issued new tokens (never a retired refresh token) and the browser
        took them."""
        issued = _issued_tokens(response)
        assert issued["refresh_token"] not in retired, "the refresh token was not rotated"
        held = _check_jar(page, context)
        assert held not in retired, "the browser kept a retired refresh token"
        retired.update((issued["refresh_token"], held))

    with step.step("login-form"):
        page.goto("/")
        expect(login).to_be_visible()
        expect(page.locator("#profile")).to_have_count(0)

    with step.step("logged-in"):
        login.locator("input[name=username]").fill("alice")
        login.locator("input[name=password]").fill("wonderland")
        with answer("POST", "/login") as logged_in:
            login.locator("button[type=submit]").click()
        assert logged_in.value.status == 303
        claims = jwt_claims(_issued_tokens(logged_in.value)["access_token"])
        lifetime = claims["exp"] - claims["iat"]
        # exp is rounded up to the next whole second, so at most one second more.
        assert ACCESS_TTL <= lifetime <= ACCESS_TTL + 1, f"TTL did not apply: {lifetime} s"
        expect(subject).to_have_text("alice")
        expect(login).to_have_count(0)
        expect(cart).to_have_count(0)
        new_tokens(logged_in.value)

    with step.step("book-added"):
        page.locator("#item").fill("book")
        page.locator("#add button").click()
        expect(cart).to_have_text(["book"])
        assert step.dialogs == []
        retired.add(_check_jar(page, context))

    _wait_past_expiry(context)

    with step.step("reloaded-after-ttl"):
        with answer("GET", "/") as reloaded:
            page.reload()
        assert reloaded.value.status == 200
        expect(subject).to_have_text("alice")  # silently refreshed: no login form
        expect(login).to_have_count(0)
        expect(cart).to_have_text(["book"])
        new_tokens(reloaded.value)

    _wait_past_expiry(context)

    with step.step("pen-added-after-ttl"):
        # The page's fetch sends the CSRF header with only the refresh cookie left: the
        # middleware refreshes, checks CSRF against the refreshed token, then adds.
        page.locator("#item").fill("pen")
        with answer("POST", "/cart/items") as added:
            page.locator("#add button").click()
        assert added.value.status == 201, added.value.text()
        expect(cart).to_have_text(["book", "pen"])
        assert step.dialogs == []
        expect(subject).to_have_text("alice")
        new_tokens(added.value)

    _wait_past_expiry(context)
    last_refresh = _check_jar(page, context)

    with step.step("logged-out"):
        # Logging out once the access token has expired: the request is refreshed first.
        with answer("POST", "/logout") as logged_out:
            page.locator("#logout").click()
        assert logged_out.value.status == 200, logged_out.value.text()
        expect(login).to_be_visible()
        expect(page.locator("#profile")).to_have_count(0)
        assert step.dialogs == []
        left = _jar(context)
        assert not set(TOKENS) & set(left), f"the browser still holds {sorted(left)}"

    with step.step("revoked"):
        me = page.request.get(f"{url}/me", max_redirects=0)
        assert me.status == 401, me.text()
        replay = page.request.post(
            f"{url}/refresh", data={"refresh_token": last_refresh}, max_redirects=0
        )
        assert replay.status == 401, f"a logged-out refresh token still works: {replay.text()}"


def test_login_cart_silent_refresh_logout(tmp_path: Path) -> None:
    chromium = chromium_path()
    playwright_entry = sync_playwright()
    with (
        ShopServer(tmp_path / "shop", access_ttl=ACCESS_TTL) as shop,
        playwright_entry as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=shop.url)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            artifacts = ARTIFACTS / "test_login_cart_silent_refresh_logout"
            with StepRecorder(page, tmp_path / "steps", artifacts, server_log=shop.log) as step:
                _scenario(page, context, step, shop.url)
        finally:
            browser.close()
