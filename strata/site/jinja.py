"""The Jinja2 environment of the pages people open most (the folder page first).

Django's template language spends ~1 ms on the folder page's shell (variable lookups, `{% if %}` and
`{% url %}` nodes: bench/reports/latest.md, "P1: where the time goes"); Jinja2 compiles a template to
Python and renders the same page in a fraction of that. Both engines share one page shell: the header,
messages and scripts are Jinja2 templates under jinja2/shell/, which Django's base.html renders through
`{% shell %}` (strata/site/shelltag.py), so no page's frame is written twice.

Undefined names raise (StrictUndefined): a typo in a template is an error in the tests, not a blank.
"""

from __future__ import annotations

from functools import lru_cache

from django.middleware.csrf import get_token
from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from jinja2 import Environment, StrictUndefined, pass_context

from strata.site.urltag import reverse_plain


@lru_cache(maxsize=256)
def _static(path: str) -> str:
    # The static files' URLs are fixed while the process runs (STATIC_URL, no hashed names).
    return static(path)


@lru_cache(maxsize=4096)
def _filesize(value: int) -> str:
    # "1.2 MB" for a number of bytes: the site's language is fixed, so each number is formatted once.
    return filesizeformat(value)


@pass_context
def _url(context, view_name: str, *args) -> str:
    # The script prefix and URLconf are thread-locals (asgiref, ~1 µs a read): read once per page, kept
    # on the request, instead of twice per URL.
    request = context.get("request")
    env = getattr(request, "_strata_url_env", None)
    if env is None:
        env = (get_script_prefix(), get_urlconf())
        if request is not None:
            request._strata_url_env = env
    return reverse_plain(view_name, args, env)


def csrf_field(request) -> str:
    """The hidden CSRF field of a form, with a token masked afresh (as Django's `{% csrf_token %}`)."""
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))


def csrf(request) -> dict[str, object]:
    """A context processor: `csrf_input` masked once per page. Django's Jinja2 backend gives a lazy
    `csrf_input` that masks the token afresh at each use (32 random choices each time), ~6 times a page;
    this one (a context processor runs after the backend sets its own) is computed on first use, once."""
    return {"csrf_input": SimpleLazyObject(lambda: csrf_field(request))}


def environment(**options) -> Environment:
    options.setdefault("undefined", StrictUndefined)
    options.setdefault("keep_trailing_newline", True)  # as Django's templates do
    env = Environment(**options)  # noqa: S701 - Django's backend passes autoescape=True
    env.globals.update(url=_url, static=_static)
    env.filters.update(filesizeformat=_filesize)
    return env
