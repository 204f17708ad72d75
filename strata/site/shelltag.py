"""{% shell NAME %}: render the Jinja2 page frame NAME (jinja2/shell/) inside a Django template.

The header, messages and scripts of every page are written once, in Jinja2 (strata/site/jinja.py), and
rendered from there by both engines' base templates.
"""

from __future__ import annotations

from django import template
from django.contrib.auth.models import AnonymousUser
from django.template.backends.utils import csrf_input_lazy
from django.utils.safestring import mark_safe

from strata.site.page_cache import jinja2

register = template.Library()

# What the frame reads: the auth, messages and site context processors' names and the request's.
_NAMES = ("request", "messages", "messaging_unread", "strata_site_name")


@register.simple_tag(takes_context=True)
def shell(context, name: str) -> str:
    request = context.get("request")
    frame = {n: context.get(n) for n in _NAMES}
    frame["user"] = context.get("user") or AnonymousUser()
    frame["csrf_input"] = csrf_input_lazy(request) if request is not None else ""
    # The Jinja2 template escapes what it shows (autoescape): its output is HTML.
    return mark_safe(jinja2().env.get_template(name).render(frame))  # noqa: S308
