"""API keys: where they are read from, where a request carries one, and when the server must not listen."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeloop.errors import PermissionDenied, Unauthenticated
from codeloop.server.auth import INVALID_KEY, api_keys, bind_refusal, check_key, is_loopback, key_of
from codeloop.settings import Settings


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CODELOOP_API_KEYS", "CODELOOP_API_KEYS_FILE", "CODELOOP_ALLOW_UNAUTHENTICATED"):
        monkeypatch.delenv(name, raising=False)


def test_keys_come_from_the_setting_and_the_file(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text("# the team's keys\nfile-key-1\n\n  file-key-2  # ci\n")
    settings = Settings(api_keys=" env-key , ,other-key", api_keys_file=keys_file)
    assert api_keys(settings) == {"env-key", "other-key", "file-key-1", "file-key-2"}
    assert api_keys(Settings()) == frozenset()


def test_the_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODELOOP_API_KEYS", "a,b")
    settings = Settings()
    assert api_keys(settings) == {"a", "b"}
    assert "a,b" not in repr(settings)


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_a_keys_file_without_keys_is_an_error(tmp_path: Path, text: str) -> None:
    keys_file = tmp_path / "keys"
    keys_file.write_text(text)
    with pytest.raises(ValueError, match="holds no key"):
        api_keys(Settings(api_keys_file=keys_file))


def test_an_unreadable_keys_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the API keys file"):
        api_keys(Settings(api_keys_file=tmp_path / "missing"))


@pytest.mark.parametrize(
    ("headers", "query", "key"),
    [
        ({"x-goog-api-key": "dev"}, {}, "dev"),
        ({}, {"key": "query"}, "query"),
        ({"authorization": "Bearer vertex-token"}, {}, "vertex-token"),
        ({"authorization": "bearer  spaced "}, {}, "spaced"),
        ({"x-goog-api-key": "dev", "authorization": "Bearer other"}, {"key": "q"}, "dev"),
        ({"authorization": "Basic dXNlcjpwYXNz"}, {}, None),
        ({"authorization": "Bearer "}, {}, None),
        ({}, {}, None),
    ],
)
def test_where_a_request_carries_its_key(headers: dict, query: dict, key: str | None) -> None:
    assert key_of(headers, query) == key


def test_a_missing_key_is_401_and_a_wrong_one_403() -> None:
    keys = frozenset({"right", "also-right"})
    check_key("right", keys)
    check_key("also-right", keys)
    with pytest.raises(Unauthenticated) as missing:
        check_key(None, keys)
    assert (missing.value.code, missing.value.status) == (401, "UNAUTHENTICATED")
    for wrong in ("wrong", "righ", "right ", "", "rïght"):
        with pytest.raises(PermissionDenied) as denied:
            check_key(wrong, keys)
        assert (denied.value.code, denied.value.status, denied.value.message) == (
            403,
            "PERMISSION_DENIED",
            INVALID_KEY,
        )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("localhost.example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_without_keys_only_loopback_is_served(tmp_path: Path) -> None:
    assert bind_refusal(Settings(host="127.0.0.1")) is None
    assert bind_refusal(Settings(host="::1")) is None
    refusal = bind_refusal(Settings(host="0.0.0.0"))
    assert refusal is not None
    assert "without API keys" in refusal and "--allow-unauthenticated" in refusal
    assert bind_refusal(Settings(host="0.0.0.0", allow_unauthenticated=True)) is None
    assert bind_refusal(Settings(host="0.0.0.0", api_keys="k")) is None
    keys_file = tmp_path / "keys"
    keys_file.write_text("k\n")
    assert bind_refusal(Settings(host="0.0.0.0", api_keys_file=keys_file)) is None
    with pytest.raises(ValueError):
        bind_refusal(Settings(host="0.0.0.0", api_keys_file=tmp_path / "missing"))
