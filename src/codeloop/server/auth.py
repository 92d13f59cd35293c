"""API keys: where they come from, where a request carries one, checking it, and when not to serve without."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from pathlib import Path

from codeloop.errors import PermissionDenied, Unauthenticated
from codeloop.settings import Settings

# Google's own words, so that clients which match on them behave as they do against Google.
MISSING_KEY = (
    "Request is missing required authentication credential. Pass an API key in the x-goog-api-key "
    "header, the key query parameter or an Authorization: Bearer header."
)
INVALID_KEY = "API key not valid. Please pass a valid API key."


def api_keys(settings: Settings) -> frozenset[str]:
    """The keys of CODELOOP_API_KEYS and --api-keys-file; ValueError if the file is unreadable or empty."""
    keys = set()
    if settings.api_keys is not None:
        keys |= {key.strip() for key in settings.api_keys.get_secret_value().split(",") if key.strip()}
    if settings.api_keys_file is not None:
        keys |= read_keys_file(settings.api_keys_file)
    return frozenset(keys)


def read_keys_file(path: Path) -> set[str]:
    """One key per line; blank lines and everything after a # are ignored."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read the API keys file {path}: {exc.strerror or exc}") from exc
    keys = {line.split("#", 1)[0].strip() for line in text.splitlines()}
    keys.discard("")
    if not keys:
        # A keys file that names no key would silently leave the server open.
        raise ValueError(f"the API keys file {path} holds no key")
    return keys


def key_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The key a request carries: x-goog-api-key (Developer API), ?key=, or a bearer token (Vertex AI)."""
    if key := headers.get("x-goog-api-key"):
        return key
    if key := query.get("key"):
        return key
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_key(given: str | None, keys: frozenset[str]) -> None:
    """Unauthenticated without a key, PermissionDenied for a wrong one; compared in constant time."""
    if given is None:
        raise Unauthenticated(MISSING_KEY)
    # Every key is compared, so the time taken tells nothing about which one came close.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given.encode(), key.encode())
    if not matched:
        raise PermissionDenied(INVALID_KEY)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else may be reachable from elsewhere."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_refusal(settings: Settings) -> str | None:
    """Why the server must not listen on settings.host as configured, or None if it may.

    Anyone who reaches an open server can run code on it, so without keys only loopback is served,
    unless --allow-unauthenticated says the network is trusted. ValueError for a bad keys file."""
    if settings.allow_unauthenticated or is_loopback(settings.host) or api_keys(settings):
        return None
    return (
        f"refusing to listen on {settings.host or 'every interface'} without API keys: anyone who can "
        "reach it could run code on this machine. Set CODELOOP_API_KEYS or --api-keys-file, listen on "
        "127.0.0.1, or pass --allow-unauthenticated if every client on this network is trusted."
    )
