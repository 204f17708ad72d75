"""Reading replies: headers, charsets, HTML, quoted history and signatures (pure functions)."""

from __future__ import annotations

import pytest

from strata.messaging.mailtext import (
    REPLY_MARKER,
    InboundError,
    body_text,
    has_control_chars,
    one_line,
    parse_email,
    reply_token,
    sender_address,
    trim_reply,
)

TOKEN = "abcdefghijklmnopqrstuvwxyz"[:20] + "234567"


def test_header_values():
    assert has_control_chars("Hi\r\nBcc: x@example.org")
    assert has_control_chars("a\x00b")
    assert has_control_chars("line\u2028sep")
    assert not has_control_chars("Grüße, Ada — ok")
    assert one_line("Ada\r\nBcc:  evil@example.org\t") == "Ada Bcc: evil@example.org"
    assert len(one_line("x" * 500, 50)) == 50


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        (f"reply+{TOKEN}@team.example", TOKEN),
        (f"Reply+{TOKEN.upper()}@Team.Example", TOKEN),
        (f"reply+{TOKEN}@team.example.evil.org", None),
        (f"reply+{TOKEN[:-1]}@team.example", None),
        (f"reply+{TOKEN}0@team.example", None),
        ("reply@team.example", None),
        ("", None),
    ],
)
def test_reply_token(addr, expected):
    assert reply_token(addr, "reply+", "team.example") == expected


def test_sender_address():
    msg = parse_email(b"From: Grace Hopper <Grace@Example.org>\r\nSubject: x\r\n\r\nhi\r\n")
    assert sender_address(msg) == "grace@example.org"
    two = parse_email(b"From: a@example.org, b@example.org\r\n\r\nhi\r\n")
    assert sender_address(two) == ""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty message"),
        (b"Subject: no sender\r\n\r\nhello\r\n", "no From header"),
    ],
)
def test_malformed_mail(raw, reason):
    with pytest.raises(InboundError) as err:
        parse_email(raw)
    assert err.value.status == 400
    assert reason in err.value.reason


def test_body_charsets():
    head = b"From: a@example.org\r\nContent-Type: text/plain; charset="
    latin = parse_email(head + b"iso-8859-1\r\n\r\ncaf\xe9\r\n")
    assert body_text(latin).strip() == "café"
    undeclared = parse_email("From: a@example.org\r\n\r\ncafé\r\n".encode())
    assert body_text(undeclared).strip() == "café"
    for raw, reason in [
        (head + b"utf-8\r\n\r\ncaf\xe9\xff\r\n", "not valid"),
        (b"From: a@example.org\r\n\r\n\xff\xfe\r\n", "not valid UTF-8"),
        (head + b"x-klingon\r\n\r\nhi\r\n", "unknown charset"),
        (b"From: a@example.org\r\nContent-Type: image/png\r\n\r\nPNG\r\n", "no text part"),
    ]:
        with pytest.raises(InboundError) as err:
            body_text(parse_email(raw))
        assert reason in err.value.reason


def test_html_only_mail_becomes_text():
    raw = (
        b"From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{}</style></head><body><p>Yes &amp; no</p>"
        b"<script>alert(1)</script><blockquote>old text</blockquote></body></html>\r\n"
    )
    text = trim_reply(body_text(parse_email(raw)))
    assert text == "Yes & no"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Sounds good.\n\nOn Mon, 1 Jan 2024 at 09:00, Ada <a@example.org> wrote:\n> Shall we?\n",
            "Sounds good.",
        ),
        (
            "Sounds good.\nOn Mon, 1 Jan 2024 at 09:00, Ada Lovelace\n<a@example.org> wrote:\n> Shall we?\n",
            "Sounds good.",
        ),
        ("Yes\n-- \nGrace Hopper\nRear Admiral\n", "Yes"),
        ("Yes\n\nSent from my iPhone\n", "Yes"),
        ("Yes\n-----Original Message-----\nFrom: Ada\n", "Yes"),
        ("Yes\n________________________________\nFrom: Ada\nSent: Monday\n", "Yes"),
        (f"Top reply\n\n> {REPLY_MARKER}\n> old\n", "Top reply"),
        (f"Top reply\r\n\r\n{REPLY_MARKER}\r\nold\r\n", "Top reply"),
        ("Am 01.01.2024 um 10:00 schrieb Ada <a@example.org>:\n> Hallo\n", ""),
        ("line one\nline two", "line one\nline two"),
    ],
)
def test_trim_reply(text, expected):
    assert trim_reply(text) == expected
