"""The API's Swagger UI at /api/v1/docs works with no network beyond the site: django-ninja's
own copy of Swagger UI is served by whitenoise, never a CDN (the docs were a blank page
wherever a CDN could not be reached)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Route, expect, sync_playwright

from tests.conftest import chromium_or_skip

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class _Refs(HTMLParser):
    """Every URL the page makes the browser load or link to: src and href of any tag."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.settings = ""
        self._in_settings = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        self._in_settings = tag == "script" and attributes.get("id") == "swagger-settings"

    def handle_data(self, data: str) -> None:
        if self._in_settings:
            self.settings += data

    def handle_endtag(self, tag: str) -> None:
        self._in_settings = False


def _docs_refs(client) -> _Refs:
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    refs = _Refs()
    refs.feed(response.content.decode())
    return refs


def test_the_docs_page_loads_nothing_from_outside_the_site(client):
    refs = _docs_refs(client)
    assert any(url.endswith("swagger-ui-bundle.js") for url in refs.urls), refs.urls
    for url in refs.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is outside the site"
    # Swagger UI reads the schema from the same site too.
    assert json.loads(refs.settings)["url"] == "/api/v1/openapi.json"


def test_the_docs_page_assets_are_served_by_the_site(client):
    refs = _docs_refs(client)
    assert len(refs.urls) >= 4  # the stylesheet, two favicons, the bundle and its start-up script
    for url in refs.urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert body, url


@pytest.fixture(scope="module")
def browser() -> Browser:
    executable = chromium_or_skip()
    with pytest.MonkeyPatch.context() as mp:
        # Playwright's sync API keeps an event loop in this thread; Django refuses ORM calls
        # beside one (async-unsafe guard) although the live server's are plain and blocking.
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_renders_the_api_with_no_network_but_the_site(browser, live_server):
    site = urlsplit(live_server.url).netloc
    outside: list[str] = []

    def only_the_site(route: Route) -> None:
        # Anything else is refused and recorded: a CDN left in the page fails the test here
        # rather than passing wherever the CDN happens to be reachable.
        if urlsplit(route.request.url).netloc == site:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.route("**/*", only_the_site)
        page.goto(f"{live_server.url}/api/v1/docs")  # returns once the page's scripts ran
        assert outside == []
        expect(page.locator("#swagger-ui .info .title")).to_contain_text("Assay API", timeout=15_000)
        operation = page.locator(".opblock-summary-path[data-path='/api/v1/campaigns']").first
        expect(operation).to_have_text("/api/v1/campaigns")
        expect(operation).to_be_visible()
        expect(page.locator(".opblock-tag[data-tag='review']")).to_be_visible()
    finally:
        context.close()
    assert outside == []
