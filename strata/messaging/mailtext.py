"""Pure text handling for mail: safe header values, reading an inbound reply, trimming quoted history.

No Django import: the unit tests exercise these directly.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from email.utils import getaddresses
from html.parser import HTMLParser

# Put at the top of every notification; everything from a quoted copy of it on is history.
REPLY_MARKER = "## Reply above this line to answer in Strata ##"

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
_SPACES = re.compile(r"\s+")


class InboundError(Exception):
    """An inbound email the app refuses: STATUS is the HTTP answer, REASON the one-line explanation."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def has_control_chars(text: str) -> bool:
    """Return True when TEXT holds a line break or another control character (header injection)."""
    return bool(_CONTROL.search(text or ""))


def one_line(text: str, limit: int = 200) -> str:
    """Return TEXT with control characters and runs of white space made single spaces, cut to LIMIT."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", text or "")).strip()[:limit]


def reply_token(recipient: str, prefix: str, domain: str) -> str | None:
    """Return the token of a reply address PREFIX+TOKEN@DOMAIN, or None when RECIPIENT is not one."""
    local, at, dom = (recipient or "").strip().rpartition("@")
    if not at or dom.lower().rstrip(".") != domain.lower() or not local.lower().startswith(prefix):
        return None
    token = local[len(prefix) :].lower()
    return token if re.fullmatch(r"[a-z2-7]{26}", token) else None


def sender_address(msg: EmailMessage) -> str:
    """Return the bare address of the From header (lower case), or "" when there is not exactly one."""
    try:
        values = msg.get_all("From") or []
        pairs = getaddresses([str(v) for v in values])
    except (TypeError, ValueError, IndexError):
        return ""
    addresses = [addr for _name, addr in pairs if "@" in addr]
    return addresses[0].lower() if len(addresses) == 1 and len(values) == 1 else ""


def parse_email(raw: bytes) -> EmailMessage:
    """Parse RAW (an RFC 5322 message) or raise InboundError(400)."""
    if not raw.strip():
        raise InboundError(400, "5.6.0 empty message")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        # Touch the headers that matter now, so a malformed one fails here and not half-way through.
        for name in ("From", "Subject", "Message-ID", "Content-Type"):
            msg.get(name)
    except (ValueError, TypeError, IndexError, LookupError) as exc:
        raise InboundError(400, f"5.6.0 malformed message: {type(exc).__name__}") from None
    if not msg.get("From"):
        raise InboundError(400, "5.6.0 malformed message: no From header")
    return msg


class _TextOf(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in ("br", "p", "div", "li", "tr", "blockquote"):
            self.parts.append("\n")
        if tag == "blockquote":
            # Mail clients quote history in a blockquote: mark it like a plain-text quote.
            self.parts.append("> ")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head") and self.skip:
            self.skip -= 1
        elif tag in ("p", "div"):
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def body_text(msg: EmailMessage) -> str:
    """Return the text of MSG's body (plain preferred, else HTML as text); raise InboundError(400)."""
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except (ValueError, TypeError, LookupError, IndexError):
        part = None
    if part is None:
        raise InboundError(400, "5.6.0 the message has no text part")
    raw = part.get_payload(decode=True)  # bytes for a leaf part
    payload = raw if isinstance(raw, bytes) else b""
    charset = part.get_content_charset()
    try:
        # Strict decoding: a body that is not valid in its declared charset (or, with none declared,
        # not valid UTF-8) is refused rather than stored with replacement characters.
        text = payload.decode(charset or "utf-8", errors="strict")
    except LookupError:
        raise InboundError(400, f"5.6.0 unknown charset {one_line(charset or '', 40)!r}") from None
    except UnicodeDecodeError:
        raise InboundError(400, f"5.6.0 the text is not valid {charset or 'UTF-8'}") from None
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


_WROTE = re.compile(
    r"^(On|Am|Le|El|Il|Op)\b.*\b(wrote|schrieb|a écrit|escribió|ha scritto|schreef)\b.*:\s*$", re.IGNORECASE
)
_SEPARATORS = (
    re.compile(r"^-{2,}\s*(Original Message|Forwarded message|Ursprüngliche Nachricht)\s*-{2,}", re.I),
    re.compile(r"^_{10,}\s*$"),
    re.compile(r"^(From|Von|De):\s.+"),
)
_MOBILE = re.compile(r"^(Sent from my .+|Get Outlook for .+|Sent from Mail for .+)$", re.IGNORECASE)


def trim_reply(text: str) -> str:
    """Return the new part of a reply: cut quoted history, the notification marker and the signature."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        # The quoted notification, a quote, or the signature delimiter "-- " ends the new text.
        if REPLY_MARKER in line or stripped.startswith(">") or line.rstrip() == "--":
            break
        if any(p.match(stripped) for p in _SEPARATORS):
            break
        # "On <date>, <name> wrote:" often wraps onto a second line.
        joined = " ".join(x.strip() for x in lines[i : i + 2])
        if _WROTE.match(stripped) or (stripped[:3] in ("On ", "Am ", "Le ") and _WROTE.match(joined)):
            break
        out.append(line.rstrip())
    while out and (not out[-1].strip() or _MOBILE.match(out[-1].strip())):
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(out)
