"""Render a Jinja2 page once for the same inputs: each process keeps the HTML of the pages it rendered,
keyed by the values of everything the template can read.

The folder page is opened again and again with nothing on it changed; rendering it is most of its app
time (bench/reports/latest.md, "P1: where the time goes"). So the key is not a version to invalidate but
the inputs themselves: the view's context and the context processors' values (the person, the unread
count, the site's name), each model instance by its field values. Any change to what the page shows is a
new key; a page that has not changed is served from memory, with this request's CSRF token put in.

What a cached page's template may read, so that the key holds all of it:
- the context's values and the fields of its model instances (not their relations: the view passes
  related objects in the context, as it does `space` beside `folder`);
- not `request` (the page is rendered without it: reading it is an error, StrictUndefined).
A page with messages to show (django.contrib.messages) is rendered as usual, never kept: showing them
uses them up. A context value of any other kind (a queryset, a form) makes the page uncacheable: it is
then rendered as usual, every time.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import OrderedDict
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.http import HttpResponse
from django.shortcuts import render
from django.template import engines
from django.template.backends.jinja2 import Jinja2
from django.utils.functional import LazyObject, empty

from strata.site.jinja import csrf_field

# Enough for the folders one process's people are looking at; ~20 KiB a page.
MAX_PAGES = 256
# Stands for the CSRF field while a page is kept; each request's masked token replaces it.
_CSRF_MARK = "\x00strata-csrf\x00"
_SCALARS = (str, int, float, bool, type(None), dt.datetime, dt.date, Decimal, uuid.UUID)
# What the context processors give that the key leaves out: the request (never read by a cached page),
# the CSRF field (put in per request), the permissions wrapper (a cached page reads no perms).
_NOT_KEYED = frozenset({"request", "csrf_input", "csrf_token", "perms", "messages"})


class Uncacheable(Exception):
    """A context value that cannot stand in a key (or may not be kept)."""


def freeze(value: Any) -> Any:
    """Return a hashable stand-in for VALUE that differs whenever what a template could read of it does."""
    kind = type(value)
    if kind in _SCALARS or isinstance(value, str):
        return (kind, value)  # the type too: a SafeString renders unescaped, a str escaped
    if isinstance(value, LazyObject):  # request.user, the unread count: what they stand for
        if getattr(value, "_wrapped") is empty:  # noqa: B009 - private to Django's stubs
            getattr(value, "_setup")()  # noqa: B009
        return freeze(getattr(value, "_wrapped"))  # noqa: B009
    if isinstance(value, Model):
        # A row's field values (from the database: never safe strings); a JSON field's list or dict
        # is not hashable, which makes the page uncacheable (hash(key) in render_page).
        fields = tuple(item for item in value.__dict__.items() if item[0][0] != "_")
        return (value._meta.label, fields)
    if isinstance(value, dict):
        return ("dict", tuple((k, v if type(v) is bool else freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (kind, tuple(freeze(v) for v in value))
    raise Uncacheable(kind.__name__)


class _Pages:
    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.pages: OrderedDict[Any, str] = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: Any) -> str | None:
        with self.lock:
            html = self.pages.get(key)
            if html is None:
                self.misses += 1
                return None
            self.pages.move_to_end(key)
            self.hits += 1
            return html

    def put(self, key: Any, html: str) -> None:
        with self.lock:
            self.pages[key] = html
            self.pages.move_to_end(key)
            while len(self.pages) > self.size:
                self.pages.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.pages.clear()


PAGES = _Pages(MAX_PAGES)


def jinja2() -> Jinja2:
    """The site's Jinja2 engine (settings.TEMPLATES)."""
    engine = engines["jinja2"]
    assert isinstance(engine, Jinja2)
    return engine


def render_page(request, name: str, context: dict[str, Any]) -> HttpResponse:
    """Return the Jinja2 page NAME for CONTEXT as render() does, from PAGES when the same inputs were
    rendered before."""
    storage = getattr(request, "_messages", None)
    if storage is not None and len(storage):
        return render(request, name, context)
    backend = jinja2()
    full = dict(context)
    for processor in backend.template_context_processors:  # after the view's values, as render() does
        full.update(processor(request))
    try:
        key = (name, tuple((k, freeze(v)) for k, v in full.items() if k not in _NOT_KEYED))
        hash(key)
    except (Uncacheable, TypeError):
        return render(request, name, context)
    html = PAGES.get(key)
    if html is None:
        for k in _NOT_KEYED:
            full.pop(k, None)
        full.update(request=None, messages=(), csrf_input=_CSRF_MARK)
        html = backend.env.get_template(name).render(full)
        PAGES.put(key, html)
    return HttpResponse(html.replace(_CSRF_MARK, csrf_field(request)))
