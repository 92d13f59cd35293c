"""The browser playground: its static files, shipped in the package, under a strict Content-Security-Policy.

The page is plain ES modules and vendored libraries (playground/vendor, with their licences): nothing is
built or fetched at run time. Model text and code output are hostile, so the policy allows scripts and
styles from this server only, no inline script, no eval, no plugins, no framing; images may also be data:
and blob: URLs, which is how figures and generated files are shown. The page and its assets need no API
key (the page asks for one when the server has keys, see config.json); every API call it makes does.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from codeloop.errors import NotFound
from codeloop.server.auth import api_keys
from codeloop.server.runtime import runtime_of

router = APIRouter(include_in_schema=False)

PREFIX = "/playground/"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
PLAIN_TEXT = "text/plain; charset=utf-8"  # LICENSE, SOURCES


def assets() -> dict[str, Traversable]:
    """Every file under the package's playground/, by its path relative to it: the only paths served, so
    a request can name nothing else (no `..`, no symlink out)."""
    found: dict[str, Traversable] = {}

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file() and not entry.name.startswith("."):
                found[f"{prefix}{entry.name}"] = entry

    walk(resources.files("codeloop.server").joinpath("playground"), "")
    return found


ASSETS = assets()


def is_playground_path(path: str) -> bool:
    """The page, its assets and `/`, which the access middleware lets through without a key."""
    return path in ("/", PREFIX.rstrip("/")) or path.startswith(PREFIX)


@router.get("/")
@router.get("/playground")
async def to_playground() -> RedirectResponse:
    return RedirectResponse(PREFIX, status_code=307)


@router.get(f"{PREFIX}config.json")
async def playground_config(request: Request) -> JSONResponse:
    """What the page needs to know before its first API call: whether to ask for an API key."""
    keys_required = bool(api_keys(runtime_of(request).settings))
    return JSONResponse({"keysRequired": keys_required}, headers=SECURITY_HEADERS)


@router.get(PREFIX + "{path:path}")
async def playground_file(path: str) -> Response:
    path = path or "index.html"  # /playground/ itself
    asset = ASSETS.get(path)
    if asset is None:
        raise NotFound(f"The playground has no file {path!r}.")
    suffix = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
    media_type = MEDIA_TYPES.get(suffix, PLAIN_TEXT)
    return Response(asset.read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)
