"""Safe JSON parsing of files from outside: limits give clear errors, never a crash."""

from __future__ import annotations

import pytest

from lakana.core import safejson
from lakana.core.errors import Invalid, TooLarge


def test_parses_ordinary_documents_with_bom() -> None:
    assert safejson.loads(b'\xef\xbb\xbf{"a": [1, 2, {"b": null}]}') == {"a": [1, 2, {"b": None}]}


@pytest.mark.parametrize("data", [
    b"[" * 100_000 + b"]" * 100_000,          # far beyond the C parser's recursion limit
    b'{"a":' * 40 + b"1" + b"}" * 40,         # beyond the configured depth
])
def test_deep_nesting_is_refused(data: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        safejson.loads(data, what="STIX bundle")
    assert "nested" in caught.value.args[0]


def test_huge_arrays_and_big_files_are_refused() -> None:
    with pytest.raises(TooLarge):
        safejson.loads(b"[" + b"0," * 200_000 + b"0]", max_values=100_000)
    with pytest.raises(TooLarge):
        safejson.loads(b" " * 2048, max_bytes=1024)


@pytest.mark.parametrize("data", [b'{"a": NaN}', b"[Infinity]", b"\xff\xfe{}", b'{"a": ',
                                  b"{'a': 1}"])
def test_invalid_documents_get_a_clear_error(data: bytes) -> None:
    with pytest.raises(Invalid):
        safejson.loads(data)
