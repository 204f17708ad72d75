"""Checks on names and values that reach the directory. Pure functions: no Django, no LDAP.

Usernames and group names are restricted to characters that need no escaping in an LDAP DN or filter,
so `*`, `(`, `)`, `\\`, NUL, `,` and `=` can never reach the server, whatever the caller forgot.
"""

from __future__ import annotations

import re

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
PHONE_RE = re.compile(r"[0-9 +\-().,]*\Z")
EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\Z")
MAX_PASSWORD = 256
FIELD_LIMITS = {
    "first_name": 150,
    "last_name": 150,
    "email": 254,
    "phone": 40,
    "fax": 40,
    "title": 120,
    "department": 120,
}


class InvalidInput(ValueError):
    """Input the directory must not accept, described in one line."""


def check_name(value: str, what: str = "username") -> str:
    """Return VALUE lower-cased if it is a valid user, group or service name; raise InvalidInput."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{what} is empty")
    if len(value) > 64:
        raise InvalidInput(f"{what} is longer than 64 characters")
    lowered = value.lower()
    if not NAME_RE.match(lowered):
        raise InvalidInput(
            f"{what} {value[:64]!r} may hold only letters, digits, '.', '_' and '-' "
            f"(starting with a letter or digit)"
        )
    return lowered


def is_valid_name(value) -> bool:
    try:
        check_name(value)
    except InvalidInput:
        return False
    return True


def check_password_shape(password: str) -> str:
    """Refuse passwords no bind could take: empty, too long, or holding NUL."""
    if not isinstance(password, str) or not password:
        raise InvalidInput("the password is empty")
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(f"the password is longer than {MAX_PASSWORD} characters")
    if "\x00" in password:
        raise InvalidInput("the password holds a NUL character")
    return password


def check_person_fields(fields: dict) -> dict:
    """Return the contact fields stripped; raise InvalidInput naming the first bad one."""
    out = {}
    for key, limit in FIELD_LIMITS.items():
        value = (fields.get(key) or "").strip()
        if len(value) > limit:
            raise InvalidInput(f"{key} is longer than {limit} characters")
        if "\x00" in value or any(ord(c) < 32 for c in value):
            raise InvalidInput(f"{key} holds a control character")
        if key in ("phone", "fax") and not PHONE_RE.match(value):
            raise InvalidInput(f"{key} {value!r}: use only digits, spaces and + - ( ) . ,")
        if key == "email" and value and not EMAIL_RE.match(value):
            raise InvalidInput(f"email {value!r} is not a valid ASCII address")
        out[key] = value
    unknown = set(fields) - set(FIELD_LIMITS)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    return out
