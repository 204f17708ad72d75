"""The names actions.clean_name accepts, as one regular expression for the API's OpenAPI document.

No Django import: tests/unit/test_name_pattern.py checks the pattern code point by code point against
the rule (Unicode categories and str.isspace of the running Python), so they cannot disagree.
"""

from __future__ import annotations

# Characters never allowed in a name (Unicode Cc, Cf, Zl, Zp, and the path separators), and the
# whitespace a name may not start or end with. clean_name refuses a name holding
# one of the first anywhere or one of the second at either end, and the names '.' and '..'.
FORBIDDEN = [
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0x2F, 0x2F), (0x5C, 0x5C),
]  # fmt: skip
EDGE_SPACES = [
    (0x0020, 0x0020), (0x00A0, 0x00A0), (0x1680, 0x1680), (0x2000, 0x200A), (0x202F, 0x202F),
    (0x205F, 0x205F), (0x3000, 0x3000),
]  # fmt: skip


def _negated_class(ranges) -> str:
    def char(cp: int) -> str:
        return "\\" + chr(cp) if chr(cp) in "\\]^-[" else chr(cp)

    return "[^" + "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in sorted(ranges)) + "]"


_MID = _negated_class(FORBIDDEN)
_EDGE = _negated_class(FORBIDDEN + EDGE_SPACES)
_EDGE_NOT_DOT = _negated_class(FORBIDDEN + EDGE_SPACES + [(0x2E, 0x2E)])
# No lookarounds (schema tools differ on them): one character, or edge + middle + edge, and "." / ".."
# ruled out by what may follow a leading dot.
NAME_PATTERN = f"^(?:{_EDGE_NOT_DOT}(?:{_MID}*{_EDGE})?|\\.(?:{_EDGE_NOT_DOT}|{_MID}+{_EDGE}))$"
