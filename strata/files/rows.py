"""The rows of a folder listing, rendered in Python: the folder page's hot path.

A Django template spends most of a 50-row page in `{% url %}` reversals, date formatting and variable
resolution; here each row is one format string with escaped values (benchmarked by bench/pages.py).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

_MARK = 987654321  # a number no real id has, replaced by the row's id


def _pattern(name: str) -> str:
    return reverse(name, args=[_MARK]).replace(str(_MARK), "{id}")


# A folder's rows are shown again and again: a size or a time is formatted once per process (the site's
# time zone and language are fixed; neither is switched per request).
@lru_cache(maxsize=16384)
def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


@lru_cache(maxsize=16384)
def _size(value: int) -> str:
    return escape(filesizeformat(value))


def folder_rows(folders, files) -> SafeString:
    """Return the table rows of FOLDERS then FILES ("" when both are empty: see empty_row)."""
    folder_url, file_url, download_url = (
        _pattern("files:folder"),
        _pattern("files:file"),
        _pattern("files:download"),
    )
    out = []
    for f in folders:
        out.append(
            f'<tr class="folder-row"><th scope="row"><a href="{folder_url.format(id=f.id)}">'
            f'<span aria-hidden="true">📁 </span>{escape(f.name)}</a></th><td>—</td>'
            f"<td>{_when(f.updated_at)}</td><td></td></tr>"
        )
    for f in files:
        name = escape(f.name)
        out.append(
            f'<tr class="file-row" data-name="{name}"><th scope="row">'
            f'<a href="{file_url.format(id=f.id)}">{name}</a></th>'
            f'<td class="nowrap">{_size(f.size)}</td>'
            f'<td class="nowrap">{_when(f.updated_at)}</td>'
            f'<td><a href="{download_url.format(id=f.id)}">Download</a></td></tr>'
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


def empty_row(writable: bool) -> SafeString:
    """Return the row an empty folder shows (with the drop hint to those who may upload)."""
    hint = " Drop files here to upload them." if writable else ""
    return mark_safe(  # noqa: S308 - constant text
        f'<tr class="files-empty"><td colspan="4" class="empty-state">This folder is empty.{hint}</td></tr>'
    )
