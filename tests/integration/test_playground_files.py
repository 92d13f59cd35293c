"""The playground's files as the server serves them: `/` leads there, every asset carries the strict
Content-Security-Policy, the page has no inline script, and only the package's own files are served."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from codeloop.server.routes.playground import ASSETS, CONTENT_SECURITY_POLICY
from codeloop.settings import Settings
from live import LiveServer, serving

PLAYGROUND = Path(__file__).parents[2] / "src" / "codeloop" / "server" / "playground"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("data")
    with serving(Settings(model="scripted", api_keys="page-key", data_dir=data_dir)) as server:
        yield server


def test_root_redirects_to_the_playground(live_server: LiveServer) -> None:
    with live_server.client() as client:
        response = client.get("/")
        assert response.status_code == 307
        assert response.headers["location"] == "/playground/"
        page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>codeloop playground</title>" in page.text


def test_every_asset_is_served_with_the_policy(live_server: LiveServer) -> None:
    files = sorted(p.relative_to(PLAYGROUND).as_posix() for p in PLAYGROUND.rglob("*") if p.is_file())
    assert sorted(ASSETS) == files
    assert {"index.html", "js/app.js", "vendor/marked/LICENSE", "vendor/dompurify/LICENSE"} <= set(files)
    with live_server.client() as client:
        for name in [*files, "config.json"]:
            response = client.get(f"/playground/{name}")
            assert response.status_code == 200, name
            assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, name
            assert response.headers["x-content-type-options"] == "nosniff", name
            if name.endswith(".js") or name.endswith(".mjs"):
                assert response.headers["content-type"].startswith("text/javascript"), name


def test_the_policy_allows_no_inline_or_foreign_script() -> None:
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in CONTENT_SECURITY_POLICY.split(";") if part.strip()
    )
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            source = dict(attrs).get("src")
            if source:
                self.sources.append(source)
            self._in_script = True
        if tag == "style" or (tag == "a" and (dict(attrs).get("href") or "").startswith("javascript:")):
            self.inline.append(tag)
        if any(name == "style" for name, _ in attrs):
            self.inline.append(f"{tag} style=")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def test_the_page_has_no_inline_script_or_style() -> None:
    scripts = _Scripts()
    scripts.feed((PLAYGROUND / "index.html").read_text())
    assert scripts.sources == ["js/app.js"]
    assert scripts.inline == []
    assert scripts.handlers == []


def test_the_scripts_write_no_html_from_strings() -> None:
    """Only highlight.js's escaped markup goes in through innerHTML; model text goes through DOMPurify."""
    for path in (PLAYGROUND / "js").glob("*.js"):
        text = path.read_text()
        writes = re.findall(r"\b(?:innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b", text)
        assert writes == (["innerHTML"] if path.name == "highlight.js" else []), path.name
        assert "eval(" not in text and "new Function" not in text, path.name


def test_unknown_and_escaping_paths_are_404s_in_googles_shape(live_server: LiveServer) -> None:
    with live_server.client() as client:
        escapes = ["../app.py", "..%2f..%2fsettings.py", "js/../../routes/playground.py"]
        for path in ["nope.js", ".hidden", *escapes]:
            response = client.get(f"/playground/{path}")
            assert response.status_code == 404, path
            assert response.json()["error"]["status"] == "NOT_FOUND", path


def test_the_page_needs_no_key_but_the_api_does(keyed_server: LiveServer) -> None:
    with keyed_server.client() as client:
        assert client.get("/").status_code == 307
        assert client.get("/playground/").status_code == 200
        assert client.get("/playground/vendor/marked/marked.esm.js").status_code == 200
        assert client.get("/playground/config.json").json() == {"keysRequired": True}
        refused = client.get("/v1beta/models")
        assert refused.status_code == 401
        assert refused.json()["error"]["status"] == "UNAUTHENTICATED"
        allowed = client.get("/v1beta/models", headers={"x-goog-api-key": "page-key"})
        assert allowed.status_code == 200


def test_config_says_no_key_is_needed_without_keys(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/playground/config.json")
    assert response.json() == {"keysRequired": False}


def test_the_package_data_globs_cover_every_file() -> None:
    """A wheel carries the playground only as far as pyproject's package-data reaches."""
    pyproject = tomllib.loads((PLAYGROUND.parents[3] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["codeloop.server"]
    server = PLAYGROUND.parent
    for path in PLAYGROUND.rglob("*"):
        if path.is_file():
            name = path.relative_to(server).as_posix()
            depth = name.count("/")
            assert any(fnmatch.fnmatch(name, glob) and glob.count("/") == depth for glob in globs), name
