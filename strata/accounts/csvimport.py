"""Parse a CSV file of people to import. Pure: the directory checks existence afterwards.

Format: a header row naming the columns, `username` and `password` required, the others optional:
first_name, last_name, email, phone, fax, title, department. Import is all or nothing: any bad row
(malformed, duplicate, invalid value) is reported by its line number and nothing is imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from .validation import FIELD_LIMITS, InvalidInput, check_name, check_password_shape, check_person_fields

REQUIRED = ("username", "password")
COLUMNS = REQUIRED + tuple(FIELD_LIMITS)
MAX_ROWS = 10000
MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Row:
    line: int
    username: str
    password: str
    fields: dict


def parse_users_csv(text: str) -> tuple[list[Row], list[str]]:
    """Return the valid rows and one message per bad row ("row N: ...", N the line number)."""
    if len(text.encode()) > MAX_BYTES:
        return [], [f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB"]
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], ["the file is empty (a header row is required)"]
    except csv.Error as exc:
        return [], [f"row 1: {exc}"]
    header = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        problem = (
            f"missing column(s) {', '.join(missing)}"
            if missing
            else f"unknown column(s) {', '.join(unknown)}"
            if unknown
            else "a column is named twice"
        )
        return [], [f"row 1 (header): {problem}; columns: {', '.join(COLUMNS)}"]
    rows: list[Row] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append(f"more than {MAX_ROWS} rows")
                break
            if len(values) != len(header):
                errors.append(f"row {line}: expected {len(header)} fields, got {len(values)}")
                continue
            record = dict(zip(header, values, strict=True))
            try:
                username = check_name(record.pop("username").strip())
                password = check_password_shape(record.pop("password"))
                fields = check_person_fields(record)
            except InvalidInput as exc:
                errors.append(f"row {line}: {exc}")
                continue
            if username in seen:
                errors.append(f"row {line}: duplicate username {username!r} (also row {seen[username]})")
                continue
            seen[username] = line
            rows.append(Row(line, username, password, fields))
    except csv.Error as exc:
        errors.append(f"row {reader.line_num}: {exc}")
    return rows, errors
