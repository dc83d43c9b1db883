"""Outputs in JSON: text when it is text, base64 otherwise, and never a lost byte."""

from __future__ import annotations

import base64

import pytest

from api.errors import _location
from api.results import _cut, encode_output


def test_utf8_output_is_returned_as_text() -> None:
    assert encode_output("héllo\n".encode(), "utf-8") == ("héllo\n", "utf-8")


def test_output_that_is_not_utf8_is_returned_as_base64_even_when_text_was_asked() -> None:
    data = b"\xff\xfe\x00raw"
    text, encoding = encode_output(data, "utf-8")
    assert encoding == "base64"
    assert text is not None and base64.b64decode(text) == data


def test_base64_is_used_for_everything_when_asked() -> None:
    assert encode_output(b"hi", "base64") == ("aGk=", "base64")


@pytest.mark.parametrize("cut_at", range(1, len("héllo€𝄞".encode()) + 1))
def test_text_cut_at_the_output_cap_mid_character_stays_text(cut_at: int) -> None:
    data = "héllo€𝄞".encode()[:cut_at]
    kept = _cut(data, truncated=True)
    assert kept is not None and data.startswith(kept) and len(data) - len(kept) <= 3
    assert encode_output(kept, "utf-8")[1] == "utf-8"


def test_only_truncated_output_is_cut() -> None:
    assert _cut(b"h\xc3", truncated=False) == b"h\xc3"  # the program's own bytes, as written


def test_missing_output_stays_missing() -> None:
    assert encode_output(None, "utf-8") == (None, None)


@pytest.mark.parametrize(
    ("loc", "text"),
    [
        (("body", "submissions", 2, "limits", "pids_limit"), "submissions[2].limits.pids_limit"),
        (("query", "ids"), "ids"),
        (("body",), "request body"),
    ],
)
def test_error_locations_read_like_field_paths(loc: tuple[str | int, ...], text: str) -> None:
    assert _location(loc) == text
