"""The edge's pure rules: JSON depth without parsing, printable text, non-ASCII webhook hosts."""

import json

import pytest

from integration_core.domain.ssrf import UnsafeUrl, vet_url
from integration_core.http import json_depth
from integration_core.models import MULTI_LINE, text_problem


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("{}", 1),
        ("[[[]]]", 3),
        ('{"a": [1, {"b": []}]}', 4),
        ('{"a": "[[[[{{{{"}', 1),  # brackets inside a string
        ('{"a": "say \\"[[[\\" twice", "b": [[]]}', 3),  # escaped quotes do not end the string
        ('{"a": "\\\\"}', 1),  # an escaped backslash before the closing quote
        ("[" * 100_000, 100_000),
        ("123", 0),
    ],
)
def test_json_depth_counts_only_structure(text, depth):
    assert json_depth(text) == depth
    if depth < 50:
        parsed = json.loads(text)
        assert parsed is not None


def test_text_rules():
    assert text_problem("Ana María O'Neil-Smith") is None
    assert text_problem("Mahsa Rah\u200cnama") is None  # a zero-width non-joiner is part of the name
    assert text_problem("a\u00a0b") is None  # a no-break space is a space
    assert "U+001B" in text_problem("\x1b[31mred")
    assert "U+202E" in text_problem("abc\u202etxt.exe")
    assert "U+000A" in text_problem("two\nlines")
    assert text_problem("two\nlines\twith a tab", MULTI_LINE) is None
    assert "U+000D" in text_problem("windows\r\nline", MULTI_LINE)


@pytest.mark.parametrize(
    "url",
    [
        "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/",
        "https://\u0967\u0968\u096d.0.0.1/",
        "https://b\u00fccher.de/",
    ],
)
def test_a_non_ascii_host_is_refused_before_any_resolution(url):
    with pytest.raises(UnsafeUrl) as refused:
        vet_url(url)
    assert refused.value.reason == "invalid_url" and "ASCII" in refused.value.detail
