"""The OpenAPI pattern for names accepts exactly what actions.clean_name accepts (its rule restated).

fullmatch: in JSON Schema (ECMA-262) `$` never matches before a final newline, as it does in Python.
"""

from __future__ import annotations

import re
import sys
import unicodedata

from strata.files.name_pattern import NAME_PATTERN

NAME = re.compile(NAME_PATTERN)


def clean_name_accepts(name: str) -> bool:
    """Return whether actions.clean_name would accept NAME (already NFC), byte length aside."""
    return (
        bool(name.strip())
        and name not in (".", "..")
        and "/" not in name
        and "\\" not in name
        and not any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name)
        and name == name.strip()
    )


def test_every_code_point_inside_and_at_the_edges():
    wrong = []
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        for name in (f"a{c}b", f"{c}b", f"a{c}"):
            if bool(NAME.fullmatch(name)) != clean_name_accepts(name):
                wrong.append(name)
    assert not wrong, [ascii(n) for n in wrong[:20]]


def test_dots_and_short_names():
    for name, ok in [(".", False), ("..", False), ("...", True), (".a", True), ("a.", True), ("", False)]:
        assert bool(NAME.fullmatch(name)) is ok, name
        assert clean_name_accepts(name) is ok, name
