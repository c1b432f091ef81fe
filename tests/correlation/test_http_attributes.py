"""Bounding request-derived values and the small HTTP helpers."""

from __future__ import annotations

import pytest
from yarl import URL

from bot_telemetry.correlation.http_attributes import (
    MAX_LENGTH,
    bounded,
    full_url,
    host_and_port,
    method_attributes,
)


def test_long_values_are_cut_to_the_limit() -> None:
    value = bounded("a" * 100_000)
    assert len(value) == MAX_LENGTH
    assert value.endswith("…")


def test_short_values_are_unchanged() -> None:
    assert bounded("POST /api/messages") == "POST /api/messages"


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\r", "\x1b", "\x7f"])
def test_control_characters_are_replaced(char: str) -> None:
    assert bounded(f"a{char}b") == "a\ufffdb"


def test_multiline_keeps_line_breaks_and_tabs_only() -> None:
    assert bounded("a\n\tb\x00", 100, multiline=True) == "a\n\tb\ufffd"


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", ("example.com", 80)),
        ("example.com:8080", ("example.com", 8080)),
        ("[::1]:3978", ("::1", 3978)),
        ("[::1]", ("::1", 80)),
        ("h:notaport", ("h", 80)),
        ("h:123456", ("h", 80)),
        ("a:b:c", ("a:b:c", 80)),
    ],
)
def test_host_and_port(host: str, expected: tuple[str, int]) -> None:
    assert host_and_port(host, 80) == expected


def test_full_url_drops_credentials_query_and_fragment() -> None:
    url = URL("https://user:secret@example.com:8443/path?code=123#part")
    assert full_url(url) == "https://example.com:8443/path"


def test_unknown_methods_become_other_with_the_original_kept_bounded() -> None:
    assert method_attributes("get") == {"http.request.method": "GET"}
    weird = method_attributes("X" * 1000)
    assert weird["http.request.method"] == "_OTHER"
    assert len(weird["http.request.method_original"]) == MAX_LENGTH
